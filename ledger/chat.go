package ledger

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// Chat checkout: a shopping agent buys from a merchant's catalog with
// money from a wallet, within a mandate the wallet's owner granted it.
// Sessions follow the Agentic Commerce Protocol's checkout sessions;
// mandates follow AP2's payment mandates. Every change to a session or a
// mandate goes through the single writer, so that a mandate's budget, a
// catalog's stock and a wallet's balance are checked and changed in the
// same transaction as the debit.

// Checkout session statuses.
const (
	SessionNotReady     = "not_ready_for_payment"
	SessionReady        = "ready_for_payment"
	SessionAuthRequired = "authentication_required"
	SessionCompleted    = "completed"
	SessionCanceled     = "canceled"
)

// Mandate statuses.
const (
	MandateActive  = "active"
	MandateRevoked = "revoked"
)

// RoleWalletOwner is the role of a key that acts for one wallet's owner:
// it grants and revokes mandates and confirms purchases.
const RoleWalletOwner = "wallet_owner"

// Reasons of chat checkout results, beside the authorization ones.
const (
	ReasonMandateRevoked       = "mandate_revoked"
	ReasonMandateExpired       = "mandate_expired"
	ReasonConfirmationRequired = "confirmation_required"
	ReasonBadConfirmation      = "bad_confirmation_code"
	ReasonConfirmationExpired  = "confirmation_expired"
	ReasonOutOfStock           = "out_of_stock"
	ReasonPriceChanged         = "price_changed"
	ReasonUnknownItem          = "unknown_item"
	// Why a purchase needs the owner's confirmation.
	ReasonAboveMaxPerPurchase = "above_max_per_purchase"
	ReasonAboveBudget         = "above_budget"
	ReasonMerchantNotAllowed  = "merchant_not_allowed"
)

// ErrChatUnsupported is returned when the store cannot keep chat
// checkout data.
var ErrChatUnsupported = errors.New("store does not support chat checkout")

// A CatalogItem is something a merchant sells, at a price in minor units.
type CatalogItem struct {
	MerchantID string `json:"merchant_id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Price      int64  `json:"price"`
	Currency   string `json:"currency"`
	Stock      int64  `json:"stock"`
}

// A LineItem is a quantity of a catalog item in a checkout session,
// priced when the session was last changed.
type LineItem struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	Amount    int64  `json:"amount"`
}

// A Mandate lets an agent key spend from a wallet without asking: up to
// MaxPerPurchase a purchase, up to Budget within any Period, at the
// Merchants listed (any if none), until ExpiresAt. The checkout API shows
// it as a checkout.MandateView.
type Mandate struct {
	ID             string
	WalletID       string
	AgentKeyID     string
	Currency       string
	MaxPerPurchase int64
	Budget         int64
	Period         time.Duration // 0: the budget is for the mandate's whole life
	Merchants      []string
	ExpiresAt      time.Time
	Status         string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// A MandateUse is a purchase charged against a mandate's budget.
type MandateUse struct {
	ID        string
	MandateID string
	SessionID string
	AuthID    string
	Amount    int64
	Currency  string
	Confirmed bool // approved by the owner beyond the mandate
	CreatedAt time.Time
}

// A CheckoutSession is an agent's basket on its way to being paid.
type CheckoutSession struct {
	ID               string     `json:"id"`
	AgentKeyID       string     `json:"agent_key_id"`
	MandateID        string     `json:"mandate_id"`
	WalletID         string     `json:"wallet_id"`
	MerchantID       string     `json:"merchant_id"`
	Items            []LineItem `json:"items"`
	Amount           int64      `json:"amount"`
	Currency         string     `json:"currency"`
	Status           string     `json:"status"`
	Reason           string     `json:"reason,omitempty"`
	ConfirmationCode string     `json:"confirmation_code,omitempty"` // while authentication_required
	AuthorizationID  string     `json:"authorization_id,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// ChatChanges are the chat checkout writes of one request.
type ChatChanges struct {
	Sessions []CheckoutSession // inserted or replaced
	Mandates []Mandate         // inserted or replaced
	Uses     []MandateUse
	Stock    []CatalogItem // new stock levels
}

// A ChatTx is a [Tx] that keeps chat checkout data. Its reads lock what
// they return, after the accounts.
type ChatTx interface {
	CheckoutSession(ctx context.Context, id string) (CheckoutSession, error)
	Mandate(ctx context.Context, id string) (Mandate, error)
	// MandateSpent sums the uses of a mandate made after since.
	MandateSpent(ctx context.Context, mandateID string, since time.Time) (int64, error)
	// CatalogItems returns the merchant's items with the SKUs.
	CatalogItems(ctx context.Context, merchantID string, skus []string) ([]CatalogItem, error)
	// ApplyChat writes all of c or, on error, none of it.
	ApplyChat(ctx context.Context, c *ChatChanges) error
	// PutCatalogItem adds or replaces a catalog item.
	PutCatalogItem(ctx context.Context, it CatalogItem) error
	// CreateOwnerKey stores a wallet owner's key.
	CreateOwnerKey(ctx context.Context, k APIKey, walletID string) error
}

// A ChatStore is a [Store] that keeps chat checkout data.
type ChatStore interface {
	CheckoutSession(ctx context.Context, id string) (CheckoutSession, error)
	Mandate(ctx context.Context, id string) (Mandate, error)
	// WalletMandates returns a wallet's mandates, newest first.
	WalletMandates(ctx context.Context, walletID string) ([]Mandate, error)
	// SearchCatalog returns up to limit of a merchant's items whose name
	// or SKU contains query (all if query is empty).
	SearchCatalog(ctx context.Context, merchantID, query string, limit int) ([]CatalogItem, error)
	// OwnerKeyWallet returns the wallet of a wallet owner's key.
	OwnerKeyWallet(ctx context.Context, keyID string) (string, error)
}

// ChatStore returns the ledger's store as a [ChatStore].
func (l *Ledger) ChatStore() (ChatStore, error) {
	cs, ok := l.store.(ChatStore)
	if !ok {
		return nil, ErrChatUnsupported
	}
	return cs, nil
}

// PutCatalogItem adds or replaces an item of a merchant's catalog.
func (l *Ledger) PutCatalogItem(ctx context.Context, it CatalogItem) error {
	if err := checkID("merchant_id", it.MerchantID); err != nil {
		return err
	}
	if err := checkID("sku", it.SKU); err != nil {
		return err
	}
	if _, err := checkMoney(it.Price, it.Currency); err != nil {
		return err
	}
	if it.Stock < 0 || it.Name == "" || len(it.Name) > 200 {
		return fmt.Errorf("%w: a catalog item needs a name of 1 to 200 bytes and a stock of 0 or more", ErrInvalid)
	}
	err := l.store.Write(ctx, func(tx Tx) error {
		ct, ok := tx.(ChatTx)
		if !ok {
			return ErrChatUnsupported
		}
		return ct.PutCatalogItem(ctx, it)
	})
	if err != nil {
		return fmt.Errorf("putting catalog item %s of merchant %s: %w", it.SKU, it.MerchantID, err)
	}
	return nil
}

// CreateOwnerKey makes a key for the owner of a wallet and returns it
// with its secret, the only time the secret is seen.
func (l *Ledger) CreateOwnerKey(ctx context.Context, walletID string) (APIKey, string, error) {
	if err := checkID("wallet_id", walletID); err != nil {
		return APIKey{}, "", err
	}
	k, secret := l.newKey(RoleWalletOwner)
	err := l.store.Write(ctx, func(tx Tx) error {
		ct, ok := tx.(ChatTx)
		if !ok {
			return ErrChatUnsupported
		}
		return ct.CreateOwnerKey(ctx, k, walletID)
	})
	if err != nil {
		return APIKey{}, "", fmt.Errorf("creating owner key of wallet %s: %w", walletID, err)
	}
	return k, secret, nil
}

func (l *Ledger) newKey(role string) (APIKey, string) {
	var b [32]byte
	l.random(b[:])
	secret := "tpk_" + base64.RawURLEncoding.EncodeToString(b[:])
	return APIKey{ID: l.newID("key"), Hash: HashKey([]byte(secret)), Role: role, CreatedAt: l.now()}, secret
}

// ItemRequest asks for a quantity of a catalog item.
type ItemRequest struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// maxItems bounds a basket.
const maxItems = 50

func checkItems(items []ItemRequest) error {
	if len(items) > maxItems {
		return fmt.Errorf("%w: at most %d line items", ErrInvalid, maxItems)
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if err := checkID("sku", it.SKU); err != nil {
			return err
		}
		if it.Quantity <= 0 || it.Quantity > 1000 {
			return fmt.Errorf("%w: quantity of %s must be between 1 and 1000", ErrInvalid, it.SKU)
		}
		if seen[it.SKU] {
			return fmt.Errorf("%w: SKU %s appears twice", ErrInvalid, it.SKU)
		}
		seen[it.SKU] = true
	}
	return nil
}

// CheckoutRequest opens a checkout session for an agent.
type CheckoutRequest struct {
	AgentKeyID string
	MandateID  string
	MerchantID string
	Items      []ItemRequest
}

// derivedID derives a new session's or mandate's id from its idempotency
// key, so that a replayed create names what the first one made.
func (l *Ledger) derivedID(prefix string, idem *Idempotency) string {
	if idem == nil {
		return l.newID(prefix)
	}
	return prefix + "_" + HashKey([]byte(idem.Scope + "\x00" + idem.Key))[:20]
}

// CreateCheckout opens a checkout session, priced from the merchant's
// catalog.
func (l *Ledger) CreateCheckout(ctx context.Context, idem *Idempotency, r CheckoutRequest) (CheckoutSession, Result, error) {
	for _, f := range []struct{ name, v string }{{"agent_key_id", r.AgentKeyID}, {"mandate_id", r.MandateID}, {"merchant_id", r.MerchantID}} {
		if err := checkID(f.name, f.v); err != nil {
			return CheckoutSession{}, Result{}, err
		}
	}
	if err := checkItems(r.Items); err != nil {
		return CheckoutSession{}, Result{}, err
	}
	c := &chatOp{kind: chatCreate, sessionID: l.derivedID("cs", idem), agentKeyID: r.AgentKeyID,
		mandateID: r.MandateID, merchantID: r.MerchantID, items: r.Items}
	return l.submitChat(ctx, idem, c)
}

// UpdateCheckout replaces the items of an agent's open session.
func (l *Ledger) UpdateCheckout(ctx context.Context, idem *Idempotency, agentKeyID, sessionID string, items []ItemRequest) (CheckoutSession, Result, error) {
	if err := checkItems(items); err != nil {
		return CheckoutSession{}, Result{}, err
	}
	return l.submitChat(ctx, idem, &chatOp{kind: chatUpdate, sessionID: sessionID, agentKeyID: agentKeyID, items: items})
}

// CancelCheckout cancels an agent's session that is not completed.
func (l *Ledger) CancelCheckout(ctx context.Context, idem *Idempotency, agentKeyID, sessionID string) (CheckoutSession, Result, error) {
	return l.submitChat(ctx, idem, &chatOp{kind: chatCancel, sessionID: sessionID, agentKeyID: agentKeyID})
}

// CompleteCheckout pays an agent's session from its wallet. Within the
// mandate it completes; outside it the session ends in
// authentication_required with a confirmation code for the owner.
func (l *Ledger) CompleteCheckout(ctx context.Context, idem *Idempotency, agentKeyID, sessionID string) (CheckoutSession, Result, error) {
	return l.submitChat(ctx, idem, &chatOp{kind: chatComplete, sessionID: sessionID, agentKeyID: agentKeyID})
}

// ConfirmCheckout is the wallet owner approving a session that needs
// authentication, by its confirmation code; the purchase is then paid.
func (l *Ledger) ConfirmCheckout(ctx context.Context, idem *Idempotency, walletID, sessionID, code string) (CheckoutSession, Result, error) {
	if err := checkID("wallet_id", walletID); err != nil {
		return CheckoutSession{}, Result{}, err
	}
	if err := checkID("confirmation_code", code); err != nil {
		return CheckoutSession{}, Result{}, err
	}
	return l.submitChat(ctx, idem, &chatOp{kind: chatConfirm, sessionID: sessionID, walletID: walletID, code: code})
}

// MandateRequest is a wallet owner granting an agent key a mandate.
type MandateRequest struct {
	WalletID       string
	AgentKeyID     string
	MaxPerPurchase int64
	Budget         int64
	Period         time.Duration
	Merchants      []string
	ExpiresAt      time.Time
}

// GrantMandate creates a mandate on a wallet for an agent key.
func (l *Ledger) GrantMandate(ctx context.Context, idem *Idempotency, r MandateRequest) (Mandate, Result, error) {
	for _, f := range []struct{ name, v string }{{"wallet_id", r.WalletID}, {"agent_key_id", r.AgentKeyID}} {
		if err := checkID(f.name, f.v); err != nil {
			return Mandate{}, Result{}, err
		}
	}
	if r.MaxPerPurchase <= 0 || r.MaxPerPurchase > MaxAmount || r.Budget < r.MaxPerPurchase || r.Budget > MaxAmount {
		return Mandate{}, Result{}, fmt.Errorf("%w: need 0 < max_per_purchase <= budget <= %d", ErrInvalid, int64(MaxAmount))
	}
	if r.Period < 0 || len(r.Merchants) > 100 || !r.ExpiresAt.After(l.now()) {
		return Mandate{}, Result{}, fmt.Errorf("%w: need a period of 0 or more, at most 100 merchants and an expiry in the future", ErrInvalid)
	}
	for _, m := range r.Merchants {
		if err := checkID("merchant_id", m); err != nil {
			return Mandate{}, Result{}, err
		}
	}
	m := Mandate{ID: l.derivedID("md", idem), WalletID: r.WalletID, AgentKeyID: r.AgentKeyID,
		MaxPerPurchase: r.MaxPerPurchase, Budget: r.Budget, Period: r.Period, Merchants: r.Merchants,
		ExpiresAt: r.ExpiresAt.UTC(), Status: MandateActive}
	c := &chatOp{kind: chatGrant, walletID: r.WalletID, mandate: m, accounts: []string{r.WalletID}}
	res, err := l.submit(ctx, &op{kind: opChat, idem: idem, chat: c})
	if err != nil || res.Outcome == OutcomeRejected {
		return Mandate{}, res, err
	}
	cs, err := l.ChatStore()
	if err != nil {
		return Mandate{}, res, err
	}
	m, err = cs.Mandate(ctx, m.ID)
	if err != nil {
		return Mandate{}, res, fmt.Errorf("reading mandate: %w", err)
	}
	return m, res, nil
}

// RevokeMandate ends a wallet's mandate; purchases under it are refused
// from then on.
func (l *Ledger) RevokeMandate(ctx context.Context, idem *Idempotency, walletID, mandateID string) (Result, error) {
	if err := checkID("mandate_id", mandateID); err != nil {
		return Result{}, err
	}
	return l.submit(ctx, &op{kind: opChat, idem: idem, chat: &chatOp{kind: chatRevoke, walletID: walletID, mandateID: mandateID}})
}

// submitChat runs a session op and returns the session as it left it,
// or as it is now for a replay.
func (l *Ledger) submitChat(ctx context.Context, idem *Idempotency, c *chatOp) (CheckoutSession, Result, error) {
	if err := checkID("checkout_session_id", c.sessionID); err != nil {
		return CheckoutSession{}, Result{}, err
	}
	cs, err := l.ChatStore()
	if err != nil {
		return CheckoutSession{}, Result{}, err
	}
	if c.kind == chatComplete || c.kind == chatConfirm {
		// The wallet and merchant of a session never change: read them
		// now so that the writer loads and locks their accounts with the
		// others of its batch.
		s, err := cs.CheckoutSession(ctx, c.sessionID)
		if errors.Is(err, ErrNotFound) {
			return CheckoutSession{}, rejected(ReasonNotFound), nil
		}
		if err != nil {
			return CheckoutSession{}, Result{}, fmt.Errorf("reading checkout session: %w", err)
		}
		c.accounts = []string{s.WalletID, settlementAccount(s.MerchantID, s.Currency)}
	}
	res, err := l.submit(ctx, &op{kind: opChat, idem: idem, chat: c})
	if err != nil {
		return CheckoutSession{}, res, err
	}
	if c.out != nil {
		return *c.out, res, nil
	}
	s, err := cs.CheckoutSession(ctx, c.sessionID)
	if errors.Is(err, ErrNotFound) {
		return CheckoutSession{}, res, nil
	}
	if err != nil {
		return CheckoutSession{}, res, fmt.Errorf("reading checkout session: %w", err)
	}
	return s, res, nil
}
