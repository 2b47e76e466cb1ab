package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"tappos/ledger"
	"tappos/ledger/checkout"
)

type tools struct {
	s    *checkout.Service
	base string
}

func (t *tools) register(srv *mcp.Server) {
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true}
	mcp.AddTool(srv, &mcp.Tool{Name: "search_catalog", Annotations: readOnly,
		Description: "Search a merchant's catalog by name or SKU; prices are in minor units (cents)."}, t.searchCatalog)
	mcp.AddTool(srv, &mcp.Tool{Name: "create_checkout",
		Description: "Open a checkout session for items of one merchant, paid from a wallet you hold a mandate for. " +
			"Returns the session with its total; it does not pay."}, t.createCheckout)
	mcp.AddTool(srv, &mcp.Tool{Name: "complete_checkout",
		Description: "Pay a checkout session from its wallet. Within your mandate it completes at once; " +
			"outside it the shopper must confirm a code first, then call this again."}, t.completeCheckout)
	mcp.AddTool(srv, &mcp.Tool{Name: "wallet_balance", Annotations: readOnly,
		Description: "The balance of a wallet you hold an active mandate for, in minor units."}, t.walletBalance)
	mcp.AddTool(srv, &mcp.Tool{Name: "recent_purchases", Annotations: readOnly,
		Description: "The latest entries of a wallet you hold an active mandate for: in-store taps and chat purchases, with merchant and items."}, t.recentPurchases)
}

// agent returns the calling agent's key, put there by New's verifier.
func agent(req *mcp.CallToolRequest) (ledger.APIKey, error) {
	if req.Extra != nil && req.Extra.TokenInfo != nil {
		if k, ok := req.Extra.TokenInfo.Extra["key"].(ledger.APIKey); ok {
			return k, nil
		}
	}
	return ledger.APIKey{}, errors.New("unauthorized (401): this tool needs an agent API key in the Authorization header")
}

// explain turns an error into what the agent should do next.
func explain(err error, what string) error {
	switch {
	case errors.Is(err, checkout.ErrForbidden):
		return fmt.Errorf("forbidden (403): %v; ask the shopper to grant this agent a mandate on the wallet", err)
	case errors.Is(err, ledger.ErrNotFound):
		return fmt.Errorf("%s not found; check the id", what)
	case errors.Is(err, ledger.ErrInvalid):
		return fmt.Errorf("%v; fix the arguments and call again", err)
	case errors.Is(err, ledger.ErrKeyReused):
		return errors.New("this idempotency_key was used for a different request; use a new key")
	case errors.Is(err, ledger.ErrInFlight):
		return errors.New("a request with this idempotency_key is still running; call again in a second with the same key")
	}
	return fmt.Errorf("the ledger could not answer (%v); call again later with the same idempotency_key", err)
}

func idem(k ledger.APIKey, key, tool string, args ...any) *ledger.Idempotency {
	if key == "" {
		return nil
	}
	return &ledger.Idempotency{IdemKey: ledger.IdemKey{Scope: k.ID, Key: "mcp:" + key},
		Hash: ledger.HashKey(fmt.Appendf(nil, "%s %v", tool, args))}
}

// SearchIn is the input of search_catalog.
type SearchIn struct {
	MerchantID string `json:"merchant_id" jsonschema:"the merchant whose catalog to search"`
	Query      string `json:"query,omitempty" jsonschema:"words of the item's name or SKU; empty lists everything"`
}

// SearchOut is the output of search_catalog.
type SearchOut struct {
	Items []ledger.CatalogItem `json:"items"`
}

func (t *tools) searchCatalog(ctx context.Context, req *mcp.CallToolRequest, in SearchIn) (*mcp.CallToolResult, SearchOut, error) {
	if _, err := agent(req); err != nil {
		return nil, SearchOut{}, err
	}
	items, err := t.s.Catalog(ctx, in.MerchantID, in.Query, 50)
	if err != nil {
		return nil, SearchOut{}, explain(err, "merchant")
	}
	if items == nil {
		items = []ledger.CatalogItem{}
	}
	return nil, SearchOut{Items: items}, nil
}

// CreateIn is the input of create_checkout.
type CreateIn struct {
	WalletID       string               `json:"wallet_id" jsonschema:"the shopper's wallet"`
	MerchantID     string               `json:"merchant_id"`
	Items          []ledger.ItemRequest `json:"items" jsonschema:"SKUs and quantities from search_catalog"`
	IdempotencyKey string               `json:"idempotency_key,omitempty" jsonschema:"a key of your choice that makes retries safe"`
}

// SessionOut is a checkout session as tools return it.
type SessionOut struct {
	Session ledger.CheckoutSession `json:"session"`
	Next    string                 `json:"next"` // what to do next
}

func (t *tools) createCheckout(ctx context.Context, req *mcp.CallToolRequest, in CreateIn) (*mcp.CallToolResult, SessionOut, error) {
	k, err := agent(req)
	if err != nil {
		return nil, SessionOut{}, err
	}
	s, res, err := t.s.CreateCheckout(ctx, idem(k, in.IdempotencyKey, "create_checkout", in.WalletID, in.MerchantID, in.Items),
		k, in.WalletID, in.MerchantID, in.Items)
	if err != nil {
		return nil, SessionOut{}, explain(err, "wallet")
	}
	switch res.Reason {
	case "":
	case ledger.ReasonMandateRevoked, ledger.ReasonMandateExpired:
		return nil, SessionOut{}, fmt.Errorf("refused: your mandate on wallet %s is %s; ask the shopper to grant a new one",
			in.WalletID, map[string]string{ledger.ReasonMandateRevoked: "revoked", ledger.ReasonMandateExpired: "expired"}[res.Reason])
	case ledger.ReasonUnknownItem:
		return nil, SessionOut{}, errors.New("an item is not in the merchant's catalog; use search_catalog to find its SKU")
	case ledger.ReasonOutOfStock:
		return nil, SessionOut{Session: s}, errors.New("an item is out of stock in that quantity; lower the quantity or pick another item")
	default:
		if res.Outcome == ledger.OutcomeRejected {
			return nil, SessionOut{}, fmt.Errorf("refused: %s", res.Reason)
		}
	}
	return nil, SessionOut{Session: s, Next: fmt.Sprintf("tell the shopper the total (%s) and call complete_checkout with checkout_session_id %s",
		money(s.Amount, s.Currency), s.ID)}, nil
}

// CompleteIn is the input of complete_checkout.
type CompleteIn struct {
	SessionID      string `json:"checkout_session_id"`
	IdempotencyKey string `json:"idempotency_key,omitempty" jsonschema:"a key of your choice that makes retries safe"`
}

func (t *tools) completeCheckout(ctx context.Context, req *mcp.CallToolRequest, in CompleteIn) (*mcp.CallToolResult, SessionOut, error) {
	k, err := agent(req)
	if err != nil {
		return nil, SessionOut{}, err
	}
	s, res, err := t.s.CompleteCheckout(ctx, idem(k, in.IdempotencyKey, "complete_checkout", in.SessionID), k, in.SessionID)
	if err != nil {
		return nil, SessionOut{}, explain(err, "checkout session")
	}
	if s.ID == "" {
		return nil, SessionOut{}, fmt.Errorf("checkout session %s not found; create one with create_checkout", in.SessionID)
	}
	switch {
	case s.Status == ledger.SessionCompleted:
		return nil, SessionOut{Session: s, Next: fmt.Sprintf("paid %s; tell the shopper the order is placed (authorization %s)",
			money(s.Amount, s.Currency), s.AuthorizationID)}, nil
	case s.Status == ledger.SessionAuthRequired:
		return nil, SessionOut{}, fmt.Errorf("authentication_required: this purchase of %s is outside your mandate (%s); "+
			"ask the shopper to confirm code %s at POST %s/v1/checkout_sessions/%s/confirm with their wallet key "+
			"(posctl chat confirm), then call complete_checkout again", money(s.Amount, s.Currency), s.Reason,
			s.ConfirmationCode, t.base, s.ID)
	case res.Reason == ledger.ReasonMandateRevoked || res.Reason == ledger.ReasonMandateExpired:
		return nil, SessionOut{}, fmt.Errorf("refused: the mandate for this session is %s and the session was canceled; ask the shopper to grant a new mandate",
			map[string]string{ledger.ReasonMandateRevoked: "revoked", ledger.ReasonMandateExpired: "expired"}[res.Reason])
	case res.Reason == ledger.ReasonInsufficientFunds:
		return nil, SessionOut{}, errors.New("declined: the wallet does not hold enough money; ask the shopper to top it up, then call complete_checkout again")
	case res.Reason == ledger.ReasonPriceChanged:
		return nil, SessionOut{}, fmt.Errorf("the price changed: the total is now %s; tell the shopper, then call complete_checkout again", money(s.Amount, s.Currency))
	case res.Reason == ledger.ReasonOutOfStock:
		return nil, SessionOut{}, errors.New("an item is out of stock; create a new checkout with fewer or other items")
	case s.Status == ledger.SessionCanceled:
		return nil, SessionOut{}, errors.New("the session was canceled; create a new checkout")
	}
	return nil, SessionOut{}, fmt.Errorf("not paid (%s %s); create a new checkout or ask the shopper", s.Status, res.Reason)
}

// WalletIn names a wallet.
type WalletIn struct {
	WalletID string `json:"wallet_id"`
	Limit    int    `json:"limit,omitempty" jsonschema:"recent_purchases: how many entries, at most 100 (default 20)"`
}

// BalanceOut is the output of wallet_balance.
type BalanceOut struct {
	WalletID  string `json:"wallet_id"`
	Balance   int64  `json:"balance"`
	Available int64  `json:"available"`
	Currency  string `json:"currency"`
	Display   string `json:"display"`
}

func (t *tools) walletBalance(ctx context.Context, req *mcp.CallToolRequest, in WalletIn) (*mcp.CallToolResult, BalanceOut, error) {
	k, err := agent(req)
	if err != nil {
		return nil, BalanceOut{}, err
	}
	w, err := t.s.Wallet(ctx, k, in.WalletID)
	if err != nil {
		return nil, BalanceOut{}, explain(err, "wallet")
	}
	return nil, BalanceOut{WalletID: w.ID, Balance: w.Balance, Available: w.Available(), Currency: w.Currency,
		Display: money(w.Available(), w.Currency)}, nil
}

// Purchase is one entry of a wallet's history.
type Purchase struct {
	Kind       string `json:"kind"`
	Channel    string `json:"channel"`
	MerchantID string `json:"merchant_id"`
	Items      string `json:"items,omitempty"`
	Amount     int64  `json:"amount"` // negative: money out of the wallet
	Currency   string `json:"currency"`
	At         string `json:"at"` // RFC 3339
}

// PurchasesOut is the output of recent_purchases.
type PurchasesOut struct {
	Purchases []Purchase `json:"purchases"`
}

func (t *tools) recentPurchases(ctx context.Context, req *mcp.CallToolRequest, in WalletIn) (*mcp.CallToolResult, PurchasesOut, error) {
	k, err := agent(req)
	if err != nil {
		return nil, PurchasesOut{}, err
	}
	hs, err := t.s.History(ctx, k, in.WalletID, in.Limit)
	if err != nil {
		return nil, PurchasesOut{}, explain(err, "wallet")
	}
	out := PurchasesOut{Purchases: make([]Purchase, len(hs))}
	for i, h := range hs {
		out.Purchases[i] = Purchase{Kind: h.Kind, Channel: h.Channel, MerchantID: h.MerchantID, Items: h.Memo,
			Amount: h.Amount, Currency: h.Currency, At: h.CreatedAt.UTC().Format(time.RFC3339)}
	}
	return nil, out, nil
}

// money formats minor units for people, e.g. "EUR 12.50".
func money(amount int64, currency string) string {
	c, ok := ledger.CurrencyByAlpha(currency)
	if !ok || c.Exponent == 0 {
		return fmt.Sprintf("%s %d", currency, amount)
	}
	p := int64(1)
	for range c.Exponent {
		p *= 10
	}
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	return fmt.Sprintf("%s %s%d.%0*d", currency, sign, amount/p, c.Exponent, amount%p)
}
