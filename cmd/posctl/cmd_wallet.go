package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"tappos/ledger/api"
	"tappos/ledger/client"
	"tappos/terminal/receipt"
)

func init() {
	register(command{path: []string{"wallet", "show"}, short: "show a wallet's balance (admin key)", run: runWalletShow})
	register(command{path: []string{"wallet", "history"}, short: "print a wallet's statement: taps and chat purchases (admin key)", run: runWalletHistory})
}

const walletShowUsage = `usage: posctl wallet show --wallet ID [--ledger URL --key ADMINKEY] [--json]

Shows a wallet's balance, what is held for pre-authorizations and what is
available, as the ledger keeps them.

Example:
  posctl wallet show --wallet w_0006... --ledger http://127.0.0.1:8080 --key $TAPPOS_ADMIN_KEY

Flags:
`

const walletHistoryUsage = `usage: posctl wallet history --wallet ID [--limit N] [--ledger URL --key ADMINKEY] [--json]

Prints a wallet's statement, newest first: every posting with its channel
(in_store for taps at a till, chat for purchases by a shopping assistant),
merchant, authorization and amount.

Example:
  posctl wallet history --wallet w_0006... --ledger http://127.0.0.1:8080 --key $TAPPOS_ADMIN_KEY

Flags:
`

// walletFlags are the flags both wallet commands take.
type walletFlags struct {
	wallet, ledger, key *string
	asJSON              *bool
	timeout             *time.Duration
}

func addWalletFlags(fs *flag.FlagSet) walletFlags {
	return walletFlags{
		wallet:  fs.String("wallet", "", "the wallet `ID`"),
		ledger:  fs.String("ledger", os.Getenv("TAPPOS_LEDGER"), "ledger base `URL` (default: $TAPPOS_LEDGER)"),
		key:     fs.String("key", os.Getenv("TAPPOS_ADMIN_KEY"), "an admin API `KEY` (default: $TAPPOS_ADMIN_KEY)"),
		asJSON:  fs.Bool("json", false, "print JSON"),
		timeout: fs.Duration("timeout", 10*time.Second, "give up after `DURATION`"),
	}
}

func (w walletFlags) missing() bool { return *w.wallet == "" || *w.ledger == "" || *w.key == "" }

func runWalletShow(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("posctl wallet show", walletShowUsage, stderr)
	wf := addWalletFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if wf.missing() {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wf.timeout)
	defer cancel()
	var w api.Wallet
	c := &client.Client{BaseURL: *wf.ledger, Key: *wf.key}
	if err := c.Get(ctx, "/v1/wallets/"+url.PathEscape(*wf.wallet), &w); err != nil {
		fmt.Fprintf(stderr, "posctl wallet show: %v\n", err)
		return 1
	}
	cur := currencyOf(w.Currency)
	if *wf.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			api.Wallet
			BalanceText string `json:"balance_text"`
		}{w, cur.Format(w.Balance)})
		return 0
	}
	fmt.Fprintf(stdout, "wallet:    %s\nbalance:   %s\nheld:      %s\navailable: %s\n",
		w.ID, cur.Format(w.Balance), cur.Format(w.Held), cur.Format(w.Available))
	return 0
}

func runWalletHistory(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("posctl wallet history", walletHistoryUsage, stderr)
	wf := addWalletFlags(fs)
	limit := fs.Int("limit", 50, "at most `N` entries")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if wf.missing() {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wf.timeout)
	defer cancel()
	var h struct {
		Items []api.HistoryItem `json:"items"`
	}
	c := &client.Client{BaseURL: *wf.ledger, Key: *wf.key}
	if err := c.Get(ctx, fmt.Sprintf("/v1/wallets/%s/history?limit=%d", url.PathEscape(*wf.wallet), *limit), &h); err != nil {
		fmt.Fprintf(stderr, "posctl wallet history: %v\n", err)
		return 1
	}
	if *wf.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(h)
		return 0
	}
	fmt.Fprintf(stdout, "%-20s %-10s %-9s %14s  %s\n", "when (UTC)", "kind", "channel", "amount", "memo")
	for _, it := range h.Items {
		when := it.CreatedAt
		if t, err := time.Parse(time.RFC3339Nano, it.CreatedAt); err == nil {
			when = t.UTC().Format("2006-01-02 15:04:05")
		}
		channel := it.Channel
		if channel == "" {
			channel = "-"
		}
		fmt.Fprintf(stdout, "%-20s %-10s %-9s %14s  %s\n", when, it.Kind, channel, currencyOf(it.Currency).Format(it.Amount), it.Memo)
	}
	return 0
}

// currencyOf returns the display rules of an ISO 4217 code, or a plain
// two-decimal currency named by the code when it is not known.
func currencyOf(alpha string) receipt.Currency {
	c, err := receipt.LookupCurrency(alpha)
	if err != nil {
		return receipt.Currency{Alpha: alpha, Exponent: 2}
	}
	return c
}
