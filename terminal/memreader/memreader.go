// Package memreader is an in-memory terminal.Reader for unit tests: cards are
// presented and removed by the test, and APDUs go straight to a simulated
// card, the same vpcd.Card the card simulator plugs into the vpcd driver.
package memreader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"tappos/terminal"
	"tappos/terminal/vpcd"
)

// A Reader is an in-memory card reader. Present and Remove may be called from
// any goroutine, also while a Card is in use.
type Reader struct {
	name string

	mu      sync.Mutex
	card    vpcd.Card     // nil when the field is empty
	gen     uint64        // counts presentations and removals
	changed chan struct{} // closed and replaced on every change
	closed  bool
	// taken is the gen of the presentation WaitCard last returned, or 0:
	// that card is not handed out again until it leaves the field.
	taken uint64
}

// New returns an empty reader with the given name.
func New(name string) *Reader {
	return &Reader{name: name, changed: make(chan struct{})}
}

// Present puts card in the field, replacing (removing) any card there. A card
// that implements interface{ Reset() } is reset, as powering it up would.
//
// The card's Process may return vpcd.ErrSilent (Transmit then waits for its
// context: ErrTimeout) or vpcd.ErrPulled (the card leaves the field:
// ErrCardRemoved).
func (r *Reader) Present(card vpcd.Card) {
	if c, ok := card.(interface{ Reset() }); ok {
		c.Reset()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.card = card
	r.changeLocked()
}

// Remove takes the card out of the field, if any. Sessions with it fail with
// terminal.ErrCardRemoved from then on, including a Transmit waiting on a
// silent card.
func (r *Reader) Remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.card != nil {
		r.card = nil
		r.changeLocked()
	}
}

func (r *Reader) changeLocked() {
	r.gen++
	close(r.changed)
	r.changed = make(chan struct{})
}

// Name returns the reader's name.
func (r *Reader) Name() string { return r.name }

// WaitCard returns a session with the card in the field, waiting for one to
// be presented if need be. Like a PC/SC reader, it does not hand out again
// the card it last returned while that card stays in the field: a fresh
// Present is needed.
func (r *Reader) WaitCard(ctx context.Context) (terminal.Card, error) {
	for {
		r.mu.Lock()
		card, gen, changed, closed := r.card, r.gen, r.changed, r.closed
		fresh := card != nil && gen != r.taken
		if fresh {
			r.taken = gen
		}
		r.mu.Unlock()
		switch {
		case closed:
			return nil, fmt.Errorf("memreader %q: %w", r.name, terminal.ErrReaderGone)
		case fresh:
			return &session{r: r, card: card, gen: gen}, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a card on %q: %w", r.name, ctx.Err())
		}
	}
}

// Close closes the reader: WaitCard and sessions fail with
// terminal.ErrReaderGone.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.card = nil
		r.changeLocked()
	}
	return nil
}

// session is a terminal.Card on a Reader.
type session struct {
	r    *Reader
	card vpcd.Card
	gen  uint64 // the presentation this session belongs to
	err  error  // set once the session is dead
}

// current reports whether the session's card is still in the field, and a
// channel closed on the next change otherwise.
func (s *session) current() (<-chan struct{}, error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	switch {
	case s.r.closed:
		return nil, terminal.ErrReaderGone
	case s.r.gen != s.gen:
		return nil, terminal.ErrCardRemoved
	}
	return s.r.changed, nil
}

func (s *session) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if _, err := s.current(); err != nil {
		s.err = fmt.Errorf("memreader %q: %w", s.r.name, err)
		return nil, s.err
	}
	rsp, err := s.card.Process(slices.Clone(apdu))
	switch {
	case errors.Is(err, vpcd.ErrSilent):
		s.err = s.waitSilent(ctx)
		return nil, s.err
	case errors.Is(err, vpcd.ErrPulled):
		s.r.mu.Lock()
		if s.r.gen == s.gen {
			s.r.card = nil
			s.r.changeLocked()
		}
		s.r.mu.Unlock()
		s.err = fmt.Errorf("memreader %q: %w", s.r.name, terminal.ErrCardRemoved)
		return nil, s.err
	case err != nil:
		// A simulator failure looks, to the terminal, like a card that
		// stopped talking: it left the field.
		s.err = fmt.Errorf("memreader %q: %w (card: %w)", s.r.name, terminal.ErrCardRemoved, err)
		return nil, s.err
	}
	// A card removed while it computed its answer never delivered it.
	if _, err := s.current(); err != nil {
		s.err = fmt.Errorf("memreader %q: %w", s.r.name, err)
		return nil, s.err
	}
	return slices.Clone(rsp), nil
}

// waitSilent waits, on behalf of a card that will never answer, for the
// context to end or the card to leave, and returns the resulting error.
func (s *session) waitSilent(ctx context.Context) error {
	for {
		changed, err := s.current()
		if err != nil {
			return fmt.Errorf("memreader %q: %w", s.r.name, err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("memreader %q: %w: %w", s.r.name, terminal.ErrTimeout, ctx.Err())
		}
	}
}

func (s *session) ATR() []byte { return s.card.ATR() }

func (s *session) Close() error {
	if s.err == nil {
		s.err = fmt.Errorf("memreader %q: card session closed", s.r.name)
	}
	return nil
}
