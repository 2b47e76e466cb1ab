package offline

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/ledgertest"
	"tappos/ledger/sqlitestore"
	"tappos/ledger/storetest"
)

// realLedger is the ledger's HTTP API on a SQLite store, in process.
type realLedger struct {
	env *storetest.Env
	srv *httptest.Server
	key string // the terminal's API key
}

// newRealLedger seeds n wallets with balance and a card each. The rate
// limit per key is off: a terminal draining its queue sends far more than
// a till does.
func newRealLedger(t testing.TB, n int, balance int64) *realLedger {
	t.Helper()
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	env := storetest.Setup(t, s, n, balance)
	_, key, err := env.Ledger.CreateAPIKey(context.Background(), ledger.RoleTerminal, env.Merchant.ID, env.Terminal.ID)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Ledger: env.Ledger, Rate: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)
	return &realLedger{env: env, srv: srv, key: key}
}

// tap is an offline approval (a TC) by card.
func (r *realLedger) tap(t testing.TB, card *ledgertest.Card, txn string, amount int64) Tap {
	return Tap{TxnID: txn, Amount: amount, Currency: "EUR", EMV: storetest.Tap(t, card, amount, 0x40),
		CardApprovedOffline: true, ODAPassed: true}
}

func (r *realLedger) forwarder() *HTTPForwarder {
	return &HTTPForwarder{BaseURL: r.srv.URL, APIKey: r.key, Client: r.srv.Client()}
}

// checkBooked fails unless the ledger holds exactly the queue's booked
// items, once each, and its books verify.
func (r *realLedger) checkBooked(t testing.TB, q *Queue) {
	t.Helper()
	ctx := context.Background()
	items, err := q.List(ctx, ListOptions{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var booked, sum int64
	seen := map[string]bool{}
	for _, it := range items {
		if it.State != StateAccepted && it.State != StateBookedOverdraft {
			continue
		}
		booked++
		sum += it.Amount
		a, err := r.env.Ledger.Store().Authorization(ctx, it.AuthorizationID)
		if err != nil {
			t.Errorf("%s: authorization %q: %v", it.TxnID, it.AuthorizationID, err)
			continue
		}
		if a.TxnID != it.TxnID || a.Amount != it.Amount || seen[a.ID] {
			t.Errorf("%s booked as %s %d (seen before: %v)", it.TxnID, a.TxnID, a.Amount, seen[a.ID])
		}
		seen[a.ID] = true
	}
	if got := r.env.Ledger.Stats().Approved; got != booked {
		t.Errorf("ledger approved %d authorizations, the queue has %d booked", got, booked)
	}
	settle, err := r.env.Ledger.Store().Account(ctx, "settle:"+r.env.Merchant.ID+":EUR")
	if err != nil {
		t.Fatal(err)
	}
	if settle.Balance != sum {
		t.Errorf("merchant settlement %d, queue's booked total %d", settle.Balance, sum)
	}
	r.env.MustVerify(t)
}

func TestSyncRealLedgerOutcomes(t *testing.T) {
	r := newRealLedger(t, 3, 1000)
	q, _ := openTest(t, newClock(), &Limits{})
	ctx := context.Background()
	c := r.env.Cards
	taps := []struct {
		tap    Tap
		state  State
		reason string
	}{
		{r.tap(t, c[0], "ok", 400), StateAccepted, ""},
		{r.tap(t, c[1], "overdraw", 1500), StateBookedOverdraft, "overdraft"},
		{r.tap(t, r.env.Stranger, "stranger", 100), StateDeclined, "unknown_card"},
		{func() Tap { tp := r.tap(t, c[2], "forged", 100); tp.EMV = ledgertest.FlipBit(tp.EMV); return tp }(), StateDeclined, "bad_cryptogram"},
		{r.tap(t, c[0], "ok-2", 600), StateAccepted, ""},
	}
	for _, tt := range taps {
		mustEnqueue(t, q, tt.tap)
	}
	if _, err := newSyncer(q, r.forwarder(), 2, &noSleep{}).Drain(ctx, 1); err != nil {
		t.Fatal(err)
	}
	items, _ := q.List(ctx, ListOptions{})
	for i, it := range items {
		if it.State != taps[i].state || it.Reason != taps[i].reason {
			t.Errorf("%s: %s %q, want %s %q", it.TxnID, it.State, it.Reason, taps[i].state, taps[i].reason)
		}
	}
	if items[1].Overdraft != 500 {
		t.Errorf("overdraft %d, want 500", items[1].Overdraft)
	}
	r.checkBooked(t, q)
}
