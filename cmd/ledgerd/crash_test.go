package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/client"
	"tappos/ledger/ledgertest"
	"tappos/ledger/sqlitestore"
)

// childArgs, in the environment, makes the test binary run ledgerd with
// these arguments (separated by \x1f) instead of the tests: a process the
// crash test can kill.
const childArgs = "TAPPOS_LEDGERD_ARGS"

// TestKilledKeepsApprovals kills ledgerd (SIGKILL) while tills pay on
// SQLite, then opens its database again: every approval a till was told
// of is in the books, posted once, and the books verify.
func TestKilledKeepsApprovals(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	args := []string{"--dev", "--db", db, "--addr", "127.0.0.1:0", "--cards", cardsDir,
		"--dev-keys", filepath.Join(dir, "keys.json"), "--rate", "-1"}
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), childArgs+"="+strings.Join(args, "\x1f"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var url string
	var keys []string
	listening := regexp.MustCompile(`listening on (\S+)`)
	termKey := regexp.MustCompile(`terminal \S+ key (\S+)`)
	lines := bufio.NewScanner(stdout)
	for url == "" && lines.Scan() {
		if m := termKey.FindStringSubmatch(lines.Text()); m != nil {
			keys = append(keys, m[1])
		}
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	go func() {
		for lines.Scan() {
		}
	}()
	profiles, err := loadProfiles(cardsDir)
	if url == "" || len(keys) == 0 || err != nil {
		t.Fatalf("ledgerd: url %q, %d keys, profiles: %v", url, len(keys), err)
	}

	// Tills pay until ledgerd dies, noting every approval they are told of.
	var mu sync.Mutex
	var approved []string
	var wg sync.WaitGroup
	tills := min(4, len(profiles))
	for i := range tills {
		p := profiles[i]
		imk, _ := hex.DecodeString(p.IMK)
		psn, _ := hex.DecodeString(p.PSN)
		card := &ledgertest.Card{PAN: p.PAN, PSN: psn[0], Scheme: p.Scheme, IMK: imk, ATC: 100}
		c := &client.Client{BaseURL: url, Key: keys[i%len(keys)]}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				emv, err := card.Tap(1, 156, ledgertest.Options{UN: [4]byte{byte(i), byte(n >> 16), byte(n >> 8), byte(n)}})
				if err != nil {
					t.Error(err)
					return
				}
				txn := fmt.Sprintf("k%d-%d", i, n)
				r, err := c.Authorize(context.Background(), txn, api.AuthorizationRequest{TerminalTxnID: txn, Amount: 1,
					Currency: "CNY", EMV: hex.EncodeToString(emv)})
				if err != nil {
					return // killed
				}
				if r.Status == 200 && r.Result.Outcome == ledger.OutcomeApproved {
					mu.Lock()
					approved = append(approved, r.Result.AuthorizationID)
					mu.Unlock()
				}
			}
		}()
	}
	// Enough approvals for SQLite to have committed some batches, while
	// the latest are only in the redo log; see sqlitestore's flushEvery.
	told := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(approved)
	}
	for start := time.Now(); told() < 300 && time.Since(start) < 30*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	wg.Wait()
	if len(approved) < 300 {
		t.Fatalf("only %d approvals before the kill", len(approved))
	}

	s, err := sqlitestore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, id := range approved {
		if a, err := s.Authorization(ctx, id); err != nil || a.Status != ledger.StatusApproved {
			t.Fatalf("approval %s after the crash: status %q, %v", id, a.Status, err)
		}
	}
	if v, err := s.Verify(ctx); err != nil || len(v) > 0 {
		t.Fatalf("verify: %v %v", v, err)
	}
	counts, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Approvals in flight when ledgerd died may be booked too (a retry
	// with their key gets them); none is booked twice.
	if p, a := counts["journal:purchase"], counts["authorization:purchase:approved"]; p != a || a < int64(len(approved)) {
		t.Fatalf("%d purchase journals, %d approved purchases, %d approvals told", p, a, len(approved))
	}
	t.Logf("%d approvals told, %d booked", len(approved), counts["authorization:purchase:approved"])
}
