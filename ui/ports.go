// Package ui is the tappos kiosk: the cashier's amount, tap, outcome,
// receipt and refund screens, the status bar, and the manager's reports,
// batch close, offline queue and settings, built with fyne.
//
// The kiosk owns small interfaces for what it drives — Payments, Status,
// Manager, Printer and Sounder — so its screens run against fakes in
// headless tests and against the sale flow and the offline queue in
// cmd/tappos. Reader and network calls run on their own goroutines; the
// kiosk touches widgets only through the Do function it is given
// (fyne.Do in the app).
//
// Every cashier action has a key: digits, Backspace and Delete on the
// keypad, Enter to charge, Esc to cancel or go back, F2 refund or void,
// F8 English/中文, F9 manager; on an outcome R receipt and N new sale;
// on the receipt P print; in refund and void F5 refund and F6 void. The
// manager's pages are F1 X report, F2 batch close, F3 offline queue, F4
// sync, F5 work offline and F6 settings.
package ui

import (
	"context"
	"errors"
	"time"

	"tappos/emv/kernel"
	"tappos/ui/i18n"
)

// Payments takes card payments. The prompt callback receives the
// reader's messages for the customer ("Present card", "Remove card", …);
// it may be called from any goroutine. Each call returns when the
// payment has an outcome or ctx is done.
type Payments interface {
	// Charge takes amount from a card the customer taps. It returns an
	// error wrapping context.Canceled only while nothing can have been
	// taken: once the card is read it runs on to an outcome, whatever
	// ctx does, since the ledger may approve it.
	Charge(ctx context.Context, amount int64, prompt func(kernel.Message)) (Result, error)
	// Refund pays amount of an earlier transaction back to the card,
	// which the customer taps.
	Refund(ctx context.Context, txnID string, amount int64, prompt func(kernel.Message)) (Result, error)
	// Void cancels an earlier transaction of the open batch.
	Void(ctx context.Context, txnID string) (Result, error)
	// Lookup finds a transaction by its id or approval code.
	Lookup(ctx context.Context, ref string) (Txn, error)
}

// ErrNotFound is what Lookup returns, wrapped or not, when no
// transaction matches.
var ErrNotFound = errors.New("transaction not found")

// Result is the outcome of a charge, refund or void.
type Result struct {
	Approved bool
	// Offline is set when the card approved offline and the transaction
	// waits in the offline queue for the ledger.
	Offline bool
	// NotRecorded is set on an approval the terminal could not record:
	// the money is taken, and the manager must be told.
	NotRecorded bool
	// Reversing is set on a payment that did not go through although the
	// ledger may have taken the money: its reversal is still being sent.
	Reversing bool
	// Reason says why it was declined, as a Reason code.
	Reason       Reason
	ApprovalCode string
	TxnID        string
	Kind         Kind
	Amount       int64  // minor units of the terminal's currency
	PAN          string // masked: 541333******0345
	Label        string // application label, e.g. "VISA CREDIT"
	// Receipt is the receipt as printable text lines; ReceiptURL is the
	// e-receipt link the QR code carries.
	Receipt    []string
	ReceiptURL string
}

// Kind is what a transaction does.
type Kind string

// Transaction kinds.
const (
	Sale   Kind = "sale"
	Refund Kind = "refund"
	Void   Kind = "void"
)

// Reason is why a payment did not go through, as the screens explain it.
type Reason string

// Reasons the screens explain in plain words; any other shows as a
// generic decline.
const (
	ReasonCard            Reason = "declined_by_card"
	ReasonFunds           Reason = "insufficient_funds"
	ReasonOfflineLimit    Reason = "offline_limit"
	ReasonExpired         Reason = "card_expired"
	ReasonTryAnotherCard  Reason = "try_another_card"
	ReasonNotAllowed      Reason = "not_allowed"
	ReasonTimeout         Reason = "timeout"
	ReasonCancelled       Reason = "cancelled"
	ReasonIssuerAuth      Reason = "issuer_authentication"
	ReasonAlreadyRefunded Reason = "already_refunded"
	ReasonNoReader        Reason = "no_reader"
	ReasonCommunication   Reason = "communication"
	ReasonNoPINEntry      Reason = "pin_unavailable" // the card wants a PIN; the till has no PIN pad
	// The ledger did not answer a refund or void, which is kept and sent
	// again: neither "nothing happened" nor a card problem.
	ReasonLedgerUnavailable Reason = "ledger_unavailable"
	ReasonNotSynced         Reason = "not_synced" // an offline sale the ledger does not have yet
)

// Txn is a transaction found by Lookup, for refund and void.
type Txn struct {
	ID           string
	Kind         Kind
	Amount       int64
	Refunded     int64  // already paid back
	PAN          string // masked
	Label        string
	ApprovalCode string
	Time         time.Time
	Voided       bool
	// Voidable is set while the transaction's batch is open.
	Voidable bool
	// NotSynced is set for a sale approved offline that has not reached
	// the ledger yet: it can be neither refunded nor voided until then.
	NotSynced bool
}

// Status is a source of the kiosk's status bar.
type Status interface {
	Status(ctx context.Context) (StatusInfo, error)
}

// StatusInfo is the state the status bar and the offline banner show.
type StatusInfo struct {
	Reader          string
	ReaderConnected bool
	LedgerOnline    bool
	WorkOffline     bool // the manager switched to offline on purpose
	Queued          int
	QueuedAmount    int64
	Batch           BatchTotals
}

// BatchTotals sums the open batch.
type BatchTotals struct {
	Number int
	Count  int
	Amount int64 // sales minus refunds
}

// Manager runs the manager's functions behind the PIN.
type Manager interface {
	CheckPIN(pin string) bool
	// XReport returns the read-only batch report as text lines.
	XReport(ctx context.Context) ([]string, error)
	// CloseBatch uploads the batch's totals, reconciles them with the
	// ledger's and closes the batch (Z report).
	CloseBatch(ctx context.Context) (Reconciliation, error)
	Queue(ctx context.Context) ([]QueuedTxn, error)
	SyncNow(ctx context.Context) (SyncResult, error)
	SetWorkOffline(ctx context.Context, on bool) error
	Settings() Settings
	SaveSettings(ctx context.Context, s Settings) error
}

// Reconciliation compares the terminal's batch with the ledger's.
type Reconciliation struct {
	Batch         int
	Balanced      bool
	TerminalCount int
	TerminalTotal int64
	HostCount     int
	HostTotal     int64
	Lines         []ReconLine
	// Report is the Z report as text lines.
	Report []string
}

// ReconLine is one item of a reconciliation.
type ReconLine struct {
	Match    Match
	TxnID    string
	Terminal int64 // amount on the terminal
	Host     int64 // amount on the ledger
}

// Match says how a transaction compares between terminal and ledger.
type Match string

// Reconciliation results.
const (
	Matched         Match = "matched"
	MissingHost     Match = "missing_on_host"
	MissingTerminal Match = "missing_on_terminal"
	Mismatch        Match = "amount_mismatch"
)

// QueuedTxn is a transaction waiting in the offline queue.
type QueuedTxn struct {
	TxnID  string
	PAN    string // masked
	Amount int64
	State  string // held, queued, sending, failed
	Queued time.Time
}

// SyncResult counts what a sync sent.
type SyncResult struct {
	Sent, Declined, Left int
}

// Settings are the kiosk settings the manager can change.
type Settings struct {
	Reader  string
	Readers []string // readers to choose from
	// Limits in minor units of the terminal's currency.
	ContactlessLimit int64
	CVMLimit         int64
	OfflineLimit     int64
	Lang             i18n.Lang
}

// Printer prints a receipt: text lines and the e-receipt link as a QR
// code.
type Printer interface {
	Print(ctx context.Context, lines []string, qrURL string) error
}

// Cue is a sound the kiosk plays.
type Cue int

// Sound cues.
const (
	CueApproved Cue = iota
	CueDeclined
)

// Sounder plays a cue without blocking.
type Sounder interface {
	Play(Cue)
}
