package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"tappos/ledger"
	"tappos/ledger/checkout"
	"tappos/ledger/mcpserver"
)

func init() {
	register(command{path: []string{"chat", "buy"}, short: "buy from a merchant's catalog as a shopping agent, over MCP", run: runChatBuy})
	register(command{path: []string{"chat", "confirm"}, short: "confirm an agent's purchase as the wallet's owner", run: runChatConfirm})
}

// bearerTransport sends an API key with every request.
type bearerTransport struct {
	key string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// confirmCode finds the confirmation code in complete_checkout's
// instructions.
var confirmCode = regexp.MustCompile(`confirm code ([0-9A-Z]+)`)

// errNeedsConfirmation is a purchase waiting for the shopper.
var errNeedsConfirmation = errors.New("the purchase needs the shopper's confirmation")

func runChatBuy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl chat buy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wallet := fs.String("wallet", "", "the shopper's wallet `ID`")
	merchant := fs.String("merchant", "", "the merchant `ID`")
	sku := fs.String("sku", "", "the catalog item's `SKU`")
	qty := fs.Int("qty", 1, "how many")
	base := fs.String("ledger", os.Getenv("TAPPOS_LEDGER"), "ledger base `URL` (default: $TAPPOS_LEDGER)")
	key := fs.String("key", os.Getenv("TAPPOS_AGENT_KEY"), "the agent's API `KEY` (default: $TAPPOS_AGENT_KEY)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after `DURATION`")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: posctl chat buy --wallet W --merchant M --sku S [--qty N] --ledger URL --key AGENTKEY

A scripted shopping agent: it connects to the ledger's MCP server (/mcp) with
the agent key, finds the item with search_catalog, opens a checkout with
create_checkout and pays it with complete_checkout, then shows the wallet's
balance. A purchase outside the agent's mandate stops with a code: once the
shopper confirms it (posctl chat confirm), the purchase is paid.
Exit status: 0 paid, 3 waiting for the shopper's confirmation, 1 refused.

Example (keys from ledgerd --dev):
  posctl chat buy --ledger http://127.0.0.1:8080 --key tpk_agent... \
      --wallet w_... --merchant m_... --sku COF-250 --qty 2

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *wallet == "" || *merchant == "" || *sku == "" || *base == "" || *key == "" || *qty < 1 || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	err := chatBuy(ctx, stdout, strings.TrimSuffix(*base, "/"), *key, *wallet, *merchant, *sku, *qty)
	switch {
	case errors.Is(err, errNeedsConfirmation):
		fmt.Fprintf(stderr, "posctl chat buy: %v\n", err)
		return 3
	case err != nil:
		fmt.Fprintf(stderr, "posctl chat buy: %v\n", err)
		return 1
	}
	return 0
}

// agentSession is an MCP client session whose tool errors come back as Go
// errors.
type agentSession struct {
	cs *mcp.ClientSession
}

func (a agentSession) call(ctx context.Context, tool string, args map[string]any, out any) error {
	res, err := a.cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return fmt.Errorf("calling %s: %w", tool, err)
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	if res.IsError {
		if strings.HasPrefix(text.String(), "authentication_required") {
			return fmt.Errorf("%w: %s", errNeedsConfirmation, text.String())
		}
		return fmt.Errorf("%s: %s", tool, text.String())
	}
	if err := json.Unmarshal([]byte(text.String()), out); err != nil {
		return fmt.Errorf("decoding the answer of %s: %w", tool, err)
	}
	return nil
}

func chatBuy(ctx context.Context, out io.Writer, base, key, wallet, merchant, sku string, qty int) error {
	client := mcp.NewClient(&mcp.Implementation{Name: "posctl-chat", Version: "v1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp",
		HTTPClient: &http.Client{Transport: bearerTransport{key}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return fmt.Errorf("connecting to %s/mcp: %w", base, err)
	}
	defer cs.Close()
	a := agentSession{cs}

	var found mcpserver.SearchOut
	if err := a.call(ctx, "search_catalog", map[string]any{"merchant_id": merchant, "query": sku}, &found); err != nil {
		return err
	}
	var item *ledger.CatalogItem
	for i := range found.Items {
		if found.Items[i].SKU == sku {
			item = &found.Items[i]
		}
	}
	if item == nil {
		return fmt.Errorf("merchant %s sells no %s", merchant, sku)
	}
	fmt.Fprintf(out, "found    %s %q at %s, %d in stock\n", item.SKU, item.Name, formatMoney(item.Price, item.Currency), item.Stock)

	var s mcpserver.SessionOut
	err = a.call(ctx, "create_checkout", map[string]any{"wallet_id": wallet, "merchant_id": merchant,
		"items": []map[string]any{{"sku": sku, "quantity": qty}}}, &s)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "checkout %s: %d x %s = %s (%s)\n", s.Session.ID, qty, sku, formatMoney(s.Session.Amount, s.Session.Currency), s.Session.Status)
	if err := a.call(ctx, "complete_checkout", map[string]any{"checkout_session_id": s.Session.ID}, &s); err != nil {
		if m := confirmCode.FindStringSubmatch(err.Error()); m != nil {
			// Read the instructions as an agent would, and pass them on.
			fmt.Fprintf(out, "waiting  for the shopper to confirm code %s:\n  posctl chat confirm --ledger %s --key OWNERKEY --session %s --code %s\n",
				m[1], base, s.Session.ID, m[1])
		}
		return err
	}
	fmt.Fprintf(out, "paid     %s, authorization %s\n", formatMoney(s.Session.Amount, s.Session.Currency), s.Session.AuthorizationID)
	var bal mcpserver.BalanceOut
	if err := a.call(ctx, "wallet_balance", map[string]any{"wallet_id": wallet}, &bal); err != nil {
		return err
	}
	fmt.Fprintf(out, "wallet   %s: %s available\n", wallet, bal.Display)
	return nil
}

// formatMoney formats minor units, e.g. "EUR 12.50".
func formatMoney(amount int64, currency string) string {
	c, ok := ledger.CurrencyByAlpha(currency)
	if !ok || c.Exponent != 2 {
		return fmt.Sprintf("%s %d", currency, amount)
	}
	return fmt.Sprintf("%s %d.%02d", currency, amount/100, amount%100)
}

func runChatConfirm(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl chat confirm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	session := fs.String("session", "", "the checkout session `ID`")
	code := fs.String("code", "", "the confirmation `CODE` the agent reported")
	base := fs.String("ledger", os.Getenv("TAPPOS_LEDGER"), "ledger base `URL` (default: $TAPPOS_LEDGER)")
	key := fs.String("key", os.Getenv("TAPPOS_OWNER_KEY"), "the wallet owner's API `KEY` (default: $TAPPOS_OWNER_KEY)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: posctl chat confirm --session S --code C --ledger URL --key OWNERKEY

Approves, as the wallet's owner, an agent's purchase that is outside its
mandate; the purchase is paid at once.

Example:
  posctl chat confirm --ledger http://127.0.0.1:8080 --key tpk_owner... \
      --session cs_... --code K7Q4ZP

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *session == "" || *code == "" || *base == "" || *key == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	body, _ := json.Marshal(checkout.ConfirmRequest{Code: *code})
	url := strings.TrimSuffix(*base, "/") + "/v1/checkout_sessions/" + *session + "/confirm"
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "posctl chat confirm: %v\n", err)
		return 2
	}
	// The session and code name the approval: retrying it is the same
	// request.
	req.Header.Set("Idempotency-Key", "confirm-"+*session+"-"+strings.ToUpper(*code))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: bearerTransport{*key}, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "posctl chat confirm: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var r checkout.Response
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &r) != nil {
		fmt.Fprintf(stderr, "posctl chat confirm: HTTP %d: %s\n", resp.StatusCode, bytes.TrimSpace(b))
		return 1
	}
	if r.Result.Status != ledger.SessionCompleted {
		fmt.Fprintf(stderr, "posctl chat confirm: not paid: %s %s\n", r.Result.Status, r.Result.Reason)
		return 1
	}
	fmt.Fprintf(stdout, "confirmed %s: paid %s\n", *session, formatMoney(r.Result.Amount, r.Result.Currency))
	return 0
}
