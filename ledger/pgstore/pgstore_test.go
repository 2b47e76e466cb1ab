package pgstore

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tappos/internal/pgtest"
	"tappos/ledger"
	"tappos/ledger/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T) ledger.Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, open)
}

// TestHistoryReadsOnlyTheLast: a wallet's history reads its last entries
// from the index, however many it has, rather than sorting all of them.
func TestHistoryReadsOnlyTheLast(t *testing.T) {
	ctx := context.Background()
	s := open(t).(*Store)
	// The busy wallet has every tenth of n entries: as in a real ledger,
	// a wallet's entries are a small part of all.
	const n = 20_000
	for _, q := range []string{
		`INSERT INTO accounts (id, kind, currency, owner, balance, held, tx_limit, created_at)
			VALUES ('w_busy', 'wallet', 'EUR', 'shop', 0, 0, 0, 0), ('w_other', 'wallet', 'EUR', 'shop', 0, 0, 0, 0)`,
		`INSERT INTO journals (id, kind, auth_id, merchant_id, channel, memo, created_at)
			SELECT 'jr_' || lpad(to_hex(i), 16, '0') || '_00', 'purchase', '', 'm', 'in_store', '', i
			FROM generate_series(1, $1::int) i`,
		`INSERT INTO entries (journal_id, leg, account_id, amount, currency)
			SELECT 'jr_' || lpad(to_hex(i), 16, '0') || '_00', 0, CASE WHEN i % 10 = 0 THEN 'w_busy' ELSE 'w_other' END, -i, 'EUR'
			FROM generate_series(1, $1::int) i`,
		`ANALYZE`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, n)
		}
		if _, err := s.pool.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History(ctx, "w_busy", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[0].Amount != -n || h[1].Amount != -(n-10) || h[2].Amount != -(n-20) {
		t.Errorf("history %+v, want the last three entries, newest first", h)
	}
	rows, err := s.pool.Query(ctx, "EXPLAIN (ANALYZE, FORMAT TEXT) "+historyQuery, "w_busy", 3)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Sort") || !strings.Contains(text, "entries_account_journal") {
		t.Errorf("history's plan sorts or does not use entries_account_journal:\n%s", text)
	}
}
