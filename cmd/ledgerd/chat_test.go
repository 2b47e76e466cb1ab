package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/checkout/checkouttest"
	"tappos/ledger/client"
	"tappos/ledger/ledgertest"
	"tappos/ledger/mcpserver"
)

// TestDevChatWalletHistory taps the demo card and has the demo agent buy
// through /mcp: the demo wallet's history shows both channels.
func TestDevChatWalletHistory(t *testing.T) {
	profiles, err := loadProfiles(cardsDir)
	if err != nil || len(profiles) == 0 {
		t.Fatalf("card profiles: %d, %v", len(profiles), err)
	}
	url, out := startDev(t, t.TempDir())
	termKey := regexp.MustCompile(`terminal \S+ key (\S+)`).FindStringSubmatch(out.String())
	merchant := regexp.MustCompile(`merchant (\S+)`).FindStringSubmatch(out.String())
	agent := regexp.MustCompile(`chat wallet (\S+) agent key (\S+)`).FindStringSubmatch(out.String())
	if termKey == nil || agent == nil || merchant == nil {
		t.Fatalf("keys not printed: %s", out.String())
	}
	wallet, agentKey := agent[1], agent[2]

	// The chat wallet's card, from the wallet lines ledgerd printed.
	card := regexp.MustCompile(`wallet ` + regexp.QuoteMeta(wallet) + ` CNY \S+ (\S+)`).FindStringSubmatch(out.String())
	if card == nil {
		t.Fatalf("chat wallet %s has no card: %s", wallet, out.String())
	}
	var p profile
	for _, q := range profiles {
		if q.Name == card[1] {
			p = q
		}
	}
	if p.Name == "" {
		t.Fatalf("no card profile %s", card[1])
	}
	imk, _ := hex.DecodeString(p.IMK)
	psn, _ := hex.DecodeString(p.PSN)
	tapper := &ledgertest.Card{PAN: p.PAN, PSN: psn[0], Scheme: p.Scheme, IMK: imk, ATC: 3}
	emv, err := tapper.Tap(4_20, 156, ledgertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := &client.Client{BaseURL: url, Key: termKey[1]}
	r, err := c.Authorize(ctx, "tap-1", api.AuthorizationRequest{TerminalTxnID: "tap-1", Amount: 4_20,
		Currency: "CNY", EMV: hex.EncodeToString(emv)})
	if err != nil || r.Result.Outcome != ledger.OutcomeApproved {
		t.Fatalf("tap: %+v %v", r, err)
	}

	cl := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	cs, err := cl.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url + "/mcp",
		HTTPClient: checkouttest.BearerClient(agentKey), DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	callTool := func(name string, args map[string]any, out any) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		text := res.Content[0].(*mcp.TextContent).Text
		if res.IsError {
			t.Fatalf("%s: %s", name, text)
		}
		if err := json.Unmarshal([]byte(text), out); err != nil {
			t.Fatal(err)
		}
	}
	var s mcpserver.SessionOut
	callTool("create_checkout", map[string]any{"wallet_id": wallet, "merchant_id": merchant[1],
		"items": []map[string]any{{"sku": "TEA-GRN", "quantity": 2}}}, &s)
	callTool("complete_checkout", map[string]any{"checkout_session_id": s.Session.ID}, &s)
	if s.Session.Status != ledger.SessionCompleted {
		t.Fatalf("chat purchase: %+v", s)
	}
	var h mcpserver.PurchasesOut
	callTool("recent_purchases", map[string]any{"wallet_id": wallet}, &h)
	got := map[string]int64{}
	for _, p := range h.Purchases {
		if p.Kind == ledger.AuthPurchase {
			got[p.Channel] += p.Amount
		}
	}
	if got[ledger.ChannelInStore] != -4_20 || got[ledger.ChannelChat] != -15_80 {
		t.Errorf("history by channel %v: %+v", got, h.Purchases)
	}
	// Both channels count in the metrics.
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, route := range []string{`route="POST /v1/authorizations",status="200"`, `route="/mcp",status="200"`} {
		if !strings.Contains(string(metrics), "ledger_http_requests_total{"+route+"}") {
			t.Errorf("/metrics has no requests for %s", route)
		}
	}
}

// TestPublicURL: an agent is told to have the shopper confirm at
// --public-url, or with --dev alone at the listen address.
func TestPublicURL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  func(listen string) string
	}{
		{"dev default", nil, func(listen string) string { return "POST " + listen + "/v1/checkout_sessions/" }},
		{"flag", []string{"--public-url", "https://ledger.example/"}, func(string) string { return "POST https://ledger.example/v1/checkout_sessions/" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, out := startDev(t, t.TempDir(), tc.extra...)
			merchant := regexp.MustCompile(`merchant (\S+)`).FindStringSubmatch(out.String())
			agent := regexp.MustCompile(`chat wallet (\S+) agent key (\S+)`).FindStringSubmatch(out.String())
			if agent == nil || merchant == nil {
				t.Fatalf("keys not printed: %s", out.String())
			}
			ctx := context.Background()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, nil).Connect(ctx,
				&mcp.StreamableClientTransport{Endpoint: url + "/mcp", HTTPClient: checkouttest.BearerClient(agent[2]), DisableStandaloneSSE: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			// Beyond the demo mandate's 25.00 a purchase: the shopper must confirm.
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_checkout", Arguments: map[string]any{"wallet_id": agent[1],
				"merchant_id": merchant[1], "items": []map[string]any{{"sku": "COF-1000", "quantity": 1}}}})
			if err != nil || res.IsError {
				t.Fatalf("create_checkout: %v %+v", err, res)
			}
			var s mcpserver.SessionOut
			if err := json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &s); err != nil {
				t.Fatal(err)
			}
			res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "complete_checkout", Arguments: map[string]any{"checkout_session_id": s.Session.ID}})
			if err != nil {
				t.Fatal(err)
			}
			if text := res.Content[0].(*mcp.TextContent).Text; !res.IsError || !strings.Contains(text, tc.want(url)) {
				t.Errorf("complete_checkout: %s; want %q", text, tc.want(url))
			}
		})
	}
}

func TestCheckPublicURL(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"unset", "", true},
		{"https", "https://ledger.example", true},
		{"with a path", "https://shop.example/ledger/", true},
		{"no scheme", "ledger.example", false},
		{"other scheme", "ftp://ledger.example", false},
		{"no host", "https://", false},
		{"query", "https://ledger.example/?a=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkPublicURL(tc.in); (err == nil) != tc.ok {
				t.Errorf("checkPublicURL(%q) = %v", tc.in, err)
			}
		})
	}
}

// TestPublicURLWarning: serving without --dev or --public-url says so.
func TestPublicURLWarning(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"--db", newDB(t), "--addr", "127.0.0.1:0"}, nil, &out, &errs) }()
	for i := 0; i < 200 && !strings.Contains(out.String(), "listening on"); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(errs.String(), `"level":"WARN","msg":"--public-url is not set`) {
		t.Errorf("exit %d, log %s", code, errs.String())
	}
}

// TestShutdownEndsMCPStreams: an agent's open event stream does not hold
// up ledgerd's shutdown (it took the whole 10 s timeout, then exit 1).
func TestShutdownEndsMCPStreams(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dev", "--db", filepath.Join(dir, "ledger.db"), "--addr", "127.0.0.1:0",
			"--cards", cardsDir, "--dev-keys", filepath.Join(dir, "keys.json")}, nil, &out, &errs)
	}()
	listening := regexp.MustCompile(`listening on (\S+)`)
	var m []string
	for i := 0; i < 200 && m == nil; i++ {
		time.Sleep(25 * time.Millisecond)
		m = listening.FindStringSubmatch(out.String())
	}
	agent := regexp.MustCompile(`agent key (\S+)`).FindStringSubmatch(out.String())
	if m == nil || agent == nil {
		t.Fatalf("ledgerd did not start: %s %s", out.String(), errs.String())
	}
	send := func(method, session, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, m[1]+"/mcp", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+agent[1])
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("%s /mcp: %v %v", method, resp, err)
		}
		return resp
	}
	init := send("POST", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`)
	io.Copy(io.Discard, init.Body)
	init.Body.Close()
	session := init.Header.Get("Mcp-Session-Id")
	send("POST", session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()
	stream := send("GET", session, "")
	defer stream.Body.Close()

	start := time.Now()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, errs.String())
		}
		// Shutdown's timeout is 10 s; without the streams' end it ran out.
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("shutdown took %v", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ledgerd did not exit")
	}
}
