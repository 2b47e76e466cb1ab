package loadtest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tappos/internal/pgtest"
	"tappos/ledger"
	"tappos/ledger/pgstore"
	"tappos/ledger/sqlitestore"
)

var ops = flag.Int("ledger.ops", 10_000, "operations of the concurrency test")

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func sqliteStores(t testing.TB, n int) []ledger.Store {
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return []ledger.Store{s}
}

// pgStores opens n stores on one new database, as n ledgerd would.
func pgStores(t testing.TB, n int) []ledger.Store {
	url := pgtest.URL(t)
	var out []ledger.Store
	for range n {
		s, err := pgstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// TestConcurrency: 64 clients, mixed operations over 20 wallets, with
// re-sends; afterwards the books verify and the postings are exactly
// what the clients were told.
func TestConcurrency(t *testing.T) {
	tests := []struct {
		name    string
		servers int
		open    func(testing.TB, int) []ledger.Store
	}{
		{"sqlite", 1, sqliteStores},
		{"postgres", 1, pgStores},
		{"postgres-two-ledgerd", 2, pgStores},
	}
	n := *ops
	if testing.Short() {
		n = min(n, 2_000)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			// Wallets hold about 40% of what the clients try to spend, so that
			// late purchases are declined.
			e := NewEnv(t, tt.open(t, tt.servers), 64, 20, int64(15*n))
			start := time.Now()
			out, err := e.Mixed(ctx, Mix{Ops: n, Resend: 0.2, Seed: 42})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d operations in %v: %+v", n, time.Since(start).Round(time.Millisecond), out)
			for i, l := range e.Ledgers {
				st := l.Stats()
				t.Logf("ledgerd %d: %d requests in %d transactions, %d retried, %v in transactions", i, st.Ops, st.Batches, st.Retries, st.CommitTime.Round(time.Millisecond))
			}
			store := e.Ledgers[0].Store()
			v, err := store.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range v {
				t.Errorf("invariant %s broken by %s: %s", x.Check, x.Object, x.Detail)
			}
			c, err := store.Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				what      string
				got, want int64
			}{
				{"purchase journals", c["journal:purchase"], int64(out.Purchases)},
				{"refund journals", c["journal:refund"], int64(out.Refunds)},
				{"void journals", c["journal:void"], int64(out.Voids)},
				{"approved pre-authorizations", c["authorization:preauth:held"] + c["authorization:preauth:voided"], int64(out.Preauths)},
				{"voided holds", c["authorization:preauth:voided"], int64(out.HoldVoids)},
				{"declines", c["authorization:purchase:declined"] + c["authorization:preauth:declined"], int64(out.Declines)},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s: %d in the books, clients saw %d", ch.what, ch.got, ch.want)
				}
			}
			var money, held int64
			for _, w := range e.Wallets {
				a, err := store.Account(ctx, w.ID)
				if err != nil {
					t.Fatal(err)
				}
				money, held = money+a.Balance, held+a.Held
				if a.Balance-a.Held < 0 {
					t.Errorf("wallet %s below its floor: %d held %d", a.ID, a.Balance, a.Held)
				}
			}
			if money != out.WalletMoney || held != out.Held {
				t.Errorf("wallets hold %d (%d held), clients expect %d (%d held)", money, held, out.WalletMoney, out.Held)
			}
			if out.Resends+out.InFlight == 0 || out.Declines == 0 {
				t.Errorf("the mix lacks re-sends or declines: %+v", out)
			}
		})
	}
}
