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

	"tappos/emv/tags"
	"tappos/ledger"
)

// devKeys is what --dev created, kept in --dev-keys so that a restart
// prints the same keys instead of seeding again.
type devKeys struct {
	Currency   string            `json:"currency"`
	MerchantID string            `json:"merchant_id"`
	Terminals  map[string]string `json:"terminals"` // terminal id -> API key
	Manager    string            `json:"manager_key"`
	Admin      string            `json:"admin_key"`
	Wallets    []devWallet       `json:"wallets"`
	// DemoWallet is the shopper's wallet that several cards, a phone and
	// the chat agent's mandate draw on.
	DemoWallet string `json:"demo_wallet"`
}

type devWallet struct {
	ID      string    `json:"id"`
	Cards   []devCard `json:"cards,omitempty"`
	Balance int64     `json:"balance"`
}

type devCard struct {
	Profile string `json:"profile"`
	Masked  string `json:"masked_pan"`
}

// Opening balances: the demo shopper's wallet, and every other card's.
const (
	devShopperBalance = 5_000_00
	devBalance        = 500_00
)

// devShopperCards are the card simulator profiles linked to the demo
// shopper's wallet, so that taps with cards and a phone and chat purchases
// draw on one wallet.
var devShopperCards = []string{"mastercard-credit", "visa-credit", "phone-visa", "visa-offline"}

// seedDev seeds the demo data unless keysPath says it was done, and
// prints the keys.
func seedDev(ctx context.Context, l *ledger.Ledger, profiles []profile, currency, keysPath string, out io.Writer) error {
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
	k.Currency = currency
	// The shopper's wallet takes the shopper's cards; every other profile
	// gets a wallet of its own.
	var shopper, others []profile
	for _, p := range profiles {
		if slices.Contains(devShopperCards, p.Name) {
			shopper = append(shopper, p)
		} else {
			others = append(others, p)
		}
	}
	slices.SortStableFunc(shopper, func(a, b profile) int {
		return slices.Index(devShopperCards, a.Name) - slices.Index(devShopperCards, b.Name)
	})
	groups := [][]profile{shopper}
	for _, p := range others {
		groups = append(groups, []profile{p})
	}
	for i, cards := range groups {
		owner, balance := "demo shopper", int64(devShopperBalance)
		if i > 0 {
			owner, balance = "demo card "+cards[0].Name, devBalance
		}
		w, err := l.CreateWallet(ctx, owner, currency, 0)
		if err != nil {
			return err
		}
		dw := devWallet{ID: w.ID, Balance: balance}
		for _, p := range cards {
			if _, err := l.LinkCard(ctx, w.ID, p.PAN); err != nil {
				return fmt.Errorf("linking card %s: %w", p.Name, err)
			}
			dw.Cards = append(dw.Cards, devCard{Profile: p.Name, Masked: tags.MaskPAN(p.PAN)})
		}
		if _, err := l.Deposit(ctx, nil, w.ID, balance, currency, "demo opening balance"); err != nil {
			return err
		}
		if i == 0 {
			k.DemoWallet = w.ID
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
		fmt.Fprintf(out, "  wallet %s %s %d.%02d", w.ID, k.Currency, w.Balance/100, w.Balance%100)
		for _, c := range w.Cards {
			fmt.Fprintf(out, " %s %s", c.Profile, c.Masked)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "  demo shopper wallet %s\n", k.DemoWallet)
}
