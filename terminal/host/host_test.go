package host

import (
	"context"
	"encoding/json"
	"errors"
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

	// Batch close falls back to lookups: the ledger has no batch endpoint.
	items := []batch.Item{
		{Key: "T-1", Type: batch.Purchase, Amount: 1250, Currency: cny, AuthorizationID: res.AuthorizationID},
		{Key: batch.RefundsKey("T-1"), Type: batch.Refund, Amount: 500, Currency: cny, AuthorizationID: res.AuthorizationID},
		{Key: "T-3", Type: batch.Void, Amount: 300, Currency: cny, AuthorizationID: res3.AuthorizationID},
		{Key: "T-7", Type: batch.Purchase, Amount: 800, Currency: cny}, // an upload that never arrived
	}
	hv, err := c.CloseBatch(ctx, batch.Upload{Batch: 1, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	r := batch.Reconcile(1, items, hv)
	if hv.Complete || len(r.Matched) != 3 || len(r.MissingOnHost) != 1 || len(r.Mismatched) != 0 {
		t.Fatalf("reconciliation %+v", r)
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

// A ledger with the batch endpoint answers with its complete view.
func TestCloseBatchEndpoint(t *testing.T) {
	var got batchBody
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/batches" || r.Header.Get("Idempotency-Key") != "CN000001/batch/7" {
			t.Errorf("%s %v", r.URL.Path, r.Header)
		}
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"items":[{"key":"T-1","type":"purchase","amount":1250,"currency":"CNY"},{"key":"T-9","type":"purchase","amount":5,"currency":"CNY"}]}`)
	}))
	defer srv.Close()
	cny, _ := receipt.LookupCurrency("CNY")
	c := &Client{BaseURL: srv.URL, TerminalID: "CN000001"}
	items := []batch.Item{{Key: "T-1", Type: batch.Purchase, Amount: 1250, Currency: cny}}
	hv, err := c.CloseBatch(context.Background(), batch.Upload{Batch: 7, Items: items, Totals: batch.Totals(items)})
	if err != nil || !hv.Complete || len(hv.Items) != 2 {
		t.Fatalf("CloseBatch = %+v, %v", hv, err)
	}
	if got.Batch != 7 || len(got.Totals) != 1 || got.Totals[0].Amount != 1250 || got.Items[0].Key != "T-1" {
		t.Fatalf("upload %+v", got)
	}
	if r := batch.Reconcile(7, items, hv); r.Balanced() || len(r.MissingOnTerminal) != 1 {
		t.Fatalf("reconciliation %+v", r)
	}
}

// The lookup fallback waits out the ledger's rate limit.
func TestLookupRetries(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if calls++; calls < 3 {
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"code":"rate_limited","message":"slow down"}}`)
			return
		}
		io.WriteString(w, `{"id":"au_1","terminal_txn_id":"T-1","amount":1250,"currency":"CNY","status":"approved"}`)
	}))
	defer srv.Close()
	cny, _ := receipt.LookupCurrency("CNY")
	items := []batch.Item{{Key: "T-1", Type: batch.Purchase, Amount: 1250, Currency: cny, AuthorizationID: "au_1"}}
	c := &Client{BaseURL: srv.URL}
	hv, err := c.CloseBatch(context.Background(), batch.Upload{Batch: 1, Items: items})
	if err != nil || len(hv.Items) != 1 || calls != 3 {
		t.Fatalf("CloseBatch = %+v, %v after %d calls", hv, err, calls)
	}
	if r := batch.Reconcile(1, items, hv); !r.Balanced() {
		t.Fatalf("not balanced: %+v", r)
	}
}
