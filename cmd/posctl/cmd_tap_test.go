package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tappos/internal/pcsctest"
	"tappos/offline"
	"tappos/terminal"
	"tappos/terminal/cardsim"
	"tappos/terminal/host/hosttest"
	"tappos/terminal/memreader"
)

// The -update flag may be shared with other subcommands' golden tests.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

// stepClock moves a second each reading.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type countReader struct{ n byte }

func (r *countReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = r.n
		r.n++
	}
	return len(b), nil
}

// oldOpenReader is the real reader opener, for the PC/SC test.
var oldOpenReader = openReader

// shop runs posctl's terminal commands against an in-memory reader and
// a fake ledger.
type shop struct {
	t      *testing.T
	dir    string
	ledger *hosttest.Ledger
	cards  map[string]*cardsim.Card
	next   string // the card the next tap presents
}

func newShop(t *testing.T) *shop {
	s := &shop{t: t, dir: t.TempDir(), ledger: hosttest.New(), cards: map[string]*cardsim.Card{}}
	s.ledger.DeclineAbove = 50000
	t.Cleanup(s.ledger.Close)
	t.Setenv(offline.KeyEnv, strings.Repeat("ab", 32))
	t.Setenv("TAPPOS_LEDGER", "")
	t.Setenv("TAPPOS_LEDGER_KEY", "")
	clk := &stepClock{t: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}
	oldNow, oldRand, oldOpen, oldLoc := posNow, posRand, openReader, posLoc
	posNow, posRand, posLoc = clk.now, &countReader{}, time.UTC
	openReader = func(name string, allowVirtual bool) (terminal.Reader, error) {
		r := memreader.New("test reader")
		r.Present(s.card(s.next))
		return r, nil
	}
	t.Cleanup(func() { posNow, posRand, openReader, posLoc = oldNow, oldRand, oldOpen, oldLoc })
	return s
}

func (s *shop) card(name string) *cardsim.Card {
	if c, ok := s.cards[name]; ok {
		return c
	}
	p, err := cardsim.LoadProfile(name)
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := cardsim.NewCard(p, &countReader{})
	if err != nil {
		s.t.Fatal(err)
	}
	s.cards[name] = c
	return c
}

// run runs a command with the shop's files and ledger.
func (s *shop) run(online bool, args ...string) (string, int) {
	s.t.Helper()
	args = append(args, "--config", filepath.Join("testdata", "tap", "cn-shop.json"),
		"--journal", filepath.Join(s.dir, "journal.db"), "--queue", filepath.Join(s.dir, "offline.db"))
	if args[0] == "tap" {
		args = append(args, "--display-log", filepath.Join(s.dir, "display.log"))
	}
	if online {
		args = append(args, "--ledger", s.ledger.URL, "--key", "terminal key")
	}
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	s.t.Logf("posctl %s → %d\n%s%s", strings.Join(args[:2], " "), code, out.String(), errb.String())
	for _, pan := range []string{"4761739001010010", "4761739001010028", "5413330089010343"} {
		if strings.Contains(out.String()+errb.String(), pan) {
			s.t.Fatalf("output carries a full PAN")
		}
	}
	return out.String(), code
}

func (s *shop) tap(card, amount string, extra ...string) (tapReport, int) {
	s.t.Helper()
	s.next = card
	out, code := s.run(true, append([]string{"tap", "--amount", amount, "--json"}, extra...)...)
	var rep tapReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		s.t.Fatalf("tap output: %v\n%s", err, out)
	}
	return rep, code
}

// TestShopDay taps, refunds, voids, reports and closes a batch the way a
// shop does, through the commands.
func TestShopDay(t *testing.T) {
	s := newShop(t)

	qr := filepath.Join(s.dir, "receipt.png")
	online, code := s.tap("visa-credit", "12.50", "--qr", qr)
	if st, err := os.Stat(qr); err != nil || st.Size() == 0 {
		t.Fatalf("no QR code written: %v", err)
	}
	if code != 0 || online.Outcome != "ONLINE_REQUEST" || online.Result != "APPROVED" || online.ApprovalCode == "" ||
		online.Kernel != 3 || online.AID != "A0000000031010" || online.PAN != "476173******0010" ||
		online.CryptogramType != "ARQC" || online.APDUs == 0 || online.IssuerAuth == "" {
		t.Fatalf("online tap %d: %+v", code, online)
	}
	off, code := s.tap("visa-offline", "25.00")
	if code != 0 || off.Outcome != "APPROVED" || off.Result != "OFFLINE_APPROVED" || off.CryptogramType != "TC" ||
		off.ODA.Method == "" || !off.ODA.OK || !off.Offline {
		t.Fatalf("offline tap %d: %+v", code, off)
	}
	dec, code := s.tap("visa-credit", "800.00")
	if code != 3 || dec.Result != "DECLINED" || dec.DeclineReason != "insufficient_funds" {
		t.Fatalf("declined tap %d: %+v", code, dec)
	}
	cdcvm, code := s.tap("mastercard-credit", "30.00", "--offline-only")
	if code != 0 || cdcvm.Result != "OFFLINE_APPROVED" || cdcvm.Kernel != 2 || cdcvm.ODA.Method != "CDA" {
		t.Fatalf("mastercard tap %d: %+v", code, cdcvm)
	}
	voidMe, _ := s.tap("visa-credit", "3.00")

	if out, code := s.run(true, "refund", "--txn", online.TxnID, "--amount", "5.00"); code != 0 || !strings.Contains(out, "REFUND") {
		t.Fatalf("refund %d", code)
	}
	if _, code := s.run(true, "refund", "--txn", online.TxnID, "--amount", "50.00"); code != 1 {
		t.Fatalf("refund beyond the sale: exit %d", code)
	}
	if out, code := s.run(true, "void", "--txn", voidMe.TxnID); code != 0 || !strings.Contains(out, "result: approved") {
		t.Fatalf("void %d", code)
	}

	x, code := s.run(false, "report", "x")
	if code != 0 {
		t.Fatalf("report x: %d", code)
	}
	golden(t, "tap/report-x.txt", x)
	xcsv, _ := s.run(false, "report", "x", "--csv")
	golden(t, "tap/report-x.csv", xcsv)

	// The offline sales have not been uploaded: the batch stays open.
	unbalanced, code := s.run(true, "batch", "close")
	if code != 3 || !strings.Contains(unbalanced, "NOT BALANCED") {
		t.Fatalf("batch close before sync: %d", code)
	}
	golden(t, "tap/batch-close-unbalanced.txt", unbalanced)

	// Sync, and it balances and closes.
	q, err := offline.Open(filepath.Join(s.dir, "offline.db"), offline.Options{Key: mustKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	syncer := &offline.Syncer{Queue: q, Forwarder: &offline.HTTPForwarder{BaseURL: s.ledger.URL, APIKey: "terminal key"},
		Rand: &countReader{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if rep, err := syncer.Drain(context.Background(), 3); err != nil || rep.Remaining != 0 {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	q.Close()
	closed, code := s.run(true, "batch", "close")
	if code != 0 || !strings.Contains(closed, "\nBALANCED") || !strings.Contains(closed, "Z REPORT 000001") {
		t.Fatalf("batch close after sync: %d", code)
	}
	golden(t, "tap/batch-close-balanced.txt", closed)

	// The Z report is stored as printed; the next batch is empty.
	z, code := s.run(false, "report", "z", "--batch", "1")
	if code != 0 || !strings.Contains(closed, z) {
		t.Fatalf("stored Z report differs (exit %d):\n%s", code, z)
	}
	if x, _ := s.run(false, "report", "x"); !strings.Contains(x, "batch 2") || !strings.Contains(x, "no sales") {
		t.Fatalf("next batch:\n%s", x)
	}
	if z2, code := s.run(false, "report", "z"); code != 0 || !strings.Contains(z2, "Z REPORT 000002") {
		t.Fatalf("report z: %d", code)
	}
}

func mustKey(t *testing.T) offline.Key {
	k, err := offline.LoadKey("")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTapUsage(t *testing.T) {
	s := newShop(t)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no amount", []string{"tap"}, 2},
		{"bad amount", []string{"tap", "--amount", "12.505"}, 2},
		{"float amount", []string{"tap", "--amount", "1e3"}, 2},
		{"bad currency", []string{"tap", "--amount", "1", "--currency", "999"}, 2},
		{"refund without txn", []string{"refund"}, 2},
		{"unknown txn", []string{"void", "--txn", "nope"}, 1},
		{"batch close without ledger", []string{"batch", "close", "--ledger", ""}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			online := tt.args[0] != "batch"
			if _, code := s.run(online, tt.args...); code != tt.code {
				t.Fatalf("exit %d, want %d", code, tt.code)
			}
		})
	}
}

// TestTapPCSC taps through pcscd and the vpcd driver: a virtual reader is
// refused unless allowed, and the tap reaches the ledger when it is.
func TestTapPCSC(t *testing.T) {
	slot := pcsctest.Start(t)
	s := newShop(t)
	openReader = oldOpenReader
	t.Setenv(modeEnv, "")
	remove := slot.Present(t, s.card("visa-credit"))
	defer remove()

	var out, errb bytes.Buffer
	args := []string{"tap", "--amount", "12.50", "--reader", slot.Reader, "--wait", "5s", "--config", filepath.Join("testdata", "tap", "cn-shop.json"),
		"--journal", filepath.Join(s.dir, "journal.db"), "--queue", filepath.Join(s.dir, "offline.db")}
	if code := dispatch(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), "virtual") {
		t.Fatalf("virtual reader without --allow-virtual: exit %d: %s", code, errb.String())
	}
	rep, code := s.tap("visa-credit", "12.50", "--reader", slot.Reader, "--allow-virtual", "--wait", "5s")
	if code != 0 || rep.Result != "APPROVED" || rep.Outcome != "ONLINE_REQUEST" || rep.APDUs == 0 {
		t.Fatalf("tap through pcscd: exit %d %+v", code, rep)
	}
	if _, ok := s.ledger.Auth(rep.TxnID); !ok {
		t.Fatalf("the ledger has no authorization for %s", rep.TxnID)
	}
}

// TestTapOfflineLimits sets the offline limits from the flags and prints
// the sale's steps with --events.
func TestTapOfflineLimits(t *testing.T) {
	s := newShop(t)
	s.next = "visa-offline"
	tap := func(t *testing.T, amount string, flags ...string) (events []string, rep tapReport, code int) {
		t.Helper()
		out, code := s.run(false, append([]string{"tap", "--amount", amount, "--offline-only", "--json", "--events"}, flags...)...)
		lines, doc, _ := strings.Cut(out, "{")
		if code != 2 {
			if err := json.Unmarshal([]byte("{"+doc), &rep); err != nil {
				t.Fatalf("tap output: %v\n%s", err, out)
			}
		}
		return strings.Fields(lines), rep, code
	}
	t.Run("approved with events", func(t *testing.T) {
		ev, rep, code := tap(t, "5.00", "--offline-same-card", "1")
		if code != 0 || rep.Result != "OFFLINE_APPROVED" {
			t.Fatalf("exit %d: %+v", code, rep)
		}
		var want []string
		for _, k := range []string{"PRESENT_CARD", "PROCESSING", "REMOVE_CARD", "OFFLINE", "APPROVED"} {
			want = append(want, k, rep.TxnID)
		}
		if strings.Join(ev, " ") != strings.Join(want, " ") {
			t.Errorf("events %q, want %q", ev, want)
		}
		// The display log has the same steps, amounts on the first and last.
		id := rep.TxnID
		b, err := os.ReadFile(filepath.Join(s.dir, "display.log"))
		if want := "PRESENT_CARD " + id + " 5.00 CNY\nPROCESSING " + id + "\nREMOVE_CARD " + id + "\nOFFLINE " + id +
			"\nAPPROVED " + id + " 5.00 CNY\n"; err != nil || string(b) != want {
			t.Errorf("display log %q (%v), want %q", b, err, want)
		}
	})
	tests := []struct {
		name   string
		amount string
		flags  []string
		code   int
		reason string
	}{
		{"same card", "5.00", []string{"--offline-same-card", "1"}, 3, "offline limit same_card"},
		{"same card raised", "5.00", []string{"--offline-same-card", "2"}, 0, ""},
		{"per transaction", "5.00", []string{"--offline-same-card", "0", "--offline-limit", "4.99"}, 3, "offline limit per_transaction"},
		{"cumulative amount", "5.00", []string{"--offline-same-card", "0", "--offline-max-amount", "14.99"}, 3, "offline limit cumulative_amount"},
		{"cumulative count", "5.00", []string{"--offline-same-card", "0", "--offline-max-count", "2"}, 3, "offline limit cumulative_count"},
		{"oldest age", "5.00", []string{"--offline-same-card", "0", "--offline-max-age", "1s"}, 3, "offline limit oldest_age"},
		{"no limits", "5.00", []string{"--offline-same-card", "0", "--offline-max-age", "0"}, 0, ""},
		{"bad amount", "5.00", []string{"--offline-limit", "4.999"}, 2, ""},
		{"negative count", "5.00", []string{"--offline-same-card", "-1"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rep, code := tap(t, tt.amount, tt.flags...)
			if code != tt.code || rep.DeclineReason != tt.reason {
				t.Fatalf("exit %d, reason %q; want %d, %q", code, rep.DeclineReason, tt.code, tt.reason)
			}
		})
	}
}

// TestTapCurrency reads the amounts of the offline limits and of a refund
// in the sale's currency: JPY has no minor units, so "10" is ¥10 there,
// not the ¥1000 it would be in the configuration's CNY.
func TestTapCurrency(t *testing.T) {
	s := newShop(t)
	prof, err := cardsim.LoadProfile("visa-offline")
	if err != nil {
		t.Fatal(err)
	}
	prof.OfflineLimits["392"] = 100000 // the card approves JPY offline too
	c, err := cardsim.NewCard(prof, &countReader{})
	if err != nil {
		t.Fatal(err)
	}
	s.cards["visa-offline"] = c
	taps := []struct {
		name   string
		limit  string
		code   int
		reason string
	}{
		{"over the limit", "499", 3, "offline limit per_transaction"},
		{"within the limit", "500", 0, ""},
		{"limit with decimals", "500.00", 2, ""},
	}
	for _, tt := range taps {
		t.Run(tt.name, func(t *testing.T) {
			s.next = "visa-offline"
			out, code := s.run(false, "tap", "--amount", "500", "--currency", "JPY", "--offline-only", "--json",
				"--offline-limit", tt.limit, "--offline-same-card", "0")
			var rep tapReport
			if code != 2 {
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("tap output: %v\n%s", err, out)
				}
			}
			if code != tt.code || rep.DeclineReason != tt.reason {
				t.Fatalf("exit %d, reason %q; want %d, %q", code, rep.DeclineReason, tt.code, tt.reason)
			}
		})
	}

	sold, code := s.tap("visa-credit", "500", "--currency", "JPY")
	if code != 0 || sold.Currency != "JPY" || sold.Amount != "500" {
		t.Fatalf("JPY sale: exit %d %+v", code, sold)
	}
	refunds := []struct {
		name   string
		txn    string
		amount string
		code   int
		want   string
	}{
		{"refund in yen", sold.TxnID, "3", 0, "amount: JPY 3\n"},
		{"refund with the configuration's decimals", sold.TxnID, "3.00", 2, ""},
		{"refund of an unknown sale", "nope", "3", 1, ""},
	}
	for _, tt := range refunds {
		t.Run(tt.name, func(t *testing.T) {
			out, code := s.run(true, "refund", "--txn", tt.txn, "--amount", tt.amount)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want %d with %q", code, tt.code, tt.want)
			}
		})
	}
}
