package checkout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/checkout"
	"tappos/ledger/checkout/checkouttest"
	"tappos/ledger/mcpserver"
	"tappos/ledger/sqlitestore"
)

// FuzzSessionBody sends arbitrary bodies to create, update and complete
// sessions: every answer is a client error or a result, never a server
// error, and the books stay balanced with no wallet below zero.
func FuzzSessionBody(f *testing.F) {
	f.Add([]byte(`{"wallet_id":"W","merchant_id":"M","items":[{"sku":"COF-250","quantity":1}]}`), uint8(0))
	f.Add([]byte(`{"items":[{"sku":"MUG-1","quantity":1000},{"sku":"GRD-1","quantity":1}]}`), uint8(1))
	f.Add([]byte(`{"items":[]}`), uint8(2))
	f.Add([]byte(`{"wallet_id":"W","merchant_id":"M","items":[{"sku":"COF-250","quantity":-1}]}`), uint8(0))
	e := checkouttest.Start(f, checkouttest.Options{})
	h := checkout.NewHandler(e.Service, nil)
	// One session to update and complete.
	var created checkout.Response
	if s := e.Do(f, e.AgentKey, "POST", "/v1/checkout_sessions", "seed", checkout.SessionRequest{WalletID: e.Wallet.ID,
		MerchantID: e.Merchant.ID}, &created); s != http.StatusOK {
		f.Fatalf("create: HTTP %d", s)
	}
	session := created.Object.(map[string]any)["id"].(string)
	n := 0
	f.Fuzz(func(t *testing.T, body []byte, route uint8) {
		body = bytes.ReplaceAll(body, []byte(`"W"`), []byte(`"`+e.Wallet.ID+`"`))
		body = bytes.ReplaceAll(body, []byte(`"M"`), []byte(`"`+e.Merchant.ID+`"`))
		path := []string{"/v1/checkout_sessions", "/v1/checkout_sessions/" + session,
			"/v1/checkout_sessions/" + session + "/complete"}[int(route)%3]
		n++
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.AgentKey)
		req.Header.Set("Idempotency-Key", fmt.Sprint("fuzz-", n))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("POST %s %q: HTTP %d %s", path, body, w.Code, w.Body)
		}
		a, err := e.Store.Account(context.Background(), e.Wallet.ID)
		if err != nil || a.Balance < 0 {
			t.Fatalf("wallet %+v %v", a, err)
		}
		e.Verify(t)
	})
}

// TestCompleteRechecks changes the catalog between a session's creation
// and its completion: the completion prices and counts again.
func TestCompleteRechecks(t *testing.T) {
	tests := []struct {
		name    string
		change  ledger.CatalogItem // of COF-250, between create and complete
		status  int
		reason  string
		session string // its status after the completion
		amount  int64
	}{
		{"Unchanged", ledger.CatalogItem{Price: 12_50, Stock: 10}, http.StatusOK, "", ledger.SessionCompleted, 12_50},
		{"PriceChanged", ledger.CatalogItem{Price: 13_00, Stock: 10}, http.StatusConflict, ledger.ReasonPriceChanged, ledger.SessionReady, 13_00},
		{"SoldOut", ledger.CatalogItem{Price: 12_50, Stock: 0}, http.StatusOK, ledger.ReasonOutOfStock, ledger.SessionNotReady, 12_50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := checkouttest.Start(t, checkouttest.Options{})
			var created checkout.Response
			if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions", "c", checkout.SessionRequest{WalletID: e.Wallet.ID,
				MerchantID: e.Merchant.ID, Items: []ledger.ItemRequest{{SKU: "COF-250", Quantity: 1}}}, &created); s != http.StatusOK {
				t.Fatalf("create: HTTP %d", s)
			}
			id := created.Object.(map[string]any)["id"].(string)
			it := tt.change
			it.MerchantID, it.SKU, it.Name, it.Currency = e.Merchant.ID, "COF-250", "Espresso beans 250 g", "EUR"
			if err := e.Ledger.PutCatalogItem(context.Background(), it); err != nil {
				t.Fatal(err)
			}
			var done checkout.Response
			status := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions/"+id+"/complete", "p", struct{}{}, &done)
			var s ledger.CheckoutSession
			if st := e.Do(t, e.AgentKey, "GET", "/v1/checkout_sessions/"+id, "", nil, &s); st != http.StatusOK {
				t.Fatalf("get: HTTP %d", st)
			}
			if status != tt.status || done.Result.Reason != tt.reason || s.Status != tt.session || s.Amount != tt.amount {
				t.Errorf("HTTP %d %+v, session %s %d; want %d %q %s %d", status, done.Result, s.Status, s.Amount,
					tt.status, tt.reason, tt.session, tt.amount)
			}
			if want := 100_00 - map[bool]int64{true: tt.amount}[tt.session == ledger.SessionCompleted]; e.Balance(t, e.Wallet.ID) != want {
				t.Errorf("balance %d, want %d", e.Balance(t, e.Wallet.ID), want)
			}
			e.Verify(t)
		})
	}
}

func TestOpenAPIServedAndComplete(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{})
	resp, err := http.Get(e.URL + "/openapi-checkout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b.Bytes(), checkout.OpenAPI) {
		t.Fatalf("HTTP %d, %d bytes", resp.StatusCode, b.Len())
	}
	for _, path := range []string{"/v1/checkout_sessions:", "/v1/checkout_sessions/{id}:", "/v1/checkout_sessions/{id}/complete:",
		"/v1/checkout_sessions/{id}/cancel:", "/v1/checkout_sessions/{id}/confirm:", "/v1/wallets/{id}/mandates:",
		"/v1/wallets/{id}/mandates/{mid}/revoke:", "/v1/merchants/{id}/catalog:"} {
		if !bytes.Contains(checkout.OpenAPI, []byte("\n  "+path+"\n")) {
			t.Errorf("openapi-checkout.yaml does not describe %s", path)
		}
	}
}

// awaitingConfirmation starts a checkout service with a wallet of balance
// and has the agent buy above its mandate: the session waits for the
// owner's confirmation. It returns the session id and the code.
func awaitingConfirmation(t *testing.T, balance int64) (e *checkouttest.Env, id, code string) {
	t.Helper()
	e = checkouttest.Start(t, checkouttest.Options{Balance: balance})
	var r checkout.Response
	if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions", "c", checkout.SessionRequest{WalletID: e.Wallet.ID,
		MerchantID: e.Merchant.ID, Items: []ledger.ItemRequest{{SKU: "GRD-1", Quantity: 1}}}, &r); s != http.StatusOK {
		t.Fatalf("create: HTTP %d", s)
	}
	id = r.Object.(map[string]any)["id"].(string)
	var s ledger.CheckoutSession
	e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions/"+id+"/complete", "p", struct{}{}, nil)
	e.Do(t, e.AgentKey, "GET", "/v1/checkout_sessions/"+id, "", nil, &s)
	if s.Status != ledger.SessionAuthRequired || s.ConfirmationCode == "" {
		t.Fatalf("complete above the mandate: %+v", s)
	}
	return e, id, s.ConfirmationCode
}

// TestConfirmAfterTopUp confirms a purchase the wallet cannot pay yet: it
// keeps waiting, with its code, until the owner tops the wallet up.
func TestConfirmAfterTopUp(t *testing.T) {
	e, id, code := awaitingConfirmation(t, 50_00)
	steps := []struct {
		name    string
		deposit int64
		outcome string
		status  string
	}{
		{"Short", 0, ledger.OutcomeDeclined, ledger.SessionAuthRequired},
		{"ToppedUp", 50_00, ledger.OutcomeApproved, ledger.SessionCompleted},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.deposit > 0 {
				if _, err := e.Ledger.Deposit(context.Background(), nil, e.Wallet.ID, st.deposit, "EUR", "top-up"); err != nil {
					t.Fatal(err)
				}
			}
			var r checkout.Response
			if s := e.Do(t, e.OwnerKey, "POST", "/v1/checkout_sessions/"+id+"/confirm", "ok-"+st.name, checkout.ConfirmRequest{Code: code}, &r); s != http.StatusOK ||
				r.Result.Outcome != st.outcome || r.Result.Status != st.status {
				t.Fatalf("confirm: HTTP %d %+v", s, r.Result)
			}
		})
	}
	if got := e.Balance(t, e.Wallet.ID); got != 100_00-89_00 {
		t.Errorf("balance %d", got)
	}
	e.Verify(t)
}

// TestConfirmExpires: a confirmation code is good for 15 minutes; a later
// confirm cancels the session and charges nothing.
func TestConfirmExpires(t *testing.T) {
	e, id, code := awaitingConfirmation(t, 100_00)
	e.Clock.Advance(15*time.Minute + time.Second)
	var r checkout.Response
	if st := e.Do(t, e.OwnerKey, "POST", "/v1/checkout_sessions/"+id+"/confirm", "late", checkout.ConfirmRequest{Code: code}, &r); st != http.StatusConflict ||
		r.Result.Reason != ledger.ReasonConfirmationExpired || r.Result.Status != ledger.SessionCanceled {
		t.Fatalf("late confirm: HTTP %d %+v", st, r.Result)
	}
	if got := e.Balance(t, e.Wallet.ID); got != 100_00 {
		t.Errorf("balance %d after an expired confirmation", got)
	}
	e.Verify(t)
}

// TestRateLimit spends a key's burst (twice its rate of 2/s; the test
// clock stands still) on the checkout API and on /mcp.
func TestRateLimit(t *testing.T) {
	for _, path := range []string{"/v1/merchants/M/catalog", "/mcp"} {
		t.Run(path, func(t *testing.T) {
			e := checkouttest.Start(t, checkouttest.Options{Rate: 2})
			for i := range 5 {
				var s int
				if path == "/mcp" {
					s = e.Do(t, e.AgentKey, "POST", path, "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "ping"}, nil)
				} else {
					s = e.Do(t, e.AgentKey, "GET", path, "", nil, nil)
				}
				if limited := s == http.StatusTooManyRequests; limited != (i == 4) {
					t.Errorf("request %d: HTTP %d", i, s)
				}
			}
		})
	}
}

// downStore plays a database out of reach for writes while down.
type downStore struct {
	*sqlitestore.Store
	down atomic.Bool
}

var errDown = fmt.Errorf("beginning transaction: %w: dial tcp: connection refused", ledger.ErrUnavailable)

func (s *downStore) Write(ctx context.Context, fn func(ledger.Tx) error) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Write(ctx, fn)
}

// WriteAsync is what the ledger calls on SQLite.
func (s *downStore) WriteAsync(ctx context.Context, fn func(ledger.Tx) error) (func() error, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.WriteAsync(ctx, fn)
}

// TestDatabaseDown: while the database is out of reach, checkout answers
// 503 unavailable with Retry-After, and warns once a second per route.
func TestDatabaseDown(t *testing.T) {
	sq, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	store := &downStore{Store: sq}
	e := checkouttest.Start(t, checkouttest.Options{Store: store})
	var logs bytes.Buffer
	h := checkout.NewHandler(e.Service, slog.New(slog.NewJSONHandler(&logs, nil)))
	store.down.Store(true)
	for i, want := range []int{1, 1, 2} {
		if i == 2 {
			e.Clock.Advance(time.Second)
		}
		req := httptest.NewRequest("POST", "/v1/checkout_sessions", strings.NewReader(`{"wallet_id":"`+e.Wallet.ID+`","merchant_id":"`+e.Merchant.ID+`","items":[]}`))
		req.Header.Set("Authorization", "Bearer "+e.AgentKey)
		req.Header.Set("Idempotency-Key", "down-1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), `"unavailable"`) {
			t.Errorf("request %d: HTTP %d Retry-After %q %s", i, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if n := strings.Count(logs.String(), `"level":"WARN","msg":"database unavailable"`); n != want {
			t.Errorf("request %d: %d warnings, want %d:\n%s", i, n, want, logs.String())
		}
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("an outage logged at ERROR:\n%s", logs.String())
	}
}

// TestRequestLogKey: checkout and /mcp requests, mounted beside the ledger
// API, are logged with the id of the key that made them.
func TestRequestLogKey(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{})
	var logs bytes.Buffer
	srv := api.New(api.Config{Ledger: e.Ledger, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Rate: -1})
	ch := checkout.NewHandler(e.Service, nil)
	for _, p := range checkout.Patterns {
		srv.Mount(p, ch)
	}
	srv.Mount("/mcp", mcpserver.New(mcpserver.Config{Service: e.Service}))
	for _, c := range []struct {
		name, method, path, body, route string
	}{
		{"catalog", "GET", "/v1/merchants/" + e.Merchant.ID + "/catalog?q=beans", "", "GET /v1/merchants/{id}/catalog"},
		{"session", "POST", "/v1/checkout_sessions", `{"wallet_id":"` + e.Wallet.ID + `","merchant_id":"` + e.Merchant.ID + `","items":[]}`, "POST /v1/checkout_sessions"},
		{"mcp", "POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "/mcp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+e.AgentKey)
			req.Header.Set("Idempotency-Key", "log-"+c.name)
			srv.ServeHTTP(httptest.NewRecorder(), req)
			var line struct{ Msg, Route, Key string }
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("%v: %s", err, logs.Bytes())
			}
			if line.Msg != "request" || line.Route != c.route || line.Key != e.Agent.ID {
				t.Errorf("logged %s, want the request on %s by key %s", logs.Bytes(), c.route, e.Agent.ID)
			}
			if strings.Contains(logs.String(), e.AgentKey) {
				t.Errorf("the key's secret is in the log: %s", logs.Bytes())
			}
		})
	}
}
