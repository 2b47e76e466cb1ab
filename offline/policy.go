package offline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrUnavailable marks an error that means the ledger could not be asked
// (network failure, timeout, overload), as opposed to an answer. Online
// clients wrap it so that a Policy can tell the two apart.
var ErrUnavailable = errors.New("ledger unavailable")

// ErrGoOffline is returned by [Policy.Online] when the tap should be
// decided by the offline rules.
var ErrGoOffline = errors.New("ledger not reachable; decide offline")

// A HealthChecker answers whether the ledger is up.
type HealthChecker interface {
	Healthy(ctx context.Context) error
}

// PolicyConfig configures a Policy.
type PolicyConfig struct {
	// Timeout bounds an online attempt; 0 means 1.5 s.
	Timeout time.Duration
	// Health probes the ledger while it is considered down.
	Health HealthChecker
	// ProbeTimeout bounds a health probe; 0 means Timeout.
	ProbeTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// A Policy routes taps online first and offline when needed. After an
// online attempt fails for want of a ledger, taps go straight to the
// offline rules, without paying the timeout again, until a health probe
// sees the ledger back. A manager may also force offline work.
type Policy struct {
	cfg PolicyConfig

	mu          sync.Mutex
	forced      bool      // the manager's "work offline" switch
	down        bool      // the last attempt or probe failed
	since       time.Time // when down or forced last changed
	lastFailure error
}

// NewPolicy returns a policy that starts online.
func NewPolicy(cfg PolicyConfig) *Policy {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 1500 * time.Millisecond
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = cfg.Timeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Policy{cfg: cfg, since: cfg.Now()}
}

// Mode is the policy's current routing.
type Mode struct {
	Online      bool      `json:"online"`       // taps try the ledger first
	WorkOffline bool      `json:"work_offline"` // the manager's switch is on
	LedgerDown  bool      `json:"ledger_down"`
	Since       time.Time `json:"since"`
	LastError   string    `json:"last_error,omitempty"`
}

// Mode returns the current routing.
func (p *Policy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := Mode{Online: !p.forced && !p.down, WorkOffline: p.forced, LedgerDown: p.down, Since: p.since}
	if p.lastFailure != nil {
		m.LastError = p.lastFailure.Error()
	}
	return m
}

// SetWorkOffline sets the manager's "work offline" switch.
func (p *Policy) SetWorkOffline(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.forced != on {
		p.forced, p.since = on, p.cfg.Now()
	}
}

// Online runs an online attempt under the policy's timeout, unless the
// policy already routes offline. It returns ErrGoOffline (wrapping the
// cause) when the tap should be decided offline: the policy routes
// offline, the attempt failed with ErrUnavailable, or it ran out of time.
// Any other error of attempt is returned as it is: the ledger answered.
func (p *Policy) Online(ctx context.Context, attempt func(ctx context.Context) error) error {
	if m := p.Mode(); !m.Online {
		if m.WorkOffline {
			return fmt.Errorf("%w: working offline by manager's choice", ErrGoOffline)
		}
		return fmt.Errorf("%w: ledger down since %s", ErrGoOffline, m.Since.UTC().Format(time.RFC3339))
	}
	actx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	err := attempt(actx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		// The caller gave up (a cancelled tap): that says nothing about
		// the ledger, even if the transport calls it unavailable.
		return err
	case errors.Is(err, ErrUnavailable), actx.Err() != nil:
		p.markDown(err)
		return fmt.Errorf("%w: %w", ErrGoOffline, err)
	default:
		return err
	}
}

func (p *Policy) markDown(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.down {
		p.down, p.since = true, p.cfg.Now()
	}
	p.lastFailure = err
}

// Probe asks the health checker whether the ledger is up and routes
// accordingly. It reports whether the ledger is up.
func (p *Policy) Probe(ctx context.Context) bool {
	if p.cfg.Health == nil {
		return !p.Mode().LedgerDown
	}
	pctx, cancel := context.WithTimeout(ctx, p.cfg.ProbeTimeout)
	defer cancel()
	err := p.cfg.Health.Healthy(pctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if !p.down {
			p.down, p.since = true, p.cfg.Now()
		}
		p.lastFailure = err
		return false
	}
	if p.down {
		p.down, p.since, p.lastFailure = false, p.cfg.Now(), nil
	}
	return true
}

// Watch probes the ledger every interval until ctx ends, calling back
// (if not nil) whenever it comes back up, for instance to kick a Syncer.
func (p *Policy) Watch(ctx context.Context, interval time.Duration, back func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wasDown := p.Mode().LedgerDown
		if p.Probe(ctx) && wasDown && back != nil {
			back()
		}
	}
}
