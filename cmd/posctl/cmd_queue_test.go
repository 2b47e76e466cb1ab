package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tappos/emv/tlv"
	"tappos/offline"
)

const queueTestPAN = "5413330089010345"

// newTestQueue makes a queue file with n offline approvals, shown and
// confirmed, and one more left held since two minutes ago (a tap killed
// before its approval was shown), the key in the environment.
func newTestQueue(t *testing.T, n int) string {
	t.Helper()
	key := offline.Key{7}
	t.Setenv(offline.KeyEnv, hex.EncodeToString(key[:]))
	path := filepath.Join(t.TempDir(), "q.db")
	ago := time.Now().Add(-2 * time.Minute)
	for i := range n + 1 {
		held := i == n
		opt := offline.Options{Key: key, Limits: &offline.Limits{}}
		if held {
			opt.Now = func() time.Time { return ago }
		}
		q, err := offline.Open(path, opt)
		if err != nil {
			t.Fatal(err)
		}
		pan, _ := hex.DecodeString(queueTestPAN)
		amount := int64(1250 + i)
		var emv []byte
		emv = tlv.Append(emv, 0x5A, pan)
		emv = tlv.Append(emv, 0x9F02, queueHex(fmt.Sprintf("%012d", amount)))
		emv = tlv.Append(emv, 0x9F36, []byte{0, byte(i)})
		id := fmt.Sprintf("t-%d", i)
		if held {
			id = "t-held"
		}
		ctx := context.Background()
		if _, err := q.Enqueue(ctx, offline.Tap{TxnID: id, Amount: amount,
			Currency: "EUR", EMV: emv, CardApprovedOffline: true, ODAPassed: true}); err != nil {
			t.Fatal(err)
		}
		if !held {
			if err := q.Confirm(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func queueHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func queueRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(args, &out, &errb)
	if strings.Contains(out.String()+errb.String(), queueTestPAN) {
		t.Errorf("%v printed a full PAN", args)
	}
	return code, out.String(), errb.String()
}

func TestQueueStatusAndList(t *testing.T) {
	path := newTestQueue(t, 2)
	tests := []struct {
		name string
		args []string
		code int
		want []string // substrings of stdout
	}{
		{"status", []string{"queue", "status", "--queue", path}, 0, []string{"unsent: 2 (0 sending)", "EUR: 2 items, 25.01 EUR", "held: 1, canceled (approval never shown): 0", "last sync: never"}},
		{"list", []string{"queue", "list", "--queue", path}, 0, []string{"541333******0345", "t-0", "12.50 EUR", "queued"}},
		{"list filtered", []string{"queue", "list", "--queue", path, "--state", "accepted"}, 0, []string{"SEQ"}},
		{"list held", []string{"queue", "list", "--queue", path, "--state", "held,canceled"}, 0, []string{"t-held", "held"}},
		{"bad state", []string{"queue", "list", "--queue", path, "--state", "lost"}, 2, nil},
		{"missing file", []string{"queue", "status", "--queue", path + ".nope"}, 1, nil},
		{"stray argument", []string{"queue", "status", "--queue", path, "extra"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := queueRun(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("status json", func(t *testing.T) {
		code, out, _ := queueRun(t, "queue", "status", "--queue", path, "--json")
		var st offline.Status
		if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
			t.Fatalf("exit %d, %v: %s", code, err, out)
		}
		if st.Unsent != 2 || st.Held != 1 || len(st.ByCurrency) != 1 || st.ByCurrency[0].Amount != 2501 {
			t.Errorf("status %+v", st)
		}
	})
}

// queueStubLedger approves every offline booking once per idempotency
// key, through the batch endpoint.
func queueStubLedger(t *testing.T) (*httptest.Server, *int) {
	var mu sync.Mutex
	seen := map[string]bool{}
	posts := new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Items []struct {
				Key string `json:"idempotency_key"`
			} `json:"items"`
		}
		if r.URL.Path != "/v1/authorizations/batch" || json.NewDecoder(r.Body).Decode(&b) != nil {
			http.Error(w, `{"error":{"code":"bad_request"}}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		var res []string
		for _, it := range b.Items {
			if !seen[it.Key] {
				seen[it.Key] = true
				*posts++
			}
			res = append(res, fmt.Sprintf(`{"status":200,"result":{"outcome":"approved","authorization_id":"au-%s"}}`, it.Key))
		}
		fmt.Fprintf(w, `{"results":[%s]}`, strings.Join(res, ","))
	}))
	t.Cleanup(srv.Close)
	return srv, posts
}

// displayLog writes a display log next to the queue file, as posctl tap
// would have, and returns its path.
func displayLog(t *testing.T, queue, lines string) string {
	t.Helper()
	path := filepath.Join(filepath.Dir(queue), "display.log")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSync(t *testing.T) {
	path := newTestQueue(t, 3)
	// The held tap was killed before its approval was shown.
	dl := displayLog(t, path, "APPROVED t-0 12.50 EUR\nPRESENT_CARD t-held 12.53 EUR\nPROCESSING t-held\n")
	srv, posts := queueStubLedger(t)
	code, out, errs := queueRun(t, "sync", "--queue", path, "--display-log", dl, "--ledger", srv.URL, "--key", "k", "--batch", "2")
	if code != 0 || !strings.Contains(out, "sent 3, answered 3") || !strings.Contains(out, "3 accepted") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if *posts != 3 {
		t.Errorf("%d postings, want 3", *posts)
	}
	code, out, _ = queueRun(t, "queue", "list", "--queue", path, "--state", "accepted")
	if code != 0 || strings.Count(out, "accepted") != 3 {
		t.Errorf("after sync:\n%s", out)
	}
	// The held tap, not in the display log, was canceled, not sent.
	code, out, _ = queueRun(t, "queue", "list", "--queue", path, "--state", "canceled")
	if code != 0 || !strings.Contains(out, "t-held") || !strings.Contains(out, "approval never shown") {
		t.Errorf("canceled after sync:\n%s", out)
	}
	code, out, _ = queueRun(t, "queue", "status", "--queue", path)
	if code != 0 || !strings.Contains(out, "held: 0, canceled (approval never shown): 1") {
		t.Errorf("status after sync:\n%s", out)
	}

	t.Run("held and shown", func(t *testing.T) {
		path := newTestQueue(t, 1)
		dl := displayLog(t, path, "PRESENT_CARD t-held 12.51 EUR\nAPPROVED t-held 12.51 EUR\n")
		srv, posts := queueStubLedger(t)
		code, out, errs := queueRun(t, "sync", "--queue", path, "--display-log", dl, "--ledger", srv.URL, "--key", "k")
		if code != 0 || !strings.Contains(out, "sent 2, answered 2") || *posts != 2 {
			t.Fatalf("exit %d, %d postings: %s %s", code, *posts, out, errs)
		}
		if code, out, _ := queueRun(t, "queue", "list", "--queue", path, "--state", "accepted"); code != 0 || !strings.Contains(out, "t-held") {
			t.Errorf("the shown held tap was not sent:\n%s", out)
		}
	})
	t.Run("no display log", func(t *testing.T) {
		path := newTestQueue(t, 1)
		srv, posts := queueStubLedger(t)
		code, _, errs := queueRun(t, "sync", "--queue", path, "--display-log", filepath.Join(t.TempDir(), "nope.log"),
			"--ledger", srv.URL, "--key", "k", "--max-failures", "1")
		if code != 1 || !strings.Contains(errs, "display log") || *posts != 0 {
			t.Errorf("exit %d, %d postings: %s", code, *posts, errs)
		}
	})
	t.Run("ledger down", func(t *testing.T) {
		path := newTestQueue(t, 1)
		dl := displayLog(t, path, "")
		code, _, errs := queueRun(t, "sync", "--queue", path, "--display-log", dl, "--ledger", "http://127.0.0.1:1", "--max-failures", "1", "--json")
		if code != 1 || !strings.Contains(errs, "ledger unavailable") {
			t.Errorf("exit %d: %s", code, errs)
		}
	})
	t.Run("no ledger", func(t *testing.T) {
		t.Setenv("TAPPOS_LEDGER", "")
		if code, _, _ := queueRun(t, "sync", "--queue", path, "--ledger", ""); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}
