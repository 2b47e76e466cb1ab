package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Config configures a [Ledger].
type Config struct {
	Store       Store
	TokenSecret []byte      // at least 32 bytes; keys the card tokens
	Issuers     []IssuerKey // issuer master keys by card range
	Cryptograms Cryptograms // default EMVCryptograms

	Now    func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand.Reader
	Logger *slog.Logger     // default slog.Default()

	HoldTTL time.Duration // how long a pre-authorization holds funds; default 7 days
	// ConfirmTTL is how long a chat purchase's confirmation code stays
	// valid after the session last changed; default 15 minutes.
	ConfirmTTL time.Duration
	MaxBatch   int // most requests per database transaction; default 512
	// Writers is how many transactions the ledger runs at once; default
	// the store's [ConcurrentStore.Writers], else 1.
	Writers int
}

// A Ledger posts payments. It is safe for concurrent use.
type Ledger struct {
	store      Store
	tok        *Tokenizer
	issuers    []IssuerKey
	crypto     Cryptograms
	now        func() time.Time
	log        *slog.Logger
	holdTTL    time.Duration
	confirmTTL time.Duration
	maxBatch   int

	randMu sync.Mutex
	rand   io.Reader
	lastID uint64 // time part of the last id, under randMu

	queue chan *op
	stop  chan struct{}
	wg    sync.WaitGroup

	// With a PipelinedStore and one writer, committed batches wait in
	// deliveries for their commits to be durable (see deliver).
	pipe       PipelinedStore
	deliveries chan delivery
	delivered  chan struct{}

	mu       sync.Mutex
	inflight map[IdemKey]bool

	closeMu sync.RWMutex
	closed  bool

	statsMu sync.Mutex
	stats   Stats
}

// Stats counts what the writer did, for metrics.
type Stats struct {
	Batches    int64            // committed transactions
	Ops        int64            // requests in them
	Retries    int64            // transactions retried after a conflict
	Approved   int64            // authorizations approved
	Declined   map[string]int64 // authorizations declined, by reason
	CommitTime time.Duration    // total time spent in transactions
}

// New starts a ledger on a store.
func New(cfg Config) (*Ledger, error) {
	if cfg.Store == nil {
		return nil, errors.New("ledger: no store")
	}
	tok, err := NewTokenizer(cfg.TokenSecret)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	issuers := slices.Clone(cfg.Issuers)
	for i := range issuers {
		// The key's card range is not named: it may be a whole PAN.
		if err := issuers[i].ready(); err != nil {
			return nil, fmt.Errorf("ledger: issuer key %d: %w", i, err)
		}
	}
	l := &Ledger{
		store: cfg.Store, tok: tok, issuers: issuers, crypto: cfg.Cryptograms,
		now: cfg.Now, rand: cfg.Rand, log: cfg.Logger, holdTTL: cfg.HoldTTL, maxBatch: cfg.MaxBatch,
		confirmTTL: cfg.ConfirmTTL,
		queue:      make(chan *op, 4096),
		stop:       make(chan struct{}),
		inflight:   make(map[IdemKey]bool),
	}
	l.stats.Declined = make(map[string]int64)
	if l.now == nil {
		l.now = time.Now
	}
	if l.crypto == nil {
		l.crypto = EMVCryptograms{}
	}
	if l.rand == nil {
		l.rand = rand.Reader
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.holdTTL == 0 {
		l.holdTTL = 7 * 24 * time.Hour
	}
	if l.confirmTTL == 0 {
		l.confirmTTL = 15 * time.Minute
	}
	if l.maxBatch == 0 {
		l.maxBatch = 512
	}
	writers := cfg.Writers
	if cs, ok := cfg.Store.(ConcurrentStore); ok && writers == 0 {
		writers = cs.Writers()
	}
	if ps, ok := cfg.Store.(PipelinedStore); ok && writers <= 1 {
		l.pipe = ps
		l.deliveries = make(chan delivery, 64)
		l.delivered = make(chan struct{})
		go l.deliver()
	}
	for range max(writers, 1) {
		l.wg.Add(1)
		go l.writer()
	}
	return l, nil
}

// Close stops the writers after the queued requests are done. It does not
// close the store.
func (l *Ledger) Close() error {
	l.closeMu.Lock()
	if l.closed {
		l.closeMu.Unlock()
		return nil
	}
	l.closed = true
	l.closeMu.Unlock()
	close(l.stop)
	l.wg.Wait()
	if l.pipe != nil {
		close(l.deliveries)
		<-l.delivered
	}
	return nil
}

// Store returns the ledger's store.
func (l *Ledger) Store() Store { return l.store }

// Tokenizer returns the ledger's tokenizer.
func (l *Ledger) Tokenizer() *Tokenizer { return l.tok }

// newID returns a unique id with a prefix: the time in microseconds, then
// random bytes, e.g. "au_00064454d1f3a2c0_9f3a1b2c4d". Ids that grow with
// time keep the stores' inserts at the right edge of their indexes, so a
// batch dirties few pages.
func (l *Ledger) newID(prefix string) string {
	var b [13]byte
	now := uint64(l.now().UnixMicro())
	l.randMu.Lock()
	// Strictly increasing within a process, so that ids also order the
	// events of one clock tick.
	l.lastID = max(now, l.lastID+1)
	binary.BigEndian.PutUint64(b[:8], l.lastID)
	l.randMu.Unlock()
	l.random(b[8:])
	return prefix + "_" + hex.EncodeToString(b[:8]) + "_" + hex.EncodeToString(b[8:])
}

func (l *Ledger) approvalCode() string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	var b [6]byte
	l.random(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

func (l *Ledger) random(b []byte) {
	l.randMu.Lock()
	defer l.randMu.Unlock()
	if _, err := io.ReadFull(l.rand, b); err != nil {
		// Ids must not collide; without randomness nothing is safe to write.
		panic("ledger: reading randomness: " + err.Error())
	}
}

// submit queues an op and waits for its result.
func (l *Ledger) submit(ctx context.Context, o *op) (Result, error) {
	// Held while queueing, so that Close cannot slip between the check
	// and the send and leave the op in a queue nobody drains.
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return Result{}, ErrClosed
	}
	l.mu.Lock()
	if o.idem != nil {
		if l.inflight[o.idem.IdemKey] {
			l.mu.Unlock()
			l.closeMu.RUnlock()
			return Result{}, ErrInFlight
		}
		l.inflight[o.idem.IdemKey] = true
	}
	l.mu.Unlock()
	o.done = make(chan opResult, 1)
	select {
	case l.queue <- o:
		l.closeMu.RUnlock()
	case <-ctx.Done():
		l.closeMu.RUnlock()
		l.release(o)
		return Result{}, ctx.Err()
	}
	select {
	case r := <-o.done:
		return r.res, r.err
	case <-ctx.Done():
		// The writer still finishes the op; a retry with the same
		// idempotency key gets its result.
		return Result{}, ctx.Err()
	}
}

func (l *Ledger) release(o *op) {
	if o.idem == nil {
		return
	}
	l.mu.Lock()
	delete(l.inflight, o.idem.IdemKey)
	l.mu.Unlock()
}

// writer is a goroutine that writes (one per Config.Writers): it takes
// whatever requests are waiting and commits them in one transaction, so
// that one fsync makes many approvals durable. Writers lock what their
// batches load in one order (see Tx), so they wait for each other where
// batches share a wallet or card, and a conflict is retried (see run).
func (l *Ledger) writer() {
	defer l.wg.Done()
	for {
		var ops []*op
		select {
		case o := <-l.queue:
			ops = append(ops, o)
		case <-l.stop:
			// Drain what was queued before Close.
			for {
				select {
				case o := <-l.queue:
					l.run([]*op{o})
				default:
					return
				}
			}
		}
	more:
		for len(ops) < l.maxBatch {
			select {
			case o := <-l.queue:
				ops = append(ops, o)
			default:
				break more
			}
		}
		l.run(ops)
	}
}

// run applies ops, retrying on conflicts with concurrent writers and
// isolating an op whose failure would sink the others.
func (l *Ledger) run(ops []*op) {
	var results []opResult
	var durable func() error
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		results, durable, err = l.applyBatch(ops)
		if !errors.Is(err, ErrConflict) {
			break
		}
		l.statsMu.Lock()
		l.stats.Retries++
		l.statsMu.Unlock()
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
	if err != nil && len(ops) > 1 {
		l.log.Warn("batch failed, retrying one by one", "ops", len(ops), "err", err)
		for _, o := range ops {
			l.run([]*op{o})
		}
		return
	}
	if err == nil && durable != nil {
		l.deliveries <- delivery{ops, results, durable}
		return
	}
	l.finish(ops, results, err)
}

// A delivery is a committed batch whose results wait for its commit to
// be durable.
type delivery struct {
	ops     []*op
	results []opResult
	durable func() error
}

// deliver answers committed batches in commit order once they are
// durable, while the writer goes on with the next ones.
func (l *Ledger) deliver() {
	defer close(l.delivered)
	for d := range l.deliveries {
		err := d.durable()
		if err != nil {
			l.log.Error("commit not durable", "ops", len(d.ops), "err", err)
		}
		l.finish(d.ops, d.results, err)
	}
}

// finish answers ops with their results, or all with err.
func (l *Ledger) finish(ops []*op, results []opResult, err error) {
	for i, o := range ops {
		r := opResult{err: err}
		if err == nil {
			r = results[i]
		}
		// Released only now, so that a retry with the same key while
		// the commit is not yet durable gets ErrInFlight.
		l.release(o)
		o.done <- r
	}
}

// applyBatch runs ops in one transaction. With a PipelinedStore, the
// commit is durable once durable returns; otherwise durable is nil.
func (l *Ledger) applyBatch(ops []*op) (results []opResult, durable func() error, err error) {
	start := time.Now()
	results = make([]opResult, len(ops))
	// The writer must finish what it started even if callers gave up.
	ctx := context.Background()
	fn := func(tx Tx) error {
		b := &batch{
			l: l, tx: tx, now: l.now(),
			idem:        make(map[IdemKey]IdemRecord),
			creds:       make(map[string]*Credential),
			auths:       make(map[string]*Authorization),
			authsByTxn:  make(map[TxnRef]*Authorization),
			atcUsed:     make(map[string]bool),
			accounts:    make(map[string]*Account),
			houseBase:   make(map[string]int64),
			newAccounts: make(map[string]bool),
			newAuths:    make(map[string]bool),
			dirtyAccts:  make(map[string]bool),
			dirtyCreds:  make(map[string]bool),
			dirtyAuths:  make(map[string]bool),
		}
		if err := b.load(ctx, ops); err != nil {
			return err
		}
		for i, o := range ops {
			results[i].res, results[i].err = b.apply(o)
		}
		ch := b.changes()
		if ch.Empty() {
			return nil
		}
		return tx.Apply(ctx, ch)
	}
	if l.pipe != nil {
		durable, err = l.pipe.WriteAsync(ctx, fn)
	} else {
		err = l.store.Write(ctx, fn)
	}
	if err != nil {
		return nil, nil, err
	}
	l.statsMu.Lock()
	l.stats.Batches++
	l.stats.Ops += int64(len(ops))
	l.stats.CommitTime += time.Since(start)
	for _, r := range results {
		switch {
		case r.err != nil || r.res.Replayed:
		case r.res.Outcome == OutcomeApproved:
			l.stats.Approved++
		case r.res.Outcome == OutcomeDeclined:
			l.stats.Declined[r.res.Reason]++
		}
	}
	l.statsMu.Unlock()
	return results, durable, nil
}

// Stats returns a copy of the counters.
func (l *Ledger) Stats() Stats {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	s := l.stats
	s.Declined = make(map[string]int64, len(l.stats.Declined))
	for k, v := range l.stats.Declined {
		s.Declined[k] = v
	}
	return s
}

// HashKey returns the hex SHA-256 of an API key or request, as stored.
func HashKey(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
