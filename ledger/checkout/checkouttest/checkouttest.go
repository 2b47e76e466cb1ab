// Package checkouttest starts a ledger with chat checkout on a real
// SQLite file behind a real HTTP server — the ledger API, the checkout
// API and the MCP endpoint, as ledgerd mounts them — seeded with a
// merchant, a catalog, a wallet, an agent with a mandate and the wallet's
// owner, for tests.
package checkouttest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tappos/emv/cryptogram"
	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/checkout"
	"tappos/ledger/ledgertest"
	"tappos/ledger/mcpserver"
	"tappos/ledger/sqlitestore"
)

// Clock is a settable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Env is a running ledger with demo data.
type Env struct {
	URL      string // of the HTTP server
	Ledger   *ledger.Ledger
	Store    ledger.Store
	Service  *checkout.Service
	Clock    *Clock
	Merchant ledger.Merchant
	Terminal ledger.Terminal
	Wallet   ledger.Account // holds Options.Balance
	Other    ledger.Account // a second wallet, with no mandate

	TerminalKey string
	AgentKey    string
	Agent       ledger.APIKey
	OwnerKey    string // of Wallet
	Mandate     checkout.MandateView
}

// Options vary an Env.
type Options struct {
	Balance        int64 // of Wallet; default 100_00
	MaxPerPurchase int64 // of the mandate; default 20_00
	Budget         int64 // of the mandate per day; default 50_00
	Catalog        []ledger.CatalogItem
	// Store is the ledger's store; default a new SQLite file. Start
	// does not close it.
	Store ledger.Store
	// Rate limits requests per key of the checkout API and /mcp; default
	// none.
	Rate float64
}

// DefaultCatalog is the merchant's catalog unless Options say otherwise;
// MerchantID is filled in.
var DefaultCatalog = []ledger.CatalogItem{
	{SKU: "COF-250", Name: "Espresso beans 250 g", Price: 12_50, Currency: "EUR", Stock: 1000},
	{SKU: "MUG-1", Name: "Stoneware mug", Price: 9_00, Currency: "EUR", Stock: 3},
	{SKU: "GRD-1", Name: "Burr grinder", Price: 89_00, Currency: "EUR", Stock: 5},
}

// Start starts an Env; it stops with the test.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Balance == 0 {
		o.Balance = 100_00
	}
	if o.MaxPerPurchase == 0 {
		o.MaxPerPurchase = 20_00
	}
	if o.Budget == 0 {
		o.Budget = 50_00
	}
	if o.Rate == 0 {
		o.Rate = -1
	}
	if o.Catalog == nil {
		o.Catalog = DefaultCatalog
	}
	ctx := context.Background()
	store := o.Store
	if store == nil {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ledger.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		store = s
	}
	clock := &Clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := ledger.New(ledger.Config{Store: store, TokenSecret: []byte(strings.Repeat("k", 32)),
		Issuers: []ledger.IssuerKey{{Prefix: "541333", Scheme: string(cryptogram.MastercardCVN16), IMK: ledgertest.IMK}},
		Now:     clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	svc, err := checkout.New(checkout.Config{Ledger: l, Now: clock.Now, Rate: o.Rate})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", api.New(api.Config{Ledger: l, Logger: log, Now: clock.Now, Rate: -1}))
	ch := checkout.NewHandler(svc, log)
	for _, p := range checkout.Patterns {
		mux.Handle(p, ch)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.Handle("/mcp", mcpserver.New(mcpserver.Config{Service: svc, PublicURL: srv.URL}))

	e := &Env{URL: srv.URL, Ledger: l, Store: store, Service: svc, Clock: clock}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	e.Merchant, err = l.CreateMerchant(ctx, "Demo Café")
	must(err)
	e.Terminal, err = l.CreateTerminal(ctx, e.Merchant.ID, "till 1")
	must(err)
	_, e.TerminalKey, err = l.CreateAPIKey(ctx, ledger.RoleTerminal, e.Merchant.ID, e.Terminal.ID)
	must(err)
	for _, it := range o.Catalog {
		it.MerchantID = e.Merchant.ID
		must(l.PutCatalogItem(ctx, it))
	}
	e.Wallet, err = l.CreateWallet(ctx, "shopper", "EUR", 0)
	must(err)
	e.Other, err = l.CreateWallet(ctx, "someone else", "EUR", 0)
	must(err)
	for _, w := range []string{e.Wallet.ID, e.Other.ID} {
		_, err = l.Deposit(ctx, nil, w, o.Balance, "EUR", "opening balance")
		must(err)
	}
	e.Agent, e.AgentKey, err = l.CreateAPIKey(ctx, ledger.RoleAgent, "", "")
	must(err)
	_, e.OwnerKey, err = l.CreateOwnerKey(ctx, e.Wallet.ID)
	must(err)
	var resp struct {
		Object checkout.MandateView `json:"object"`
	}
	status := e.Do(t, e.OwnerKey, "POST", "/v1/wallets/"+e.Wallet.ID+"/mandates", "grant-1", checkout.MandateBody{
		AgentKeyID: e.Agent.ID, MaxPerPurchase: o.MaxPerPurchase, Budget: o.Budget, PeriodSeconds: 24 * 3600,
		Merchants: []string{e.Merchant.ID}, ExpiresAt: clock.Now().Add(30 * 24 * time.Hour)}, &resp)
	if status != http.StatusOK {
		t.Fatalf("granting the mandate: HTTP %d", status)
	}
	e.Mandate = resp.Object
	return e
}

// Do sends a JSON request with a key (and an idempotency key, for a
// POST) and decodes the answer into out, whatever its status; it returns
// the HTTP status.
func (e *Env) Do(t testing.TB, key, method, path, idem string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, e.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// Rejections (409, 404, 422) carry a result too.
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil && resp.StatusCode < 300 {
			t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// BearerClient returns an HTTP client that sends a key with every request.
func BearerClient(key string) *http.Client {
	return &http.Client{Transport: bearer{key, http.DefaultTransport}}
}

type bearer struct {
	key string
	rt  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.rt.RoundTrip(r)
}

// Balance returns a wallet's balance.
func (e *Env) Balance(t testing.TB, walletID string) int64 {
	t.Helper()
	a, err := e.Store.Account(context.Background(), walletID)
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance
}

// Verify fails the test if the books break an invariant.
func (e *Env) Verify(t testing.TB) {
	t.Helper()
	vs, err := e.Ledger.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("invariant %s broken by %s: %s", v.Check, v.Object, v.Detail)
	}
}
