package offline

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tappos/ledger/ledgertest"
)

// crashEnv carries the queue path to the child process of TestEnqueueCrash.
const crashEnv = "TAPPOS_OFFLINE_CRASH_CHILD"

// TestCrashChild is the tapping process of TestEnqueueCrash: it enqueues
// until killed, printing APPROVED after each durable enqueue and then
// confirming the item, as a terminal does.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child of TestEnqueueCrash")
	}
	q, err := Open(path, Options{Key: testKey, Limits: &Limits{}})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	var k int
	run := os.Getenv(crashEnv + "_RUN")
	fmt.Sscanf(run, "k%d", &k)
	var cards []*ledgertest.Card
	for spec := range strings.SplitSeq(os.Getenv(crashEnv+"_CARDS"), ",") {
		pan, scheme, _ := strings.Cut(spec, ":")
		cards = append(cards, &ledgertest.Card{PAN: pan, PSN: 1, Scheme: scheme, IMK: ledgertest.IMK})
	}
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", run, i)
		// Counters advance across runs as a card's would.
		c := cards[i%len(cards)]
		c.ATC = k*1000 + i + 1
		amount := int64(100 + i)
		emv, err := c.Tap(amount, 978, ledgertest.Options{CID: 0x40})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		tp := Tap{TxnID: id, Amount: amount, Currency: "EUR", EMV: emv, CardApprovedOffline: true, ODAPassed: true}
		if _, err := q.Enqueue(context.Background(), tp); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		// What the terminal shows: only after Enqueue returned.
		fmt.Println("APPROVED", id)
		if err := q.Confirm(context.Background(), id); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
	}
}

// TestEnqueueCrash kills the tapping process with SIGKILL at random
// moments, 50 times, then checks that the queue opens, is intact, and holds
// every tap that was reported approved, and that a tap killed between its
// commit and its report is only held. It then syncs into the real ledger,
// with the reported lines as the Witness: recovery queues the held taps
// that were reported and cancels the others, and every reported tap, and
// no other, is booked exactly once.
func TestEnqueueCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	r := newRealLedger(t, 4, 1_000_000)
	var specs []string
	for _, c := range r.env.Cards {
		specs = append(specs, c.PAN+":"+c.Scheme)
	}
	rnd := rand.New(rand.NewPCG(5, 5))
	approved := map[string]bool{}
	var lastOfRun []string // the tap each kill may have cut after its commit
	const kills = 50
	for k := range kills {
		run := fmt.Sprintf("k%02d", k)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path, crashEnv+"_RUN="+run, crashEnv+"_CARDS="+strings.Join(specs, ","))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after the first approval plus a random moment, so that
		// every run gets into its loop; some kills land mid-commit.
		sc := bufio.NewScanner(out)
		lines := make(chan string)
		go func() {
			defer close(lines)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		var timer <-chan time.Time
		n := 0
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				id, found := strings.CutPrefix(l, "APPROVED ")
				if !found {
					if strings.HasPrefix(l, "ERROR") {
						t.Fatalf("child: %s", l)
					}
					continue
				}
				approved[id] = true
				n++
				if timer == nil {
					timer = time.After(time.Duration(rnd.IntN(20000)) * time.Microsecond)
				}
			case <-timer:
				cmd.Process.Kill()
				timer = nil
				for l := range lines {
					if id, ok := strings.CutPrefix(l, "APPROVED "); ok {
						approved[id] = true
						n++
					}
				}
				break read
			}
		}
		cmd.Wait()
		lastOfRun = append(lastOfRun, fmt.Sprintf("%s-%d", run, n))
	}

	// No tap is in progress any more: recovery settles every held item
	// by what was reported.
	q, err := Open(path, Options{Key: testKey, Limits: &Limits{}, Witness: &fakeWitness{shown: approved, settled: true}})
	if err != nil {
		t.Fatalf("reopening after %d kills: %v", kills, err)
	}
	defer q.Close()
	var check string
	if err := q.db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity check: %q, %v", check, err)
	}
	items, err := q.List(context.Background(), ListOptions{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]State{}
	for _, it := range items {
		stored[it.TxnID] = it.State
	}
	for id := range approved {
		if _, ok := stored[id]; !ok {
			t.Errorf("tap %s was reported approved but is not in the queue", id)
		}
	}
	// A kill between the commit and the report leaves one held,
	// unreported tap, always the one after the last reported; a kill
	// between the report and the confirm leaves a reported one held.
	allowed := map[string]bool{}
	for _, id := range lastOfRun {
		allowed[id] = true
	}
	cut, shownHeld := 0, 0
	for id, st := range stored {
		switch {
		case !approved[id] && st != StateHeld:
			t.Errorf("tap %s is %s but was never reported approved", id, st)
		case !approved[id]:
			cut++
			if !allowed[id] {
				t.Errorf("tap %s is held but was not the one in flight at a kill", id)
			}
		case st == StateHeld:
			shownHeld++
		}
	}
	rep, err := newSyncer(q, r.forwarder(), 200, &noSleep{}).Drain(context.Background(), 1)
	if err != nil || rep.Answered != len(items)-cut {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	st, _ := q.Status(context.Background())
	if st.Accepted != len(approved) || st.Canceled != cut || st.Held != 0 {
		t.Errorf("%d reported, %d of them held, %d cut: status %+v", len(approved), shownHeld, cut, st)
	}
	r.checkBooked(t, q)
	t.Logf("%d kills, %d taps reported approved and %d booked once; %d held and canceled unreported, %d reported, held at the kill and queued by recovery",
		kills, len(approved), st.Accepted, cut, shownHeld)
}
