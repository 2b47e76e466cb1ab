package offline

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHeldConfirmCancel walks the held state without a Witness: not
// forwarded, confirmed to queued, and canceled by recovery only once past
// the grace period.
func TestHeldConfirmCancel(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	q, _ := openTest(t, clock, &Limits{})
	f := newFakeLedger(t)
	sync := func() SyncReport {
		t.Helper()
		rep, err := newSyncer(q, f.forwarder(), 10, &noSleep{}).Drain(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	for _, id := range []string{"old", "shown", "young"} {
		it, err := q.Enqueue(ctx, tap(id, testPANs[0], 100))
		if err != nil || it.State != StateHeld {
			t.Fatalf("enqueue %s: %+v, %v", id, it, err)
		}
		if id == "old" {
			clock.Add(50 * time.Second)
		}
	}

	t.Run("held items are not synced", func(t *testing.T) {
		if rep := sync(); rep.Sent != 0 {
			t.Errorf("sync sent %d held items", rep.Sent)
		}
		f.checkPostings(t, nil)
	})
	t.Run("confirm queues, idempotent", func(t *testing.T) {
		for range 2 {
			if err := q.Confirm(ctx, "shown"); err != nil {
				t.Fatal(err)
			}
		}
		if s := itemState(t, q, "shown"); s != StateQueued {
			t.Errorf("confirmed item is %s", s)
		}
		if rep := sync(); rep.Sent != 1 {
			t.Errorf("sync sent %d, want the confirmed item", rep.Sent)
		}
		f.checkPostings(t, []string{"shown"})
		if err := q.Confirm(ctx, "shown"); err != nil {
			t.Errorf("confirming an accepted item: %v", err)
		}
		if s := itemState(t, q, "shown"); s != StateAccepted {
			t.Errorf("confirm after sync moved it to %s", s)
		}
	})
	t.Run("confirm unknown", func(t *testing.T) {
		if err := q.Confirm(ctx, "nope"); !errors.Is(err, ErrUnknownTxn) {
			t.Errorf("got %v, want ErrUnknownTxn", err)
		}
	})
	t.Run("recovery cancels only old held items", func(t *testing.T) {
		clock.Add(15 * time.Second) // old is 65 s held, young 15 s
		sync()
		if s := itemState(t, q, "old"); s != StateCanceled {
			t.Errorf("old held item is %s, want canceled", s)
		}
		if s := itemState(t, q, "young"); s != StateHeld {
			t.Errorf("young held item is %s, want held", s)
		}
		f.checkPostings(t, []string{"shown"})
		if err := q.Confirm(ctx, "old"); !errors.Is(err, ErrCanceled) {
			t.Errorf("confirming a canceled item: %v, want ErrCanceled", err)
		}
	})
	t.Run("status and list show held and canceled", func(t *testing.T) {
		st, err := q.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Held != 1 || st.Canceled != 1 || st.Accepted != 1 || st.Unsent != 0 {
			t.Errorf("status %+v", st)
		}
		items, err := q.List(ctx, ListOptions{States: []State{StateCanceled}})
		if err != nil || len(items) != 1 || items[0].TxnID != "old" || items[0].Reason != "approval never shown" {
			t.Errorf("canceled items %+v, %v", items, err)
		}
	})
}

// TestHeldCountsAgainstLimits checks that every limit sees held items.
func TestHeldCountsAgainstLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		second Tap
		want   Limit
	}{
		{"cumulative amount", Limits{CumulativeAmount: 150}, tap("b", testPANs[1], 100), LimitCumulativeAmount},
		{"cumulative count", Limits{CumulativeCount: 1}, tap("b", testPANs[1], 100), LimitCumulativeCount},
		{"same card", Limits{SameCard: 1}, tap("b", testPANs[0], 100), LimitSameCard},
		{"oldest age", Limits{OldestAge: time.Minute}, tap("b", testPANs[1], 100), LimitOldestAge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			q, _ := openTest(t, clock, &tt.limits)
			if _, err := q.Enqueue(context.Background(), tap("a", testPANs[0], 100)); err != nil {
				t.Fatal(err)
			}
			clock.Add(2 * time.Minute)
			_, err := q.Enqueue(context.Background(), tt.second)
			var de *DeclineError
			if !errors.As(err, &de) || de.Limit != tt.want {
				t.Errorf("second tap: %v, want a decline by %s", err, tt.want)
			}
		})
	}
}

// fakeWitness is a display log as recovery sees it.
type fakeWitness struct {
	shown   map[string]bool
	settled bool // no tap in progress
	err     error
	asked   []string
}

func (w *fakeWitness) Shown(_ context.Context, ids []string) (map[string]bool, bool, error) {
	w.asked = append(w.asked, ids...)
	return w.shown, w.settled, w.err
}

// TestSettleHeld checks the recovery rule: a held item whose tap is over
// is queued if the witness saw it shown and canceled if not; one whose tap
// may still be in progress (young, and the witness not settled) is left.
func TestSettleHeld(t *testing.T) {
	tests := []struct {
		name    string
		shown   bool
		age     time.Duration
		settled bool
		want    State
	}{
		{"held, shown, old", true, 2 * time.Minute, false, StateAccepted},
		{"held, not shown, old", false, 2 * time.Minute, false, StateCanceled},
		{"held, shown, young", true, 10 * time.Second, false, StateHeld},
		{"held, not shown, young", false, 10 * time.Second, false, StateHeld},
		{"held, shown, young, no tap in progress", true, 10 * time.Second, true, StateAccepted},
		{"held, not shown, young, no tap in progress", false, 10 * time.Second, true, StateCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clock := newClock()
			w := &fakeWitness{shown: map[string]bool{"a": tt.shown}, settled: tt.settled}
			q := heldWithWitness(t, clock, w)
			mustEnqueue(t, q, tap("b", testPANs[1], 200)) // confirmed: not the witness's business
			clock.Add(tt.age)
			f := newFakeLedger(t)
			if _, err := newSyncer(q, f.forwarder(), 10, &noSleep{}).Drain(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if got := itemState(t, q, "a"); got != tt.want {
				t.Errorf("held item is %s, want %s", got, tt.want)
			}
			// Asked at each claim while it stays held, and only about it.
			if slices.ContainsFunc(w.asked, func(id string) bool { return id != "a" }) || len(w.asked) == 0 {
				t.Errorf("witness asked about %v, want only the held item", w.asked)
			}
			wantPosted := []string{"b"}
			if tt.want == StateAccepted {
				wantPosted = []string{"a", "b"}
			}
			f.checkPostings(t, wantPosted)
			// The tap's own Confirm, if it comes late, agrees with recovery.
			err := q.Confirm(ctx, "a")
			if canceled := tt.want == StateCanceled; errors.Is(err, ErrCanceled) != canceled || (!canceled && err != nil) {
				t.Errorf("confirm after recovery: %v", err)
			}
		})
	}
	t.Run("witness fails", func(t *testing.T) {
		ctx := context.Background()
		clock := newClock()
		w := &fakeWitness{err: errors.New("display log unreadable"), settled: true}
		q := heldWithWitness(t, clock, w)
		clock.Add(time.Hour)
		f := newFakeLedger(t)
		if _, err := newSyncer(q, f.forwarder(), 10, &noSleep{}).Drain(ctx, 1); err == nil || !strings.Contains(err.Error(), "display log unreadable") {
			t.Errorf("sync: %v, want the witness's error", err)
		}
		if got := itemState(t, q, "a"); got != StateHeld {
			t.Errorf("held item is %s after a failed recovery, want held", got)
		}
	})
}

func itemState(t *testing.T, q *Queue, id string) State {
	t.Helper()
	items, err := q.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.TxnID == id {
			return it.State
		}
	}
	t.Fatalf("%s not in the queue", id)
	return ""
}

// heldWithWitness opens a queue settled by w, holding item "a" (enqueued,
// not confirmed).
func heldWithWitness(t *testing.T, clock *fakeClock, w Witness) *Queue {
	t.Helper()
	q, err := Open(filepath.Join(t.TempDir(), "queue.db"),
		Options{Key: testKey, Limits: &Limits{}, Now: clock.Now, Rand: &countingRand{}, Witness: w})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if _, err := q.Enqueue(context.Background(), tap("a", testPANs[0], 100)); err != nil {
		t.Fatal(err)
	}
	return q
}
