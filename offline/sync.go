package offline

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// A Syncer forwards the queue to the ledger in batches, backing off
// exponentially with jitter while the ledger fails. Run one Syncer per
// queue.
type Syncer struct {
	Queue     *Queue
	Forwarder Forwarder
	// BatchSize is the most items per Forward call; 0 means 2000.
	BatchSize int
	// MinBackoff and MaxBackoff bound the wait after a failure; zero
	// means 500 ms and 1 minute.
	MinBackoff, MaxBackoff time.Duration
	// Rand drives the jitter; nil means crypto/rand.
	Rand io.Reader
	// Sleep waits for d or until ctx is done; nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives progress and errors; nil means slog.Default. Card
	// data never reaches it.
	Logger *slog.Logger
}

// SyncReport counts what one Drain did.
type SyncReport struct {
	Sent      int // items handed to the forwarder, resends included
	Answered  int // items the ledger answered for
	Declined  int // of those, items it declined
	Failures  int // failed batches
	Remaining int // unsent items when Drain returned
}

func (s *Syncer) defaults() (batch int, lo, hi time.Duration, rnd io.Reader, sleep func(context.Context, time.Duration) error, log *slog.Logger) {
	batch, lo, hi, rnd, sleep, log = s.BatchSize, s.MinBackoff, s.MaxBackoff, s.Rand, s.Sleep, s.Logger
	if batch <= 0 {
		batch = 2000
	}
	if lo <= 0 {
		lo = 500 * time.Millisecond
	}
	if hi <= 0 {
		hi = time.Minute
	}
	if hi < lo {
		hi = lo
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	if log == nil {
		log = slog.Default()
	}
	return
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain forwards unsent items until none are left, retrying failed
// batches with backoff, and returns when the queue is empty or ctx ends.
// After maxFailures consecutive failed batches (0: no limit) it gives up
// and returns the last error.
//
// It goes through the queue in passes, oldest item first, claiming the
// next batch while one travels to the ledger. A failed batch is sent
// again in the next pass; the drain ends with a pass that finds nothing
// to send, which also picks up held items confirmed meanwhile.
func (s *Syncer) Drain(ctx context.Context, maxFailures int) (SyncReport, error) {
	batch, lo, hi, rnd, sleep, log := s.defaults()
	var rep SyncReport
	failures := 0
	var after int64 // the pass has claimed the items up to here
	var ahead <-chan claimed
	defer func() {
		if ahead != nil {
			<-ahead // the queue stays in use until the claim is done
		}
	}()
	for {
		var c claimed
		if ahead != nil {
			c, ahead = <-ahead, nil
		} else {
			c.items, c.last, c.err = s.Queue.claim(ctx, after, batch)
		}
		err := c.err
		if err == nil && len(c.items) == 0 {
			if after > 0 {
				after = 0 // another pass, for what this one left
				continue
			}
			st, serr := s.Queue.Status(ctx)
			rep.Remaining = st.Unsent
			return rep, serr
		}
		if err == nil {
			after = c.last
			ahead = s.claimAhead(ctx, c.last, batch)
			var n, answered, declined int
			n, answered, declined, err = s.send(ctx, c.items)
			rep.Sent += n
			rep.Answered += answered
			rep.Declined += declined
		}
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		rep.Failures++
		failures++
		if maxFailures > 0 && failures >= maxFailures {
			st, _ := s.Queue.Status(ctx)
			rep.Remaining = st.Unsent
			return rep, err
		}
		d := backoff(failures, lo, hi, rnd)
		log.Warn("offline sync failed; backing off", "error", err, "attempt", failures, "wait", d)
		if err := sleep(ctx, d); err != nil {
			return rep, err
		}
	}
}

// claimed is the outcome of a claim.
type claimed struct {
	items []Outgoing
	last  int64
	err   error
}

// claimAhead claims the batch after item after in the background.
func (s *Syncer) claimAhead(ctx context.Context, after int64, batch int) <-chan claimed {
	ch := make(chan claimed, 1)
	go func() {
		var c claimed
		c.items, c.last, c.err = s.Queue.claim(ctx, after, batch)
		ch <- c
	}()
	return ch
}

// send forwards a batch and records the answers. An error means the
// batch, or part of it, must be sent again.
func (s *Syncer) send(ctx context.Context, items []Outgoing) (sent, answered, declined int, err error) {
	results, ferr := s.Forwarder.Forward(ctx, items)
	valid := results[:0]
	want := make(map[string]bool, len(items))
	for _, it := range items {
		want[it.TxnID] = true
	}
	for _, r := range results {
		if want[r.TxnID] && r.State.final() {
			valid = append(valid, r)
			delete(want, r.TxnID)
			if r.State == StateDeclined {
				declined++
			}
		}
	}
	if ferr == nil && len(want) > 0 {
		ferr = fmt.Errorf("ledger answered %d of %d items", len(items)-len(want), len(items))
	}
	if ferr != nil {
		ferr = fmt.Errorf("forwarding %d items: %w", len(items), ferr)
	}
	// Record with a context of its own: answers the ledger gave must not
	// be lost because the caller is cancelling.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Queue.record(rctx, valid, ferr); err != nil {
		return len(items), 0, 0, errors.Join(ferr, err)
	}
	return len(items), len(valid), declined, ferr
}

// backoff returns the wait before retry number attempt (1 for the first):
// lo doubled per attempt, capped at hi, then drawn uniformly from its upper
// half so that terminals coming back together do not retry in step.
func backoff(attempt int, lo, hi time.Duration, rnd io.Reader) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	var b [8]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return d
	}
	half := uint64(d / 2)
	if half == 0 {
		return d
	}
	return d/2 + time.Duration(binary.LittleEndian.Uint64(b[:])%half)
}

// Run drains the queue whenever kick fires or every interval, until ctx
// ends. Errors are logged and kept in the queue's status.
func (s *Syncer) Run(ctx context.Context, kick <-chan struct{}, interval time.Duration) {
	_, _, _, _, sleep, log := s.defaults()
	for {
		rep, err := s.Drain(ctx, 0)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Error("offline sync", "error", err)
		} else if rep.Sent > 0 {
			log.Info("offline sync done", "sent", rep.Sent, "answered", rep.Answered, "failures", rep.Failures)
		}
		wait, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-kick:
			case <-wait.Done():
			}
			cancel()
		}()
		sleep(wait, interval)
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}
