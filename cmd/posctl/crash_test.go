package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"tappos/internal/pcsctest"
	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/sqlitestore"
	"tappos/offline"
	"tappos/terminal/batch"
	"tappos/terminal/cardsim"
	"tappos/terminal/receipt"
	"tappos/terminal/sale"
)

// posctlEnv set to "1" makes the test binary run as posctl: the crash
// test's child processes are the real command, without a separate build.
const posctlEnv = "TAPPOS_POSCTL_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(posctlEnv) == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// eventKinds are the --events lines a tap prints before its report.
var eventKinds = []string{"PRESENT_CARD", "PROCESSING", "REMOVE_CARD", "OFFLINE", "APPROVED"}

// Phases of a tap, as its display log lines show them, and whether it
// printed its APPROVED line too; a kill is counted by the last line its
// process wrote.
var crashPhases = []string{"starting", "PRESENT_CARD", "PROCESSING", "REMOVE_CARD", "OFFLINE",
	"APPROVED logged", "APPROVED printed", "finished"}

const (
	// crashKills is the least number of taps killed; the loop runs until
	// it has them (and crashMaxTaps bounds it). A late kill lands only if
	// the tap is still running, so how many taps that takes depends on
	// the machine's speed: some 80 here, and once 90 gave only 47 kills.
	crashKills   = 50
	crashMaxTaps = 160
	// A quarter of the kills land anywhere in the first crashEarly of a
	// tap (start, waiting for pcscd to see the card); the rest within
	// crashLate of the card being seen, spread over the kernel, the
	// queue's commit, the display log's write and sync, the confirm, the
	// report, the journal and the exit.
	crashEarly = 500 * time.Millisecond
	crashLate  = 30 * time.Millisecond
)

// TestTapCrash is issue 5's crash test. It taps the offline Visa card
// through pcscd again and again with `posctl tap --offline-only`, killing
// the process with SIGKILL at random moments, then syncs the queue into a
// real ledger with `posctl sync`.
//
// A tap "reported APPROVED" is one whose APPROVED line is in the display
// log (--display-log): the file the cashier's screen shows from, written
// and synced before the line is printed or the queue confirms the tap.
// The test holds strictly that every reported tap is booked exactly once
// and no other tap is: a kill between the display log and the queue's
// confirm leaves a shown tap held, and the sync's recovery, reading the
// same display log, queues it; a kill between the queue's commit and the
// display log leaves an unseen tap held, and recovery cancels it (see the
// package doc of terminal/sale). The queue's totals are the ledger's. The
// journal, written after the confirm, never holds a sale that was not
// reported, and holds every booked one once NoteSynced recovered those a
// kill cut off.
func TestTapCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("taps through pcscd for about a minute")
	}
	slot := pcsctest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	queuePath, journalPath := filepath.Join(dir, "offline.db"), filepath.Join(dir, "journal.db")
	displayPath := filepath.Join(dir, "display.log")
	var key offline.Key
	copy(key[:], "terminal key of the crash test..")
	env := append(os.Environ(), posctlEnv+"=1", offline.KeyEnv+"="+hex.EncodeToString(key[:]), modeEnv+"=test",
		"TAPPOS_LEDGER=", "TAPPOS_LEDGER_KEY=")

	prof, err := cardsim.LoadProfile("visa-offline")
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(5, 0xC0FFEE))
	// One card for the whole loop: its ATC goes up tap after tap, killed
	// or not, as a real card's would.
	card, err := cardsim.NewCard(prof, rand.NewChaCha8([32]byte{5}))
	if err != nil {
		t.Fatal(err)
	}

	display := &displayReader{path: displayPath}
	reported := map[string]int64{} // txn id → amount, for every APPROVED line in the display log
	unseen := map[string]bool{}    // killed after OFFLINE, before the APPROVED line: maybe held, never shown
	killedShown := map[string]bool{}
	printed := map[string]bool{} // APPROVED printed on stdout too
	phases := map[string]int{}
	var commits []time.Duration // OFFLINE to APPROVED on stdout, when both came
	kills := 0
	start := time.Now()
	for i := 0; kills < crashKills && i < crashMaxTaps; i++ {
		amount := 100 + rnd.Int64N(900)
		var delay time.Duration
		early := rnd.IntN(4) == 0
		if early {
			delay = time.Duration(rnd.Int64N(int64(crashEarly)))
		} else {
			delay = time.Duration(rnd.Int64N(int64(crashLate)))
		}
		cmd := exec.Command(os.Args[0], "tap", "--amount", fmt.Sprintf("%d.%02d", amount/100, amount%100),
			"--offline-only", "--events", "--json", "--reader", slot.Reader, "--wait", "5s",
			"--config", filepath.Join("testdata", "tap", "cn-shop.json"), "--journal", journalPath, "--queue", queuePath,
			"--display-log", displayPath,
			"--offline-same-card", "1000", "--offline-max-count", "1000", "--offline-max-amount", "10000.00")
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var stdout strings.Builder
		done := make(chan []event, 1)
		go func() { done <- killAt(cmd, io.TeeReader(out, &stdout), early, delay) }()
		remove := slot.Present(t, card)
		lines := <-done
		werr := cmd.Wait()
		// pcscd must be done with a killed tap's card before it goes:
		// a card removed under the dead client's exclusive handle
		// leaves the next one unseen.
		if err := waitReleased(slot.Reader); err != nil {
			t.Fatalf("tap %d: %v", i, err)
		}
		remove()
		if strings.Contains(stdout.String()+stderr.String(), prof.PAN) {
			t.Fatalf("tap %d: the card's PAN in the output", i)
		}

		// What the screen showed of this tap: the lines it added.
		logged := display.next(t)
		phase, id := "starting", ""
		for _, l := range logged {
			if id != "" && l.txnID != id {
				t.Fatalf("tap %d: display log lines of %s and %s", i, id, l.txnID)
			}
			phase, id = l.kind, l.txnID
			if l.kind == "APPROVED" {
				if _, dup := reported[id]; dup {
					t.Fatalf("tap %d: %s in the display log as approved twice", i, id)
				}
				if want := fmt.Sprintf("%d.%02d CNY", amount/100, amount%100); l.amount != want {
					t.Errorf("tap %d: %s shown approved for %s, tapped for %s", i, id, l.amount, want)
				}
				reported[id] = amount
			}
		}
		var offlineAt time.Time
		for _, e := range lines {
			if e.txnID != id {
				t.Fatalf("tap %d: printed %s %s, the display log has %q", i, e.kind, e.txnID, id)
			}
			switch e.kind {
			case "OFFLINE":
				offlineAt = e.at
			case "APPROVED":
				printed[id] = true
				commits = append(commits, e.at.Sub(offlineAt))
			}
		}
		if phase == "APPROVED" {
			phase = "APPROVED logged"
			if printed[id] {
				phase = "APPROVED printed"
			}
		}
		var exit *exec.ExitError
		switch {
		case werr == nil && phase == "APPROVED printed":
			phase = "finished"
		case werr == nil:
			t.Fatalf("tap %d finished without approval: %v\n%s", i, lines, stderr.String())
		case errors.As(werr, &exit) && exit.ExitCode() == -1: // killed
			kills++
			switch phase {
			case "OFFLINE":
				unseen[id] = true
			case "APPROVED logged", "APPROVED printed":
				killedShown[id] = true
			}
		default:
			t.Fatalf("tap %d: %v: %v\n%s", i, werr, lines, stderr.String())
		}
		phases[phase]++
	}
	loop := time.Since(start)
	if kills < crashKills {
		t.Fatalf("%d kills in %d taps, want %d", kills, crashMaxTaps, crashKills)
	}
	if b, err := os.ReadFile(displayPath); err != nil || strings.Contains(string(b), prof.PAN) {
		t.Fatalf("display log: the card's PAN in it, or unreadable (%v)", err)
	}

	// Before the sync: the queue holds every reported tap, and beyond
	// them only taps killed after OFFLINE and before their APPROVED line,
	// held. A reported tap held was killed between the display log and
	// the confirm. The journal, written after the confirm, holds no tap
	// that was not reported, nor one left held.
	q, err := offline.Open(queuePath, offline.Options{Key: key})
	if err != nil {
		t.Fatalf("reopening the queue after %d kills: %v", kills, err)
	}
	items, err := q.List(ctx, offline.ListOptions{Limit: 1 << 20})
	q.Close()
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string]int64{}
	heldShown, heldUnseen := map[string]bool{}, map[string]bool{}
	for _, it := range items {
		queued[it.TxnID] = it.Amount
		a, rep := reported[it.TxnID]
		switch {
		case rep && a != it.Amount:
			t.Errorf("%s queued for %d, shown for %d", it.TxnID, it.Amount, a)
		case rep && it.State == offline.StateHeld:
			heldShown[it.TxnID] = true
		case rep && it.State != offline.StateQueued:
			t.Errorf("%s, shown, is %s before any sync", it.TxnID, it.State)
		case !rep && it.State != offline.StateHeld:
			t.Errorf("%s is %s but was never shown approved", it.TxnID, it.State)
		case !rep && !unseen[it.TxnID]:
			t.Errorf("%s is held but was neither shown approved nor killed after its OFFLINE line", it.TxnID)
		case !rep:
			heldUnseen[it.TxnID] = true
		}
	}
	diffSets(t, "queued", filterKeys(queued, func(id string) bool { return !heldUnseen[id] }), reported)
	for id := range heldShown {
		if !killedShown[id] {
			t.Errorf("%s is held, shown, but its tap was not killed after its APPROVED line", id)
		}
	}
	j, err := batch.Open(journalPath, batch.Options{})
	if err != nil {
		t.Fatalf("reopening the journal after %d kills: %v", kills, err)
	}
	defer j.Close()
	journaled := journalApprovals(t, j)
	for id := range journaled {
		if _, ok := reported[id]; !ok {
			t.Errorf("%s is in the journal but was never shown approved", id)
		}
		if heldShown[id] {
			t.Errorf("%s is in the journal but held in the queue", id)
		}
	}

	// Sync into the ledger, by the command, with the display log.
	l, termID, url, apiKey := crashLedger(t, prof)
	sync := exec.Command(os.Args[0], "sync", "--ledger", url, "--key", apiKey, "--queue", queuePath,
		"--display-log", displayPath, "--json", "--timeout", "30s")
	sync.Env = env
	if out, err := sync.CombinedOutput(); err != nil {
		t.Fatalf("posctl sync: %v\n%s", err, out)
	}

	// The ledger books exactly the reported taps, each once, and the
	// totals agree.
	var auths []ledger.Authorization
	err = l.Store().Write(ctx, func(tx ledger.Tx) error {
		auths, err = tx.Authorizations(ctx, ledger.AuthQuery{Unsettled: []ledger.BatchScope{{TerminalID: termID}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	booked := map[string]int64{}
	var ledgerSum int64
	for _, a := range auths {
		if _, dup := booked[a.TxnID]; dup {
			t.Errorf("%s booked twice", a.TxnID)
		}
		booked[a.TxnID] = a.Amount
		ledgerSum += a.Amount
	}
	diffSets(t, "booked", booked, reported)
	if st := l.Stats(); st.Approved != int64(len(reported)) || len(st.Declined) != 0 {
		t.Errorf("the ledger approved %d and declined %v, want %d approvals", st.Approved, st.Declined, len(reported))
	}
	q, err = offline.Open(queuePath, offline.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	qs, err := q.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := q.List(ctx, offline.ListOptions{Limit: 1 << 20, States: []offline.State{offline.StateAccepted}})
	if err != nil {
		t.Fatal(err)
	}
	var queueSum int64
	for _, it := range accepted {
		queueSum += it.Amount
	}
	if qs.Unsent != 0 || qs.Accepted != len(auths) || queueSum != ledgerSum {
		t.Errorf("queue: %d unsent, %d accepted for %d; ledger: %d for %d", qs.Unsent, qs.Accepted, queueSum, len(auths), ledgerSum)
	}
	// No tap was in progress: the sync settled every held tap, canceling
	// exactly the unseen ones.
	canceled, err := q.List(ctx, offline.ListOptions{Limit: 1 << 20, States: []offline.State{offline.StateCanceled, offline.StateHeld}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range canceled {
		if it.State != offline.StateCanceled || !heldUnseen[it.TxnID] {
			t.Errorf("%s is %s after the sync; shown: %t", it.TxnID, it.State, heldShown[it.TxnID])
		}
	}
	if len(canceled) != len(heldUnseen) {
		t.Errorf("%d canceled or held after the sync, want the %d unseen", len(canceled), len(heldUnseen))
	}
	if len(auths) > 0 {
		settle, err := l.Store().Account(ctx, "settle:"+auths[0].MerchantID+":CNY")
		if err != nil || settle.Balance != ledgerSum {
			t.Errorf("merchant settlement %d (%v), booked %d", settle.Balance, err, ledgerSum)
		}
	}
	if v, err := l.Verify(ctx); err != nil || len(v) != 0 {
		t.Errorf("ledger books: %v %v", v, err)
	}

	// Recovery: the journal gets the sales the kills cut off.
	term := &sale.Terminal{Journal: j, Currency: receipt.Currency{Numeric: 156, Alpha: "CNY", Exponent: 2}}
	if err := term.NoteSynced(ctx, accepted); err != nil {
		t.Fatal(err)
	}
	diffSets(t, "journaled after recovery", journalApprovals(t, j), reported)

	slices.Sort(commits)
	t.Logf("%d taps in %v, %d killed; last line before the end: %s", kills+phases["finished"], loop.Round(time.Millisecond), kills, phaseCounts(phases))
	t.Logf("%d shown approved, %d booked once, %d.%02d CNY in all; %d cut before the journal and recovered by NoteSynced",
		len(reported), len(booked), ledgerSum/100, ledgerSum%100, len(reported)-len(journaled))
	t.Logf("left held by a kill and settled by the sync: %d between the display log's APPROVED and the confirm (queued, booked), %d after the commit and before the line (canceled; of %d kills after OFFLINE)",
		len(heldShown), len(heldUnseen), phases["OFFLINE"])
	if len(commits) > 0 {
		t.Logf("OFFLINE to APPROVED printed: median %v", commits[len(commits)/2].Round(10*time.Microsecond))
	}
}

// A displayLine is one line of the display log.
type displayLine struct{ kind, txnID, amount string }

// displayReader reads the display log's new lines, tap after tap.
type displayReader struct {
	path string
	off  int64
}

func (d *displayReader) next(t *testing.T) []displayLine {
	t.Helper()
	b, err := os.ReadFile(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	b = b[d.off:]
	n := strings.LastIndexByte(string(b), '\n') + 1 // a write(2) is whole or absent, but be sure
	d.off += int64(n)
	var out []displayLine
	for _, line := range strings.Split(string(b[:n]), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) < 2 {
			continue
		}
		l := displayLine{kind: f[0], txnID: f[1]}
		if len(f) == 3 {
			l.amount = f[2]
		}
		out = append(out, l)
	}
	return out
}

func filterKeys(m map[string]int64, keep func(string) bool) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

// waitReleased waits until pcscd has let go of the reader: a killed tap
// holds the card exclusively until pcscd cleans up after it.
func waitReleased(reader string) error {
	sc, err := scard.EstablishContext()
	if err != nil {
		return fmt.Errorf("connecting to pcscd: %w", err)
	}
	defer sc.Release()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		err := sc.GetStatusChange(rs, 100*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return fmt.Errorf("watching %s: %w", reader, err)
		}
		if err == nil {
			if rs[0].EventState&(scard.StateExclusive|scard.StateInuse) == 0 {
				return nil
			}
			rs[0].CurrentState = rs[0].EventState &^ scard.StateChanged
		}
	}
	return fmt.Errorf("%s still in use (state %#x)", reader, rs[0].EventState)
}

// An event is one --events line of a tap, and when it came.
type event struct {
	kind, txnID string
	at          time.Time
}

// killAt reads the tap's --events lines until the process ends, killing it
// delay after its start (early) or after its PROCESSING line.
func killAt(cmd *exec.Cmd, out io.Reader, early bool, delay time.Duration) []event {
	kill := func() { cmd.Process.Kill() }
	var timer *time.Timer
	if early {
		timer = time.AfterFunc(delay, kill)
	}
	var events []event
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		kind, id, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(eventKinds, kind) {
			break // the JSON report: the tap is over
		}
		events = append(events, event{kind, id, time.Now()})
		if kind == "PROCESSING" && timer == nil {
			timer = time.AfterFunc(delay, kill)
		}
	}
	io.Copy(io.Discard, out)
	if timer != nil {
		timer.Stop()
	}
	return events
}

func phaseCounts(m map[string]int) string {
	var b strings.Builder
	for _, p := range crashPhases {
		fmt.Fprintf(&b, "%s %d, ", p, m[p])
	}
	return strings.TrimSuffix(b.String(), ", ")
}

// diffSets fails for each id in got and not in want, or with another
// amount, and each id in want missing from got.
func diffSets(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(got)) {
		if a, ok := want[id]; !ok {
			t.Errorf("%s: %s was never shown approved", what, id)
		} else if a != got[id] {
			t.Errorf("%s: %s for %d, shown for %d", what, id, got[id], a)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[id]; !ok {
			t.Errorf("%s: %s was shown approved but is missing", what, id)
		}
	}
}

// journalApprovals returns the journal's offline approvals in its current
// batch.
func journalApprovals(t *testing.T, j *batch.Journal) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	b, err := j.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := j.Records(ctx, b.No)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, r := range recs {
		if r.Status == batch.OfflineApproved {
			m[r.TxnID] = r.Amount
		}
	}
	return m
}

// crashLedger runs the ledger's HTTP API on a SQLite file, with the
// profile's issuer key and its card linked to a wallet of ¥10,000.00, and
// returns it with the terminal's id, the URL and the terminal's API key.
func crashLedger(t *testing.T, p *cardsim.Profile) (l *ledger.Ledger, terminalID, url, key string) {
	t.Helper()
	ctx := context.Background()
	imk, err := hex.DecodeString(p.IMK)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err = ledger.New(ledger.Config{Store: s, TokenSecret: []byte(strings.Repeat("k", 32)),
		Issuers: []ledger.IssuerKey{{Prefix: p.PAN, Scheme: p.Scheme, IMK: imk}},
		Rand:    rand.NewChaCha8([32]byte{7}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); s.Close() })
	m, err := l.CreateMerchant(ctx, "Demo Café")
	if err != nil {
		t.Fatal(err)
	}
	term, err := l.CreateTerminal(ctx, m.ID, "till 1")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err = l.CreateAPIKey(ctx, ledger.RoleTerminal, m.ID, term.ID)
	if err != nil {
		t.Fatal(err)
	}
	w, err := l.CreateWallet(ctx, "shopper", "CNY", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.LinkCard(ctx, w.ID, p.PAN); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Deposit(ctx, nil, w.ID, 1_000_000, "CNY", "opening"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Ledger: l, Logger: quiet, Rate: -1}))
	t.Cleanup(srv.Close)
	return l, term.ID, srv.URL, key
}
