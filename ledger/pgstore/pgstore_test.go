package pgstore

import (
	"context"
	"os"
	"testing"

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

func TestVerifyFindsTampering(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, sql, check string
	}{
		{"balance", `UPDATE accounts SET balance = balance + 1 WHERE kind = 'wallet'`, "account_balance"},
		{"floor", `UPDATE accounts SET held = balance + 1 WHERE kind = 'wallet'`, "wallet_floor"},
		{"unbalanced journal", `INSERT INTO entries VALUES ((SELECT id FROM journals LIMIT 1), 9, (SELECT id FROM accounts LIMIT 1), 5, 'EUR')`, "journal_balanced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t).(*Store)
			e := storetest.Setup(t, s, 1, 1_000)
			e.MustVerify(t)
			if err := s.Exec(ctx, tt.sql); err != nil {
				t.Fatal(err)
			}
			v, err := e.Ledger.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, x := range v {
				found = found || x.Check == tt.check
			}
			if !found {
				t.Errorf("violations %+v, want %s", v, tt.check)
			}
		})
	}
}

func TestJournalsImmutable(t *testing.T) {
	s := open(t).(*Store)
	storetest.Setup(t, s, 1, 1_000)
	for _, q := range []string{`UPDATE entries SET amount = 0`, `DELETE FROM journals`} {
		if err := s.Exec(context.Background(), q); err == nil {
			t.Errorf("%s: succeeded", q)
		}
	}
}
