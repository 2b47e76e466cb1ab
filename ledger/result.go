package ledger

import "errors"

// Outcomes of a request.
const (
	OutcomeApproved = "approved" // an authorization went through
	OutcomeDeclined = "declined" // an authorization did not; see Reason
	OutcomeOK       = "ok"       // any other request went through
	OutcomeRejected = "rejected" // any other request did not; see Reason
)

// Decline reasons of authorizations.
const (
	ReasonInsufficientFunds = "insufficient_funds"
	ReasonBadCryptogram     = "bad_cryptogram"
	ReasonUnknownCard       = "unknown_card"
	ReasonReplay            = "replay"
	ReasonLimit             = "limit"
	ReasonCardBlocked       = "card_blocked"
	ReasonCurrency          = "currency_mismatch"
	// ReasonOverdraft marks an approved offline booking with a shortfall.
	ReasonOverdraft = "overdraft"
)

// Rejection reasons of other requests.
const (
	ReasonNotFound       = "not_found"
	ReasonDuplicateTxn   = "duplicate_transaction"
	ReasonInvalidState   = "invalid_state"   // e.g. void of a captured hold
	ReasonSettled        = "already_settled" // voids end at settlement
	ReasonAmountTooLarge = "amount_too_large"
	// ReasonTotalsMismatch marks a batch whose totals differ from the
	// terminal's: a close is refused with it, and a forced close settles
	// and keeps it as a flag for the manager.
	ReasonTotalsMismatch = "totals_mismatch"
)

// Result is the outcome of a request. It is what an idempotent replay
// returns, so it is stored with the idempotency key.
type Result struct {
	Outcome         string `json:"outcome"`
	Reason          string `json:"reason,omitempty"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	Status          string `json:"status,omitempty"`
	ApprovalCode    string `json:"approval_code,omitempty"`
	ARC             string `json:"arc,omitempty"`  // hex
	ARPC            string `json:"arpc,omitempty"` // hex
	JournalID       string `json:"journal_id,omitempty"`
	Amount          int64  `json:"amount,omitempty"`
	Currency        string `json:"currency,omitempty"`
	MaskedPAN       string `json:"masked_pan,omitempty"`
	Overdraft       int64  `json:"overdraft,omitempty"`
	Balance         *int64 `json:"balance,omitempty"` // of a wallet after a deposit
	BatchID         string `json:"batch_id,omitempty"`
	Count           int    `json:"count,omitempty"` // payments in a batch
	// Items are the ledger's side of a batch, for the terminal to
	// reconcile item by item; nil but for batches. A pointer keeps
	// Result comparable.
	Items *[]BatchItem `json:"items,omitempty"`

	// Replayed is set when the result comes from an earlier request with
	// the same idempotency key.
	Replayed bool `json:"-"`
}

// Request errors; they are not stored with idempotency keys.
var (
	// ErrInFlight is returned for an idempotency key whose first request
	// has not finished.
	ErrInFlight = errors.New("a request with this idempotency key is in progress")
	// ErrKeyReused is returned for an idempotency key sent before with a
	// different request.
	ErrKeyReused = errors.New("idempotency key reused with a different request")
	// ErrInvalid is wrapped by errors about malformed requests.
	ErrInvalid = errors.New("invalid request")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("ledger closed")
)

// Batch item types, beside an authorization's own status for one the
// terminal named that is neither paid nor voided (e.g. reversed).
const (
	ItemPurchase = "purchase"
	ItemRefund   = "refund"
	ItemVoid     = "void"
)

// A BatchItem is one line of the ledger's side of a terminal's batch,
// keyed as the terminal keys its journal: a payment by its terminal
// transaction id, the refunds of a payment together under
// "<txn id>/refunds".
type BatchItem struct {
	Key             string `json:"key"`
	Type            string `json:"type"` // ItemPurchase, ItemRefund, ItemVoid or a status
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	AuthorizationID string `json:"authorization_id"`
	Kind            string `json:"kind"`    // of the authorization: purchase, preauth, offline
	Channel         string `json:"channel"` // of the authorization
	// BatchID is set on a payment or refunds the terminal named that the
	// ledger settled already (by an earlier close of this batch whose
	// answer was lost, or by another batch).
	BatchID string `json:"batch_id,omitempty"`
}

const refundsSuffix = "/refunds"

// RefundsKey is the batch item key of a payment's refunds.
func RefundsKey(txnID string) string { return txnID + refundsSuffix }
