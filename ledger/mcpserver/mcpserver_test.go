package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/checkout"
	"tappos/ledger/checkout/checkouttest"
	"tappos/ledger/ledgertest"
	"tappos/ledger/mcpserver"
)

// connect opens an MCP session with the SDK's own client.
func connect(t testing.TB, e *checkouttest.Env, key string) (*mcp.ClientSession, error) {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "v0"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: e.URL + "/mcp",
		HTTPClient: checkouttest.BearerClient(key), MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

// call calls a tool; it returns the tool's error text, or decodes its
// output into out.
func call(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any, out any) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	var text string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	if res.IsError {
		return text
	}
	if out != nil {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			t.Fatalf("%s: decoding %q: %v", tool, text, err)
		}
	}
	return ""
}

func buy(t testing.TB, cs *mcp.ClientSession, e *checkouttest.Env, wallet, sku string, qty int) (mcpserver.SessionOut, string) {
	t.Helper()
	var created mcpserver.SessionOut
	if msg := call(t, cs, "create_checkout", map[string]any{"wallet_id": wallet, "merchant_id": e.Merchant.ID,
		"items": []map[string]any{{"sku": sku, "quantity": qty}}}, &created); msg != "" {
		return created, msg
	}
	var done mcpserver.SessionOut
	msg := call(t, cs, "complete_checkout", map[string]any{"checkout_session_id": created.Session.ID}, &done)
	if msg == "" {
		return done, ""
	}
	return created, msg
}

func TestToolsWithinMandate(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{})
	cs, err := connect(t, e, e.AgentKey)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	if got := strings.Join(names, ","); got != "complete_checkout,create_checkout,recent_purchases,search_catalog,wallet_balance" {
		t.Errorf("tools %s", got)
	}
	var found mcpserver.SearchOut
	if msg := call(t, cs, "search_catalog", map[string]any{"merchant_id": e.Merchant.ID, "query": "espresso"}, &found); msg != "" {
		t.Fatal(msg)
	}
	if len(found.Items) != 1 || found.Items[0].SKU != "COF-250" || found.Items[0].Price != 12_50 {
		t.Fatalf("search: %+v", found.Items)
	}
	out, msg := buy(t, cs, e, e.Wallet.ID, "COF-250", 1)
	if msg != "" || out.Session.Status != ledger.SessionCompleted || out.Session.AuthorizationID == "" {
		t.Fatalf("purchase: %q %+v", msg, out.Session)
	}
	var bal mcpserver.BalanceOut
	if msg := call(t, cs, "wallet_balance", map[string]any{"wallet_id": e.Wallet.ID}, &bal); msg != "" || bal.Balance != 100_00-12_50 {
		t.Fatalf("balance %+v %q", bal, msg)
	}
	var recent mcpserver.PurchasesOut
	if msg := call(t, cs, "recent_purchases", map[string]any{"wallet_id": e.Wallet.ID}, &recent); msg != "" {
		t.Fatal(msg)
	}
	p := recent.Purchases[0]
	if p.Channel != ledger.ChannelChat || p.MerchantID != e.Merchant.ID || p.Amount != -12_50 || !strings.Contains(p.Items, "COF-250") {
		t.Errorf("latest purchase %+v", p)
	}
	items, err := e.Service.Catalog(context.Background(), e.Merchant.ID, "COF", 10)
	if err != nil || items[0].Stock != 999 {
		t.Errorf("stock after a purchase: %+v %v", items, err)
	}
	e.Verify(t)
}

var codeRE = regexp.MustCompile(`confirm code ([0-9A-Z]+) at POST \S+/v1/checkout_sessions/(\S+)/confirm`)

func TestToolsAboveMandateNeedConfirmation(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{})
	cs, err := connect(t, e, e.AgentKey)
	if err != nil {
		t.Fatal(err)
	}
	_, msg := buy(t, cs, e, e.Wallet.ID, "GRD-1", 1) // 89.00, above the 20.00 per purchase
	m := codeRE.FindStringSubmatch(msg)
	if !strings.HasPrefix(msg, "authentication_required") || m == nil {
		t.Fatalf("complete above the mandate: %q", msg)
	}
	code, session := m[1], m[2]
	if got := e.Balance(t, e.Wallet.ID); got != 100_00 {
		t.Fatalf("balance %d before confirmation", got)
	}
	confirm := func(key, idem, code string) (int, checkout.Response) {
		var r checkout.Response
		return e.Do(t, key, "POST", "/v1/checkout_sessions/"+session+"/confirm", idem, checkout.ConfirmRequest{Code: code}, &r), r
	}
	tests := []struct {
		name   string
		key    string
		code   string
		status int
	}{
		{"AgentMayNotConfirm", e.AgentKey, code, http.StatusForbidden},
		{"TerminalMayNotConfirm", e.TerminalKey, code, http.StatusForbidden},
		{"WrongCode", e.OwnerKey, "ZZZZZZ", http.StatusConflict},
		{"NoKey", "", code, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := confirm(tt.key, "c-"+tt.name, tt.code); got != tt.status {
				t.Errorf("HTTP %d, want %d", got, tt.status)
			}
		})
	}
	status, r := confirm(e.OwnerKey, "c-ok", strings.ToLower(code))
	if status != http.StatusOK || r.Result.Outcome != ledger.OutcomeApproved || r.Result.Status != ledger.SessionCompleted {
		t.Fatalf("owner confirmation: HTTP %d %+v", status, r)
	}
	if status, again := confirm(e.OwnerKey, "c-ok", strings.ToLower(code)); status != http.StatusOK || again.Result != r.Result {
		t.Errorf("replayed confirmation: HTTP %d %+v", status, again)
	}
	var done mcpserver.SessionOut
	if msg := call(t, cs, "complete_checkout", map[string]any{"checkout_session_id": session}, &done); msg != "" || done.Session.Status != ledger.SessionCompleted {
		t.Fatalf("complete after confirmation: %q %+v", msg, done)
	}
	if got := e.Balance(t, e.Wallet.ID); got != 100_00-89_00 {
		t.Errorf("balance %d after confirmation", got)
	}
	e.Verify(t)
}

func TestToolsBudget(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{MaxPerPurchase: 15_00, Budget: 30_00})
	cs, err := connect(t, e, e.AgentKey)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "", "above_budget", "above_budget"} {
		out, msg := buy(t, cs, e, e.Wallet.ID, "COF-250", 1)
		switch {
		case want == "" && msg != "":
			t.Fatalf("purchase %d: %q", i, msg)
		case want != "" && !strings.Contains(msg, want):
			t.Fatalf("purchase %d: %q, want %s", i, msg, want)
		case want == "" && out.Session.Status != ledger.SessionCompleted:
			t.Fatalf("purchase %d: %+v", i, out.Session)
		}
	}
	e.Clock.Advance(25 * time.Hour) // the budget is per day
	if _, msg := buy(t, cs, e, e.Wallet.ID, "COF-250", 1); msg != "" {
		t.Fatalf("purchase the next day: %q", msg)
	}
}

func TestToolsRefusedMandates(t *testing.T) {
	tests := []struct {
		name  string
		end   func(t *testing.T, e *checkouttest.Env)
		words string
	}{
		{"Revoked", func(t *testing.T, e *checkouttest.Env) {
			var r checkout.Response
			if s := e.Do(t, e.OwnerKey, "POST", "/v1/wallets/"+e.Wallet.ID+"/mandates/"+e.Mandate.ID+"/revoke", "rv", struct{}{}, &r); s != http.StatusOK {
				t.Fatalf("revoke: HTTP %d", s)
			}
		}, "revoked"},
		{"Expired", func(t *testing.T, e *checkouttest.Env) { e.Clock.Advance(31 * 24 * time.Hour) }, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := checkouttest.Start(t, checkouttest.Options{})
			cs, err := connect(t, e, e.AgentKey)
			if err != nil {
				t.Fatal(err)
			}
			var open mcpserver.SessionOut
			if msg := call(t, cs, "create_checkout", map[string]any{"wallet_id": e.Wallet.ID, "merchant_id": e.Merchant.ID,
				"items": []map[string]any{{"sku": "COF-250", "quantity": 1}}}, &open); msg != "" {
				t.Fatal(msg)
			}
			tt.end(t, e)
			msg := call(t, cs, "complete_checkout", map[string]any{"checkout_session_id": open.Session.ID}, nil)
			if !strings.Contains(msg, "refused") || !strings.Contains(msg, tt.words) {
				t.Errorf("completing a session opened before: %q", msg)
			}
			if _, msg := buy(t, cs, e, e.Wallet.ID, "COF-250", 1); !strings.Contains(msg, tt.words) {
				t.Errorf("a new purchase: %q", msg)
			}
			if got := e.Balance(t, e.Wallet.ID); got != 100_00 {
				t.Errorf("balance %d", got)
			}
			// Nor may the agent read the wallet any more.
			for _, tool := range []string{"wallet_balance", "recent_purchases"} {
				if msg := call(t, cs, tool, map[string]any{"wallet_id": e.Wallet.ID}, nil); !strings.Contains(msg, "403") {
					t.Errorf("%s: %q, want 403", tool, msg)
				}
			}
		})
	}
}

func TestOtherWalletForbidden(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{})
	cs, err := connect(t, e, e.AgentKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Tools", func(t *testing.T) {
		for _, tc := range []struct {
			tool string
			args map[string]any
		}{
			{"wallet_balance", map[string]any{"wallet_id": e.Other.ID}},
			{"recent_purchases", map[string]any{"wallet_id": e.Other.ID}},
			{"create_checkout", map[string]any{"wallet_id": e.Other.ID, "merchant_id": e.Merchant.ID,
				"items": []map[string]any{{"sku": "COF-250", "quantity": 1}}}},
		} {
			if msg := call(t, cs, tc.tool, tc.args, nil); !strings.Contains(msg, "403") {
				t.Errorf("%s on another wallet: %q", tc.tool, msg)
			}
		}
	})
	t.Run("HTTP", func(t *testing.T) {
		for _, tc := range []struct {
			name, key, method, path string
			body                    any
		}{
			{"CreateSession", e.AgentKey, "POST", "/v1/checkout_sessions", checkout.SessionRequest{WalletID: e.Other.ID,
				MerchantID: e.Merchant.ID, Items: []ledger.ItemRequest{{SKU: "COF-250", Quantity: 1}}}},
			{"ListMandates", e.AgentKey, "GET", "/v1/wallets/" + e.Other.ID + "/mandates", nil},
			{"OwnerOfAnother", e.OwnerKey, "GET", "/v1/wallets/" + e.Other.ID + "/mandates", nil},
			{"GrantOnAnother", e.OwnerKey, "POST", "/v1/wallets/" + e.Other.ID + "/mandates", checkout.MandateBody{
				AgentKeyID: e.Agent.ID, MaxPerPurchase: 1, Budget: 1, ExpiresAt: e.Clock.Now().Add(time.Hour)}},
			{"LedgerWallet", e.AgentKey, "GET", "/v1/wallets/" + e.Other.ID, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if s := e.Do(t, tc.key, tc.method, tc.path, "k-"+tc.name, tc.body, nil); s != http.StatusForbidden {
					t.Errorf("HTTP %d, want 403", s)
				}
			})
		}
	})
	t.Run("MCPKeys", func(t *testing.T) {
		for _, tc := range []struct {
			name, key string
			status    int
		}{
			{"NoKey", "", http.StatusUnauthorized},
			{"BadKey", "tpk_nope", http.StatusUnauthorized},
			{"OwnerKey", e.OwnerKey, http.StatusForbidden},
			{"TerminalKey", e.TerminalKey, http.StatusForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if s := e.Do(t, tc.key, "POST", "/mcp", "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "ping"}, nil); s != tc.status {
					t.Errorf("HTTP %d, want %d", s, tc.status)
				}
				if _, err := connect(t, e, tc.key); err == nil || !strings.Contains(err.Error(), http.StatusText(tc.status)) {
					t.Errorf("SDK client connect: %v, want %s", err, http.StatusText(tc.status))
				}
			})
		}
	})
}

func TestCheckoutHTTPIdempotency(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{})
	body := checkout.SessionRequest{WalletID: e.Wallet.ID, MerchantID: e.Merchant.ID,
		Items: []ledger.ItemRequest{{SKU: "MUG-1", Quantity: 2}}}
	var first, again checkout.Response
	if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions", "s1", body, &first); s != http.StatusOK {
		t.Fatalf("create: HTTP %d", s)
	}
	if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions", "s1", body, &again); s != http.StatusOK {
		t.Fatalf("replayed create: HTTP %d", s)
	}
	id := func(r checkout.Response) string { return r.Object.(map[string]any)["id"].(string) }
	if id(first) != id(again) || first.Result != again.Result {
		t.Errorf("replay made another session: %v vs %v", first, again)
	}
	body.Items[0].Quantity = 4 // more mugs than in stock
	if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions", "s1", body, nil); s != http.StatusUnprocessableEntity {
		t.Errorf("same key, other body: HTTP %d, want 422", s)
	}
	if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions", "", body, nil); s != http.StatusBadRequest {
		t.Errorf("no key: HTTP %d, want 400", s)
	}
	var upd checkout.Response
	if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions/"+id(first), "u1", checkout.SessionRequest{Items: body.Items}, &upd); s != http.StatusOK ||
		upd.Result.Status != ledger.SessionNotReady || upd.Result.Reason != ledger.ReasonOutOfStock {
		t.Errorf("update beyond stock: HTTP %d %+v", s, upd.Result)
	}
	var cancel checkout.Response
	if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions/"+id(first)+"/cancel", "c1", struct{}{}, &cancel); s != http.StatusOK || cancel.Result.Status != ledger.SessionCanceled {
		t.Errorf("cancel: HTTP %d %+v", s, cancel.Result)
	}
	if s := e.Do(t, e.AgentKey, "POST", "/v1/checkout_sessions/"+id(first)+"/complete", "p1", struct{}{}, nil); s != http.StatusConflict {
		t.Errorf("complete a canceled session: HTTP %d, want 409", s)
	}
	if s := e.Do(t, e.OwnerKey, "POST", "/v1/wallets/"+e.Wallet.ID+"/mandates", "g-past", checkout.MandateBody{
		AgentKeyID: e.Agent.ID, MaxPerPurchase: 1, Budget: 1, ExpiresAt: e.Clock.Now().Add(-time.Hour)}, nil); s != http.StatusBadRequest {
		t.Errorf("grant a mandate expired already: HTTP %d, want 400", s)
	}
	var list struct{ Mandates []checkout.MandateView }
	if s := e.Do(t, e.OwnerKey, "GET", "/v1/wallets/"+e.Wallet.ID+"/mandates", "", nil, &list); s != http.StatusOK || len(list.Mandates) != 1 {
		t.Errorf("list mandates: HTTP %d %+v", s, list)
	}
}

// TestRaceChatAndTaps sends 100 chat purchases and 100 card taps at once
// at one wallet that holds enough for 120 of them.
func TestRaceChatAndTaps(t *testing.T) {
	const price, n, fit = 5_00, 100, 120
	e := checkouttest.Start(t, checkouttest.Options{Balance: fit * price, MaxPerPurchase: price, Budget: n * price,
		Catalog: []ledger.CatalogItem{{SKU: "TEA-1", Name: "Green tea", Price: price, Currency: "EUR", Stock: 1000}}})
	ctx := context.Background()
	// One card per tap: the taps race, and a card's counter must rise.
	cards := ledgertest.Cards(n, "mc-cvn16", ledgertest.IMK)
	emv := make([][]byte, n)
	for i, c := range cards {
		if _, err := e.Ledger.LinkCard(ctx, e.Wallet.ID, c.PAN); err != nil {
			t.Fatal(err)
		}
		var err error
		if emv[i], err = c.Tap(price, 978, ledgertest.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := connect(t, e, e.AgentKey)
	if err != nil {
		t.Fatal(err)
	}
	sessions := make([]string, n)
	for i := range sessions {
		var out mcpserver.SessionOut
		if msg := call(t, cs, "create_checkout", map[string]any{"wallet_id": e.Wallet.ID, "merchant_id": e.Merchant.ID,
			"items": []map[string]any{{"sku": "TEA-1", "quantity": 1}}}, &out); msg != "" {
			t.Fatal(msg)
		}
		sessions[i] = out.Session.ID
	}
	var mu sync.Mutex
	approved := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			var out mcpserver.SessionOut
			msg := call(t, cs, "complete_checkout", map[string]any{"checkout_session_id": sessions[i]}, &out)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case msg == "" && out.Session.Status == ledger.SessionCompleted:
				approved[ledger.ChannelChat]++
			case strings.Contains(msg, "top it up"):
			default:
				t.Errorf("chat purchase %d: %q %+v", i, msg, out)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			var r ledger.Result
			s := e.Do(t, e.TerminalKey, "POST", "/v1/authorizations", fmt.Sprint("tap-", i), api.AuthorizationRequest{
				TerminalTxnID: fmt.Sprint("tx-", i), Amount: price, Currency: "EUR", EMV: fmt.Sprintf("%X", emv[i])}, &r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case s == http.StatusOK && r.Outcome == ledger.OutcomeApproved:
				approved[ledger.ChannelInStore]++
			case s == http.StatusOK && r.Reason == ledger.ReasonInsufficientFunds:
			default:
				t.Errorf("tap %d: HTTP %d %+v", i, s, r)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := approved[ledger.ChannelChat] + approved[ledger.ChannelInStore]; got != fit {
		t.Errorf("%d approvals (%v), want %d", got, approved, fit)
	}
	if got := e.Balance(t, e.Wallet.ID); got != 0 {
		t.Errorf("balance %d, want 0", got)
	}
	items, err := e.Service.Catalog(ctx, e.Merchant.ID, "TEA", 1)
	if err != nil || items[0].Stock != int64(1000-approved[ledger.ChannelChat]) {
		t.Errorf("stock %+v %v after %d chat purchases", items, err, approved[ledger.ChannelChat])
	}
	hist, err := e.Store.History(ctx, e.Wallet.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	channels := map[string]int{}
	for _, h := range hist {
		if h.Kind == ledger.AuthPurchase {
			channels[h.Channel]++
		}
	}
	if channels[ledger.ChannelChat] != approved[ledger.ChannelChat] || channels[ledger.ChannelInStore] != approved[ledger.ChannelInStore] {
		t.Errorf("history has %v, approvals %v", channels, approved)
	}
	e.Verify(t)
}

// TestConcurrentBudget completes ten sessions at once under a budget that
// holds one: exactly one is paid, the others wait for the shopper.
func TestConcurrentBudget(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{MaxPerPurchase: 12_50, Budget: 20_00})
	cs, err := connect(t, e, e.AgentKey)
	if err != nil {
		t.Fatal(err)
	}
	sessions := make([]string, 10)
	for i := range sessions {
		var out mcpserver.SessionOut
		if msg := call(t, cs, "create_checkout", map[string]any{"wallet_id": e.Wallet.ID, "merchant_id": e.Merchant.ID,
			"items": []map[string]any{{"sku": "COF-250", "quantity": 1}}}, &out); msg != "" {
			t.Fatal(msg)
		}
		sessions[i] = out.Session.ID
	}
	var mu sync.Mutex
	paid, waiting := 0, 0
	var wg sync.WaitGroup
	for _, id := range sessions {
		wg.Go(func() {
			msg := call(t, cs, "complete_checkout", map[string]any{"checkout_session_id": id}, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case msg == "":
				paid++
			case strings.Contains(msg, ledger.ReasonAboveBudget):
				waiting++
			default:
				t.Errorf("complete %s: %q", id, msg)
			}
		})
	}
	wg.Wait()
	if paid != 1 || waiting != 9 {
		t.Errorf("%d paid, %d waiting; want 1 and 9", paid, waiting)
	}
	if got := e.Balance(t, e.Wallet.ID); got != 100_00-12_50 {
		t.Errorf("balance %d", got)
	}
}

func BenchmarkChatCheckout(b *testing.B) {
	e := checkouttest.Start(b, checkouttest.Options{Balance: 900_000_00, MaxPerPurchase: 12_50, Budget: 900_000_00,
		Catalog: []ledger.CatalogItem{{SKU: "COF-250", Name: "Espresso beans 250 g", Price: 12_50, Currency: "EUR", Stock: 1 << 40}}})
	cs, err := connect(b, e, e.AgentKey)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for b.Loop() {
		if out, msg := buy(b, cs, e, e.Wallet.ID, "COF-250", 1); msg != "" || out.Session.Status != ledger.SessionCompleted {
			b.Fatalf("purchase: %q %+v", msg, out.Session)
		}
	}
	// One purchase is two tool calls (create, complete) over HTTP, each a
	// durable writer transaction.
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ledger_chat_checkout_ms")
}
