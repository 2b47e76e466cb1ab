// Package pcsc is a terminal.Reader on the PC/SC API, through pcscd (pcsc-lite)
// and github.com/ebfe/scard.
//
// Each card session has its own PC/SC context, because pcsc-lite serialises
// the calls on a context: a card that never answers blocks its own session,
// not the reader waiting for the next card.
package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"tappos/terminal"
)

// Options configure Open.
type Options struct {
	// Name selects the reader: its exact name, or a part of the name that
	// only one reader has. Empty means the first usable reader.
	Name string

	// AllowVirtual admits virtual readers (vpcd, "Virtual PCD"): for the
	// demo and tests only. The vpcd driver listens on all network
	// interfaces, so anyone who can reach its port can present a card.
	AllowVirtual bool

	// Lift, when set, is called with true when WaitCard finds the card
	// it last returned still in the field, so the shopper can be asked
	// to lift it, and with false once it has left. It runs on WaitCard's
	// goroutine.
	Lift func(waiting bool)
}

// IsVirtual reports whether the named reader is a vpcd virtual reader.
func IsVirtual(name string) bool {
	return strings.Contains(name, "Virtual PCD")
}

// pollInterval bounds how long WaitCard may miss a cancellation: SCardCancel
// interrupts a wait at once, but one issued just before the wait starts is
// lost.
const pollInterval = 250 * time.Millisecond

// Readers lists the PC/SC readers known to pcscd.
func Readers() ([]string, error) {
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	defer sc.Release()
	return listReaders(sc)
}

func establish() (*scard.Context, error) {
	sc, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("pcsc: connecting to pcscd: %w (%w)", terminal.ErrNoReader, err)
	}
	return sc, nil
}

func listReaders(sc *scard.Context) ([]string, error) {
	names, err := sc.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pcsc: listing readers: %w", err)
	}
	return names, nil
}

// A Reader is a PC/SC card reader.
type Reader struct {
	sc   *scard.Context
	name string
	lift func(waiting bool)

	// used is set while the card WaitCard last returned may still lie
	// in the field; usedEvents is pcsc-lite's card event count (the
	// high word of the reader state) at that card's arrival.
	used       bool
	usedEvents uint32
}

var _ terminal.Reader = (*Reader)(nil)

// Open opens the reader selected by opts. It fails with terminal.ErrNoReader
// when no reader matches (or pcscd is not running) and with
// terminal.ErrVirtualReader when the match is a virtual reader and
// opts.AllowVirtual is not set.
func Open(opts Options) (*Reader, error) {
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	names, err := listReaders(sc)
	if err == nil {
		var name string
		name, err = pick(names, opts)
		if err == nil {
			return &Reader{sc: sc, name: name, lift: opts.Lift}, nil
		}
	}
	sc.Release()
	return nil, err
}

// pick chooses a reader name from names according to opts.
func pick(names []string, opts Options) (string, error) {
	var match []string
	switch {
	case opts.Name == "":
		match = names
	case slices.Contains(names, opts.Name):
		match = []string{opts.Name}
	default:
		for _, n := range names {
			if strings.Contains(n, opts.Name) {
				match = append(match, n)
			}
		}
		if len(match) > 1 {
			return "", fmt.Errorf("pcsc: %w: %q matches several readers %q", terminal.ErrNoReader, opts.Name, match)
		}
	}
	if len(match) == 0 {
		if opts.Name == "" {
			return "", fmt.Errorf("pcsc: %w: none connected", terminal.ErrNoReader)
		}
		return "", fmt.Errorf("pcsc: %w: none named %q among %q", terminal.ErrNoReader, opts.Name, names)
	}
	if opts.AllowVirtual {
		return match[0], nil
	}
	for _, n := range match {
		if !IsVirtual(n) {
			return n, nil
		}
	}
	return "", fmt.Errorf("pcsc: reader %q is a virtual (vpcd) reader, to which anyone who can reach its TCP port can present a card: %w", match[0], terminal.ErrVirtualReader)
}

// Name returns the reader's PC/SC name.
func (r *Reader) Name() string { return r.name }

// WaitCard waits for a card with SCardGetStatusChange and connects to it
// exclusively, with whichever protocol it offers. A card still in the field
// since the previous WaitCard returned it is not taken again: it must leave
// and be presented anew, so a card left on the reader is not charged by the
// next sale.
func (r *Reader) WaitCard(ctx context.Context) (terminal.Card, error) {
	stop := context.AfterFunc(ctx, func() { r.sc.Cancel() })
	defer stop()
	rs := []scard.ReaderState{{Reader: r.name, CurrentState: scard.StateUnaware}}
	lifting := false // Lift(true) was called
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pcsc: waiting for a card on %q: %w", r.name, err)
		}
		err := r.sc.GetStatusChange(rs, pollInterval)
		switch {
		case errors.Is(err, scard.ErrTimeout), errors.Is(err, scard.ErrCancelled):
			continue
		case err != nil:
			return nil, r.wrap("waiting for a card", err)
		}
		ev := rs[0].EventState
		rs[0].CurrentState = ev &^ scard.StateChanged
		switch {
		case ev&(scard.StateUnknown|scard.StateUnavailable) != 0:
			return nil, fmt.Errorf("pcsc: waiting for a card on %q: %w", r.name, terminal.ErrReaderGone)
		case ev&scard.StatePresent == 0:
			r.used = false // the previous card is gone
			if lifting {
				lifting = false
				r.notify(false)
			}
			continue
		case r.used && eventCount(ev) == r.usedEvents:
			// The previous transaction's card, never lifted:
			// wait for it to go.
			if !lifting {
				lifting = true
				r.notify(true)
			}
			continue
		case ev&scard.StateMute != 0:
			// A card that did not answer power-up: wait for
			// the next change.
			continue
		}
		c, err := r.connect(rs[0].Atr)
		if errors.Is(err, terminal.ErrCardRemoved) {
			continue // gone before we got to it
		}
		if err == nil {
			r.used, r.usedEvents = true, eventCount(ev)
		}
		return c, err
	}
}

func (r *Reader) notify(waiting bool) {
	if r.lift != nil {
		r.lift(waiting)
	}
}

// eventCount is pcsc-lite's count of card arrivals and removals on a reader,
// which it keeps in the high word of the event state: a card seen with the
// same count never left the field. A PC/SC service without the count has it
// always zero, and then only a state seen empty frees the card.
func eventCount(ev scard.StateFlag) uint32 { return uint32(ev) >> 16 }

func (r *Reader) connect(atr []byte) (*card, error) {
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	h, err := sc.Connect(r.name, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		sc.Release()
		return nil, r.wrap("connecting to the card", err)
	}
	return &card{reader: r.name, sc: sc, h: h, atr: atr}, nil
}

// wrap maps a PC/SC error to the terminal's errors, keeping the original.
func (r *Reader) wrap(op string, err error) error {
	return wrap(r.name, op, err)
}

func wrap(reader, op string, err error) error {
	var sentinel error
	var e scard.Error
	if errors.As(err, &e) {
		switch e {
		case scard.ErrRemovedCard, scard.ErrNoSmartcard, scard.ErrResetCard,
			scard.ErrUnpoweredCard, scard.ErrUnresponsiveCard,
			// vpcd reports a card that vanished mid-exchange as a
			// failed transfer, as do contactless readers when the
			// card leaves the field.
			scard.ErrNotTransacted, scard.ErrCommError:
			sentinel = terminal.ErrCardRemoved
		case scard.ErrReaderUnavailable, scard.ErrUnknownReader,
			scard.ErrNoService, scard.ErrServiceStopped, scard.ErrShutdown:
			sentinel = terminal.ErrReaderGone
		}
	}
	if sentinel == nil {
		return fmt.Errorf("pcsc: %s on %q: %w", op, reader, err)
	}
	return fmt.Errorf("pcsc: %s on %q: %w (%w)", op, reader, sentinel, err)
}

// Close releases the reader's PC/SC context.
func (r *Reader) Close() error {
	if err := r.sc.Release(); err != nil {
		return fmt.Errorf("pcsc: releasing context: %w", err)
	}
	return nil
}

// card is a session with a card, on its own PC/SC context.
type card struct {
	reader string
	sc     *scard.Context
	h      *scard.Card
	atr    []byte

	err     error         // set once the session is dead
	pending <-chan result // an abandoned Transmit's outcome, when it comes
}

// rspBuffers holds response buffers of scard.MaxResponseSize: a fresh one
// per APDU (what scard's Transmit does) made the garbage collector run
// inside taps. An abandoned Transmit keeps its buffer until the card answers.
var rspBuffers = sync.Pool{New: func() any {
	b := make([]byte, scard.MaxResponseSize)
	return &b
}}

type result struct {
	rsp []byte
	err error
}

func (c *card) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	// SCardTransmit cannot be interrupted, so a card that never answers
	// is left to a goroutine when ctx ends first.
	ch := make(chan result, 1)
	h := c.h // Close may clear c.h while an abandoned Transmit runs
	go func() {
		buf := rspBuffers.Get().(*[]byte)
		defer rspBuffers.Put(buf)
		rsp, err := h.TransmitTo(apdu, *buf)
		ch <- result{bytes.Clone(rsp), err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			c.err = wrap(c.reader, "transmitting", res.err)
			return nil, c.err
		}
		if len(res.rsp) == 0 {
			// Not even a status word: the vpcd driver reports a card
			// that vanished mid-exchange this way.
			c.err = fmt.Errorf("pcsc: transmitting on %q: empty response: %w", c.reader, terminal.ErrCardRemoved)
			return nil, c.err
		}
		return res.rsp, nil
	case <-ctx.Done():
		c.pending = ch
		c.err = fmt.Errorf("pcsc: transmitting on %q: %w: %w", c.reader, terminal.ErrTimeout, ctx.Err())
		return nil, c.err
	}
}

func (c *card) ATR() []byte { return c.atr }

// Close disconnects, leaving the card powered for the next session. After a
// timed-out Transmit, the PC/SC context is busy until the card answers or
// leaves, so Close does the disconnecting in the background then.
func (c *card) Close() error {
	if c.h == nil {
		return nil
	}
	h, sc, pending := c.h, c.sc, c.pending
	c.h, c.sc = nil, nil
	if c.err == nil {
		c.err = fmt.Errorf("pcsc: card session on %q closed", c.reader)
	}
	release := func() error {
		derr := h.Disconnect(scard.LeaveCard)
		rerr := sc.Release()
		if derr != nil && !errors.Is(derr, scard.ErrRemovedCard) && !errors.Is(derr, scard.ErrNoSmartcard) {
			return fmt.Errorf("pcsc: disconnecting from card on %q: %w", c.reader, derr)
		}
		if rerr != nil {
			return fmt.Errorf("pcsc: releasing context: %w", rerr)
		}
		return nil
	}
	if pending != nil {
		go func() {
			<-pending
			_ = release() // nobody left to tell
		}()
		return nil
	}
	return release()
}
