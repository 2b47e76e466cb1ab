package ledger

import (
	"strconv"
	"time"
)

// Account kinds.
const (
	KindWallet            = "wallet"             // a shopper's money
	KindSettlement        = "settlement"         // what the ledger owes a merchant
	KindOfflineReceivable = "offline_receivable" // shortfalls of offline overdrafts
	KindFunding           = "funding"            // money entering the ledger (top-ups)
)

// Channels a payment can come through.
const (
	ChannelInStore = "in_store"
	ChannelChat    = "chat"
)

// An Account holds money in one currency. Its Balance is always the sum of
// its entries; Held is the part of a wallet's balance reserved by holds.
type Account struct {
	ID       string
	Kind     string
	Currency string
	Owner    string // merchant id for settlement accounts, free text for wallets
	Balance  int64
	Held     int64
	// Floor is the lowest Balance-Held a payment may leave; nil means
	// unbounded (settlement and funding accounts).
	Floor *int64
	// TxLimit, if positive, is the largest single payment the wallet makes.
	TxLimit   int64
	CreatedAt time.Time
}

// Available returns the money a payment may still take.
func (a Account) Available() int64 {
	if a.Floor == nil {
		return MaxAmount
	}
	return a.Balance - a.Held - *a.Floor
}

// Credential kinds.
const (
	CredentialCard   = "card"
	CredentialPhone  = "phone"
	CredentialDevice = "device"
)

// A Credential identifies a wallet: a card by its PAN token, a phone or a
// device by theirs.
type Credential struct {
	ID        string
	WalletID  string
	Kind      string
	Token     string // keyed HMAC; never the PAN
	Display   string // masked PAN for cards
	LastATC   int    // highest application transaction counter seen, -1 if none
	Status    string // "active" or "blocked"
	CreatedAt time.Time
}

// A Merchant sells through terminals and chat.
type Merchant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// A Terminal belongs to one merchant.
type Terminal struct {
	ID         string
	MerchantID string
	Name       string
	CreatedAt  time.Time
}

// Roles of API keys.
const (
	RoleTerminal = "terminal" // authorizes and closes batches at its terminal; refunds any of its merchant's payments
	RoleManager  = "manager"  // acts for every terminal of its merchant
	RoleAdmin    = "admin"    // acts for everything
	RoleAgent    = "agent"    // a shopping agent (chat checkout)
)

// An APIKey is stored as the SHA-256 of a high-entropy secret.
type APIKey struct {
	ID         string
	Hash       string // hex SHA-256 of the key
	Role       string
	MerchantID string
	TerminalID string
	CreatedAt  time.Time
	Revoked    bool
}

// Authorization kinds.
const (
	AuthPurchase = "purchase" // debit now
	AuthPreauth  = "preauth"  // hold now, capture later
	AuthOffline  = "offline"  // approved by the card offline, booked on sync
)

// Authorization statuses.
const (
	StatusApproved = "approved" // posted
	StatusDeclined = "declined"
	StatusHeld     = "held"     // a pre-authorization's hold is active
	StatusCaptured = "captured" // a hold, captured
	StatusVoided   = "voided"   // undone before settlement
	StatusReversed = "reversed" // undone by the terminal's reversal
	StatusExpired  = "expired"  // a hold that ran out
)

// An Authorization is one payment attempt on a wallet, from any channel.
// Terminals know it by their own transaction id.
type Authorization struct {
	ID           string
	Kind         string
	Channel      string
	MerchantID   string
	TerminalID   string
	TxnID        string // the terminal's transaction id, unique per terminal
	WalletID     string // empty if the card is unknown
	CredentialID string
	MaskedPAN    string
	ATC          int // -1 if none
	Amount       int64
	Currency     string
	Status       string
	Reason       string // decline reason, or "overdraft" for a booked shortfall
	ApprovalCode string
	Held         int64 // amount on hold while Status is held
	Captured     int64 // amount paid to the merchant
	Refunded     int64
	// Overdraft is the part of an offline booking the wallet did not
	// cover, carried by the offline receivable: refunds go there first
	// (see batch.refund), so that the wallet gets back only what it paid.
	Overdraft int64
	// RefundSettled is the part of Refunded already in a closed batch:
	// refunds of one payment may fall in several batches. RefundBatchID
	// is the last batch that settled some, RefundBatchAmount how much.
	RefundSettled     int64
	RefundBatchID     string
	RefundBatchAmount int64
	ExpiresAt         time.Time // of the hold
	BatchID           string    // settlement batch; empty until settled
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// ATCKey returns the key that makes a card's counter value usable once, or
// "" if the authorization claims no counter value.
func (a Authorization) ATCKey() string {
	if a.CredentialID == "" || a.ATC < 0 || a.Status == StatusDeclined {
		return ""
	}
	return a.CredentialID + ":" + strconv.Itoa(a.ATC)
}

// A Journal is an immutable set of two or more entries that balance to
// zero per currency.
type Journal struct {
	ID         string
	Kind       string // purchase, capture, refund, void, offline, deposit
	AuthID     string
	MerchantID string
	Channel    string
	Memo       string
	CreatedAt  time.Time
	Entries    []Entry
}

// An Entry moves Amount (negative: debit of a wallet) on one account.
type Entry struct {
	AccountID string
	Amount    int64
	Currency  string
}

// An Overdraft is a flagged shortfall of an offline booking: the goods are
// gone, the wallet did not cover them, and the offline receivable account
// carries the difference until it is recovered. A refund of the booking
// recovers it first; the store keeps the part recovered so (see
// [Changes.Recoveries]) and marks the overdraft "recovered" once that is
// all of Amount.
type Overdraft struct {
	ID        string
	AuthID    string
	WalletID  string
	Amount    int64
	Currency  string
	Status    string // "open" or "recovered"
	CreatedAt time.Time
}

// A Recovery is part of an overdraft taken back by a refund of its
// authorization: that part of the refund went to the offline receivable,
// not to the wallet.
type Recovery struct {
	AuthID string
	Amount int64
}

// An IdemKey scopes a client's Idempotency-Key to the API key that sent it.
type IdemKey struct {
	Scope string
	Key   string
}

// An IdemRecord is the stored outcome of an idempotent request.
type IdemRecord struct {
	IdemKey
	Hash      string // hex SHA-256 of the request
	Result    Result
	CreatedAt time.Time
}

// A HistoryItem is one entry on an account, with its journal's context.
type HistoryItem struct {
	JournalID  string
	Kind       string
	AuthID     string
	MerchantID string
	Channel    string
	Memo       string
	Amount     int64
	Currency   string
	CreatedAt  time.Time
}

// A Violation is a broken invariant found by [Ledger.Verify].
type Violation struct {
	Check  string // e.g. "journal_balanced"
	Object string // journal or account id
	Detail string
}
