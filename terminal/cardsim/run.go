package cardsim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"tappos/emv/trace"
	"tappos/terminal/vpcd"
)

// DefaultVPCD is the address of the vpcd driver's first virtual reader.
const DefaultVPCD = "127.0.0.1:35963"

// Options tune how Run presents a card. Zero values take the defaults.
type Options struct {
	// Taps is the number of taps after which Run returns; 0 for no limit.
	Taps int
	// Linger is how long the card stays in the field after its final
	// cryptogram, for the reader to finish (default 200ms).
	Linger time.Duration
	// Idle is how long the card stays when the terminal stops talking
	// before the transaction is over, or the card went silent (default 3s).
	Idle time.Duration
	// Gap is the time between a card leaving the field and the next tap
	// (default 1s).
	Gap time.Duration
	// Log, if set, gets one line per tap. It never sees card data.
	Log io.Writer
}

func (o *Options) defaults() {
	if o.Linger <= 0 {
		o.Linger = 200 * time.Millisecond
	}
	if o.Idle <= 0 {
		o.Idle = 3 * time.Second
	}
	if o.Gap <= 0 {
		o.Gap = time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// dialRetry bounds how long Run waits for the driver to accept the card
// again after a tap: the driver listens anew only once it noticed the
// removal.
const dialRetry = 5 * time.Second

// Run presents card to the vpcd driver at addr (see DefaultVPCD) tap after
// tap, until ctx is done or opt.Taps taps are over, and returns the number
// of taps. A tap begins when the card connects to the driver and ends when
// it leaves the field: opt.Linger after the card's final cryptogram (for a
// card that implements interface{ Finished() bool }), opt.Idle after the
// last command otherwise, at once when a hostile card pulls itself out. A
// presentation during which the terminal sent nothing is not a tap; the card
// then stays until ctx is done.
//
// Run returns nil when ctx ends it. It fails if the driver cannot be
// reached (at once for the first tap; later ones wait a few seconds for the
// driver to listen again) or drops the connection.
func Run(ctx context.Context, addr string, card vpcd.Card, opt Options) (int, error) {
	opt.defaults()
	taps := 0
	for opt.Taps == 0 || taps < opt.Taps {
		n, err := present(ctx, addr, card, opt, taps > 0)
		if ctx.Err() != nil {
			return taps, nil
		}
		if err != nil {
			return taps, err
		}
		if n > 0 {
			taps++
			fmt.Fprintf(opt.Log, "cardsim: tap %d: %d commands, card removed\n", taps, n)
		}
		if opt.Taps != 0 && taps >= opt.Taps {
			break
		}
		select {
		case <-ctx.Done():
			return taps, nil
		case <-time.After(opt.Gap):
		}
	}
	return taps, nil
}

// present connects the card once and serves it until it leaves the field,
// returning the number of commands it answered (or refused to).
func present(ctx context.Context, addr string, card vpcd.Card, opt Options, retry bool) (int, error) {
	conn, err := dial(ctx, addr, retry)
	if err != nil {
		return 0, err
	}
	if r, ok := card.(interface{ Reset() }); ok {
		r.Reset() // a new card session
	}
	tctx, remove := context.WithCancel(ctx)
	defer remove()
	w := &watched{Card: card, activity: make(chan struct{}, 1)}
	go w.watch(tctx, remove, opt)
	err = vpcd.Serve(tctx, conn, w)
	return w.count(), err
}

// dial connects to the driver; with retry it keeps trying for dialRetry.
func dial(ctx context.Context, addr string, retry bool) (net.Conn, error) {
	var d net.Dialer
	deadline := time.Now().Add(dialRetry)
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn, nil
		}
		if !retry || ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("cardsim: connecting to the vpcd driver at %s: %w", addr, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// watched wraps a card to notice the commands it answers, so that the
// card can leave the field when the terminal is done with it.
type watched struct {
	vpcd.Card
	activity chan struct{}

	mu       sync.Mutex
	commands int
	finished bool
}

func (w *watched) Process(apdu []byte) ([]byte, error) {
	rsp, err := w.Card.Process(apdu)
	w.mu.Lock()
	w.commands++
	if f, ok := w.Card.(interface{ Finished() bool }); ok && f.Finished() {
		w.finished = true
	}
	w.mu.Unlock()
	select {
	case w.activity <- struct{}{}:
	default:
	}
	return rsp, err
}

// Reset passes the driver's power events on to the card.
func (w *watched) Reset() {
	if r, ok := w.Card.(interface{ Reset() }); ok {
		r.Reset()
	}
}

func (w *watched) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.commands
}

// watch removes the card (calls remove) once the terminal has been quiet
// for opt.Linger after the final cryptogram or opt.Idle otherwise. Before
// the first command there is no timeout.
func (w *watched) watch(ctx context.Context, remove func(), opt Options) {
	var timeout <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.activity:
			w.mu.Lock()
			d := opt.Idle
			if w.finished {
				d = opt.Linger
			}
			w.mu.Unlock()
			timeout = time.After(d)
		case <-timeout:
			remove()
			return
		}
	}
}

// replayCard answers from a recorded transaction.
type replayCard struct {
	card *trace.Card
	last []byte // the recorded transaction's last command

	mu       sync.Mutex
	finished bool
}

// NewReplayCard returns a card that answers from the recording t (see
// trace.NewCard); it counts as finished once it answered the recording's
// last command.
func NewReplayCard(t *trace.Trace) vpcd.Card {
	r := &replayCard{card: trace.NewCard(t)}
	if n := len(t.Exchanges); n > 0 {
		r.last = t.Exchanges[n-1].Command
	}
	return r
}

func (r *replayCard) ATR() []byte { return bytes.Clone(contactlessATR) }

func (r *replayCard) Process(apdu []byte) ([]byte, error) {
	rsp, err := r.card.Transmit(context.Background(), apdu)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if bytes.Equal(apdu, r.last) {
		r.finished = true
	}
	return rsp, nil
}

func (r *replayCard) Finished() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.finished
}

// Reset starts a new card session.
func (r *replayCard) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = false
}
