// Package terminal is the point-of-sale side of a tap: the card readers the
// kernel talks through and the sale flow around them.
//
// The kernel consumes a [Transceiver]; the sale flow obtains one by waiting on
// a [Reader] for a [Card]. Implementations live in sub-packages:
// terminal/pcsc (a PC/SC reader through pcscd) and terminal/memreader (in
// memory, for unit tests).
package terminal

import (
	"context"
	"errors"
)

// Errors reported by readers and cards. Implementations wrap them with
// context, so test with [errors.Is].
var (
	// ErrNoReader means no usable card reader was found (none plugged in, no
	// reader by the requested name, or no PC/SC service).
	ErrNoReader = errors.New("no card reader")

	// ErrReaderGone means the reader disappeared while in use (unplugged, or
	// the PC/SC service stopped).
	ErrReaderGone = errors.New("card reader gone")

	// ErrCardRemoved means the card left the field before or during an
	// exchange. The transaction cannot continue on this card session: the
	// outcome is Try Again ("present card again").
	ErrCardRemoved = errors.New("card removed")

	// ErrTimeout means the card did not answer before the context passed to
	// Transmit was done. Such an error also matches the context's error
	// (context.DeadlineExceeded or context.Canceled).
	ErrTimeout = errors.New("card did not answer in time")

	// ErrVirtualReader means a virtual reader (vpcd, "Virtual PCD") was
	// refused. The vpcd driver accepts simulated cards from anyone who can
	// reach its TCP port, so it is allowed only in demo and test mode.
	ErrVirtualReader = errors.New("virtual card reader refused outside demo and test mode")
)

// A Transceiver exchanges APDUs with a card. It is all the kernel needs.
type Transceiver interface {
	// Transmit sends the command APDU apdu and returns the card's raw
	// response: response data followed by SW1 SW2. It does not interpret
	// status words (61xx, 6Cxx and the like are the caller's business).
	//
	// When ctx is done before the card answers, Transmit returns an error
	// matching both ErrTimeout and ctx.Err(). ErrCardRemoved reports a card
	// that left the field. After either, the card session is dead: every
	// later Transmit fails the same way.
	//
	// Transmit does not retain apdu, and the caller owns the returned slice.
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
}

// A Card is one session with a card on a reader, from its arrival until
// Close. It is not safe for concurrent use.
type Card interface {
	Transceiver

	// ATR returns the card's Answer To Reset (for contactless cards, the
	// reader's synthesised ATR). The caller must not modify it.
	ATR() []byte

	// Close ends the session. It never waits for an unresponsive card.
	Close() error
}

// A Reader is a card reader: a place where cards arrive. It is not safe for
// concurrent use.
type Reader interface {
	// Name returns the reader's name, for logs and operator messages.
	Name() string

	// WaitCard blocks until a card is in the field and returns a session
	// with it. If a card is already present, it returns at once, unless it
	// is the card the previous WaitCard returned and it never left the
	// field: then WaitCard waits for a fresh presentation, so that a card
	// left on the reader does not pay for the next sale. When ctx
	// is done first, it returns ctx.Err() (wrapped). ErrReaderGone reports
	// that the reader went away while waiting.
	WaitCard(ctx context.Context) (Card, error)

	// Close releases the reader. Cards obtained from it must be closed
	// separately.
	Close() error
}
