package ledger

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// chatKind is what a chat op does.
type chatKind int

const (
	chatCreate chatKind = iota
	chatUpdate
	chatCancel
	chatComplete
	chatConfirm
	chatGrant
	chatRevoke
)

// A chatOp is the chat part of an op of kind opChat.
type chatOp struct {
	kind       chatKind
	sessionID  string
	agentKeyID string // the acting agent, for session ops
	walletID   string // the acting owner: confirm, grant, revoke
	mandateID  string // create, revoke
	merchantID string // create
	code       string // confirm
	items      []ItemRequest
	mandate    Mandate  // grant
	accounts   []string // to load and lock with the batch

	out *CheckoutSession // the session as the writer left it
}

// ChatTerminal is the terminal id of chat authorizations; their
// transaction id is the session's, so a session is paid at most once.
// No merchant owns it: each closes its own chat sales' batch on it (see
// [Ledger.CloseBatch]).
const ChatTerminal = "chat"

// chat applies a chat op. Its database writes go through ApplyChat, all or
// nothing, before the batch's own state changes, so that an error leaves
// the batch as if the op had not run.
func (b *batch) chat(c *chatOp) (Result, error) {
	ct, ok := b.tx.(ChatTx)
	if !ok {
		return Result{}, ErrChatUnsupported
	}
	w := &chatBatch{b: b, tx: ct, ctx: context.Background(), c: c}
	switch c.kind {
	case chatCreate:
		return w.create()
	case chatUpdate, chatCancel, chatComplete, chatConfirm:
		return w.session()
	case chatGrant:
		return w.grant()
	case chatRevoke:
		return w.revoke()
	}
	return Result{}, fmt.Errorf("unknown chat op %d", c.kind)
}

type chatBatch struct {
	b   *batch
	tx  ChatTx
	ctx context.Context
	c   *chatOp
}

func sessionResult(s *CheckoutSession, outcome, reason string) Result {
	return Result{Outcome: outcome, Reason: reason, Status: s.Status, AuthorizationID: s.AuthorizationID,
		Amount: s.Amount, Currency: s.Currency}
}

// save writes a session with the other changes and hands it to the caller.
func (w *chatBatch) save(s *CheckoutSession, ch *ChatChanges) error {
	s.UpdatedAt = w.b.now
	ch.Sessions = append(ch.Sessions, *s)
	if err := w.tx.ApplyChat(w.ctx, ch); err != nil {
		return fmt.Errorf("writing checkout session: %w", err)
	}
	out := *s
	w.c.out = &out
	return nil
}

func (w *chatBatch) mandate(id string) (*Mandate, error) {
	m, err := w.tx.Mandate(w.ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading mandate: %w", err)
	}
	return &m, nil
}

// unusable returns why a mandate cannot be spent from now, or "".
func (w *chatBatch) unusable(m *Mandate) string {
	switch {
	case m.Status != MandateActive:
		return ReasonMandateRevoked
	case !w.b.now.Before(m.ExpiresAt):
		return ReasonMandateExpired
	}
	return ""
}

// price fills a session's items and amount from the catalog and sets its
// status. It returns a rejection reason for a basket that cannot be
// priced at all.
func (w *chatBatch) price(s *CheckoutSession, req []ItemRequest) (string, error) {
	skus := make([]string, len(req))
	for i, r := range req {
		skus[i] = r.SKU
	}
	cat, err := w.tx.CatalogItems(w.ctx, s.MerchantID, skus)
	if err != nil {
		return "", fmt.Errorf("loading catalog of merchant %s: %w", s.MerchantID, err)
	}
	bySKU := make(map[string]CatalogItem, len(cat))
	for _, it := range cat {
		bySKU[it.SKU] = it
	}
	items := make([]LineItem, 0, len(req))
	var total int64
	short := false
	for _, r := range req {
		it, ok := bySKU[r.SKU]
		switch {
		case !ok:
			return ReasonUnknownItem, nil
		case it.Currency != s.Currency:
			return ReasonCurrency, nil
		}
		// Quantities are at most 1000 and prices at most MaxAmount, so
		// neither the product nor a sum of maxItems of them overflows.
		amount := it.Price * r.Quantity
		total += amount
		short = short || it.Stock < r.Quantity
		items = append(items, LineItem{SKU: it.SKU, Name: it.Name, Quantity: r.Quantity, UnitPrice: it.Price, Amount: amount})
	}
	if total > MaxAmount {
		return ReasonAmountTooLarge, nil
	}
	s.Items, s.Amount, s.ConfirmationCode, s.Reason = items, total, "", ""
	switch {
	case len(items) == 0:
		s.Status = SessionNotReady
	case short:
		s.Status, s.Reason = SessionNotReady, ReasonOutOfStock
	default:
		s.Status = SessionReady
	}
	return "", nil
}

func (w *chatBatch) create() (Result, error) {
	c := w.c
	if _, err := w.tx.CheckoutSession(w.ctx, c.sessionID); err == nil {
		return rejected(ReasonDuplicateTxn), nil
	} else if !errors.Is(err, ErrNotFound) {
		return Result{}, fmt.Errorf("loading checkout session: %w", err)
	}
	m, err := w.mandate(c.mandateID)
	if err != nil {
		return Result{}, err
	}
	if m == nil || m.AgentKeyID != c.agentKeyID {
		return rejected(ReasonNotFound), nil
	}
	if r := w.unusable(m); r != "" {
		return rejected(r), nil
	}
	s := &CheckoutSession{ID: c.sessionID, AgentKeyID: c.agentKeyID, MandateID: m.ID, WalletID: m.WalletID,
		MerchantID: c.merchantID, Currency: m.Currency, CreatedAt: w.b.now}
	if r, err := w.price(s, c.items); r != "" || err != nil {
		return rejected(r), err
	}
	if err := w.save(s, &ChatChanges{}); err != nil {
		return Result{}, err
	}
	return sessionResult(s, OutcomeOK, s.Reason), nil
}

func requests(items []LineItem) []ItemRequest {
	req := make([]ItemRequest, len(items))
	for i, it := range items {
		req[i] = ItemRequest{SKU: it.SKU, Quantity: it.Quantity}
	}
	return req
}

// session runs the ops on an existing session.
func (w *chatBatch) session() (Result, error) {
	c := w.c
	s, err := w.tx.CheckoutSession(w.ctx, c.sessionID)
	if errors.Is(err, ErrNotFound) {
		return rejected(ReasonNotFound), nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("loading checkout session: %w", err)
	}
	if c.kind == chatConfirm && s.WalletID != c.walletID || c.kind != chatConfirm && s.AgentKeyID != c.agentKeyID {
		return rejected(ReasonNotFound), nil
	}
	open := s.Status != SessionCompleted && s.Status != SessionCanceled
	switch c.kind {
	case chatUpdate:
		if !open {
			return sessionResult(&s, OutcomeRejected, ReasonInvalidState), nil
		}
		if r, err := w.price(&s, c.items); r != "" || err != nil {
			return rejected(r), err
		}
		if err := w.save(&s, &ChatChanges{}); err != nil {
			return Result{}, err
		}
		return sessionResult(&s, OutcomeOK, s.Reason), nil
	case chatCancel:
		if s.Status == SessionCompleted {
			return sessionResult(&s, OutcomeRejected, ReasonInvalidState), nil
		}
		s.Status, s.ConfirmationCode = SessionCanceled, ""
		if err := w.save(&s, &ChatChanges{}); err != nil {
			return Result{}, err
		}
		return sessionResult(&s, OutcomeOK, ""), nil
	case chatComplete:
		switch s.Status {
		case SessionCompleted:
			return sessionResult(&s, OutcomeApproved, ""), nil
		case SessionAuthRequired:
			return sessionResult(&s, OutcomeDeclined, ReasonConfirmationRequired), nil
		case SessionReady:
			return w.charge(&s, false)
		}
		return sessionResult(&s, OutcomeRejected, ReasonInvalidState), nil
	default: // chatConfirm
		if s.Status != SessionAuthRequired {
			return sessionResult(&s, OutcomeRejected, ReasonInvalidState), nil
		}
		// A code is good for a while only: one read off a screen or a
		// message later must not pay for anything.
		if w.b.now.Sub(s.UpdatedAt) > w.b.l.confirmTTL {
			s.Status, s.Reason, s.ConfirmationCode = SessionCanceled, ReasonConfirmationExpired, ""
			if err := w.save(&s, &ChatChanges{}); err != nil {
				return Result{}, err
			}
			return sessionResult(&s, OutcomeRejected, ReasonConfirmationExpired), nil
		}
		if subtle.ConstantTimeCompare([]byte(s.ConfirmationCode), []byte(strings.ToUpper(c.code))) != 1 {
			return sessionResult(&s, OutcomeRejected, ReasonBadConfirmation), nil
		}
		return w.charge(&s, true)
	}
}

// charge pays a session: it checks the mandate (unless the owner
// confirmed), the stock and the wallet, then debits the wallet, records
// the mandate use and takes the stock, all in this batch.
func (w *chatBatch) charge(s *CheckoutSession, confirmed bool) (Result, error) {
	b := w.b
	m, err := w.mandate(s.MandateID)
	if err != nil {
		return Result{}, err
	}
	if m == nil {
		return rejected(ReasonNotFound), nil
	}
	if r := w.unusable(m); r != "" {
		s.Status, s.Reason, s.ConfirmationCode = SessionCanceled, r, ""
		if err := w.save(s, &ChatChanges{}); err != nil {
			return Result{}, err
		}
		return sessionResult(s, OutcomeDeclined, r), nil
	}
	amount, status, code := s.Amount, s.Status, s.ConfirmationCode
	if r, err := w.price(s, requests(s.Items)); r != "" || err != nil {
		return rejected(r), err
	}
	switch {
	case s.Amount != amount:
		s.Reason = ReasonPriceChanged
		if err := w.save(s, &ChatChanges{}); err != nil {
			return Result{}, err
		}
		return sessionResult(s, OutcomeRejected, ReasonPriceChanged), nil
	case s.Status != SessionReady:
		if err := w.save(s, &ChatChanges{}); err != nil {
			return Result{}, err
		}
		return sessionResult(s, OutcomeDeclined, s.Reason), nil
	}
	if !confirmed {
		var since time.Time
		if m.Period > 0 {
			since = b.now.Add(-m.Period)
		}
		spent, err := w.tx.MandateSpent(w.ctx, m.ID, since)
		if err != nil {
			return Result{}, fmt.Errorf("summing uses of mandate %s: %w", m.ID, err)
		}
		var why string
		switch {
		case len(m.Merchants) > 0 && !slices.Contains(m.Merchants, s.MerchantID):
			why = ReasonMerchantNotAllowed
		case s.Amount > m.MaxPerPurchase:
			why = ReasonAboveMaxPerPurchase
		case spent+s.Amount > m.Budget:
			why = ReasonAboveBudget
		}
		if why != "" {
			s.Status, s.Reason, s.ConfirmationCode = SessionAuthRequired, why, b.l.approvalCode()
			if err := w.save(s, &ChatChanges{}); err != nil {
				return Result{}, err
			}
			return sessionResult(s, OutcomeDeclined, ReasonConfirmationRequired), nil
		}
	}
	wallet := b.accounts[s.WalletID]
	var decline string
	switch {
	case wallet == nil:
		return rejected(ReasonNotFound), nil
	case wallet.Currency != s.Currency:
		decline = ReasonCurrency
	case wallet.TxLimit > 0 && s.Amount > wallet.TxLimit:
		decline = ReasonLimit
	case wallet.Available() < s.Amount:
		decline = ReasonInsufficientFunds
	}
	if decline != "" {
		// A confirmed purchase keeps waiting for its owner, who may top
		// the wallet up and confirm again.
		s.Status, s.Reason = status, decline
		if status == SessionAuthRequired {
			s.ConfirmationCode = code
		}
		if err := w.save(s, &ChatChanges{}); err != nil {
			return Result{}, err
		}
		return sessionResult(s, OutcomeDeclined, decline), nil
	}
	a := Authorization{ID: b.l.newID("au"), Kind: AuthPurchase, Channel: ChannelChat, MerchantID: s.MerchantID,
		TerminalID: ChatTerminal, TxnID: s.ID, WalletID: wallet.ID, CredentialID: m.ID, ATC: -1,
		Amount: s.Amount, Currency: s.Currency, Status: StatusApproved, Captured: s.Amount,
		ApprovalCode: b.l.approvalCode(), CreatedAt: b.now, UpdatedAt: b.now}
	ch := &ChatChanges{Uses: []MandateUse{{ID: b.l.newID("mu"), MandateID: m.ID, SessionID: s.ID, AuthID: a.ID,
		Amount: s.Amount, Currency: s.Currency, Confirmed: confirmed, CreatedAt: b.now}}}
	stock, err := w.tx.CatalogItems(w.ctx, s.MerchantID, skus(s.Items))
	if err != nil {
		return Result{}, fmt.Errorf("loading catalog of merchant %s: %w", s.MerchantID, err)
	}
	for _, it := range stock {
		for _, li := range s.Items {
			if li.SKU == it.SKU {
				it.Stock -= li.Quantity
				ch.Stock = append(ch.Stock, it)
			}
		}
	}
	s.Status, s.Reason, s.ConfirmationCode, s.AuthorizationID = SessionCompleted, "", "", a.ID
	if err := w.save(s, ch); err != nil {
		return Result{}, err
	}
	settle := b.account(settlementAccount(a.MerchantID, a.Currency), KindSettlement, a.MerchantID, a.Currency)
	jid := b.post(AuthPurchase, &a, itemsMemo(s.Items),
		Entry{wallet.ID, -a.Amount, a.Currency}, Entry{settle.ID, a.Amount, a.Currency})
	b.newAuth(&a)
	res := sessionResult(s, OutcomeApproved, "")
	res.ApprovalCode, res.JournalID = a.ApprovalCode, jid
	return res, nil
}

func skus(items []LineItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.SKU
	}
	return out
}

// itemsMemo describes a basket for the wallet's history.
func itemsMemo(items []LineItem) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = fmt.Sprintf("%d x %s (%s)", it.Quantity, it.Name, it.SKU)
	}
	return strings.Join(parts, "; ")
}

func (w *chatBatch) grant() (Result, error) {
	m := w.c.mandate
	wallet := w.b.accounts[m.WalletID]
	if wallet == nil || wallet.Kind != KindWallet {
		return rejected(ReasonNotFound), nil
	}
	if old, err := w.mandate(m.ID); err != nil {
		return Result{}, err
	} else if old != nil {
		return rejected(ReasonDuplicateTxn), nil
	}
	m.Currency, m.CreatedAt, m.UpdatedAt = wallet.Currency, w.b.now, w.b.now
	if err := w.tx.ApplyChat(w.ctx, &ChatChanges{Mandates: []Mandate{m}}); err != nil {
		return Result{}, fmt.Errorf("writing mandate: %w", err)
	}
	return Result{Outcome: OutcomeOK, Status: m.Status, Amount: m.Budget, Currency: m.Currency}, nil
}

func (w *chatBatch) revoke() (Result, error) {
	m, err := w.mandate(w.c.mandateID)
	if err != nil {
		return Result{}, err
	}
	if m == nil || m.WalletID != w.c.walletID {
		return rejected(ReasonNotFound), nil
	}
	if m.Status != MandateRevoked {
		m.Status, m.UpdatedAt = MandateRevoked, w.b.now
		if err := w.tx.ApplyChat(w.ctx, &ChatChanges{Mandates: []Mandate{*m}}); err != nil {
			return Result{}, fmt.Errorf("writing mandate: %w", err)
		}
	}
	return Result{Outcome: OutcomeOK, Status: m.Status}, nil
}
