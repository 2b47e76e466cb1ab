package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tappos/emv/tags"
	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/client"
	"tappos/ledger/sqlitestore"
	"tappos/ledger/storetest"
	"tappos/offline"
)

// gatedStore holds the writer while armed, to catch a request in flight,
// and plays a database out of reach while down.
type gatedStore struct {
	ledger.Store
	armed   atomic.Bool
	down    atomic.Bool
	entered chan struct{}
	gate    chan struct{}
}

// errDown is what pgstore returns for a refused connection.
var errDown = fmt.Errorf("beginning transaction: %w: dial tcp: connection refused", ledger.ErrUnavailable)

func (g *gatedStore) APIKey(ctx context.Context, hash string) (ledger.APIKey, error) {
	if g.down.Load() {
		return ledger.APIKey{}, errDown
	}
	return g.Store.APIKey(ctx, hash)
}

func (g *gatedStore) Authorization(ctx context.Context, id string) (ledger.Authorization, error) {
	if g.down.Load() {
		return ledger.Authorization{}, errDown
	}
	return g.Store.Authorization(ctx, id)
}

func (g *gatedStore) Write(ctx context.Context, fn func(ledger.Tx) error) error {
	if g.down.Load() {
		return errDown
	}
	if g.armed.CompareAndSwap(true, false) {
		g.entered <- struct{}{}
		<-g.gate
	}
	return g.Store.Write(ctx, fn)
}

type fixture struct {
	env      *storetest.Env
	store    *gatedStore
	dir      string
	srv      *httptest.Server
	logs     *syncBuffer
	term     *client.Client // the merchant's terminal
	other    *client.Client // another merchant's terminal
	otherTID string
	admin    *client.Client
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func newFixture(t testing.TB, cfg api.Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlitestore.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{Store: s, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	f := &fixture{store: g, dir: dir, logs: &syncBuffer{}}
	f.env = storetest.Setup(t, g, 3, 10_000)
	t.Cleanup(func() { s.Close() }) // after the ledger's cleanup
	ctx := context.Background()
	l := f.env.Ledger
	_, tkey, err := l.CreateAPIKey(ctx, ledger.RoleTerminal, f.env.Merchant.ID, f.env.Terminal.ID)
	if err != nil {
		t.Fatal(err)
	}
	ot, err := l.CreateTerminal(ctx, f.env.Other.ID, "their till")
	if err != nil {
		t.Fatal(err)
	}
	_, okey, err := l.CreateAPIKey(ctx, ledger.RoleTerminal, f.env.Other.ID, ot.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, akey, err := l.CreateAPIKey(ctx, ledger.RoleAdmin, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Ledger = l
	cfg.Logger = slog.New(slog.NewJSONHandler(f.logs, nil))
	f.srv = httptest.NewServer(api.New(cfg))
	t.Cleanup(f.srv.Close)
	f.term = &client.Client{BaseURL: f.srv.URL, Key: tkey}
	f.other = &client.Client{BaseURL: f.srv.URL, Key: okey}
	f.otherTID = ot.ID
	f.admin = &client.Client{BaseURL: f.srv.URL, Key: akey}
	return f
}

func (f *fixture) tap(t testing.TB, card int, txn string, amount int64, cid byte) api.AuthorizationRequest {
	return api.AuthorizationRequest{TerminalTxnID: txn, Amount: amount, Currency: "EUR",
		EMV: hex.EncodeToString(storetest.Tap(t, f.env.Cards[card], amount, cid))}
}

func post(t testing.TB, c *client.Client, path, key string, body any) client.Response {
	t.Helper()
	r, err := c.Post(context.Background(), path, key, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRevokedKey: a revoked key is refused once the server's key cache
// lets go of it, within 30 seconds.
func TestRevokedKey(t *testing.T) {
	var f *fixture
	f = newFixture(t, api.Config{Rate: -1, Now: func() time.Time { return f.env.Clock.Now() }})
	if r := post(t, f.term, "/v1/authorizations", "k1", f.tap(t, 0, "k1", 100, 0x80)); r.Status != 200 {
		t.Fatalf("before revocation: %+v", r)
	}
	if n, err := f.env.Ledger.RevokeAPIKeys(context.Background(), "", f.env.Terminal.ID); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	f.env.Clock.Advance(30*time.Second + time.Millisecond)
	if r := post(t, f.term, "/v1/authorizations", "k2", f.tap(t, 0, "k2", 100, 0x80)); r.Status != 401 {
		t.Errorf("after revocation: %+v", r)
	}
}

func TestAccess(t *testing.T) {
	f := newFixture(t, api.Config{})
	ctx := context.Background()
	ok := post(t, f.term, "/v1/authorizations", "a0", f.tap(t, 0, "a0", 100, 0x80))
	if ok.Status != 200 || ok.Result.Outcome != ledger.OutcomeApproved {
		t.Fatalf("authorization: %+v", ok)
	}
	till2, err := f.env.Ledger.CreateTerminal(ctx, f.env.Merchant.ID, "till 2")
	if err != nil {
		t.Fatal(err)
	}
	_, key2, err := f.env.Ledger.CreateAPIKey(ctx, ledger.RoleTerminal, f.env.Merchant.ID, till2.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameShop := &client.Client{BaseURL: f.srv.URL, Key: key2}
	anon := &client.Client{BaseURL: f.srv.URL}
	wrong := &client.Client{BaseURL: f.srv.URL, Key: "tpk_not-a-key"}
	otherTerminal := f.tap(t, 0, "a3", 100, 0x80)
	otherTerminal.TerminalID = f.otherTID
	otherMerchant := f.tap(t, 0, "a4", 100, 0x80)
	otherMerchant.MerchantID = f.env.Other.ID
	tests := []struct {
		name   string
		c      *client.Client
		path   string
		body   any
		status int
	}{
		{"no key", anon, "/v1/authorizations", f.tap(t, 0, "a1", 100, 0x80), 401},
		{"unknown key", wrong, "/v1/authorizations", f.tap(t, 0, "a2", 100, 0x80), 401},
		{"another merchant's terminal", f.term, "/v1/authorizations", otherTerminal, 403},
		{"another merchant", f.term, "/v1/authorizations", otherMerchant, 403},
		{"refund of another merchant's payment", f.other, "/v1/authorizations/" + ok.Result.AuthorizationID + "/refunds", api.AmountRequest{Amount: 1}, 404},
		{"void of another merchant's payment", f.other, "/v1/authorizations/" + ok.Result.AuthorizationID + "/void", struct{}{}, 404},
		{"terminal tops up", f.term, "/v1/wallets/" + f.env.Wallets[0].ID + "/deposits", api.DepositRequest{Amount: 1, Currency: "EUR"}, 403},
		{"admin tops up", f.admin, "/v1/wallets/" + f.env.Wallets[0].ID + "/deposits", api.DepositRequest{Amount: 1, Currency: "EUR"}, 200},
		{"unknown field", f.term, "/v1/authorizations", map[string]any{"amount": 1, "pan": "x"}, 400},
		{"another merchant's batch", f.term, "/v1/batches", api.BatchCloseRequest{TerminalID: f.otherTID, Currency: "EUR"}, 403},
		{"own batch", f.term, "/v1/batches", api.BatchCloseRequest{Currency: "EUR", Count: 1, Amount: 100}, 200},
		{"void after settlement", f.term, "/v1/authorizations/" + ok.Result.AuthorizationID + "/void", struct{}{}, 409},
		{"refund at another till of the shop", sameShop, "/v1/authorizations/" + ok.Result.AuthorizationID + "/refunds", api.AmountRequest{Amount: 1}, 200},
		{"another till's batch", sameShop, "/v1/batches", api.BatchCloseRequest{TerminalID: f.env.Terminal.ID, Currency: "EUR"}, 403},
		{"top-up of no wallet", f.admin, "/v1/wallets/w_nope/deposits", api.DepositRequest{Amount: 1, Currency: "EUR"}, 404},
		{"top-up in another currency", f.admin, "/v1/wallets/" + f.env.Wallets[0].ID + "/deposits", api.DepositRequest{Amount: 1, Currency: "USD"}, 422},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, tt.c, tt.path, "k"+string(rune('a'+i)), tt.body)
			if r.Status != tt.status {
				t.Errorf("status %d (%s %s), want %d", r.Status, r.Code, r.Message, tt.status)
			}
		})
	}
	gets := []struct {
		name   string
		c      *client.Client
		path   string
		status int
	}{
		{"another merchant's authorization", f.other, "/v1/authorizations/" + ok.Result.AuthorizationID, 404},
		{"a wallet, by a terminal", f.term, "/v1/wallets/" + f.env.Wallets[0].ID, 403},
		{"a wallet's history, by a terminal", f.term, "/v1/wallets/" + f.env.Wallets[0].ID + "/history", 403},
	}
	for _, g := range gets {
		t.Run(g.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.srv.URL+g.path, nil)
			req.Header.Set("Authorization", "Bearer "+g.c.Key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != g.status {
				t.Errorf("status %d, want %d", resp.StatusCode, g.status)
			}
		})
	}
	f.env.MustVerify(t)
}

func TestDeclineReasons(t *testing.T) {
	f := newFixture(t, api.Config{})
	forged := f.tap(t, 0, "d1", 100, 0x80)
	emv, _ := hex.DecodeString(forged.EMV)
	emv[len(emv)-1] ^= 0x01 // 9F26 is last: one bit of the ARQC
	forged.EMV = hex.EncodeToString(emv)
	good := f.tap(t, 1, "d2", 100, 0x80)
	replayed := good
	replayed.TerminalTxnID = "d3"
	stranger := api.AuthorizationRequest{TerminalTxnID: "d4", Amount: 100, Currency: "EUR",
		EMV: hex.EncodeToString(storetest.Tap(t, f.env.Stranger, 100, 0x80))}
	tests := []struct {
		name    string
		req     api.AuthorizationRequest
		outcome string
		reason  string
	}{
		{"forged ARQC", forged, ledger.OutcomeDeclined, ledger.ReasonBadCryptogram},
		{"good", good, ledger.OutcomeApproved, ""},
		{"replayed ATC", replayed, ledger.OutcomeDeclined, ledger.ReasonReplay},
		{"unknown card", stranger, ledger.OutcomeDeclined, ledger.ReasonUnknownCard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, f.term, "/v1/authorizations", tt.req.TerminalTxnID, tt.req)
			if r.Status != 200 || r.Result.Outcome != tt.outcome || r.Result.Reason != tt.reason {
				t.Errorf("got %d %+v, want %s/%s", r.Status, r.Result, tt.outcome, tt.reason)
			}
		})
	}
}

func TestIdempotency(t *testing.T) {
	f := newFixture(t, api.Config{})
	req := f.tap(t, 0, "i1", 250, 0x80)
	first := post(t, f.term, "/v1/authorizations", "key-1", req)
	again := post(t, f.term, "/v1/authorizations", "key-1", req)
	if !again.Replayed || first.Replayed || again.Result != first.Result {
		t.Errorf("replay: %+v\nfirst: %+v", again, first)
	}
	changed := f.tap(t, 0, "i2", 250, 0x80)
	if r := post(t, f.term, "/v1/authorizations", "key-1", changed); r.Status != 422 {
		t.Errorf("same key, other body: %d", r.Status)
	}
	if r := post(t, f.term, "/v1/authorizations", "", changed); r.Status != 400 {
		t.Errorf("no key: %d", r.Status)
	}
	// A request in flight.
	f.store.armed.Store(true)
	done := make(chan client.Response)
	go func() {
		r, _ := f.term.Post(context.Background(), "/v1/authorizations", "key-2", changed)
		done <- r
	}()
	<-f.store.entered
	if r := post(t, f.term, "/v1/authorizations", "key-2", changed); r.Status != 409 {
		t.Errorf("in flight: %d", r.Status)
	}
	close(f.store.gate)
	if r := <-done; r.Status != 200 || r.Result.Outcome != ledger.OutcomeApproved {
		t.Errorf("first of the in-flight pair: %+v", r)
	}
	if bal, _ := f.env.Balance(t, f.env.Wallets[0].ID); bal != 9_500 {
		t.Errorf("balance %d, want 9500", bal)
	}
}

// TestIdempotencyAcrossPaths: an authorization sent alone and then in a
// batch, or the other way round, with the same key, is one request: the
// offline queue resends that way after a lost answer.
func TestIdempotencyAcrossPaths(t *testing.T) {
	f := newFixture(t, api.Config{})
	ctx := context.Background()
	batch := func(t *testing.T, key string, req api.AuthorizationRequest) api.BatchResult {
		t.Helper()
		res, err := f.term.AuthorizeBatch(ctx, "batch-"+key, []api.BatchItem{{IdempotencyKey: key, AuthorizationRequest: req}})
		if err != nil || len(res) != 1 {
			t.Fatalf("batch: %v %v", res, err)
		}
		return res[0]
	}
	t.Run("single then batch", func(t *testing.T) {
		req := f.tap(t, 0, "p1", 100, 0x80)
		first := post(t, f.term, "/v1/authorizations", "p1", req)
		again := batch(t, "p1", req)
		if first.Status != 200 || again.Status != 200 || !again.Replayed || *again.Result != first.Result {
			t.Errorf("batch resend: %+v %+v\nfirst: %+v", again, again.Error, first)
		}
	})
	t.Run("batch then single", func(t *testing.T) {
		req := f.tap(t, 1, "p2", 100, 0x80)
		first := batch(t, "p2", req)
		again := post(t, f.term, "/v1/authorizations", "p2", req)
		if first.Status != 200 || again.Status != 200 || !again.Replayed || again.Result != *first.Result {
			t.Errorf("single resend: %+v\nfirst: %+v %+v", again, first, first.Error)
		}
	})
	t.Run("other body in a batch", func(t *testing.T) {
		req := f.tap(t, 2, "p3", 100, 0x80)
		post(t, f.term, "/v1/authorizations", "p3", req)
		req.TerminalTxnID = "p3-other"
		if r := batch(t, "p3", req); r.Status != 422 {
			t.Errorf("same key, other request: %d, want 422", r.Status)
		}
	})
	if bal, _ := f.env.Balance(t, f.env.Wallets[0].ID); bal != 9_900 {
		t.Errorf("balance %d, want 9900: charged once", bal)
	}
	f.env.MustVerify(t)
}

func TestLimits(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, api.Config{Rate: 1, Burst: 2, MaxBody: 1024, Now: func() time.Time { return now }})
	big := map[string]string{"emv": strings.Repeat("00", 1024)}
	if r := post(t, f.term, "/v1/authorizations", "l1", big); r.Status != 413 {
		t.Errorf("big body: %d", r.Status)
	}
	if r := post(t, f.term, "/v1/authorizations", "l2", f.tap(t, 0, "l2", 1, 0x80)); r.Status != 200 {
		t.Errorf("second request: %d", r.Status)
	}
	if r := post(t, f.term, "/v1/authorizations", "l3", f.tap(t, 0, "l3", 1, 0x80)); r.Status != 429 {
		t.Errorf("third request: %d", r.Status)
	}
	if r := post(t, f.admin, "/v1/wallets/"+f.env.Wallets[0].ID+"/deposits", "l4", api.DepositRequest{Amount: 1, Currency: "EUR"}); r.Status != 200 {
		t.Errorf("another key: %d", r.Status)
	}
}

// TestDatabaseDown: while the database is out of reach, requests get 503
// unavailable with Retry-After, logged at WARN once a second per route,
// and a retry with the same key succeeds once it is back.
func TestDatabaseDown(t *testing.T) {
	var f *fixture
	f = newFixture(t, api.Config{Rate: -1, Now: func() time.Time { return f.env.Clock.Now() }})
	paid := post(t, f.term, "/v1/authorizations", "u0", f.tap(t, 0, "u0", 100, 0x80)) // caches the terminal's key
	if paid.Status != 200 {
		t.Fatalf("before the outage: %+v", paid)
	}
	tap := f.tap(t, 0, "u1", 100, 0x81)
	body, _ := json.Marshal(tap)
	f.store.down.Store(true)
	tests := []struct {
		name, method, path, key, route string
		advance                        time.Duration // the clock, first
		warned                         bool          // the first of its route this second
	}{
		{"authorize", "POST", "/v1/authorizations", f.term.Key, "POST /v1/authorizations", 0, true},
		{"authorize again", "POST", "/v1/authorizations", f.term.Key, "POST /v1/authorizations", 0, false},
		{"read an authorization", "GET", "/v1/authorizations/" + paid.Result.AuthorizationID, f.term.Key, "GET /v1/authorizations/{id}", 0, true},
		{"a key not cached", "GET", "/v1/wallets/" + f.env.Wallets[0].ID, f.admin.Key, "GET /v1/wallets/{id}", 0, true},
		{"authorize, a second later", "POST", "/v1/authorizations", f.term.Key, "POST /v1/authorizations", time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.env.Clock.Advance(tc.advance)
			before := bytes.Count(f.logs.Bytes(), []byte(`"msg":"database unavailable","route":"`+tc.route+`"`))
			req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tc.key)
			req.Header.Set("Idempotency-Key", "u1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Error struct{ Code string } }
			json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != 503 || e.Error.Code != "unavailable" || resp.Header.Get("Retry-After") != "1" {
				t.Errorf("got %d %q Retry-After %q, want 503 unavailable Retry-After 1", resp.StatusCode, e.Error.Code, resp.Header.Get("Retry-After"))
			}
			after := bytes.Count(f.logs.Bytes(), []byte(`"msg":"database unavailable","route":"`+tc.route+`"`))
			if warned := after > before; warned != tc.warned {
				t.Errorf("warned %v, want %v", warned, tc.warned)
			}
		})
	}
	if bytes.Contains(f.logs.Bytes(), []byte(`"level":"ERROR"`)) {
		t.Errorf("an outage logged at ERROR:\n%s", f.logs.Bytes())
	}
	if !bytes.Contains(f.logs.Bytes(), []byte(`"level":"WARN","msg":"database unavailable","route":"POST /v1/authorizations","err":"beginning transaction: database unavailable: dial tcp: connection refused","suppressed":1`)) {
		t.Errorf("the second warning does not count the one suppressed:\n%s", f.logs.Bytes())
	}
	f.store.down.Store(false)
	if r := post(t, f.term, "/v1/authorizations", "u1", tap); r.Status != 200 || r.Replayed {
		t.Errorf("retry once the database is back: %+v", r)
	}
	f.env.MustVerify(t)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOperationalEndpoints(t *testing.T) {
	f := newFixture(t, api.Config{})
	post(t, f.term, "/v1/authorizations", "m1", f.tap(t, 0, "m1", 100, 0x80))
	tests := []struct {
		path string
		want string
	}{
		{"/healthz", "ok"},
		{"/readyz", "ready"},
		{"/openapi.yaml", "openapi: 3"},
		{"/metrics", `ledger_authorizations_total{outcome="approved",reason=""} 1`},
		{"/metrics", `ledger_http_requests_total{route="POST /v1/authorizations",status="200"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, f.srv.URL+tt.path)
			if code != 200 || !strings.Contains(body, tt.want) {
				t.Errorf("%d %q, want %q", code, body, tt.want)
			}
		})
	}
}

// TestNoPANAtRest sends approvals, declines and offline bookings, then
// looks for every PAN in the database files and the logs.
func TestNoPANAtRest(t *testing.T) {
	f := newFixture(t, api.Config{})
	for i := range f.env.Cards {
		post(t, f.term, "/v1/authorizations", "n1"+string(rune('a'+i)), f.tap(t, i, "n1"+string(rune('a'+i)), 100, 0x80))
		post(t, f.term, "/v1/authorizations", "n2"+string(rune('a'+i)), f.tap(t, i, "n2"+string(rune('a'+i)), 1_000_000, 0x80))
		req := f.tap(t, i, "n3"+string(rune('a'+i)), 20_000, 0x40)
		req.Kind = ledger.AuthOffline
		post(t, f.term, "/v1/authorizations", "n3"+string(rune('a'+i)), req)
	}
	post(t, f.term, "/v1/authorizations", "n4", api.AuthorizationRequest{TerminalTxnID: "n4", Amount: 100,
		Currency: "EUR", EMV: hex.EncodeToString(storetest.Tap(t, f.env.Stranger, 100, 0x80))})
	files, _ := filepath.Glob(filepath.Join(f.dir, "ledger.db*"))
	if len(files) < 3 {
		t.Fatalf("database files %v: want the database, its WAL and its redo log", files)
	}
	blobs := map[string][]byte{"logs": f.logs.Bytes()}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		blobs[filepath.Base(p)] = b
	}
	cards := append(f.env.Cards, f.env.Stranger)
	for _, c := range cards {
		bcd, _ := hex.DecodeString(c.PAN)
		for name, b := range blobs {
			if bytes.Contains(b, []byte(c.PAN)) || bytes.Contains(b, bcd) {
				t.Errorf("%s contains the PAN of %s", name, tags.MaskPAN(c.PAN))
			}
		}
		// The rows are in the redo log until SQLite commits them to the
		// WAL.
		mask := []byte(tags.MaskPAN(c.PAN))
		if !bytes.Contains(blobs["ledger.db-redo"], mask) && !bytes.Contains(blobs["ledger.db-wal"], mask) {
			t.Errorf("redo log and WAL lack the masked PAN %s: is the test looking at the right files?", mask)
		}
	}
}

func TestBatch(t *testing.T) {
	f := newFixture(t, api.Config{})
	theirs := f.tap(t, 1, "b4", 100, 0x80)
	theirs.TerminalID = f.otherTID
	offline := f.tap(t, 2, "b5", 100, 0x40)
	offline.Kind = ledger.AuthOffline
	items := []api.BatchItem{
		{IdempotencyKey: "b1", AuthorizationRequest: f.tap(t, 0, "b1", 100, 0x80)},
		// Another card: items run concurrently, and a card's higher
		// counter value applied first would make its lower one a replay.
		{IdempotencyKey: "b2", AuthorizationRequest: f.tap(t, 1, "b2", 1_000_000, 0x80)},
		{IdempotencyKey: "b3", AuthorizationRequest: api.AuthorizationRequest{TerminalTxnID: "b3", Amount: 1, Currency: "EUR", EMV: "zz"}},
		{IdempotencyKey: "b4", AuthorizationRequest: theirs},
		{IdempotencyKey: "b5", AuthorizationRequest: offline},
		{AuthorizationRequest: f.tap(t, 1, "b6", 100, 0x80)},
	}
	want := []struct {
		status  int
		outcome string
	}{{200, ledger.OutcomeApproved}, {200, ledger.OutcomeDeclined}, {400, ""}, {403, ""}, {200, ledger.OutcomeApproved}, {400, ""}}
	ctx := context.Background()
	for _, round := range []string{"first", "again"} {
		t.Run(round, func(t *testing.T) {
			res, err := f.term.AuthorizeBatch(ctx, "batch-"+round, items)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range want {
				r := res[i]
				if r.Status != w.status || (r.Result != nil) != (w.outcome != "") || r.Result != nil && r.Result.Outcome != w.outcome {
					t.Errorf("item %d: %+v %+v, want %d %s", i, r, r.Error, w.status, w.outcome)
				}
				if r.Result != nil && r.Replayed != (round == "again") {
					t.Errorf("item %d: replayed %v in the %s round", i, r.Replayed, round)
				}
			}
		})
	}
	if bal, _ := f.env.Balance(t, f.env.Wallets[0].ID); bal != 9_900 {
		t.Errorf("balance %d, want 9900", bal)
	}
	f.env.MustVerify(t)
}

// FuzzAuthorizationBody: whatever a terminal posts, the answer is a
// decision or a client error, never a server error.
func FuzzAuthorizationBody(f *testing.F) {
	fx := newFixture(f, api.Config{Rate: -1})
	good, _ := json.Marshal(api.AuthorizationRequest{TerminalTxnID: "f", Amount: 100, Currency: "EUR",
		EMV: hex.EncodeToString(storetest.Tap(f, fx.env.Cards[0], 100, 0x80))})
	f.Add(good)
	f.Add([]byte(`{"terminal_txn_id":"x","amount":1,"currency":"EUR","emv":"9f2608"}`))
	f.Add([]byte(`{"amount":-1}`))
	f.Add([]byte(`[]`))
	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		n++
		req, err := http.NewRequest("POST", fx.srv.URL+"/v1/authorizations", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+fx.term.Key)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("fuzz-%d", n))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	})
}

// TestCaptureBody: the capture's body is optional, and without one or
// without an amount the whole hold is captured.
func TestCaptureBody(t *testing.T) {
	f := newFixture(t, api.Config{Rate: -1})
	tests := []struct {
		name string
		body string
		want int64 // captured
	}{
		{"no body", "", 500},
		{"no amount", "{}", 500},
		{"amount", `{"amount":300}`, 300},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txn := fmt.Sprintf("cb%d", i)
			a := f.tap(t, 0, txn, 500, 0x80)
			a.Kind = ledger.AuthPreauth
			h := post(t, f.term, "/v1/authorizations", txn, a)
			if h.Result.Status != ledger.StatusHeld {
				t.Fatalf("preauth: %+v", h)
			}
			req, err := http.NewRequest("POST", f.srv.URL+"/v1/authorizations/"+h.Result.AuthorizationID+"/capture", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+f.term.Key)
			req.Header.Set("Idempotency-Key", txn+"/capture")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var r ledger.Result
			if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || r.Status != ledger.StatusCaptured || r.Amount != tt.want {
				t.Errorf("HTTP %d %+v, want captured %d", resp.StatusCode, r, tt.want)
			}
		})
	}
	f.env.MustVerify(t)
}

// TestBatchClose runs the batch protocol: a dry run lists the ledger's
// items (a voided payment named by the terminal among them), a close
// whose totals differ is refused and not recorded, a matching close
// settles and replays, and a forced close settles with the flag.
func TestBatchClose(t *testing.T) {
	f := newFixture(t, api.Config{})
	p1 := post(t, f.term, "/v1/authorizations", "b1", f.tap(t, 0, "b1", 1_000, 0x80))
	p2 := post(t, f.term, "/v1/authorizations", "b2", f.tap(t, 1, "b2", 500, 0x80))
	p3 := post(t, f.term, "/v1/authorizations", "b3", f.tap(t, 2, "b3", 300, 0x80))
	for _, r := range []client.Response{p1, p2, p3} {
		if r.Result.Outcome != ledger.OutcomeApproved {
			t.Fatalf("authorization: %+v", r)
		}
	}
	if r := post(t, f.term, "/v1/authorizations/"+p2.Result.AuthorizationID+"/refunds", "b2r", api.AmountRequest{Amount: 200}); r.Status != 200 {
		t.Fatalf("refund: %+v", r)
	}
	if r := post(t, f.term, "/v1/authorizations/"+p3.Result.AuthorizationID+"/void", "b3v", struct{}{}); r.Status != 200 {
		t.Fatalf("void: %+v", r)
	}
	keys := []string{"b1", "b2", "b2/refunds", "b3"}
	wantItems := []ledger.BatchItem{
		{Key: "b1", Type: ledger.ItemPurchase, Amount: 1_000, AuthorizationID: p1.Result.AuthorizationID},
		{Key: "b2", Type: ledger.ItemPurchase, Amount: 500, AuthorizationID: p2.Result.AuthorizationID},
		{Key: "b2/refunds", Type: ledger.ItemRefund, Amount: 200, AuthorizationID: p2.Result.AuthorizationID},
		{Key: "b3", Type: ledger.ItemVoid, Amount: 300, AuthorizationID: p3.Result.AuthorizationID},
	}
	tests := []struct {
		name    string
		key     string
		req     api.BatchCloseRequest
		status  int
		reason  string
		settled bool
		items   int // how many of wantItems come back
	}{
		{"dry run", "t/batch/1/dry-run", api.BatchCloseRequest{Keys: keys, DryRun: true}, 200, "", false, 4},
		{"dry run again, same key, void not named", "t/batch/1/dry-run", api.BatchCloseRequest{Keys: keys[:1], DryRun: true}, 200, "", false, 3},
		{"totals differ", "t/batch/1/EUR", api.BatchCloseRequest{Currency: "EUR", Count: 2, Amount: 1_500, Keys: keys}, 409, ledger.ReasonTotalsMismatch, false, 4},
		{"fixed, same key", "t/batch/1/EUR", api.BatchCloseRequest{Currency: "EUR", Count: 2, Amount: 1_300, Keys: keys}, 200, "", true, 4},
		{"unknown currency", "t/batch/1/XXX", api.BatchCloseRequest{Currency: "XXX"}, 400, "", false, 0},
		{"next batch forced", "t/batch/2/EUR", api.BatchCloseRequest{Currency: "EUR", Count: 1, Amount: 1, Force: true}, 200, ledger.ReasonTotalsMismatch, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, f.term, "/v1/batches", tt.key, tt.req)
			if r.Status != tt.status || r.Result.Reason != tt.reason || (r.Result.BatchID != "") != tt.settled {
				t.Fatalf("got %+v", r)
			}
			if r.Status == 400 {
				return
			}
			if r.Result.Items == nil {
				t.Fatal("no items")
			}
			items := *r.Result.Items
			for i := range items {
				if items[i].Currency != "EUR" || items[i].Kind != ledger.AuthPurchase || items[i].Channel != ledger.ChannelInStore {
					t.Errorf("item %+v", items[i])
				}
				items[i].Currency, items[i].Kind, items[i].Channel = "", "", ""
			}
			if want := wantItems[:tt.items]; !slices.Equal(items, want) {
				t.Errorf("items %+v, want %+v", items, want)
			}
		})
	}
	again := post(t, f.term, "/v1/batches", "t/batch/1/EUR", api.BatchCloseRequest{Currency: "EUR", Count: 2, Amount: 1_300, Keys: keys})
	if !again.Replayed || again.Result.BatchID == "" || again.Result.Items == nil || len(*again.Result.Items) != 4 {
		t.Errorf("replay %+v", again)
	}
	// The terminal lost the answer: its next dry run finds its payments
	// settled, and its close replays.
	dry := post(t, f.term, "/v1/batches", "t/batch/1/dry-run", api.BatchCloseRequest{Keys: keys, DryRun: true})
	if dry.Result.Items == nil || len(*dry.Result.Items) != 4 || (*dry.Result.Items)[0].BatchID != again.Result.BatchID {
		t.Errorf("dry run after settlement %+v", dry)
	}
	if r := post(t, f.term, "/v1/authorizations/"+p1.Result.AuthorizationID+"/void", "b1v", struct{}{}); r.Result.Reason != ledger.ReasonSettled {
		t.Errorf("void after settlement: %+v", r)
	}
}

// TestChatBatchClose: a merchant's manager closes its chat sales' batch,
// and only those are settled; an admin names the merchant; terminal keys
// may not close it.
func TestChatBatchClose(t *testing.T) {
	f := newFixture(t, api.Config{Rate: -1})
	_, mkey, err := f.env.Ledger.CreateAPIKey(context.Background(), ledger.RoleManager, f.env.Merchant.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	manager := &client.Client{BaseURL: f.srv.URL, Key: mkey}
	for i, m := range []string{f.env.Merchant.ID, f.env.Other.ID} {
		a := f.tap(t, i, fmt.Sprint("cs", i), 1_000, 0x80)
		a.Channel, a.MerchantID, a.TerminalID = ledger.ChannelChat, m, ledger.ChatTerminal
		if r := post(t, f.admin, "/v1/authorizations", a.TerminalTxnID, a); r.Result.Outcome != ledger.OutcomeApproved {
			t.Fatalf("chat sale: %+v", r)
		}
	}
	tests := []struct {
		name   string
		c      *client.Client
		req    api.BatchCloseRequest
		status int
		count  int
	}{
		{"terminal key", f.term, api.BatchCloseRequest{TerminalID: ledger.ChatTerminal, Currency: "EUR", Count: 1, Amount: 1_000}, 403, 0},
		{"manager for another merchant", manager, api.BatchCloseRequest{TerminalID: ledger.ChatTerminal, MerchantID: f.env.Other.ID,
			Currency: "EUR", Count: 1, Amount: 1_000}, 403, 0},
		{"admin naming no merchant", f.admin, api.BatchCloseRequest{TerminalID: ledger.ChatTerminal, Currency: "EUR", Count: 2, Amount: 2_000}, 400, 0},
		{"manager", manager, api.BatchCloseRequest{TerminalID: ledger.ChatTerminal, Currency: "EUR", Count: 1, Amount: 1_000}, 200, 1},
		{"admin for the other merchant", f.admin, api.BatchCloseRequest{TerminalID: ledger.ChatTerminal, MerchantID: f.env.Other.ID,
			Currency: "EUR", Count: 1, Amount: 1_000}, 200, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, tt.c, "/v1/batches", "chat/"+tt.name, tt.req)
			if r.Status != tt.status || r.Result.Count != tt.count || (r.Status == 200) != (r.Result.BatchID != "") {
				t.Errorf("got %+v, want %d with %d payments", r, tt.status, tt.count)
			}
		})
	}
	f.env.MustVerify(t)
}

// FuzzBatchBody: whatever a terminal posts to close a batch, the answer
// is a result or a client error, never a server error, and a dry run
// never settles.
func FuzzBatchBody(f *testing.F) {
	fx := newFixture(f, api.Config{Rate: -1})
	if r := post(f, fx.term, "/v1/authorizations", "f1", fx.tap(f, 0, "f1", 100, 0x80)); r.Result.Outcome != ledger.OutcomeApproved {
		f.Fatalf("authorization: %+v", r)
	}
	f.Add([]byte(`{"keys":["f1","f1/refunds","nope"],"dry_run":true}`))
	f.Add([]byte(`{"currency":"EUR","count":1,"amount":100,"keys":["f1"]}`))
	f.Add([]byte(`{"currency":"EUR","count":-1,"amount":9223372036854775807,"force":true}`))
	f.Add([]byte(`{"keys":["/refunds",""],"dry_run":true}`))
	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		n++
		req, err := http.NewRequest("POST", fx.srv.URL+"/v1/batches", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+fx.term.Key)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("fuzz-%d", n))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var sent api.BatchCloseRequest
		var got ledger.Result
		if json.Unmarshal(body, &sent) == nil && sent.DryRun && json.Unmarshal(b, &got) == nil && got.BatchID != "" {
			t.Fatalf("a dry run settled: %s", b)
		}
	})
}

// TestBatchRateLimit: a batch costs one request per item, so a terminal
// cannot get past its rate limit by sending batches.
func TestBatchRateLimit(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, api.Config{Rate: 1, Burst: 5, Now: func() time.Time { return now }})
	n := 0
	batch := func(t *testing.T, size int) *http.Response {
		var req api.BatchRequest
		for range size {
			n++
			txn := fmt.Sprintf("rl%d", n)
			req.Items = append(req.Items, api.BatchItem{IdempotencyKey: txn, AuthorizationRequest: f.tap(t, 0, txn, 1, 0x80)})
		}
		body, _ := json.Marshal(req)
		hr, _ := http.NewRequest("POST", f.srv.URL+"/v1/authorizations/batch", bytes.NewReader(body))
		hr.Header.Set("Authorization", "Bearer "+f.term.Key)
		hr.Header.Set("Idempotency-Key", fmt.Sprintf("rl-batch%d", n))
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name       string
		advance    time.Duration
		size       int
		status     int
		retryAfter string
	}{
		{"within the burst", 0, 4, 200, ""},
		// The request's own token is spent; two more are a second each.
		{"over the remaining budget", 0, 3, 429, "2"},
		{"after the refill", 3 * time.Second, 3, 200, ""},
		{"over the burst", time.Hour, 6, 400, ""},
		{"single request after the batches", 0, 0, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = now.Add(tc.advance)
			if tc.size == 0 {
				if r := post(t, f.term, "/v1/authorizations", "rl-single", f.tap(t, 0, "rl-single", 1, 0x80)); r.Status != tc.status {
					t.Fatalf("status %d, want %d", r.Status, tc.status)
				}
				return
			}
			resp := batch(t, tc.size)
			if resp.StatusCode != tc.status || resp.Header.Get("Retry-After") != tc.retryAfter {
				t.Fatalf("status %d Retry-After %q, want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), tc.status, tc.retryAfter)
			}
		})
	}
}

// TestBatchDefaultBurst: with the default limits a full batch fits, so an
// offline backlog is never refused for good.
func TestBatchDefaultBurst(t *testing.T) {
	f := newFixture(t, api.Config{Rate: 1})
	var items []api.BatchItem
	for i := range 600 {
		txn := fmt.Sprintf("db%d", i)
		items = append(items, api.BatchItem{IdempotencyKey: txn, AuthorizationRequest: api.AuthorizationRequest{TerminalTxnID: txn, Amount: 1, Currency: "EUR", EMV: "zz"}})
	}
	res, err := f.term.AuthorizeBatch(context.Background(), "db-batch", items)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != 400 {
		t.Errorf("item 0: %+v, want 400 for its EMV", res[0])
	}
}

// TestOfflineSyncDefaultLimits: the offline queue's sync, four batches of
// 500 in flight, gets a kiosk's backlog through the default rate limit:
// what the limit refuses now goes through on a later sync.
func TestOfflineSyncDefaultLimits(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	f := newFixture(t, api.Config{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	var backlog []offline.Outgoing
	for i := range 1500 {
		txn := fmt.Sprintf("off%d", i)
		backlog = append(backlog, offline.Outgoing{TxnID: txn, Amount: 1, Currency: "EUR",
			EMV: storetest.Tap(t, f.env.Cards[i%len(f.env.Cards)], 1, 0x40)})
	}
	fw := &offline.HTTPForwarder{BaseURL: f.srv.URL, APIKey: f.term.Key,
		MerchantID: f.env.Merchant.ID, TerminalID: f.env.Terminal.ID}
	ctx := context.Background()
	// The batches in flight race for the budget, and a sync stops at the
	// first refusal: how many a sync gets through varies, but each gets
	// at least one batch through, and a refusal is never final.
	rest := backlog
	for sync := 1; len(rest) > 0; sync++ {
		if sync > 4 {
			t.Fatalf("%d items still unsynced after 4 syncs", len(rest))
		}
		res, err := fw.Forward(ctx, rest)
		if err != nil && !errors.Is(err, offline.ErrUnavailable) {
			t.Fatalf("sync %d: %v", sync, err)
		}
		done := make(map[string]bool)
		for _, r := range res {
			if r.State != offline.StateAccepted {
				t.Fatalf("sync %d: %s %s", sync, r.State, r.Reason)
			}
			done[r.TxnID] = true
		}
		if len(done) == 0 {
			t.Fatalf("sync %d of %d items got nothing through", sync, len(rest))
		}
		var left []offline.Outgoing
		for _, o := range rest {
			if !done[o.TxnID] {
				left = append(left, o)
			}
		}
		rest = left
		mu.Lock()
		now = now.Add(5 * time.Second)
		mu.Unlock()
	}
	if n := f.env.Ledger.Stats().Approved; n != int64(len(backlog)) {
		t.Errorf("%d approvals for %d items", n, len(backlog))
	}
}
