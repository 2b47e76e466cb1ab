package ledger

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"tappos/emv/tags"
)

// AuthorizeRequest is a terminal's (or a checkout's) request for money.
type AuthorizeRequest struct {
	Kind       string // AuthPurchase (default), AuthPreauth or AuthOffline
	Channel    string // ChannelInStore (default) or ChannelChat
	MerchantID string
	TerminalID string
	TxnID      string // the terminal's transaction id
	Amount     int64
	Currency   string // ISO 4217 alphabetic
	EMV        []byte // BER-TLV from the card and terminal
}

func checkID(name, v string) error {
	if v == "" || len(v) > 64 {
		return fmt.Errorf("%w: %s must be 1 to 64 characters", ErrInvalid, name)
	}
	return nil
}

func checkMoney(amount int64, currency string) (Currency, error) {
	if amount <= 0 || amount > MaxAmount {
		return Currency{}, fmt.Errorf("%w: amount must be between 1 and %d minor units", ErrInvalid, int64(MaxAmount))
	}
	c, ok := CurrencyByAlpha(currency)
	if !ok {
		return Currency{}, fmt.Errorf("%w: unknown currency %q", ErrInvalid, currency)
	}
	return c, nil
}

// Authorize verifies a card's cryptogram and posts the payment, or
// declines it with a reason. Errors are for requests that cannot be
// answered at all (malformed, a reused idempotency key).
func (l *Ledger) Authorize(ctx context.Context, idem *Idempotency, r AuthorizeRequest) (Result, error) {
	if r.Kind == "" {
		r.Kind = AuthPurchase
	}
	if r.Channel == "" {
		r.Channel = ChannelInStore
	}
	if r.Kind != AuthPurchase && r.Kind != AuthPreauth && r.Kind != AuthOffline {
		return Result{}, fmt.Errorf("%w: unknown kind %q", ErrInvalid, r.Kind)
	}
	if r.Channel != ChannelInStore && r.Channel != ChannelChat {
		return Result{}, fmt.Errorf("%w: unknown channel %q", ErrInvalid, r.Channel)
	}
	for _, f := range []struct{ name, v string }{{"merchant_id", r.MerchantID}, {"terminal_id", r.TerminalID}, {"terminal_txn_id", r.TxnID}} {
		if err := checkID(f.name, f.v); err != nil {
			return Result{}, err
		}
	}
	cur, err := checkMoney(r.Amount, r.Currency)
	if err != nil {
		return Result{}, err
	}
	d, err := parseCardData(r.EMV)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if d.amount != r.Amount || d.curr != cur.Numeric {
		return Result{}, fmt.Errorf("%w: amount or currency differ from the EMV data (9F02, 5F2A)", ErrInvalid)
	}
	want := byte(cidARQC)
	if r.Kind == AuthOffline {
		want = cidTC
	}
	if d.cid != want {
		return Result{}, fmt.Errorf("%w: cryptogram type %02X does not fit a %s", ErrInvalid, d.cid, r.Kind)
	}
	o := &op{kind: opAuthorize, idem: idem, auth: Authorization{
		Kind: r.Kind, Channel: r.Channel, MerchantID: r.MerchantID, TerminalID: r.TerminalID,
		TxnID: r.TxnID, MaskedPAN: tags.MaskPAN(d.pan), ATC: d.atc, Amount: r.Amount, Currency: r.Currency,
	}}
	// The cryptogram is checked here, in the caller's goroutine, so that
	// the single writer only does bookkeeping.
	key, ok := issuerFor(l.issuers, d.pan)
	if !ok {
		o.decline = ReasonUnknownCard
		return l.submit(ctx, o)
	}
	arpc, err := l.crypto.VerifyAC(key.Scheme, key.mk, d.pan, d.psn, d.get)
	if err != nil {
		o.decline = ReasonBadCryptogram
		return l.submit(ctx, o)
	}
	o.token = l.tok.Token(CredentialCard, d.pan)
	res, err := l.submit(ctx, o)
	if err != nil || res.ARC == "" || r.Kind == AuthOffline {
		return res, err
	}
	// The ARPC is not stored with the result: it is made again for a
	// replay, from the same request, to the same value.
	arc, err := hex.DecodeString(res.ARC)
	if err != nil || len(arc) != 2 {
		return Result{}, fmt.Errorf("stored ARC %q is not 2 bytes of hex", res.ARC)
	}
	p, err := arpc([2]byte{arc[0], arc[1]})
	if err != nil {
		return Result{}, fmt.Errorf("making ARPC: %w", err)
	}
	res.ARPC = hex.EncodeToString(p)
	return res, nil
}

// Capture takes up to the held amount of a pre-authorization (all of it
// if amount is 0). merchant is the acting merchant, "" for an admin.
func (l *Ledger) Capture(ctx context.Context, idem *Idempotency, merchant, authID string, amount int64) (Result, error) {
	if err := checkID("authorization_id", authID); err != nil {
		return Result{}, err
	}
	if amount < 0 || amount > MaxAmount {
		return Result{}, fmt.Errorf("%w: bad amount", ErrInvalid)
	}
	return l.submit(ctx, &op{kind: opCapture, idem: idem, merchant: merchant, authID: authID, amount: amount})
}

// Void undoes an authorization before settlement: it releases a hold or
// posts the reverse of a purchase.
func (l *Ledger) Void(ctx context.Context, idem *Idempotency, merchant, authID string) (Result, error) {
	if err := checkID("authorization_id", authID); err != nil {
		return Result{}, err
	}
	return l.submit(ctx, &op{kind: opVoid, idem: idem, merchant: merchant, authID: authID})
}

// Reverse undoes a terminal's transaction by its id, typically after the
// terminal timed out waiting for the answer. A transaction not seen yet
// is refused if it arrives later.
func (l *Ledger) Reverse(ctx context.Context, idem *Idempotency, merchant, terminal, txnID string) (Result, error) {
	if err := checkID("terminal_id", terminal); err != nil {
		return Result{}, err
	}
	if err := checkID("terminal_txn_id", txnID); err != nil {
		return Result{}, err
	}
	return l.submit(ctx, &op{kind: opReverse, idem: idem, merchant: merchant, txn: TxnRef{terminal, txnID}})
}

// Refund gives back part or all of a posted payment.
func (l *Ledger) Refund(ctx context.Context, idem *Idempotency, merchant, authID string, amount int64) (Result, error) {
	if err := checkID("authorization_id", authID); err != nil {
		return Result{}, err
	}
	if amount <= 0 || amount > MaxAmount {
		return Result{}, fmt.Errorf("%w: bad amount", ErrInvalid)
	}
	return l.submit(ctx, &op{kind: opRefund, idem: idem, merchant: merchant, authID: authID, amount: amount})
}

// Deposit tops a wallet up from the funding account.
func (l *Ledger) Deposit(ctx context.Context, idem *Idempotency, walletID string, amount int64, currency, memo string) (Result, error) {
	if err := checkID("wallet_id", walletID); err != nil {
		return Result{}, err
	}
	if _, err := checkMoney(amount, currency); err != nil {
		return Result{}, err
	}
	return l.submit(ctx, &op{kind: opDeposit, idem: idem, walletID: walletID, amount: amount, currency: currency, memo: memo})
}

// A BatchRequest closes a terminal's batch, or with DryRun only lists
// the ledger's side of it.
type BatchRequest struct {
	TerminalID string
	// Currency is the batch's currency; a dry run without one lists
	// every currency.
	Currency string
	// Count and Amount are the terminal's own totals: its payments and
	// their amount net of refunds.
	Count  int
	Amount int64
	// Keys are the keys of the terminal's items (see [BatchItem]). The
	// ledger answers for them whatever their state, so that a voided,
	// reversed or already settled payment shows up against the
	// terminal's record.
	Keys []string
	// DryRun lists the ledger's items and totals and settles nothing.
	DryRun bool
	// Force settles even when the totals differ (the manager's call).
	Force bool
}

// maxBatchKeys bounds BatchRequest.Keys.
const maxBatchKeys = 10_000

// CloseBatch settles a terminal's batch in a currency: its approved and
// captured payments not settled yet get a batch id, after which they can
// no longer be voided, only refunded. merchant is the acting merchant,
// whose payments alone the batch holds; "" (an admin) closes every
// merchant's on the terminal, but for [ChatTerminal], where each
// merchant's chat sales are a batch of their own. The result carries the
// ledger's items and their totals (payments, and their amount net of
// refunds). When the ledger's count or net amount differs from
// the terminal's, the close is rejected with totals_mismatch and nothing
// is settled, unless r.Force: then the batch is settled and the result
// keeps the reason as a flag. A dry run settles nothing and is not
// recorded under idem.
func (l *Ledger) CloseBatch(ctx context.Context, idem *Idempotency, merchant string, r BatchRequest) (Result, error) {
	if err := checkID("terminal_id", r.TerminalID); err != nil {
		return Result{}, err
	}
	if r.TerminalID == ChatTerminal && merchant == "" {
		return Result{}, fmt.Errorf("%w: the chat batch is closed merchant by merchant: name the merchant", ErrInvalid)
	}
	if _, ok := CurrencyByAlpha(r.Currency); !ok && (r.Currency != "" || !r.DryRun) {
		return Result{}, fmt.Errorf("%w: unknown currency %q", ErrInvalid, r.Currency)
	}
	if r.Count < 0 || r.Amount < -MaxAmount || r.Amount > MaxAmount {
		return Result{}, fmt.Errorf("%w: bad totals", ErrInvalid)
	}
	if len(r.Keys) > maxBatchKeys {
		return Result{}, fmt.Errorf("%w: more than %d keys", ErrInvalid, maxBatchKeys)
	}
	for _, k := range r.Keys {
		if err := checkID("keys", strings.TrimSuffix(k, refundsSuffix)); err != nil {
			return Result{}, err
		}
	}
	if r.DryRun {
		idem = nil
	}
	return l.submit(ctx, &op{kind: opSettle, idem: idem, merchant: merchant, txn: TxnRef{TerminalID: r.TerminalID}, batch: &r})
}

// ExpireHolds releases the holds that ran out, and returns how many.
func (l *Ledger) ExpireHolds(ctx context.Context) (int, error) {
	ids, err := l.store.ExpiredHolds(ctx, l.now(), 1000)
	if err != nil {
		return 0, fmt.Errorf("listing expired holds: %w", err)
	}
	n := 0
	for _, id := range ids {
		r, err := l.submit(ctx, &op{kind: opExpire, authID: id})
		if err != nil {
			return n, fmt.Errorf("expiring hold %s: %w", id, err)
		}
		if r.Outcome == OutcomeOK {
			n++
		}
	}
	return n, nil
}

// PurgeIdempotency forgets idempotency keys older than keep.
func (l *Ledger) PurgeIdempotency(ctx context.Context, keep time.Duration) (int64, error) {
	return l.store.PurgeIdempotency(ctx, l.now().Add(-keep))
}

// Verify checks every invariant of the books.
func (l *Ledger) Verify(ctx context.Context) ([]Violation, error) {
	return l.store.Verify(ctx)
}

// CreateMerchant adds a merchant.
func (l *Ledger) CreateMerchant(ctx context.Context, name string) (Merchant, error) {
	m := Merchant{ID: l.newID("m"), Name: name, CreatedAt: l.now()}
	err := l.store.Write(ctx, func(tx Tx) error { return tx.CreateMerchant(ctx, m) })
	if err != nil {
		return Merchant{}, fmt.Errorf("creating merchant: %w", err)
	}
	return m, nil
}

// CreateTerminal adds a terminal to a merchant.
func (l *Ledger) CreateTerminal(ctx context.Context, merchantID, name string) (Terminal, error) {
	t := Terminal{ID: l.newID("t"), MerchantID: merchantID, Name: name, CreatedAt: l.now()}
	err := l.store.Write(ctx, func(tx Tx) error { return tx.CreateTerminal(ctx, t) })
	if err != nil {
		return Terminal{}, fmt.Errorf("creating terminal: %w", err)
	}
	return t, nil
}

// CreateWallet opens an empty wallet in a currency. txLimit, if positive,
// caps single payments.
func (l *Ledger) CreateWallet(ctx context.Context, owner, currency string, txLimit int64) (Account, error) {
	if _, ok := CurrencyByAlpha(currency); !ok {
		return Account{}, fmt.Errorf("%w: unknown currency %q", ErrInvalid, currency)
	}
	var zero int64
	a := Account{ID: l.newID("w"), Kind: KindWallet, Currency: currency, Owner: owner,
		Floor: &zero, TxLimit: txLimit, CreatedAt: l.now()}
	err := l.store.Write(ctx, func(tx Tx) error { return tx.Apply(ctx, &Changes{NewAccounts: []Account{a}}) })
	if err != nil {
		return Account{}, fmt.Errorf("creating wallet: %w", err)
	}
	return a, nil
}

// LinkCard adds a card to a wallet. Only its token and masked PAN are
// stored.
func (l *Ledger) LinkCard(ctx context.Context, walletID, pan string) (Credential, error) {
	if len(pan) < 12 || len(pan) > 19 {
		return Credential{}, fmt.Errorf("%w: PAN must have 12 to 19 digits", ErrInvalid)
	}
	for _, c := range pan {
		if c < '0' || c > '9' {
			return Credential{}, fmt.Errorf("%w: PAN must have 12 to 19 digits", ErrInvalid)
		}
	}
	return l.link(ctx, walletID, CredentialCard, l.tok.Token(CredentialCard, pan), tags.MaskPAN(pan))
}

// LinkPhone adds a phone or device credential to a wallet.
func (l *Ledger) LinkPhone(ctx context.Context, walletID, kind, value string) (Credential, error) {
	if kind != CredentialPhone && kind != CredentialDevice {
		return Credential{}, fmt.Errorf("%w: unknown credential kind %q", ErrInvalid, kind)
	}
	return l.link(ctx, walletID, kind, l.tok.Token(kind, value), "")
}

func (l *Ledger) link(ctx context.Context, walletID, kind, token, display string) (Credential, error) {
	c := Credential{ID: l.newID("cr"), WalletID: walletID, Kind: kind, Token: token, Display: display,
		LastATC: -1, Status: "active", CreatedAt: l.now()}
	err := l.store.Write(ctx, func(tx Tx) error { return tx.CreateCredential(ctx, c) })
	if err != nil {
		return Credential{}, fmt.Errorf("linking %s credential to wallet %s: %w", kind, walletID, err)
	}
	return c, nil
}

// CreateAPIKey makes a key for a role and returns it with its secret, the
// only time the secret is seen: the store keeps its hash.
func (l *Ledger) CreateAPIKey(ctx context.Context, role, merchantID, terminalID string) (APIKey, string, error) {
	switch {
	case role == RoleTerminal && (merchantID == "" || terminalID == ""):
		return APIKey{}, "", fmt.Errorf("%w: a terminal key needs a merchant and a terminal", ErrInvalid)
	case role == RoleManager && merchantID == "":
		return APIKey{}, "", fmt.Errorf("%w: a manager key needs a merchant", ErrInvalid)
	case role != RoleTerminal && role != RoleManager && role != RoleAdmin && role != RoleAgent:
		return APIKey{}, "", fmt.Errorf("%w: unknown role %q", ErrInvalid, role)
	}
	if role == RoleTerminal {
		// The API trusts a terminal key's pair: a key naming another
		// merchant's terminal would book on it and close its batches.
		t, err := l.store.Terminal(ctx, terminalID)
		switch {
		case errors.Is(err, ErrNotFound):
			return APIKey{}, "", fmt.Errorf("%w: no terminal %s", ErrInvalid, terminalID)
		case err != nil:
			return APIKey{}, "", fmt.Errorf("reading terminal %s: %w", terminalID, err)
		case t.MerchantID != merchantID:
			return APIKey{}, "", fmt.Errorf("%w: terminal %s is not merchant %s's", ErrInvalid, terminalID, merchantID)
		}
	}
	var b [32]byte
	l.random(b[:])
	secret := "tpk_" + base64.RawURLEncoding.EncodeToString(b[:])
	k := APIKey{ID: l.newID("key"), Hash: HashKey([]byte(secret)), Role: role,
		MerchantID: merchantID, TerminalID: terminalID, CreatedAt: l.now()}
	err := l.store.Write(ctx, func(tx Tx) error { return tx.CreateAPIKey(ctx, k) })
	if err != nil {
		return APIKey{}, "", fmt.Errorf("creating %s key: %w", role, err)
	}
	return k, secret, nil
}

// RevokeAPIKeys revokes an API key by its id, or every key of a
// terminal (a stolen till) when id is empty, and returns how many it
// revoked. Servers stop trusting a revoked key within their key cache's
// lifetime (30 seconds).
func (l *Ledger) RevokeAPIKeys(ctx context.Context, id, terminalID string) (int64, error) {
	if (id == "") == (terminalID == "") {
		return 0, fmt.Errorf("%w: name a key or a terminal", ErrInvalid)
	}
	var n int64
	err := l.store.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.RevokeAPIKeys(ctx, id, terminalID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoking keys: %w", err)
	}
	return n, nil
}

// IsRequestError reports whether err is the caller's fault.
func IsRequestError(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrKeyReused) || errors.Is(err, ErrInFlight)
}
