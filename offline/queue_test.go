package offline

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tappos/emv/tags"
)

func TestEnqueueList(t *testing.T) {
	clock := newClock()
	q, _ := openTest(t, clock, nil)
	a := mustEnqueue(t, q, tap("t-1", testPANs[0], 1250))
	clock.Add(time.Minute)
	b := mustEnqueue(t, q, tap("t-2", testPANs[0], 300))
	c := mustEnqueue(t, q, tap("t-3", testPANs[1], 700))

	if a.MaskedPAN != "541333******0345" {
		t.Errorf("masked PAN %q", a.MaskedPAN)
	}
	if a.CardToken != b.CardToken || a.CardToken == c.CardToken {
		t.Errorf("card tokens: same card %q %q, other card %q", a.CardToken, b.CardToken, c.CardToken)
	}
	items, err := q.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("listed %d items, want 3", len(items))
	}
	for i, want := range []Item{a, b, c} {
		got := items[i]
		if got.TxnID != want.TxnID || got.Amount != want.Amount || got.State != StateQueued ||
			!got.CreatedAt.Equal(want.CreatedAt) || got.Seq != want.Seq {
			t.Errorf("item %d = %+v, want %+v", i, got, want)
		}
	}
	if !items[1].CreatedAt.Equal(clock.Now()) {
		t.Errorf("created at %v, want the injected clock's %v", items[1].CreatedAt, clock.Now())
	}

	t.Run("same tap again", func(t *testing.T) {
		again := mustEnqueue(t, q, tap("t-1", testPANs[0], 1250))
		if again.Seq != a.Seq {
			t.Errorf("re-enqueue gave seq %d, want %d", again.Seq, a.Seq)
		}
	})
	t.Run("same id other tap", func(t *testing.T) {
		_, err := q.Enqueue(context.Background(), tap("t-1", testPANs[0], 1251))
		if !errors.Is(err, ErrDuplicateTxn) {
			t.Errorf("err = %v, want ErrDuplicateTxn", err)
		}
	})
	t.Run("filter", func(t *testing.T) {
		got, err := q.List(context.Background(), ListOptions{States: []State{StateQueued}, After: a.Seq, Limit: 1})
		if err != nil || len(got) != 1 || got[0].TxnID != "t-2" {
			t.Errorf("List = %v, %v; want t-2 only", got, err)
		}
	})
}

func TestEnqueueInvalid(t *testing.T) {
	q, _ := openTest(t, newClock(), nil)
	good := tap("ok", testPANs[0], 100)
	tests := []struct {
		name string
		edit func(*Tap)
		want error
	}{
		{"empty id", func(tp *Tap) { tp.TxnID = "" }, ErrInvalidTap},
		{"id with space", func(tp *Tap) { tp.TxnID = "a b" }, ErrInvalidTap},
		{"long id", func(tp *Tap) { tp.TxnID = string(bytes.Repeat([]byte("x"), 65)) }, ErrInvalidTap},
		{"zero amount", func(tp *Tap) { tp.Amount = 0 }, ErrInvalidTap},
		{"negative amount", func(tp *Tap) { tp.Amount = -5 }, ErrInvalidTap},
		{"huge amount", func(tp *Tap) { tp.Amount = 1_000_000_000_000 }, ErrInvalidTap},
		{"currency", func(tp *Tap) { tp.Currency = "eur" }, ErrInvalidTap},
		{"amount differs from 9F02", func(tp *Tap) { tp.Amount = 101 }, ErrInvalidTap},
		{"no EMV", func(tp *Tap) { tp.EMV = nil }, ErrBadEMVData},
		{"truncated EMV", func(tp *Tap) { tp.EMV = tp.EMV[:5] }, ErrBadEMVData},
		{"no PAN", func(tp *Tap) { tp.EMV = tp.EMV[10:] }, ErrBadEMVData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := good
			tp.EMV = append([]byte(nil), good.EMV...)
			tt.edit(&tp)
			_, err := q.Enqueue(context.Background(), tp)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	limits := Limits{PerTransaction: 5000, CumulativeAmount: 10000, CumulativeCount: 4, OldestAge: time.Hour, SameCard: 2}
	tests := []struct {
		name  string
		prior []Tap         // enqueued first
		wait  time.Duration // clock advance before the tap
		tap   Tap
		want  Limit // "" for approved
	}{
		{"approved", nil, 0, tap("x", testPANs[0], 5000), ""},
		{"card declined offline", nil, 0, func() Tap { tp := tap("x", testPANs[0], 100); tp.CardApprovedOffline = false; return tp }(), LimitCardDecision},
		{"oda failed", nil, 0, func() Tap { tp := tap("x", testPANs[0], 100); tp.ODAPassed = false; return tp }(), LimitODA},
		{"per transaction", nil, 0, tap("x", testPANs[0], 5001), LimitPerTransaction},
		{"cumulative amount", []Tap{tap("a", testPANs[1], 5000), tap("b", testPANs[2], 4000)}, 0, tap("x", testPANs[0], 1001), LimitCumulativeAmount},
		{"cumulative amount exact", []Tap{tap("a", testPANs[1], 5000), tap("b", testPANs[2], 4000)}, 0, tap("x", testPANs[0], 1000), ""},
		{"cumulative amount other currency", []Tap{tap("a", testPANs[1], 5000), tap("b", testPANs[2], 4000)}, 0,
			func() Tap { tp := tap("x", testPANs[0], 2000); tp.Currency = "USD"; return tp }(), ""},
		{"cumulative count", []Tap{tap("a", testPANs[1], 1), tap("b", testPANs[2], 1), tap("c", testPANs[3], 1), tap("d", testPANs[1], 1)}, 0, tap("x", testPANs[0], 1), LimitCumulativeCount},
		{"oldest age", []Tap{tap("a", testPANs[1], 1)}, time.Hour + time.Second, tap("x", testPANs[0], 1), LimitOldestAge},
		{"oldest age exact", []Tap{tap("a", testPANs[1], 1)}, time.Hour, tap("x", testPANs[0], 1), ""},
		{"same card", []Tap{tap("a", testPANs[0], 1), tap("b", testPANs[0], 1)}, 0, tap("x", testPANs[0], 1), LimitSameCard},
		{"same card once", []Tap{tap("a", testPANs[0], 1)}, 0, tap("x", testPANs[0], 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			q, _ := openTest(t, clock, &limits)
			for _, p := range tt.prior {
				mustEnqueue(t, q, p)
			}
			clock.Add(tt.wait)
			_, err := q.Enqueue(context.Background(), tt.tap)
			var de *DeclineError
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("declined: %v", err)
			case tt.want != "" && !errors.As(err, &de):
				t.Errorf("err = %v, want a decline by %s", err, tt.want)
			case tt.want != "" && de.Limit != tt.want:
				t.Errorf("declined by %s (%v), want %s", de.Limit, err, tt.want)
			}
			if tt.want != "" {
				st, _ := q.Status(context.Background())
				if st.Unsent != len(tt.prior) {
					t.Errorf("a declined tap was queued: %d unsent", st.Unsent)
				}
			}
		})
	}
}

func TestLimitsFreedBySync(t *testing.T) {
	limits := Limits{SameCard: 1}
	q, _ := openTest(t, newClock(), &limits)
	mustEnqueue(t, q, tap("a", testPANs[0], 100))
	if _, err := q.Enqueue(context.Background(), tap("b", testPANs[0], 100)); err == nil {
		t.Fatal("second tap of the card approved")
	}
	if err := q.record(context.Background(), []Result{{TxnID: "a", State: StateAccepted}}, nil); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, q, tap("b", testPANs[0], 100))
}

func TestStatus(t *testing.T) {
	clock := newClock()
	q, _ := openTest(t, clock, nil)
	ctx := context.Background()
	mustEnqueue(t, q, tap("a", testPANs[0], 100))
	clock.Add(10 * time.Minute)
	mustEnqueue(t, q, tap("b", testPANs[1], 250))
	usd := tap("c", testPANs[2], 999)
	usd.Currency = "USD"
	mustEnqueue(t, q, usd)
	mustEnqueue(t, q, tap("d", testPANs[3], 1))
	clock.Add(5 * time.Minute)
	if _, _, err := q.claim(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := q.record(ctx, []Result{{TxnID: "a", State: StateAccepted}}, nil); err != nil {
		t.Fatal(err)
	}
	syncedAt := clock.Now()
	clock.Add(time.Minute)
	if err := q.record(ctx, nil, errors.New("ledger unavailable")); err != nil {
		t.Fatal(err)
	}
	st, err := q.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Status{
		Unsent:     3,
		ByCurrency: []CurrencyTotal{{"EUR", 2, 251}, {"USD", 1, 999}},
		OldestAge:  6 * time.Minute,
		Accepted:   1,
		LastSync:   syncedAt,
		LastError:  "ledger unavailable",
	}
	if st.Unsent != want.Unsent || st.Accepted != want.Accepted || st.OldestAge != want.OldestAge ||
		!st.LastSync.Equal(want.LastSync) || st.LastError != want.LastError ||
		len(st.ByCurrency) != 2 || st.ByCurrency[0] != want.ByCurrency[0] || st.ByCurrency[1] != want.ByCurrency[1] {
		t.Errorf("status = %+v\nwant %+v", st, want)
	}
}

func TestReopen(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "q.db")
	q, err := Open(path, Options{Key: testKey, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, q, tap("a", testPANs[0], 100))
	q.Close()

	t.Run("same key", func(t *testing.T) {
		q, err := Open(path, Options{Key: testKey, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		out, _, err := q.claim(context.Background(), 0, 10)
		if err != nil || len(out) != 1 || !bytes.Equal(out[0].EMV, emvData(testPANs[0], 100, 1)) {
			t.Fatalf("claim after reopen = %v, %v", len(out), err)
		}
	})
	t.Run("other key", func(t *testing.T) {
		q, err := Open(path, Options{Key: Key{9}, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if _, _, err := q.claim(context.Background(), 0, 10); !errors.Is(err, ErrUnseal) {
			t.Fatalf("claim with another key: %v, want ErrUnseal", err)
		}
	})
}

// simulatorPANs returns the PANs of the card simulator's profiles.
func simulatorPANs(t *testing.T) []string {
	files, err := filepath.Glob("../testdata/cards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no card simulator profiles: %v", err)
	}
	var pans []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			PAN string `json:"pan"`
		}
		if json.Unmarshal(b, &p) == nil && len(p.PAN) >= 12 && !slices.Contains(pans, p.PAN) {
			pans = append(pans, p.PAN)
		}
	}
	return pans
}

// TestNoPANAtRest taps every test and simulator PAN, syncs with a logger,
// and greps the database, its WAL and the log for the PANs.
func TestNoPANAtRest(t *testing.T) {
	clock := newClock()
	limits := Limits{}
	q, path := openTest(t, clock, &limits)
	ctx := context.Background()
	sim := simulatorPANs(t)
	if len(sim) < 5 {
		t.Fatalf("only %d simulator PANs", len(sim))
	}
	saved := testPANs
	testPANs = append(slices.Clip(testPANs), sim...)
	t.Cleanup(func() { testPANs = saved })
	for i, pan := range testPANs {
		for j := range 3 {
			mustEnqueue(t, q, tap(fmt.Sprintf("p%d-%d", i, j), pan, int64(100+j)))
		}
	}
	var logs bytes.Buffer
	srv := newFakeLedger(t)
	s := &Syncer{Queue: q, Forwarder: srv.forwarder(), BatchSize: 5, Rand: &countingRand{},
		Sleep:  func(context.Context, time.Duration) error { return nil },
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	srv.failNext(2)
	if _, err := s.Drain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	st, _ := q.Status(ctx)
	items, _ := q.List(ctx, ListOptions{})
	var listed bytes.Buffer
	for _, it := range items {
		listed.WriteString(it.MaskedPAN + " " + it.CardToken + "\n")
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		assertNoPAN(t, filepath.Base(path+suffix), b)
	}
	if logs.Len() == 0 {
		t.Error("no log output to check")
	}
	assertNoPAN(t, "log", logs.Bytes())
	assertNoPAN(t, "status error", []byte(st.LastError))
	assertNoPAN(t, "listing", listed.Bytes())
}

func TestFindPAN(t *testing.T) {
	emv := emvData(testPANs[0], 100, 1)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"ascii":  {[]byte("pan=" + testPANs[1] + ";"), "ASCII"},
		"bcd":    {emv, "BCD"},
		"hex":    {[]byte(strings.ToUpper(hex.EncodeToString(emv))), "ASCII"},
		"masked": {[]byte(tags.MaskPAN(testPANs[0])), ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := findPAN(tc.data); got != tc.want {
				t.Errorf("findPAN = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDurabilitySettings(t *testing.T) {
	q, _ := openTest(t, newClock(), nil)
	var mode string
	var sync int
	if err := q.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v; want wal", mode, err)
	}
	if err := q.db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous %d, %v; want 2 (FULL)", sync, err)
	}
}

// TestEachPage pages through more items than one List returns, as a
// terminal's queue holds after its thousandth offline approval: answered
// items are never deleted.
func TestEachPage(t *testing.T) {
	q, _ := openTest(t, newClock(), &Limits{})
	const n = 1003
	for i := range n {
		mustEnqueue(t, q, tap(fmt.Sprintf("t-%04d", i), testPANs[i%len(testPANs)], 100))
	}
	tests := []struct {
		name  string
		opt   ListOptions
		first string // the first item's id
		count int
		pages int
	}{
		{"default page size", ListOptions{}, "t-0000", n, 11},
		{"small pages", ListOptions{Limit: 7}, "t-0000", n, 144},
		{"one page", ListOptions{Limit: n}, "t-0000", n, 1},
		{"after", ListOptions{After: 1000, Limit: 500}, "t-1000", 3, 1},
		{"no such state", ListOptions{States: []State{StateAccepted}}, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			pages := 0
			err := q.EachPage(context.Background(), tt.opt, func(items []Item) error {
				pages++
				if max := tt.opt.pageSize(); len(items) > max {
					t.Errorf("page of %d items, want at most %d", len(items), max)
				}
				for _, it := range items {
					ids = append(ids, it.TxnID)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tt.count || tt.count > 0 && ids[0] != tt.first || !slices.IsSorted(ids) || pages != tt.pages {
				t.Errorf("got %d items from %v in %d pages, want %d from %s, in order, in %d pages",
					len(ids), ids[:min(len(ids), 1)], pages, tt.count, tt.first, tt.pages)
			}
		})
	}
	t.Run("fn fails", func(t *testing.T) {
		stop := errors.New("stop")
		pages := 0
		err := q.EachPage(context.Background(), ListOptions{Limit: 10}, func([]Item) error { pages++; return stop })
		if !errors.Is(err, stop) || pages != 1 {
			t.Errorf("EachPage = %v after %d pages, want stop after 1", err, pages)
		}
	})
}
