package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/ledgertest"
	"tappos/ledger/sqlitestore"
	"tappos/offline"
	"tappos/terminal/batch"
	"tappos/terminal/host/hosttest"
	"tappos/terminal/receipt"
)

// realLedger starts the ledger in process, with one merchant, one
// terminal and a wallet with ¥500.00 for card.
func realLedger(t *testing.T, card *ledgertest.Card) *Client {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(ledger.Config{Store: s, TokenSecret: []byte(strings.Repeat("k", 32)),
		Issuers: []ledger.IssuerKey{card.Issuer()}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); s.Close() })
	m, err := l.CreateMerchant(ctx, "Demo Café")
	if err != nil {
		t.Fatal(err)
	}
	term, err := l.CreateTerminal(ctx, m.ID, "till 1")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := l.CreateAPIKey(ctx, ledger.RoleTerminal, m.ID, term.ID)
	if err != nil {
		t.Fatal(err)
	}
	w, err := l.CreateWallet(ctx, "shopper", "CNY", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.LinkCard(ctx, w.ID, card.PAN); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Deposit(ctx, nil, w.ID, 50000, "CNY", "opening"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Ledger: l, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)
	return &Client{BaseURL: srv.URL, APIKey: key}
}

func TestRealLedger(t *testing.T) {
	ctx := context.Background()
	card := ledgertest.Cards(1, "mc-cvn16", ledgertest.IMK)[0]
	c := realLedger(t, card)
	cny, _ := receipt.LookupCurrency("CNY")

	tap := func(amount int64) []byte {
		emv, err := card.Tap(amount, 156, ledgertest.Options{UN: [4]byte{1, 2, 3, 4}})
		if err != nil {
			t.Fatal(err)
		}
		return emv
	}
	emv := tap(1250)
	res, err := c.Authorize(ctx, AuthRequest{TxnID: "T-1", Amount: 1250, Currency: "CNY", EMV: emv})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeApproved || res.ApprovalCode == "" || len(res.ARPC) == 0 || string(res.ARC) != "00" {
		t.Fatalf("authorize: %+v", res)
	}
	// A retry with the same transaction id is answered from the first.
	again, err := c.Authorize(ctx, AuthRequest{TxnID: "T-1", Amount: 1250, Currency: "CNY", EMV: emv})
	if err != nil || !again.Replayed || again.AuthorizationID != res.AuthorizationID {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	// The same id for another tap is refused, not posted.
	if _, err := c.Authorize(ctx, AuthRequest{TxnID: "T-1", Amount: 999, Currency: "CNY", EMV: tap(999)}); !errors.Is(err, ErrRefused) {
		t.Fatalf("reused key: %v, want ErrRefused", err)
	}

	ref, err := c.Refund(ctx, "T-2", res.AuthorizationID, 500)
	if err != nil || ref.Outcome != OutcomeOK {
		t.Fatalf("refund: %+v, %v", ref, err)
	}
	a, err := c.Authorization(ctx, res.AuthorizationID)
	if err != nil || a.Refunded != 500 || a.TerminalTxnID != "T-1" || a.Amount != 1250 {
		t.Fatalf("authorization: %+v, %v", a, err)
	}
	if _, err := c.Authorization(ctx, "au_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown authorization: %v", err)
	}

	res3, err := c.Authorize(ctx, AuthRequest{TxnID: "T-3", Amount: 300, Currency: "CNY", EMV: tap(300)})
	if err != nil || res3.Outcome != OutcomeApproved {
		t.Fatalf("authorize T-3: %+v, %v", res3, err)
	}
	if v, err := c.Void(ctx, "T-4", res3.AuthorizationID); err != nil || v.Outcome != OutcomeOK {
		t.Fatalf("void: %+v, %v", v, err)
	}
	res5, err := c.Authorize(ctx, AuthRequest{TxnID: "T-5", Amount: 700, Currency: "CNY", EMV: tap(700)})
	if err != nil || res5.Outcome != OutcomeApproved {
		t.Fatalf("authorize T-5: %+v, %v", res5, err)
	}
	if r, err := c.Reverse(ctx, "T-5"); err != nil || r.Outcome != OutcomeOK {
		t.Fatalf("reverse: %+v, %v", r, err)
	}
	if r, err := c.Reverse(ctx, "T-6"); err != nil {
		t.Fatalf("reverse of a transaction the ledger never saw: %+v, %v", r, err)
	}

	// Batch close: an upload that never arrived leaves the batch open on
	// the ledger; without it the batch balances and the ledger settles.
	items := []batch.Item{
		{Key: "T-1", Type: batch.Purchase, Amount: 1250, Currency: cny, AuthorizationID: res.AuthorizationID},
		{Key: batch.RefundsKey("T-1"), Type: batch.Refund, Amount: 500, Currency: cny, AuthorizationID: res.AuthorizationID},
		{Key: "T-3", Type: batch.Void, Amount: 300, Currency: cny, AuthorizationID: res3.AuthorizationID},
		{Key: "T-7", Type: batch.Purchase, Amount: 800, Currency: cny}, // an upload that never arrived
	}
	hv, err := c.CloseBatch(ctx, batch.Upload{Batch: 1, Items: items, Totals: batch.Totals(items)})
	if err != nil {
		t.Fatal(err)
	}
	r := batch.Reconcile(1, items, hv)
	if !hv.Complete || hv.Settled || len(r.Matched) != 3 || len(r.MissingOnHost) != 1 || len(r.MissingOnTerminal) != 0 || len(r.Mismatched) != 0 {
		t.Fatalf("reconciliation %+v", r)
	}
	// Closing twice (an answer lost) finds the batch settled and balanced.
	for i := range 2 {
		hv, err = c.CloseBatch(ctx, batch.Upload{Batch: 1, Items: items[:3], Totals: batch.Totals(items[:3])})
		if err != nil || !hv.Settled || !batch.Reconcile(1, items[:3], hv).Balanced() {
			t.Fatalf("close %d: %+v, %v", i, hv, err)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"in flight", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error":{"code":"idempotency_key_in_flight","message":"retry"}}`)
		}, offline.ErrUnavailable},
		{"down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, offline.ErrUnavailable},
		{"bad key", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"unauthorized","message":"no key"}}`)
		}, ErrRefused},
		{"garbage", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"outcome":`) }, nil},
		{"slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(200 * time.Millisecond) }, offline.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := &Client{BaseURL: srv.URL, APIKey: "k"}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := c.Authorize(ctx, AuthRequest{TxnID: "T-1", Amount: 1, Currency: "CNY", EMV: []byte{0x5A, 0x01, 0x47}})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), "5A0147") {
				t.Fatalf("error carries card data: %v", err)
			}
		})
	}
	t.Run("rejection is an answer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Idempotency-Key") != "T-9" || r.Header.Get("Authorization") != "Bearer k" {
				t.Errorf("headers %v", r.Header)
			}
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"outcome": "rejected", "reason": "not_found"})
		}))
		defer srv.Close()
		c := &Client{BaseURL: srv.URL, APIKey: "k"}
		res, err := c.Refund(context.Background(), "T-9", "au_x", 100)
		if err != nil || res.Outcome != OutcomeRejected || res.Reason != "not_found" {
			t.Fatalf("refund: %+v, %v", res, err)
		}
	})
	t.Run("no ledger", func(t *testing.T) {
		c := &Client{BaseURL: "http://127.0.0.1:1"}
		if _, err := c.Reverse(context.Background(), "T-1"); !errors.Is(err, offline.ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
}

// TestCloseBatch runs the batch protocol against the fake ledger: a dry
// run, then a close only when balanced or forced.
func TestCloseBatch(t *testing.T) {
	ctx := context.Background()
	cny, _ := receipt.LookupCurrency("CNY")
	usd, _ := receipt.LookupCurrency("USD")
	tests := []struct {
		name    string
		force   bool
		alter   bool // the ledger holds another amount for T-1
		lose    bool // T-2 never reached the ledger
		settled bool
		want    string // of the reconciliation: matched/missing on host/missing on terminal/mismatched
	}{
		{"balanced", false, false, false, true, "4/0/0/0"},
		{"altered", false, true, false, false, "3/0/0/1"},
		{"lost upload", false, false, true, false, "3/1/0/0"},
		{"altered, forced", true, true, false, true, "3/0/0/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := hosttest.New()
			defer l.Close()
			c := &Client{BaseURL: l.URL, TerminalID: "CN000001"}
			var items []batch.Item
			for _, p := range []struct {
				txn    string
				amount int64
				cur    receipt.Currency
			}{{"T-1", 1250, cny}, {"T-2", 800, cny}, {"T-3", 999, usd}} {
				if p.txn == "T-2" && tt.lose {
					items = append(items, batch.Item{Key: p.txn, Type: batch.Purchase, Amount: p.amount, Currency: p.cur})
					continue
				}
				res, err := c.Authorize(ctx, AuthRequest{TxnID: p.txn, Amount: p.amount, Currency: p.cur.Alpha})
				if err != nil || res.Outcome != OutcomeApproved {
					t.Fatalf("authorize %s: %+v, %v", p.txn, res, err)
				}
				items = append(items, batch.Item{Key: p.txn, Type: batch.Purchase, Amount: p.amount, Currency: p.cur, AuthorizationID: res.AuthorizationID})
			}
			ref, err := c.Refund(ctx, "T-4", items[0].AuthorizationID, 250)
			if err != nil || ref.Outcome != OutcomeOK {
				t.Fatalf("refund: %+v, %v", ref, err)
			}
			items = append(items, batch.Item{Key: batch.RefundsKey("T-1"), Type: batch.Refund, Amount: 250, Currency: cny, AuthorizationID: items[0].AuthorizationID})
			if tt.alter {
				l.Alter("T-1", 1350)
			}
			hv, err := c.CloseBatch(ctx, batch.Upload{Batch: 3, Items: items, Totals: batch.Totals(items), Force: tt.force})
			if err != nil {
				t.Fatal(err)
			}
			r := batch.Reconcile(3, items, hv)
			got := fmt.Sprintf("%d/%d/%d/%d", len(r.Matched), len(r.MissingOnHost), len(r.MissingOnTerminal), len(r.Mismatched))
			if got != tt.want || hv.Settled != tt.settled || !hv.Complete {
				t.Fatalf("reconciliation %s, settled %t, want %s, %t", got, hv.Settled, tt.want, tt.settled)
			}
			// One ledger batch per currency, and only when closed.
			if n := len(l.Batches); tt.settled && n != 2 || !tt.settled && n != 0 {
				t.Errorf("ledger batches %v", l.Batches)
			}
		})
	}
}

// TestCloseBatchErrors: a ledger without the endpoint, and one that
// refuses a close the terminal found balanced.
func TestCloseBatchErrors(t *testing.T) {
	cny, _ := receipt.LookupCurrency("CNY")
	items := []batch.Item{{Key: "T-1", Type: batch.Purchase, Amount: 1250, Currency: cny}}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"no endpoint", http.NotFound, ErrNoBatchEndpoint},
		{"refused", func(w http.ResponseWriter, r *http.Request) {
			var b batchBody
			json.NewDecoder(r.Body).Decode(&b)
			if !b.DryRun {
				if key := r.Header.Get("Idempotency-Key"); key != "CN000001/batch/7/CNY" || b.Count != 1 || b.Amount != 1250 || b.Force {
					t.Errorf("close %s %+v", key, b)
				}
				w.WriteHeader(http.StatusConflict)
				io.WriteString(w, `{"outcome":"rejected","reason":"totals_mismatch"}`)
				return
			}
			io.WriteString(w, `{"outcome":"ok","items":[{"key":"T-1","type":"purchase","amount":1250,"currency":"CNY"}]}`)
		}, ErrBatchRefused},
		{"down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, offline.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := &Client{BaseURL: srv.URL, TerminalID: "CN000001"}
			if _, err := c.CloseBatch(context.Background(), batch.Upload{Batch: 7, Items: items, Totals: batch.Totals(items)}); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}
