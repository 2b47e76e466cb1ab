// Package kernel runs a contactless EMV transaction on a card: the entry
// point (EMV Contactless Book B) selects an application and a kernel, and
// kernel 2 (Mastercard M/Chip, Book C-2) or kernel 3 (Visa qVSDC, Book
// C-3) takes the transaction to an outcome the terminal can act on:
// approved offline, online request, declined, or try again.
//
// The kernel talks to the card through a Transceiver, so the same code
// runs on a PC/SC reader, a simulated card and a recorded trace. Time and
// the unpredictable number come from the Kernel's fields, never from the
// system, so a run can be repeated byte for byte.
package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"tappos/emv/oda"
	"tappos/emv/tlv"
)

// Transceiver exchanges APDUs with a card: the command goes out, the
// response data and SW1 SW2 come back. It must return when ctx is done.
type Transceiver interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// Errors that explain an outcome. They are wrapped with the step that
// failed; test with errors.Is.
var (
	// ErrCommunication: the card did not answer, answered garbage at the
	// transport level, or left the field. The outcome is Try Again. The
	// error also wraps the Transceiver's, so a caller can tell a card
	// that left (its reader's removal error) from a silent one (the
	// context's error).
	ErrCommunication = errors.New("card communication failed")
	// ErrCardData: the card's data is malformed, inconsistent or missing
	// a mandatory object.
	ErrCardData = errors.New("bad card data")
	// ErrNoApplication: the card offers no application the terminal
	// accepts.
	ErrNoApplication = errors.New("no matching application")
	// ErrNotAllowed: every matching application is barred for this
	// amount (contactless limit, zero amount).
	ErrNotAllowed = errors.New("amount not allowed contactless")
	// ErrMagStripe: the card offers only the retired mag-stripe mode.
	ErrMagStripe = errors.New("mag-stripe mode not supported")
	// ErrTransaction: the transaction handed to Run is invalid.
	ErrTransaction = errors.New("invalid transaction")
)

// Kernel runs taps for one terminal configuration. Run may be called
// again for the next tap, but not concurrently: Rand is not shared safely.
type Kernel struct {
	Config *Config
	// CAKeys verify offline data authentication; nil fails it.
	CAKeys *oda.CAKeyStore
	// Rand supplies the unpredictable numbers (9F37), 4 bytes a tap.
	Rand io.Reader
	// Now gives the transaction date and time.
	Now func() time.Time
}

// Transaction is what the sale asks of the tap.
type Transaction struct {
	Amount      int64 // 9F02, minor units of the terminal's currency
	OtherAmount int64 // 9F03, cashback part of Amount
	Type        byte  // 9C: 00 purchase, 09 purchase with cashback, 20 refund
}

// maxAmount is the largest amount an n12 field holds.
const maxAmount = 999_999_999_999

// Run performs one tap. The outcome is never nil; the error, when not
// nil, explains an outcome other than Approved, OnlineRequest or
// Declined-by-the-card, and never contains card data.
//
// Try Again asks the caller to wait for the card (or phone) to be
// presented again and to call Run again with the same transaction: that
// is the entry point's restart after a card left the field or a phone
// asked its holder to act.
func (k *Kernel) Run(ctx context.Context, card Transceiver, tx Transaction) (*Outcome, error) {
	out := &Outcome{Status: EndApplication}
	if tx.Amount < 0 || tx.Amount > maxAmount || tx.OtherAmount < 0 || tx.OtherAmount > tx.Amount {
		out.Reason = "invalid amount"
		return out, fmt.Errorf("%w: amount out of range", ErrTransaction)
	}
	timeout := 2 * time.Second
	if k.Config.TimeoutMS > 0 {
		timeout = time.Duration(k.Config.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	s := &session{k: k, cfg: k.Config, card: card, tx: tx, out: out,
		term: make(map[tlv.Tag][]byte, termDataHint), cardData: map[tlv.Tag][]byte{}} // final selection sizes cardData
	if err := s.setTerminalData(); err != nil {
		out.Reason = "terminal setup failed"
		return out, err
	}
	err := s.entryPoint(ctx)
	s.finish()
	return out, err
}
