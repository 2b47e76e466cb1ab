package offline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// noSleep records the waits instead of sleeping.
type noSleep struct{ waits []time.Duration }

func (n *noSleep) sleep(ctx context.Context, d time.Duration) error {
	n.waits = append(n.waits, d)
	return ctx.Err()
}

func newSyncer(q *Queue, f Forwarder, batch int, sl *noSleep) *Syncer {
	return &Syncer{Queue: q, Forwarder: f, BatchSize: batch, Rand: bytes.NewReader(make([]byte, 1<<12)),
		Sleep: sl.sleep, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestSyncDrain(t *testing.T) {
	clock := newClock()
	q, _ := openTest(t, clock, &Limits{})
	ctx := context.Background()
	ids := txnIDs("d", 23)
	for i, id := range ids {
		mustEnqueue(t, q, tap(id, testPANs[i%len(testPANs)], int64(100+i)))
	}
	f := newFakeLedger(t)
	f.declines[ids[3]] = "unknown_card"
	f.overdraw[ids[5]] = 42
	clock.Add(time.Hour)
	rep, err := newSyncer(q, f.forwarder(), 7, &noSleep{}).Drain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 23 || rep.Answered != 23 || rep.Declined != 1 || rep.Remaining != 0 || rep.Failures != 0 {
		t.Errorf("report %+v", rep)
	}
	booked := append(append([]string{}, ids[:3]...), ids[4:]...)
	f.checkPostings(t, booked)

	items, _ := q.List(ctx, ListOptions{})
	for i, it := range items {
		want := StateAccepted
		switch i {
		case 3:
			want = StateDeclined
		case 5:
			want = StateBookedOverdraft
		}
		if it.State != want || it.AuthorizationID != "au-"+it.TxnID || it.Attempts != 1 {
			t.Errorf("item %s: %+v, want state %s after one attempt", it.TxnID, it, want)
		}
	}
	if items[3].Reason != "unknown_card" || items[5].Overdraft != 42 {
		t.Errorf("decline reason %q, overdraft %d", items[3].Reason, items[5].Overdraft)
	}
	st, _ := q.Status(ctx)
	if st.Unsent != 0 || st.Accepted != 21 || st.Declined != 1 || st.Overdraft != 1 || !st.LastSync.Equal(clock.Now()) || st.LastError != "" {
		t.Errorf("status %+v", st)
	}
}

// TestSyncResumesAfterCrash leaves items sending, as a crash between the
// POST and the recording of its answer would, and checks that a new
// process sends them again without posting twice.
func TestSyncResumesAfterCrash(t *testing.T) {
	clock := newClock()
	q, path := openTest(t, clock, &Limits{})
	ctx := context.Background()
	ids := enqueueTaps(t, q, "r", 10, testPANs[0])
	f := newFakeLedger(t)
	claimed, _, err := q.claim(ctx, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	// The ledger got them; the answers never reached the queue.
	if _, err := f.forwarder().Forward(ctx, claimed); err != nil {
		t.Fatal(err)
	}
	q.Close()

	q2, err := Open(path, Options{Key: testKey, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if st, _ := q2.Status(ctx); st.Sending != 4 || st.Unsent != 10 {
		t.Fatalf("after reopen: %+v", st)
	}
	if _, err := newSyncer(q2, f.forwarder(), 3, &noSleep{}).Drain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	f.checkPostings(t, ids)
	items, _ := q2.List(ctx, ListOptions{})
	for i, it := range items {
		if it.State != StateAccepted || (i < 4) != (it.Attempts == 2) {
			t.Errorf("item %s: state %s after %d attempts", it.TxnID, it.State, it.Attempts)
		}
	}
}

func TestSyncBackoff(t *testing.T) {
	q, _ := openTest(t, newClock(), &Limits{})
	ctx := context.Background()
	ids := enqueueTaps(t, q, "b", 3, testPANs[1])
	f := newFakeLedger(t)
	f.failNext(5)
	sl := &noSleep{}
	s := newSyncer(q, f.forwarder(), 1, sl)
	s.MinBackoff, s.MaxBackoff = time.Second, 4*time.Second
	rep, err := s.Drain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The zero rand draws the bottom of each range: half the step.
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}
	if len(sl.waits) != len(want) {
		t.Fatalf("waits %v, want %v", sl.waits, want)
	}
	for i := range want {
		if sl.waits[i] != want[i] {
			t.Errorf("wait %d = %v, want %v", i, sl.waits[i], want[i])
		}
	}
	if rep.Failures != 5 {
		t.Errorf("report %+v", rep)
	}
	f.checkPostings(t, ids)

	t.Run("gives up", func(t *testing.T) {
		mustEnqueue(t, q, tap("late", testPANs[1], 100))
		f.failNext(10)
		rep, err := s.Drain(ctx, 3)
		if !errors.Is(err, ErrUnavailable) || rep.Remaining != 1 {
			t.Errorf("Drain = %+v, %v; want ErrUnavailable with 1 remaining", rep, err)
		}
		st, _ := q.Status(ctx)
		if st.LastError == "" || st.Sending != 1 {
			t.Errorf("status after failures: %+v", st)
		}
	})
}

func TestBackoffJitter(t *testing.T) {
	tests := []struct {
		name    string
		attempt int
		rnd     []byte
		want    time.Duration
	}{
		{"first, bottom", 1, make([]byte, 8), 50 * time.Millisecond},
		{"first, top", 1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 50*time.Millisecond + time.Duration(0x7fffffffffffffff%uint64(50*time.Millisecond))},
		{"third", 3, make([]byte, 8), 200 * time.Millisecond},
		{"capped", 30, make([]byte, 8), time.Second},
		{"rand fails", 2, nil, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := backoff(tt.attempt, 100*time.Millisecond, 2*time.Second, bytes.NewReader(tt.rnd))
			if got != tt.want {
				t.Errorf("backoff = %v, want %v", got, tt.want)
			}
		})
	}
}

// partialForwarder answers for every other item.
type partialForwarder struct{ calls int }

func (p *partialForwarder) Forward(ctx context.Context, b []Outgoing) ([]Result, error) {
	p.calls++
	var out []Result
	for i, o := range b {
		if i%2 == 0 || p.calls > 1 {
			out = append(out, Result{TxnID: o.TxnID, State: StateAccepted})
		}
	}
	return out, nil
}

func TestSyncPartialAnswers(t *testing.T) {
	q, _ := openTest(t, newClock(), &Limits{})
	for _, id := range txnIDs("p", 4) {
		mustEnqueue(t, q, tap(id, testPANs[2], 100))
	}
	pf := &partialForwarder{}
	sl := &noSleep{}
	rep, err := newSyncer(q, pf, 10, sl).Drain(context.Background(), 0)
	if err != nil || rep.Remaining != 0 || rep.Failures != 1 || len(sl.waits) != 1 {
		t.Errorf("Drain = %+v, %v, waits %v", rep, err, sl.waits)
	}
}

// signalForwarder accepts everything and reports each call.
type signalForwarder struct{ calls chan int }

func (s *signalForwarder) Forward(ctx context.Context, b []Outgoing) ([]Result, error) {
	out := make([]Result, len(b))
	for i, o := range b {
		out[i] = Result{TxnID: o.TxnID, State: StateAccepted}
	}
	s.calls <- len(b)
	return out, nil
}

func TestSyncRun(t *testing.T) {
	q, _ := openTest(t, newClock(), &Limits{})
	mustEnqueue(t, q, tap("first", testPANs[0], 100))
	fw := &signalForwarder{calls: make(chan int, 10)}
	s := newSyncer(q, fw, 10, &noSleep{})
	// The idle wait says it is idle and blocks until a kick, whatever
	// the interval.
	idle := make(chan struct{}, 10)
	s.Sleep = func(ctx context.Context, d time.Duration) error {
		idle <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	kick := make(chan struct{})
	done := make(chan struct{})
	go func() { s.Run(ctx, kick, time.Hour); close(done) }()

	if n := <-fw.calls; n != 1 {
		t.Fatalf("first drain sent %d", n)
	}
	<-idle
	mustEnqueue(t, q, tap("second", testPANs[1], 100))
	mustEnqueue(t, q, tap("third", testPANs[2], 100))
	kick <- struct{}{}
	if n := <-fw.calls; n != 2 {
		t.Fatalf("drain after kick sent %d", n)
	}
	cancel()
	<-done
	if st, _ := q.Status(context.Background()); st.Unsent != 0 || st.Accepted != 3 {
		t.Errorf("status %+v", st)
	}
}

// failingForwarder fails its call number fail (1 for the first) and
// records the first item of every call.
type failingForwarder struct {
	Forwarder
	fail  int
	calls []string
}

func (f *failingForwarder) Forward(ctx context.Context, b []Outgoing) ([]Result, error) {
	f.calls = append(f.calls, b[0].TxnID)
	if len(f.calls) == f.fail {
		return nil, ErrUnavailable
	}
	return f.Forwarder.Forward(ctx, b)
}

// TestSyncFailedBatchNextPass: the batch claimed while a failing one
// travels goes next, and the failed one is sent again in the next pass;
// every item is booked once and counts the attempts it had.
func TestSyncFailedBatchNextPass(t *testing.T) {
	clock := newClock()
	q, _ := openTest(t, clock, &Limits{})
	ctx := context.Background()
	ids := enqueueTaps(t, q, "p", 10, testPANs[0])
	f := newFakeLedger(t)
	fw := &failingForwarder{Forwarder: f.forwarder(), fail: 2}
	rep, err := newSyncer(q, fw, 3, &noSleep{}).Drain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 13 || rep.Answered != 10 || rep.Failures != 1 || rep.Remaining != 0 {
		t.Errorf("report %+v", rep)
	}
	if want := []string{ids[0], ids[3], ids[6], ids[9], ids[3]}; !slices.Equal(fw.calls, want) {
		t.Errorf("batches starting at %v, want %v", fw.calls, want)
	}
	f.checkPostings(t, ids)
	items, _ := q.List(ctx, ListOptions{})
	for i, it := range items {
		want := 1
		if i >= 3 && i < 6 {
			want = 2
		}
		if it.State != StateAccepted || it.Attempts != want {
			t.Errorf("item %s: state %s after %d attempts, want accepted after %d", it.TxnID, it.State, it.Attempts, want)
		}
	}
}

// TestSyncLedgerHangs forwards to a ledger that books the item and then
// never answers: the request times out, the item stays sending (its
// outcome unknown), and the next sync sends it again under the same key
// and gets the first answer, booked once.
func TestSyncLedgerHangs(t *testing.T) {
	clock := newClock()
	q, _ := openTest(t, clock, &Limits{})
	ctx := context.Background()
	ids := enqueueTaps(t, q, "h", 1, testPANs[0])
	f := newFakeLedger(t)
	var hang atomic.Bool
	hang.Store(true)
	var keys []string
	var mu sync.Mutex
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/authorizations" {
			mu.Lock()
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			mu.Unlock()
		}
		// The fake has no batch endpoint: its 404 sends one request per item.
		if !hang.Load() || r.URL.Path == "/v1/authorizations/batch" {
			f.srv.Config.Handler.ServeHTTP(w, r)
			return
		}
		f.srv.Config.Handler.ServeHTTP(httptest.NewRecorder(), r) // booked, answer never sent
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for the handlers
	fw := &HTTPForwarder{BaseURL: srv.URL, APIKey: "k", Timeout: 200 * time.Millisecond}

	t.Run("health check", func(t *testing.T) {
		if err := fw.Healthy(ctx); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Healthy = %v, want an unavailable ledger after the timeout", err)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		rep, err := newSyncer(q, fw, 10, &noSleep{}).Drain(ctx, 1)
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || rep.Answered != 0 {
			t.Fatalf("Drain = %+v, %v; want the request timed out", rep, err)
		}
		if items, _ := q.List(ctx, ListOptions{}); items[0].State != StateSending {
			t.Errorf("item %+v, want it sending: its outcome is unknown", items[0])
		}
	})
	t.Run("ledger answers again", func(t *testing.T) {
		hang.Store(false)
		rep, err := newSyncer(q, fw, 10, &noSleep{}).Drain(ctx, 1)
		if err != nil || rep.Answered != 1 {
			t.Fatalf("Drain = %+v, %v", rep, err)
		}
		f.checkPostings(t, ids)
		items, _ := q.List(ctx, ListOptions{})
		if it := items[0]; it.State != StateAccepted || it.AuthorizationID != "au-"+ids[0] || it.Attempts != 2 {
			t.Errorf("item %+v, want accepted with the first answer after two attempts", it)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(keys, []string{ids[0], ids[0]}) {
			t.Errorf("idempotency keys %q, want %s twice", keys, ids[0])
		}
	})
}
