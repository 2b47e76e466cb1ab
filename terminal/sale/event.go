package sale

import (
	"tappos/emv/kernel"
	"tappos/terminal/receipt"
)

// EventKind is what a sale shows the cashier and the shopper.
type EventKind string

// Events, in the order a sale emits them.
const (
	PresentCard  EventKind = "present_card"
	Processing   EventKind = "processing"
	RemoveCard   EventKind = "remove_card"
	OfflineBadge EventKind = "offline" // the tap is being decided offline
	Authorising  EventKind = "authorising"
	Approved     EventKind = "approved"
	Declined     EventKind = "declined"
	Failed       EventKind = "failed" // no decision: no card, try again, another interface
)

// An Event is one step of a sale for a user interface. It holds no card
// data beyond what a receipt shows.
type Event struct {
	Kind     EventKind
	TxnID    string
	Message  kernel.Message // in words, for the display
	Offline  bool
	Amount   int64
	Currency receipt.Currency
	// Result is set on Approved and Declined, but for an offline
	// approval: its Approved event comes as soon as the queue committed
	// it and the display log has it, before the journal has the record
	// (see the package doc).
	Result *Result
}
