package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"

	"tappos/ledger"
)

// devKeys is what --dev created, kept in --dev-keys so that a restart
// prints the same keys instead of seeding again.
type devKeys struct {
	MerchantID string            `json:"merchant_id"`
	Terminals  map[string]string `json:"terminals"` // terminal id -> API key
	Manager    string            `json:"manager_key"`
	Admin      string            `json:"admin_key"`
	Wallets    []devWallet       `json:"wallets"`
}

type devWallet struct {
	ID      string `json:"id"`
	Card    string `json:"card,omitempty"` // profile name
	Masked  string `json:"masked_pan,omitempty"`
	Balance int64  `json:"balance"`
}

// devBalance is each demo wallet's opening balance: EUR 500.00.
const devBalance = 50_000

// seedDev seeds the demo data unless keysPath says it was done, and
// prints the keys.
func seedDev(ctx context.Context, l *ledger.Ledger, profiles []profile, keysPath string, out io.Writer) error {
	b, err := os.ReadFile(keysPath)
	if err == nil {
		var k devKeys
		if err := json.Unmarshal(b, &k); err != nil {
			return fmt.Errorf("reading %s: %w", keysPath, err)
		}
		fmt.Fprintf(out, "ledgerd --dev: already seeded; keys from %s:\n", keysPath)
		printDev(out, k)
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m, err := l.CreateMerchant(ctx, "Demo Café")
	if err != nil {
		return err
	}
	k := devKeys{MerchantID: m.ID, Terminals: make(map[string]string)}
	for _, name := range []string{"till 1", "till 2"} {
		t, err := l.CreateTerminal(ctx, m.ID, name)
		if err != nil {
			return err
		}
		if _, k.Terminals[t.ID], err = l.CreateAPIKey(ctx, ledger.RoleTerminal, m.ID, t.ID); err != nil {
			return err
		}
	}
	if _, k.Manager, err = l.CreateAPIKey(ctx, ledger.RoleManager, m.ID, ""); err != nil {
		return err
	}
	if _, k.Admin, err = l.CreateAPIKey(ctx, ledger.RoleAdmin, "", ""); err != nil {
		return err
	}
	// One wallet per card, plus one without a card for chat purchases.
	for i := 0; i <= len(profiles); i++ {
		w, err := l.CreateWallet(ctx, "demo shopper", "EUR", 0)
		if err != nil {
			return err
		}
		dw := devWallet{ID: w.ID, Balance: devBalance}
		if i < len(profiles) {
			if _, err := l.LinkCard(ctx, w.ID, profiles[i].PAN); err != nil {
				return fmt.Errorf("linking card %s: %w", profiles[i].Name, err)
			}
			dw.Card, dw.Masked = profiles[i].Name, ledger.MaskPAN(profiles[i].PAN)
		}
		if _, err := l.Deposit(ctx, nil, w.ID, devBalance, "EUR", "demo opening balance"); err != nil {
			return err
		}
		k.Wallets = append(k.Wallets, dw)
	}
	b, _ = json.MarshalIndent(k, "", "  ")
	if err := os.WriteFile(keysPath, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "ledgerd --dev: seeded; keys kept in %s:\n", keysPath)
	printDev(out, k)
	return nil
}

func printDev(out io.Writer, k devKeys) {
	fmt.Fprintf(out, "  merchant %s\n", k.MerchantID)
	for _, t := range slices.Sorted(maps.Keys(k.Terminals)) {
		fmt.Fprintf(out, "  terminal %s key %s\n", t, k.Terminals[t])
	}
	fmt.Fprintf(out, "  manager key %s\n  admin key %s\n", k.Manager, k.Admin)
	for _, w := range k.Wallets {
		fmt.Fprintf(out, "  wallet %s EUR %d.%02d %s %s\n", w.ID, w.Balance/100, w.Balance%100, w.Card, w.Masked)
	}
}
