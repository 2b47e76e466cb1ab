// Package checkout lets shopping agents buy from merchants' catalogs with
// a shopper's wallet: checkout sessions in the manner of the Agentic
// Commerce Protocol, mandates in the manner of AP2, and the shopper's
// confirmation of purchases outside a mandate. The money moves in the
// ledger's single writer (see ledger/chat.go); this package decides who
// may ask for what and serves it over HTTP.
package checkout

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"tappos/ledger"
	"tappos/ledger/internal/httpjson"
)

// Errors of a [Service].
var (
	// ErrUnauthorized is returned for a missing, unknown or revoked key.
	ErrUnauthorized = errors.New("unknown or revoked API key")
	// ErrForbidden is wrapped by errors about what a key may not do.
	ErrForbidden = errors.New("forbidden")
)

// Config configures a [Service].
type Config struct {
	Ledger *ledger.Ledger   // its store must be a [ledger.ChatStore]
	Now    func() time.Time // default time.Now
	// Rate and Burst limit requests per API key: Rate per second on
	// average, Burst at once. Defaults 200 and 400; a negative Rate turns
	// the limit off.
	Rate, Burst float64
}

// A Service answers agents and wallet owners.
type Service struct {
	l      *ledger.Ledger
	store  ledger.ChatStore
	now    func() time.Time
	limits *httpjson.Limiter // nil: no limit
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	cs, err := cfg.Ledger.ChatStore()
	if err != nil {
		return nil, err
	}
	s := &Service{l: cfg.Ledger, store: cs, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	rate, burst := cfg.Rate, cfg.Burst
	if rate == 0 {
		rate = 200
	}
	if burst == 0 {
		burst = 2 * rate
	}
	if rate > 0 {
		s.limits = httpjson.NewLimiter(rate, burst, s.now)
	}
	return s, nil
}

// Ledger returns the service's ledger.
func (s *Service) Ledger() *ledger.Ledger { return s.l }

// Authenticate returns the key with the secret.
func (s *Service) Authenticate(ctx context.Context, secret string) (ledger.APIKey, error) {
	if secret == "" {
		return ledger.APIKey{}, ErrUnauthorized
	}
	hash := ledger.HashKey([]byte(secret))
	k, err := s.l.Store().APIKey(ctx, hash)
	if errors.Is(err, ledger.ErrNotFound) {
		return ledger.APIKey{}, ErrUnauthorized
	}
	if err != nil {
		return ledger.APIKey{}, fmt.Errorf("looking up API key: %w", err)
	}
	// The lookup was by hash; compare in constant time all the same.
	if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) != 1 || k.Revoked {
		return ledger.APIKey{}, ErrUnauthorized
	}
	return k, nil
}

// Allow reports whether a key may make one more request now.
func (s *Service) Allow(keyID string) bool {
	return s.limits == nil || s.limits.Allow(keyID)
}

// agentMandate returns the mandate an agent spends a wallet under: its
// newest usable one, else its newest, so that a purchase under a revoked
// or expired mandate is refused with the reason. An agent without any
// mandate on the wallet may not touch it.
func (s *Service) agentMandate(ctx context.Context, agent ledger.APIKey, walletID string) (ledger.Mandate, error) {
	if agent.Role != ledger.RoleAgent {
		return ledger.Mandate{}, fmt.Errorf("%w: only agent keys shop", ErrForbidden)
	}
	ms, err := s.store.WalletMandates(ctx, walletID)
	if err != nil {
		return ledger.Mandate{}, fmt.Errorf("listing mandates of wallet %s: %w", walletID, err)
	}
	var newest *ledger.Mandate
	now := s.now()
	for i := range ms {
		m := &ms[i]
		if m.AgentKeyID != agent.ID {
			continue
		}
		if usable(*m, now) {
			return *m, nil
		}
		if newest == nil {
			newest = m
		}
	}
	if newest == nil {
		return ledger.Mandate{}, fmt.Errorf("%w: this agent key holds no mandate on wallet %s", ErrForbidden, walletID)
	}
	return *newest, nil
}

// usable reports whether an agent may still spend under a mandate.
func usable(m ledger.Mandate, now time.Time) bool {
	return m.Status == ledger.MandateActive && now.Before(m.ExpiresAt)
}

// CreateCheckout opens a session for an agent on a wallet it holds a
// mandate for.
func (s *Service) CreateCheckout(ctx context.Context, idem *ledger.Idempotency, agent ledger.APIKey, walletID, merchantID string, items []ledger.ItemRequest) (ledger.CheckoutSession, ledger.Result, error) {
	m, err := s.agentMandate(ctx, agent, walletID)
	if err != nil {
		return ledger.CheckoutSession{}, ledger.Result{}, err
	}
	return s.l.CreateCheckout(ctx, idem, ledger.CheckoutRequest{AgentKeyID: agent.ID, MandateID: m.ID,
		MerchantID: merchantID, Items: items})
}

// Session returns an agent's session.
func (s *Service) Session(ctx context.Context, agent ledger.APIKey, id string) (ledger.CheckoutSession, error) {
	cs, err := s.store.CheckoutSession(ctx, id)
	if err != nil {
		return ledger.CheckoutSession{}, fmt.Errorf("reading checkout session %s: %w", id, err)
	}
	if cs.AgentKeyID != agent.ID {
		// Another agent's session does not exist for this one.
		return ledger.CheckoutSession{}, fmt.Errorf("reading checkout session %s: %w", id, ledger.ErrNotFound)
	}
	return cs, nil
}

// UpdateCheckout replaces the items of an agent's session.
func (s *Service) UpdateCheckout(ctx context.Context, idem *ledger.Idempotency, agent ledger.APIKey, id string, items []ledger.ItemRequest) (ledger.CheckoutSession, ledger.Result, error) {
	return s.l.UpdateCheckout(ctx, idem, agent.ID, id, items)
}

// CompleteCheckout pays an agent's session.
func (s *Service) CompleteCheckout(ctx context.Context, idem *ledger.Idempotency, agent ledger.APIKey, id string) (ledger.CheckoutSession, ledger.Result, error) {
	return s.l.CompleteCheckout(ctx, idem, agent.ID, id)
}

// CancelCheckout cancels an agent's session.
func (s *Service) CancelCheckout(ctx context.Context, idem *ledger.Idempotency, agent ledger.APIKey, id string) (ledger.CheckoutSession, ledger.Result, error) {
	return s.l.CancelCheckout(ctx, idem, agent.ID, id)
}

// ownerWallet returns the wallet a wallet owner's key acts for.
func (s *Service) ownerWallet(ctx context.Context, owner ledger.APIKey, walletID string) error {
	if owner.Role != ledger.RoleWalletOwner {
		return fmt.Errorf("%w: only the wallet owner's key may do this", ErrForbidden)
	}
	w, err := s.store.OwnerKeyWallet(ctx, owner.ID)
	if err != nil {
		return fmt.Errorf("finding the wallet of owner key %s: %w", owner.ID, err)
	}
	if w != walletID {
		return fmt.Errorf("%w: this key is not the owner's of wallet %s", ErrForbidden, walletID)
	}
	return nil
}

// ConfirmCheckout is the owner of a session's wallet approving it.
func (s *Service) ConfirmCheckout(ctx context.Context, idem *ledger.Idempotency, owner ledger.APIKey, id, code string) (ledger.CheckoutSession, ledger.Result, error) {
	if owner.Role != ledger.RoleWalletOwner {
		return ledger.CheckoutSession{}, ledger.Result{}, fmt.Errorf("%w: only the wallet owner's key may confirm", ErrForbidden)
	}
	w, err := s.store.OwnerKeyWallet(ctx, owner.ID)
	if err != nil {
		return ledger.CheckoutSession{}, ledger.Result{}, fmt.Errorf("finding the wallet of owner key %s: %w", owner.ID, err)
	}
	return s.l.ConfirmCheckout(ctx, idem, w, id, code)
}

// Mandates lists a wallet's mandates for its owner.
func (s *Service) Mandates(ctx context.Context, owner ledger.APIKey, walletID string) ([]ledger.Mandate, error) {
	if err := s.ownerWallet(ctx, owner, walletID); err != nil {
		return nil, err
	}
	return s.store.WalletMandates(ctx, walletID)
}

// GrantMandate is a wallet's owner granting an agent key a mandate.
func (s *Service) GrantMandate(ctx context.Context, idem *ledger.Idempotency, owner ledger.APIKey, r ledger.MandateRequest) (ledger.Mandate, ledger.Result, error) {
	if err := s.ownerWallet(ctx, owner, r.WalletID); err != nil {
		return ledger.Mandate{}, ledger.Result{}, err
	}
	return s.l.GrantMandate(ctx, idem, r)
}

// RevokeMandate is a wallet's owner ending a mandate.
func (s *Service) RevokeMandate(ctx context.Context, idem *ledger.Idempotency, owner ledger.APIKey, walletID, mandateID string) (ledger.Result, error) {
	if err := s.ownerWallet(ctx, owner, walletID); err != nil {
		return ledger.Result{}, err
	}
	return s.l.RevokeMandate(ctx, idem, walletID, mandateID)
}

// Catalog returns up to limit of a merchant's items matching query.
func (s *Service) Catalog(ctx context.Context, merchantID, query string, limit int) ([]ledger.CatalogItem, error) {
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	return s.store.SearchCatalog(ctx, merchantID, query, limit)
}

// Wallet returns a wallet the key may read: an agent's under an active
// mandate, or the owner's.
func (s *Service) Wallet(ctx context.Context, k ledger.APIKey, walletID string) (ledger.Account, error) {
	if err := s.mayRead(ctx, k, walletID); err != nil {
		return ledger.Account{}, err
	}
	a, err := s.l.Store().Account(ctx, walletID)
	if err != nil {
		return ledger.Account{}, fmt.Errorf("reading wallet %s: %w", walletID, err)
	}
	return a, nil
}

// History returns up to limit entries of a wallet the key may read.
func (s *Service) History(ctx context.Context, k ledger.APIKey, walletID string, limit int) ([]ledger.HistoryItem, error) {
	if err := s.mayRead(ctx, k, walletID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	return s.l.Store().History(ctx, walletID, limit)
}

// mayRead lets a wallet's owner read it, and an agent only under a
// mandate it may still spend under: the revoked or expired one that
// agentMandate falls back to, for a purchase's reason, grants nothing.
func (s *Service) mayRead(ctx context.Context, k ledger.APIKey, walletID string) error {
	if k.Role == ledger.RoleWalletOwner {
		return s.ownerWallet(ctx, k, walletID)
	}
	m, err := s.agentMandate(ctx, k, walletID)
	if err != nil {
		return err
	}
	if !usable(m, s.now()) {
		return fmt.Errorf("%w: this agent key holds no active mandate on wallet %s", ErrForbidden, walletID)
	}
	return nil
}
