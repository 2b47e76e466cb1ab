package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"tappos/ledger"
)

// adminUsage lists the administration subcommands, which work on the
// database directly (ledgerd need not be running).
const adminUsage = `ledgerd merchant add --name NAME
ledgerd terminal add --merchant ID --name NAME      (prints the terminal's API key)
ledgerd key add --role admin|manager|terminal|agent [--merchant ID] [--terminal ID]
ledgerd key revoke --id KEY_ID | --terminal ID      (every key of the terminal; servers notice within 30 s)
ledgerd wallet add --currency EUR [--owner TEXT] [--limit MINOR]
ledgerd wallet deposit --wallet ID --amount MINOR --currency EUR
ledgerd wallet link-card --wallet ID                (reads the PAN from standard input)
ledgerd wallet owner-key --wallet ID                (prints the owner's chat checkout key, once)
ledgerd catalog put --merchant ID --sku SKU --name NAME --price MINOR --currency EUR --stock N`

// admin runs "ledgerd <noun> <verb> [flags]".
func admin(ctx context.Context, noun string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, adminUsage)
		return 2
	}
	verb := noun + " " + args[0]
	fs := flag.NewFlagSet("ledgerd "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	name := fs.String("name", "", "name")
	merchant := fs.String("merchant", "", "merchant `id`")
	terminal := fs.String("terminal", "", "terminal `id`")
	keyID := fs.String("id", "", "API key `id`")
	role := fs.String("role", "", "key role: admin, manager, terminal or agent")
	currency := fs.String("currency", "EUR", "ISO 4217 currency")
	owner := fs.String("owner", "", "wallet owner, free text")
	limit := fs.Int64("limit", 0, "largest single payment of the wallet, minor units (0: none)")
	wallet := fs.String("wallet", "", "wallet `id`")
	amount := fs.Int64("amount", 0, "amount in minor units")
	sku := fs.String("sku", "", "catalog item's stock keeping unit")
	price := fs.Int64("price", 0, "catalog item's price in minor units")
	stock := fs.Int64("stock", 0, "catalog item's stock")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ledgerd %s: %v\n", verb, err)
		return 1
	}
	// The store first: a mistyped --db must not leave a token secret
	// behind in the wrong directory.
	store, err := openStore(ctx, c.db, false)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	secret, err := c.tokenSecret()
	if err != nil {
		return fail(err)
	}
	l, err := ledger.New(ledger.Config{Store: store, TokenSecret: secret})
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	switch verb {
	case "merchant add":
		m, err := l.CreateMerchant(ctx, *name)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "merchant %s\n", m.ID)
	case "terminal add":
		if *merchant == "" {
			return fail(errors.New("--merchant is required"))
		}
		t, err := l.CreateTerminal(ctx, *merchant, *name)
		if err != nil {
			return fail(err)
		}
		_, key, err := l.CreateAPIKey(ctx, ledger.RoleTerminal, *merchant, t.ID)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "terminal %s key %s\n", t.ID, key)
	case "key add":
		k, key, err := l.CreateAPIKey(ctx, *role, *merchant, *terminal)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "key %s %s %s\n", k.ID, k.Role, key)
	case "key revoke":
		n, err := l.RevokeAPIKeys(ctx, *keyID, *terminal)
		if err != nil {
			return fail(err)
		}
		if n == 0 {
			return fail(errors.New("no such key, or revoked already"))
		}
		fmt.Fprintf(stdout, "revoked %d key(s)\n", n)
	case "wallet add":
		w, err := l.CreateWallet(ctx, *owner, *currency, *limit)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "wallet %s %s\n", w.ID, w.Currency)
	case "wallet deposit":
		r, err := l.Deposit(ctx, nil, *wallet, *amount, *currency, "ledgerd wallet deposit")
		if err != nil {
			return fail(err)
		}
		if r.Outcome != ledger.OutcomeOK {
			return fail(fmt.Errorf("deposit refused: %s", r.Reason))
		}
		fmt.Fprintf(stdout, "wallet %s balance %d %s\n", *wallet, *r.Balance, *currency)
	case "wallet link-card":
		// From standard input, so that the PAN stays out of shell history
		// and process listings.
		line, err := bufio.NewReader(io.LimitReader(stdin, 64)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fail(err)
		}
		cr, err := l.LinkCard(ctx, *wallet, strings.TrimSpace(line))
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "card %s linked to wallet %s as %s\n", cr.Display, *wallet, cr.ID)
	case "wallet owner-key":
		// The owner's key confirms chat purchases and grants mandates;
		// its secret is shown here only, like every key's.
		k, key, err := l.CreateOwnerKey(ctx, *wallet)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "key %s %s %s wallet %s\n", k.ID, k.Role, key, *wallet)
	case "catalog put":
		it := ledger.CatalogItem{MerchantID: *merchant, SKU: *sku, Name: *name, Price: *price, Currency: *currency, Stock: *stock}
		if err := l.PutCatalogItem(ctx, it); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "catalog %s %s price %d %s stock %d\n", it.MerchantID, it.SKU, it.Price, it.Currency, it.Stock)
	default:
		fmt.Fprintln(stderr, adminUsage)
		return 2
	}
	return 0
}
