package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/checkout"
	"tappos/ledger/mcpserver"
)

// withChat mounts the checkout API and the MCP endpoint (/mcp) on the
// ledger API's server (its metrics and request log), with the same rate
// limit per key. publicURL is where shoppers confirm purchases; agents'
// event streams end when shutdown is done. A store without chat checkout
// serves the ledger API only.
func withChat(shutdown context.Context, l *ledger.Ledger, ledgerAPI *api.Server, publicURL string, rate float64, log *slog.Logger) error {
	svc, err := checkout.New(checkout.Config{Ledger: l, Rate: rate})
	if errors.Is(err, ledger.ErrChatUnsupported) {
		log.Warn("chat checkout and /mcp are off: the store does not support them")
		return nil
	}
	if err != nil {
		return fmt.Errorf("chat checkout: %w", err)
	}
	ch := checkout.NewHandler(svc, log)
	for _, p := range checkout.Patterns {
		ledgerAPI.Mount(p, ch)
	}
	ledgerAPI.Mount("/mcp", mcpserver.New(mcpserver.Config{Service: svc, PublicURL: publicURL, Done: shutdown}))
	return nil
}

// chatKeys is what --dev created for chat checkout, kept next to the
// other demo keys.
type chatKeys struct {
	WalletID  string `json:"wallet_id"`
	AgentKey  string `json:"agent_key"`
	OwnerKey  string `json:"owner_key"`
	MandateID string `json:"mandate_id"`
	Currency  string `json:"currency"`
}

// devCatalog is the demo merchant's catalog, priced in the demo currency.
var devCatalog = []ledger.CatalogItem{
	{SKU: "COF-250", Name: "Espresso beans 250 g", Price: 12_50, Stock: 500},
	{SKU: "COF-1000", Name: "Espresso beans 1 kg", Price: 39_00, Stock: 100},
	{SKU: "TEA-GRN", Name: "Green tea 100 g", Price: 7_90, Stock: 200},
	{SKU: "MUG-1", Name: "Stoneware mug", Price: 9_00, Stock: 50},
	{SKU: "GRD-1", Name: "Burr grinder", Price: 89_00, Stock: 10},
}

// seedChat seeds the demo catalog, an agent key, the owner key of the
// first demo wallet and a mandate for the agent on it, unless done, and
// prints the keys.
func seedChat(ctx context.Context, l *ledger.Ledger, devKeysPath string, now time.Time, out io.Writer) error {
	if _, err := l.ChatStore(); err != nil {
		return nil
	}
	path := strings.TrimSuffix(devKeysPath, ".json") + ".chat.json"
	b, err := os.ReadFile(path)
	if err == nil {
		var k chatKeys
		if err := json.Unmarshal(b, &k); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		printChat(out, k)
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	b, err = os.ReadFile(devKeysPath)
	if err != nil {
		return err
	}
	var dk devKeys
	if err := json.Unmarshal(b, &dk); err != nil {
		return fmt.Errorf("reading %s: %w", devKeysPath, err)
	}
	if len(dk.Wallets) == 0 {
		return fmt.Errorf("%s lists no wallets", devKeysPath)
	}
	for _, it := range devCatalog {
		it.MerchantID, it.Currency = dk.MerchantID, dk.Currency
		if err := l.PutCatalogItem(ctx, it); err != nil {
			return err
		}
	}
	k := chatKeys{WalletID: dk.DemoWallet, Currency: dk.Currency}
	if k.WalletID == "" {
		k.WalletID = dk.Wallets[0].ID
	}
	agent, agentKey, err := l.CreateAPIKey(ctx, ledger.RoleAgent, "", "")
	if err != nil {
		return err
	}
	if _, k.OwnerKey, err = l.CreateOwnerKey(ctx, k.WalletID); err != nil {
		return err
	}
	k.AgentKey = agentKey
	m, _, err := l.GrantMandate(ctx, nil, ledger.MandateRequest{WalletID: k.WalletID, AgentKeyID: agent.ID,
		MaxPerPurchase: 25_00, Budget: 100_00, Period: 24 * time.Hour, Merchants: []string{dk.MerchantID},
		ExpiresAt: now.AddDate(1, 0, 0)})
	if err != nil {
		return err
	}
	k.MandateID = m.ID
	b, _ = json.MarshalIndent(k, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	printChat(out, k)
	return nil
}

func printChat(out io.Writer, k chatKeys) {
	fmt.Fprintf(out, "  chat wallet %s agent key %s\n  chat wallet %s owner key %s\n  mandate %s: %s 25.00 a purchase, %s 100.00 a day\n",
		k.WalletID, k.AgentKey, k.WalletID, k.OwnerKey, k.MandateID, k.Currency, k.Currency)
}
