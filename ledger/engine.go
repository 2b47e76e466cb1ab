package ledger

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// opKind is what a queued request does.
type opKind int

const (
	opAuthorize opKind = iota
	opCapture
	opVoid
	opRefund
	opReverse
	opDeposit
	opExpire
	opSettle
	opChat // chat checkout: sessions and mandates (chat_engine.go)
)

// An op is one request waiting for the writer.
type op struct {
	kind opKind
	idem *Idempotency

	auth    Authorization // opAuthorize: the request's fields
	token   string        // opAuthorize: the card token
	decline string        // opAuthorize: reason found before the batch

	authID   string // capture, void, refund, expire
	txn      TxnRef // reverse
	merchant string // capture, void, refund, reverse: the acting merchant, "" for admin
	amount   int64  // capture, refund, deposit
	walletID string // deposit
	currency string // deposit
	memo     string // deposit
	batch    *BatchRequest
	chat     *chatOp

	done chan opResult
}

type opResult struct {
	res Result
	err error
}

// Idempotency identifies a request for exactly-once processing: its key,
// and a hash of its content to tell a replay from a reused key.
type Idempotency struct {
	IdemKey
	Hash string
}

// Authorization response codes for the card (tag 8A), in ASCII.
const (
	arcApproved     = "00"
	arcInsufficient = "51"
	arcDeclined     = "05" // do not honour
)

// The ledger's own accounts ("house accounts"), by the prefixes of
// their ids; wallet ids have no colon.
const (
	settlePrefix     = "settle:"
	receivablePrefix = "offline_receivable:"
	fundingPrefix    = "funding:"
)

func settlementAccount(merchant, currency string) string {
	return settlePrefix + merchant + ":" + currency
}
func receivableAccount(currency string) string { return receivablePrefix + currency }
func fundingAccount(currency string) string    { return fundingPrefix + currency }

// isHouseAccount tells house accounts from wallets. No decision reads a
// house account's balance, so a batch neither locks them when it loads
// nor writes their balances back: it adds its entries to them at the end
// (Changes.Deltas). Every purchase credits its merchant's settlement
// account, and locking it for whole transactions would queue concurrent
// writers (several ledgerd on one PostgreSQL) behind each other.
func isHouseAccount(id string) bool {
	for _, p := range [...]string{settlePrefix, receivablePrefix, fundingPrefix} {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// batch applies a group of ops inside one store transaction.
type batch struct {
	l   *Ledger
	tx  Tx
	now time.Time

	idem       map[IdemKey]IdemRecord
	creds      map[string]*Credential // by token
	auths      map[string]*Authorization
	authsByTxn map[TxnRef]*Authorization
	atcUsed    map[string]bool
	accounts   map[string]*Account
	houseBase  map[string]int64 // loaded house accounts' balances

	newAccounts map[string]bool
	newAuths    map[string]bool
	dirtyAccts  map[string]bool
	dirtyCreds  map[string]bool
	dirtyAuths  map[string]bool
	ch          Changes
}

// load reads and locks everything the ops may touch.
func (b *batch) load(ctx context.Context, ops []*op) error {
	var keys []IdemKey
	var tokens []string
	var q AuthQuery
	for _, o := range ops {
		if o.idem != nil {
			keys = append(keys, o.idem.IdemKey)
		}
		switch o.kind {
		case opAuthorize:
			if o.token != "" {
				tokens = append(tokens, o.token)
			}
			q.Txns = append(q.Txns, TxnRef{o.auth.TerminalID, o.auth.TxnID})
		case opReverse:
			q.Txns = append(q.Txns, o.txn)
		case opCapture, opVoid, opRefund, opExpire:
			q.IDs = append(q.IDs, o.authID)
		case opSettle:
			q.Unsettled = append(q.Unsettled, BatchScope{o.txn.TerminalID, o.merchant})
			for _, k := range o.batch.Keys {
				q.Txns = append(q.Txns, TxnRef{o.txn.TerminalID, strings.TrimSuffix(k, refundsSuffix)})
			}
		}
	}
	recs, err := b.tx.Idempotency(ctx, uniq(keys, func(a, b IdemKey) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Key, b.Key))
	}))
	if err != nil {
		return fmt.Errorf("loading idempotency keys: %w", err)
	}
	for _, r := range recs {
		b.idem[r.IdemKey] = r
	}
	creds, err := b.tx.Credentials(ctx, uniq(tokens, cmp.Compare))
	if err != nil {
		return fmt.Errorf("loading credentials: %w", err)
	}
	for i := range creds {
		c := creds[i]
		b.creds[c.Token] = &c
	}
	for _, o := range ops {
		if o.kind == opAuthorize && o.auth.Kind == AuthOffline {
			if c := b.creds[o.token]; c != nil {
				q.ATCKeys = append(q.ATCKeys, Authorization{CredentialID: c.ID, ATC: o.auth.ATC}.ATCKey())
			}
		}
	}
	q.IDs = uniq(q.IDs, cmp.Compare)
	q.ATCKeys = uniq(q.ATCKeys, cmp.Compare)
	q.Unsettled = uniq(q.Unsettled, func(a, b BatchScope) int {
		return cmp.Or(cmp.Compare(a.TerminalID, b.TerminalID), cmp.Compare(a.MerchantID, b.MerchantID))
	})
	q.Txns = uniq(q.Txns, func(a, b TxnRef) int {
		return cmp.Or(cmp.Compare(a.TerminalID, b.TerminalID), cmp.Compare(a.TxnID, b.TxnID))
	})
	auths, err := b.tx.Authorizations(ctx, q)
	if err != nil {
		return fmt.Errorf("loading authorizations: %w", err)
	}
	for i := range auths {
		b.addAuth(&auths[i])
	}
	var ids []string
	for _, c := range b.creds {
		ids = append(ids, c.WalletID)
	}
	for _, a := range b.auths {
		if a.WalletID != "" {
			ids = append(ids, a.WalletID, settlementAccount(a.MerchantID, a.Currency))
		}
		if a.Overdraft > 0 {
			ids = append(ids, receivableAccount(a.Currency))
		}
	}
	for _, o := range ops {
		switch o.kind {
		case opAuthorize:
			ids = append(ids, settlementAccount(o.auth.MerchantID, o.auth.Currency))
			if o.auth.Kind == AuthOffline {
				ids = append(ids, receivableAccount(o.auth.Currency))
			}
		case opDeposit:
			ids = append(ids, o.walletID, fundingAccount(o.currency))
		case opChat:
			ids = append(ids, o.chat.accounts...)
		}
	}
	var locked, house []string
	for _, id := range uniq(ids, cmp.Compare) {
		if isHouseAccount(id) {
			house = append(house, id)
		} else {
			locked = append(locked, id)
		}
	}
	accts, err := b.tx.Accounts(ctx, locked)
	if err != nil {
		return fmt.Errorf("loading accounts: %w", err)
	}
	houseAccts, err := b.tx.HouseAccounts(ctx, house)
	if err != nil {
		return fmt.Errorf("loading house accounts: %w", err)
	}
	for i := range accts {
		b.accounts[accts[i].ID] = &accts[i]
	}
	for i := range houseAccts {
		a := &houseAccts[i]
		b.accounts[a.ID] = a
		b.houseBase[a.ID] = a.Balance
	}
	return nil
}

func (b *batch) addAuth(a *Authorization) {
	b.auths[a.ID] = a
	b.authsByTxn[TxnRef{a.TerminalID, a.TxnID}] = a
	if k := a.ATCKey(); k != "" {
		b.atcUsed[k] = true
	}
}

// uniq sorts s and removes duplicates; sorted order is also lock order.
func uniq[T any](s []T, c func(a, b T) int) []T {
	slices.SortFunc(s, c)
	return slices.CompactFunc(s, func(a, b T) bool { return c(a, b) == 0 })
}

// apply runs one op against the batch's state.
func (b *batch) apply(o *op) (Result, error) {
	if o.idem != nil {
		if r, ok := b.idem[o.idem.IdemKey]; ok {
			if r.Hash != o.idem.Hash {
				return Result{}, ErrKeyReused
			}
			res := r.Result
			res.Replayed = true
			return res, nil
		}
	}
	var res Result
	switch o.kind {
	case opAuthorize:
		res = b.authorize(o)
	case opCapture:
		res = b.capture(o)
	case opVoid:
		res = b.void(o, StatusVoided)
	case opReverse:
		res = b.reverse(o)
	case opRefund:
		res = b.refund(o)
	case opDeposit:
		res = b.deposit(o)
	case opExpire:
		res = b.expire(o)
	case opSettle:
		res = b.settle(o)
	case opChat:
		var err error
		if res, err = b.chat(o.chat); err != nil {
			return Result{}, err
		}
	}
	// A refused batch close changed nothing: it is not recorded, so that
	// the terminal may close again under the same key once it has fixed
	// the differences.
	if o.idem != nil && !(o.kind == opSettle && res.Outcome == OutcomeRejected) {
		rec := IdemRecord{IdemKey: o.idem.IdemKey, Hash: o.idem.Hash, Result: res, CreatedAt: b.now}
		b.idem[o.idem.IdemKey] = rec
		b.ch.Idempotency = append(b.ch.Idempotency, rec)
	}
	return res, nil
}

func rejected(reason string) Result { return Result{Outcome: OutcomeRejected, Reason: reason} }

// account returns an account of the batch, creating the ledger's own
// accounts on first use.
func (b *batch) account(id, kind, owner, currency string) *Account {
	if a := b.accounts[id]; a != nil {
		return a
	}
	a := &Account{ID: id, Kind: kind, Owner: owner, Currency: currency, CreatedAt: b.now}
	b.accounts[id] = a
	b.newAccounts[id] = true
	return a
}

// post adds a journal and moves the balances of its accounts.
func (b *batch) post(kind string, a *Authorization, memo string, entries ...Entry) string {
	j := Journal{ID: b.l.newID("jr"), Kind: kind, Memo: memo, CreatedAt: b.now}
	if a != nil {
		j.AuthID, j.MerchantID, j.Channel = a.ID, a.MerchantID, a.Channel
	}
	for _, e := range entries {
		if e.Amount == 0 {
			continue
		}
		j.Entries = append(j.Entries, e)
		b.accounts[e.AccountID].Balance += e.Amount
		b.dirtyAccts[e.AccountID] = true
	}
	b.ch.Journals = append(b.ch.Journals, j)
	return j.ID
}

func (b *batch) touch(a *Authorization) {
	a.UpdatedAt = b.now
	if !b.newAuths[a.ID] {
		b.dirtyAuths[a.ID] = true
	}
}

func (b *batch) authorize(o *op) Result {
	a := o.auth
	a.ID = b.l.newID("au")
	a.CreatedAt, a.UpdatedAt = b.now, b.now
	if b.authsByTxn[TxnRef{a.TerminalID, a.TxnID}] != nil {
		return rejected(ReasonDuplicateTxn)
	}
	reason := o.decline
	var cred *Credential
	var w *Account
	if reason == "" {
		cred = b.creds[o.token]
		if cred != nil {
			w = b.accounts[cred.WalletID]
		}
		if w == nil {
			reason = ReasonUnknownCard
		}
	}
	if cred != nil {
		a.CredentialID, a.WalletID = cred.ID, cred.WalletID
	}
	switch {
	case reason != "":
	case cred.Status != "active":
		reason = ReasonCardBlocked
	case w.Currency != a.Currency:
		reason = ReasonCurrency
	case a.Kind == AuthOffline && b.atcUsed[a.ATCKey()]:
		reason = ReasonReplay
	case a.Kind != AuthOffline && a.ATC <= cred.LastATC:
		reason = ReasonReplay
	}
	if reason == "" && a.ATC > cred.LastATC {
		// A genuine, fresh cryptogram consumes its counter value
		// whatever happens next.
		cred.LastATC = a.ATC
		b.dirtyCreds[cred.Token] = true
	}
	if reason == "" && a.Kind != AuthOffline {
		switch {
		case w.TxLimit > 0 && a.Amount > w.TxLimit:
			reason = ReasonLimit
		case w.Available() < a.Amount:
			reason = ReasonInsufficientFunds
		}
	}
	res := Result{AuthorizationID: a.ID, Amount: a.Amount, Currency: a.Currency, MaskedPAN: a.MaskedPAN}
	if reason != "" {
		a.Status, a.Reason = StatusDeclined, reason
		res.Outcome, res.Reason, res.Status = OutcomeDeclined, reason, StatusDeclined
		arc := arcDeclined
		if reason == ReasonInsufficientFunds {
			arc = arcInsufficient
		}
		res.ARC = hex.EncodeToString([]byte(arc))
		b.newAuth(&a)
		return res
	}
	settle := b.account(settlementAccount(a.MerchantID, a.Currency), KindSettlement, a.MerchantID, a.Currency)
	switch a.Kind {
	case AuthPurchase:
		a.Status, a.Captured = StatusApproved, a.Amount
		res.JournalID = b.post(AuthPurchase, &a, "",
			Entry{w.ID, -a.Amount, a.Currency}, Entry{settle.ID, a.Amount, a.Currency})
	case AuthPreauth:
		a.Status, a.Held, a.ExpiresAt = StatusHeld, a.Amount, b.now.Add(b.l.holdTTL)
		w.Held += a.Amount
		b.dirtyAccts[w.ID] = true
	case AuthOffline:
		paid := min(a.Amount, max(0, w.Available()))
		short := a.Amount - paid
		recv := b.account(receivableAccount(a.Currency), KindOfflineReceivable, "", a.Currency)
		a.Status, a.Captured, a.Overdraft = StatusApproved, a.Amount, short
		res.JournalID = b.post(AuthOffline, &a, "",
			Entry{w.ID, -paid, a.Currency}, Entry{recv.ID, -short, a.Currency},
			Entry{settle.ID, a.Amount, a.Currency})
		if short > 0 {
			a.Reason, res.Reason, res.Overdraft = ReasonOverdraft, ReasonOverdraft, short
			b.ch.Overdrafts = append(b.ch.Overdrafts, Overdraft{ID: b.l.newID("od"), AuthID: a.ID,
				WalletID: w.ID, Amount: short, Currency: a.Currency, Status: "open", CreatedAt: b.now})
		}
	}
	a.ApprovalCode = b.l.approvalCode()
	res.Outcome, res.Status, res.ApprovalCode = OutcomeApproved, a.Status, a.ApprovalCode
	res.ARC = hex.EncodeToString([]byte(arcApproved))
	b.newAuth(&a)
	return res
}

func (b *batch) newAuth(a *Authorization) {
	b.newAuths[a.ID] = true
	b.addAuth(a)
}

// target returns the authorization an op acts on, if the merchant may.
func (b *batch) target(o *op) *Authorization {
	a := b.auths[o.authID]
	if a == nil || (o.merchant != "" && a.MerchantID != o.merchant) {
		return nil
	}
	return a
}

func authResult(a *Authorization) Result {
	return Result{Outcome: OutcomeOK, AuthorizationID: a.ID, Status: a.Status, Amount: a.Amount, Currency: a.Currency}
}

func (b *batch) capture(o *op) Result {
	a := b.target(o)
	switch {
	case a == nil:
		return rejected(ReasonNotFound)
	case a.Status != StatusHeld || !b.now.Before(a.ExpiresAt):
		return rejected(ReasonInvalidState)
	}
	amount := o.amount
	if amount == 0 {
		amount = a.Held
	}
	if amount > a.Held {
		return rejected(ReasonAmountTooLarge)
	}
	w := b.accounts[a.WalletID]
	w.Held -= a.Held
	settle := b.account(settlementAccount(a.MerchantID, a.Currency), KindSettlement, a.MerchantID, a.Currency)
	jid := b.post("capture", a, "", Entry{w.ID, -amount, a.Currency}, Entry{settle.ID, amount, a.Currency})
	b.dirtyAccts[w.ID] = true
	a.Held, a.Captured, a.Status = 0, amount, StatusCaptured
	b.touch(a)
	res := authResult(a)
	res.JournalID, res.Amount = jid, amount
	return res
}

// void undoes an authorization before settlement, ending in status.
func (b *batch) void(o *op, status string) Result {
	a := b.target(o)
	if a == nil {
		return rejected(ReasonNotFound)
	}
	return b.undo(a, status)
}

func (b *batch) undo(a *Authorization, status string) Result {
	var jid string
	switch {
	case a.Status == StatusHeld:
		w := b.accounts[a.WalletID]
		w.Held -= a.Held
		b.dirtyAccts[w.ID] = true
		a.Held = 0
	case a.Status != StatusApproved && a.Status != StatusCaptured, a.Kind == AuthOffline, a.Refunded > 0:
		// Offline bookings and refunded payments are corrected by refunds.
		return rejected(ReasonInvalidState)
	case a.BatchID != "":
		return rejected(ReasonSettled)
	default:
		settle := settlementAccount(a.MerchantID, a.Currency)
		jid = b.post("void", a, "", Entry{settle, -a.Captured, a.Currency}, Entry{a.WalletID, a.Captured, a.Currency})
	}
	a.Status = status
	b.touch(a)
	res := authResult(a)
	res.JournalID = jid
	return res
}

func (b *batch) reverse(o *op) Result {
	a := b.authsByTxn[o.txn]
	if a == nil {
		// The authorization never arrived (or is still on its way): leave
		// a tombstone so that it is refused if it comes.
		t := Authorization{ID: b.l.newID("au"), Kind: AuthPurchase, Channel: ChannelInStore,
			MerchantID: o.merchant, TerminalID: o.txn.TerminalID, TxnID: o.txn.TxnID, ATC: -1,
			Status: StatusReversed, CreatedAt: b.now, UpdatedAt: b.now}
		b.newAuth(&t)
		return authResult(&t)
	}
	if o.merchant != "" && a.MerchantID != o.merchant {
		return rejected(ReasonNotFound)
	}
	switch a.Status {
	case StatusDeclined, StatusReversed, StatusVoided, StatusExpired:
		return authResult(a)
	}
	return b.undo(a, StatusReversed)
}

func (b *batch) refund(o *op) Result {
	a := b.target(o)
	switch {
	case a == nil:
		return rejected(ReasonNotFound)
	case a.Status != StatusApproved && a.Status != StatusCaptured:
		return rejected(ReasonInvalidState)
	case o.amount <= 0 || o.amount > a.Captured-a.Refunded:
		return rejected(ReasonAmountTooLarge)
	}
	// The shortfall of an overdraft, less what earlier refunds took back,
	// goes back to the offline receivable first: the wallet gets back
	// what it paid, not money it never had.
	recovered := min(a.Refunded+o.amount, a.Overdraft) - min(a.Refunded, a.Overdraft)
	settle := settlementAccount(a.MerchantID, a.Currency)
	jid := b.post("refund", a, "", Entry{settle, -o.amount, a.Currency},
		Entry{receivableAccount(a.Currency), recovered, a.Currency}, Entry{a.WalletID, o.amount - recovered, a.Currency})
	if recovered > 0 {
		b.ch.Recoveries = append(b.ch.Recoveries, Recovery{AuthID: a.ID, Amount: recovered})
	}
	a.Refunded += o.amount
	b.touch(a)
	res := authResult(a)
	res.JournalID, res.Amount = jid, o.amount
	return res
}

func (b *batch) deposit(o *op) Result {
	w := b.accounts[o.walletID]
	switch {
	case w == nil || w.Kind != KindWallet:
		return rejected(ReasonNotFound)
	case w.Currency != o.currency:
		return rejected(ReasonCurrency)
	}
	fund := b.account(fundingAccount(o.currency), KindFunding, "", o.currency)
	jid := b.post("deposit", nil, o.memo, Entry{fund.ID, -o.amount, o.currency}, Entry{w.ID, o.amount, o.currency})
	bal := w.Balance
	return Result{Outcome: OutcomeOK, JournalID: jid, Amount: o.amount, Currency: o.currency, Balance: &bal}
}

func (b *batch) expire(o *op) Result {
	a := b.target(o)
	if a == nil || a.Status != StatusHeld || b.now.Before(a.ExpiresAt) {
		return rejected(ReasonInvalidState)
	}
	return b.undo(a, StatusExpired)
}

// changes collects the batch's writes in a deterministic order.
func (b *batch) changes() *Changes {
	ch := &b.ch
	for _, id := range sortedKeys(b.newAccounts) {
		ch.NewAccounts = append(ch.NewAccounts, *b.accounts[id])
	}
	for _, id := range sortedKeys(b.dirtyAccts) {
		switch base, house := b.houseBase[id]; {
		case b.newAccounts[id]:
		case house:
			if d := b.accounts[id].Balance - base; d != 0 {
				ch.Deltas = append(ch.Deltas, Delta{id, d})
			}
		default:
			ch.Accounts = append(ch.Accounts, *b.accounts[id])
		}
	}
	for _, t := range sortedKeys(b.dirtyCreds) {
		ch.Credentials = append(ch.Credentials, *b.creds[t])
	}
	for _, id := range sortedKeys(b.newAuths) {
		ch.NewAuths = append(ch.NewAuths, *b.auths[id])
	}
	for _, id := range sortedKeys(b.dirtyAuths) {
		ch.Auths = append(ch.Auths, *b.auths[id])
	}
	return ch
}

func sortedKeys[K cmp.Ordered](m map[K]bool) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// settle closes a terminal's batch in a currency (see
// [Ledger.CloseBatch]): its unsettled payments of the acting merchant get
// a batch id when the count and net total of the ledger's items equal
// the terminal's, or when forced.
func (b *batch) settle(o *op) Result {
	r := o.batch
	ids := sortedKeys(b.unsettled(BatchScope{r.TerminalID, o.merchant}, r.Currency))
	items := b.batchItems(r, o.merchant, ids)
	res := Result{Outcome: OutcomeOK, Currency: r.Currency, Items: &items}
	// The totals are the items', as the terminal's are its items': a
	// refund of a payment settled earlier counts in both.
	for _, it := range items {
		switch it.Type {
		case ItemPurchase:
			res.Count++
			res.Amount += it.Amount
		case ItemRefund:
			res.Amount -= it.Amount
		}
	}
	// A dry run over every currency has no totals to compare.
	if r.Currency != "" && (res.Count != r.Count || res.Amount != r.Amount) {
		res.Reason = ReasonTotalsMismatch
	}
	switch {
	case r.DryRun:
		return res
	case res.Reason != "" && !r.Force:
		res.Outcome = OutcomeRejected
		return res
	}
	res.BatchID = b.l.newID("bt")
	for _, id := range ids {
		a := b.auths[id]
		if a.BatchID == "" {
			a.BatchID = res.BatchID
		}
		if r := a.Refunded - a.RefundSettled; r > 0 {
			a.RefundSettled, a.RefundBatchID, a.RefundBatchAmount = a.Refunded, res.BatchID, r
		}
		b.touch(a)
	}
	return res
}

// batchItems lists the ledger's side of a batch: the unsettled payments
// ids, each with its refunds, then what the ledger has under the
// terminal's other keys in the currency, of merchant unless that is "".
func (b *batch) batchItems(r *BatchRequest, merchant string, ids []string) []BatchItem {
	items := []BatchItem{}
	listed := make(map[string]bool)
	add := func(a *Authorization, key, typ string, amount int64, batchID string) {
		listed[key] = true
		items = append(items, BatchItem{Key: key, Type: typ, Amount: amount, Currency: a.Currency,
			AuthorizationID: a.ID, Kind: a.Kind, Channel: a.Channel, BatchID: batchID})
	}
	for _, id := range ids {
		a := b.auths[id]
		if a.BatchID == "" {
			add(a, a.TxnID, ItemPurchase, a.Captured, "")
		}
		if r := a.Refunded - a.RefundSettled; r > 0 {
			add(a, RefundsKey(a.TxnID), ItemRefund, r, "")
		}
	}
	for _, key := range slices.Sorted(slices.Values(r.Keys)) {
		txn, refunds := strings.CutSuffix(key, refundsSuffix)
		a := b.authsByTxn[TxnRef{r.TerminalID, txn}]
		if a == nil || listed[key] || r.Currency != "" && a.Currency != r.Currency ||
			merchant != "" && a.MerchantID != merchant {
			continue
		}
		paid := a.Status == StatusApproved || a.Status == StatusCaptured
		switch {
		case refunds:
			// Unsettled refunds are listed above; named ones the ledger
			// settled already are those of the last batch that did.
			if paid && a.RefundBatchID != "" {
				add(a, key, ItemRefund, a.RefundBatchAmount, a.RefundBatchID)
			}
		case paid:
			add(a, key, ItemPurchase, a.Captured, a.BatchID)
		case a.Status == StatusVoided:
			add(a, key, ItemVoid, a.Amount, a.BatchID)
		default:
			add(a, key, a.Status, a.Amount, a.BatchID)
		}
	}
	return items
}

// unsettled returns the ids of a batch's payments in a currency (""
// for all) that are not settled, or whose refunds are not all, as the
// batch now sees them.
func (b *batch) unsettled(s BatchScope, currency string) map[string]bool {
	ids := make(map[string]bool)
	for id, a := range b.auths {
		if a.TerminalID == s.TerminalID && (s.MerchantID == "" || a.MerchantID == s.MerchantID) &&
			(currency == "" || a.Currency == currency) &&
			(a.Status == StatusApproved || a.Status == StatusCaptured) &&
			(a.BatchID == "" || a.Refunded > a.RefundSettled) {
			ids[id] = true
		}
	}
	return ids
}
