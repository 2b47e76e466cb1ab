package offline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeHealth struct{ err error }

func (h *fakeHealth) Healthy(context.Context) error { return h.err }

func TestPolicy(t *testing.T) {
	clock := newClock()
	health := &fakeHealth{}
	p := NewPolicy(PolicyConfig{Timeout: 50 * time.Millisecond, Health: health, Now: clock.Now})
	ctx := context.Background()
	answered := errors.New("declined: insufficient funds")
	calls := 0
	call := func(err error) func(context.Context) error {
		return func(context.Context) error { calls++; return err }
	}
	slow := func(ctx context.Context) error { calls++; <-ctx.Done(); return ctx.Err() }

	steps := []struct {
		name      string
		do        func() error
		want      error // matched with errors.Is; nil for success
		wantCalls int   // online attempts made so far
		online    bool  // Mode().Online afterwards
	}{
		{"online approval", func() error { return p.Online(ctx, call(nil)) }, nil, 1, true},
		{"online decline is an answer", func() error { return p.Online(ctx, call(answered)) }, answered, 2, true},
		{"timeout goes offline", func() error { return p.Online(ctx, slow) }, ErrGoOffline, 3, false},
		{"while down no attempt", func() error { return p.Online(ctx, call(nil)) }, ErrGoOffline, 3, false},
		{"probe fails", func() error { health.err = ErrUnavailable; p.Probe(ctx); return nil }, nil, 3, false},
		{"probe sees it back", func() error { health.err = nil; p.Probe(ctx); return nil }, nil, 3, true},
		{"unavailable goes offline", func() error { return p.Online(ctx, call(fmt.Errorf("dial: %w", ErrUnavailable))) }, ErrUnavailable, 4, false},
		{"back again", func() error { p.Probe(ctx); return p.Online(ctx, call(nil)) }, nil, 5, true},
		{"manager switch", func() error { p.SetWorkOffline(true); return p.Online(ctx, call(nil)) }, ErrGoOffline, 5, false},
		{"probe does not undo the switch", func() error { p.Probe(ctx); return p.Online(ctx, call(nil)) }, ErrGoOffline, 5, false},
		{"switch off", func() error { p.SetWorkOffline(false); return p.Online(ctx, call(nil)) }, nil, 6, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clock.Add(time.Second)
			err := s.do()
			if (s.want == nil) != (err == nil) || (s.want != nil && !errors.Is(err, s.want)) {
				t.Errorf("err = %v, want %v", err, s.want)
			}
			if calls != s.wantCalls {
				t.Errorf("%d online attempts, want %d", calls, s.wantCalls)
			}
			if m := p.Mode(); m.Online != s.online {
				t.Errorf("mode %+v, want online %v", m, s.online)
			}
		})
	}
}

func TestPolicyDefaults(t *testing.T) {
	clock := newClock()
	p := NewPolicy(PolicyConfig{Now: clock.Now})
	var deadline time.Duration
	p.Online(context.Background(), func(ctx context.Context) error {
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		return nil
	})
	if deadline <= time.Second || deadline > 1500*time.Millisecond {
		t.Errorf("default timeout %v, want 1.5 s", deadline)
	}
	if m := p.Mode(); !m.Online || !m.Since.Equal(clock.Now()) {
		t.Errorf("mode %+v", m)
	}
}

func TestPolicyCallerCancel(t *testing.T) {
	tests := []struct {
		name    string
		attempt func(ctx context.Context) error
	}{
		{"context error", func(ctx context.Context) error { return ctx.Err() }},
		// host.Client wraps a cancelled request as unavailable.
		{"unavailable", func(ctx context.Context) error { return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPolicy(PolicyConfig{Now: newClock().Now})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := p.Online(ctx, tt.attempt)
			if errors.Is(err, ErrGoOffline) || !p.Mode().Online {
				t.Errorf("a cancelled sale sent the terminal offline: %v", err)
			}
		})
	}
}

// flipHealth fails its first probes, then succeeds.
type flipHealth struct {
	mu    sync.Mutex
	fails int
}

func (h *flipHealth) Healthy(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fails > 0 {
		h.fails--
		return ErrUnavailable
	}
	return nil
}

func TestPolicyWatch(t *testing.T) {
	p := NewPolicy(PolicyConfig{Health: &flipHealth{fails: 3}, Now: newClock().Now})
	p.Online(context.Background(), func(context.Context) error { return ErrUnavailable })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	back := make(chan struct{}, 10)
	go p.Watch(ctx, time.Millisecond, func() { back <- struct{}{} })
	select {
	case <-back:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not see the ledger come back")
	}
	if !p.Mode().Online {
		t.Errorf("mode %+v after the ledger came back", p.Mode())
	}
}
