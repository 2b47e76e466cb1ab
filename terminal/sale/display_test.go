package sale

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tappos/offline"
	"tappos/terminal/batch"
)

// withDisplay gives the rig a display log and returns its path.
func (r *rig) withDisplay(t *testing.T) string {
	t.Helper()
	path := filepath.Join(r.dir, "display.log")
	d, err := OpenDisplayLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	r.t.Display = d
	return path
}

// recover runs the queue's recovery and sync as `posctl sync` does, with
// the display log at path as witness, and returns the states it left.
func (r *rig) recover(t *testing.T, path string) map[string]offline.State {
	t.Helper()
	ctx := context.Background()
	var key offline.Key
	copy(key[:], "terminal key for the sale tests.")
	q, err := offline.Open(filepath.Join(r.dir, "offline.db"), offline.Options{Key: key, Now: r.t.Now, Witness: DisplayWitness(path)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	s := &offline.Syncer{Queue: q, Forwarder: &offline.HTTPForwarder{BaseURL: r.client.BaseURL, APIKey: r.client.APIKey},
		Rand: &counter{}, Logger: quiet()}
	if _, err := s.Drain(ctx, 3); err != nil {
		t.Fatal(err)
	}
	items, err := q.List(ctx, offline.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]offline.State{}
	for _, it := range items {
		m[it.TxnID] = it.State
	}
	return m
}

// TestOfflineApprovalLogged checks the order of an offline approval with
// a display log: at the Approved event the line is in the log and the
// queue holds the tap, held; the sale then confirms it.
func TestOfflineApprovalLogged(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	path := r.withDisplay(t)
	approved := 0
	r.t.Event = func(e Event) {
		if e.Kind != Approved {
			return
		}
		approved++
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\nAPPROVED "+e.TxnID+" 25.00 CNY\n") {
			t.Errorf("at the Approved event the display log reads %q (%v)", b, err)
		}
		items, err := r.queue.List(ctx, offline.ListOptions{})
		if err != nil || len(items) != 1 || items[0].State != offline.StateHeld {
			t.Errorf("at the Approved event the queue holds %+v (%v), want it held", items, err)
		}
	}
	res, err := r.tap(t, "visa-offline", 2500)
	if err != nil || res.Record.Status != batch.OfflineApproved || approved != 1 {
		t.Fatalf("sale: %+v, %v; %d Approved events", res, err, approved)
	}
	b, _ := os.ReadFile(path)
	id := res.Record.TxnID
	want := "PRESENT_CARD " + id + " 25.00 CNY\nPROCESSING " + id + "\nREMOVE_CARD " + id + "\nOFFLINE " + id + "\nAPPROVED " + id + " 25.00 CNY\n"
	if string(b) != want {
		t.Errorf("display log:\n%s\nwant:\n%s", b, want)
	}
	if st := r.recover(t, path); st[id] != offline.StateAccepted {
		t.Errorf("after sync the tap is %s", st[id])
	}
}

// TestDisplayLogSettles walks the ends a sale can meet after the queue's
// commit, and recovery's answer to each by the display log: charged if
// and only if the approval is in the log.
func TestDisplayLogSettles(t *testing.T) {
	ctx := context.Background()

	t.Run("confirm fails after the line", func(t *testing.T) {
		r := newRig(t, nil)
		path := r.withDisplay(t)
		r.t.Queue = unconfirmed{r.queue}
		res, err := r.tap(t, "visa-offline", 2500)
		if err != nil || res.Record.Status != batch.OfflineApproved || !strings.Contains(res.Record.Reason, "the sync confirms it") {
			t.Fatalf("sale: %+v, %v; want a journaled approval the sync confirms", res, err)
		}
		id := res.Record.TxnID
		if st := r.recover(t, path); st[id] != offline.StateAccepted {
			t.Errorf("shown, held tap is %s after sync, want accepted", st[id])
		}
	})

	t.Run("the line is not written", func(t *testing.T) {
		r := newRig(t, nil)
		path := filepath.Join(r.dir, "display.log")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		ro, err := os.Open(path) // locks, but refuses writes
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		r.t.Display = &DisplayLog{f: ro}
		var id string
		r.t.Event = func(e Event) {
			id = e.TxnID
			if e.Kind == Approved {
				t.Errorf("approval shown though the display log did not take it")
			}
		}
		if _, err := r.tap(t, "visa-offline", 2500); err == nil || !strings.Contains(err.Error(), "showing the offline approval") {
			t.Fatalf("sale: %v, want the display log's error", err)
		}
		if _, err := r.t.Journal.Get(ctx, id); !errors.Is(err, batch.ErrNotFound) {
			t.Errorf("an approval never shown is in the journal (%v)", err)
		}
		if st := r.recover(t, path); st[id] != offline.StateCanceled {
			t.Errorf("unshown held tap is %s after sync, want canceled", st[id])
		}
	})

	t.Run("a tap in progress", func(t *testing.T) {
		r := newRig(t, nil)
		path := r.withDisplay(t)
		release, err := r.t.Display.hold() // as another sale between its commit and its confirm
		if err != nil {
			t.Fatal(err)
		}
		r.t.Queue = unconfirmed{r.queue} // leaves this one held
		res, err := r.tap(t, "visa-offline", 2500)
		if err != nil {
			t.Fatal(err)
		}
		id := res.Record.TxnID
		if st := r.recover(t, path); st[id] != offline.StateHeld {
			t.Errorf("young held tap is %s while a sale holds the log, want held", st[id])
		}
		release()
		if st := r.recover(t, path); st[id] != offline.StateAccepted {
			t.Errorf("shown held tap is %s once no sale holds the log, want accepted", st[id])
		}
	})
}
