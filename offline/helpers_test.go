package offline

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tappos/emv/tlv"
)

// testPANs are the PANs the tests tap; no test file may contain them.
var testPANs = []string{"5413330089010345", "4761739001010010", "5413330089099130", "4012888888881881"}

// bcd packs digits as BCD, padded with F.
func bcd(digits string, n int) []byte {
	s := digits
	for len(s) < 2*n {
		s += "F"
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// emvData returns offline-approval EMV data for a card and amount.
func emvData(pan string, amount int64, atc uint16) []byte {
	var b []byte
	b = tlv.Append(b, 0x5A, bcd(pan, (len(pan)+1)/2))
	b = tlv.Append(b, 0x5F34, []byte{0x01})
	b = tlv.Append(b, 0x9F02, bcd(fmt.Sprintf("%012d", amount), 6))
	b = tlv.Append(b, 0x5F2A, []byte{0x09, 0x78})
	b = tlv.Append(b, 0x9F26, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	b = tlv.Append(b, 0x9F27, []byte{0x40})
	b = tlv.Append(b, 0x9F36, []byte{byte(atc >> 8), byte(atc)})
	b = tlv.Append(b, 0x95, []byte{0, 0, 0, 0, 0})
	return b
}

// tap returns an offline-approved tap.
func tap(id string, pan string, amount int64) Tap {
	return Tap{TxnID: id, Amount: amount, Currency: "EUR", EMV: emvData(pan, amount, 1),
		CardApprovedOffline: true, ODAPassed: true}
}

var testKey = Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 2, 17, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingRand is a deterministic nonce source.
type countingRand struct {
	mu sync.Mutex
	n  byte
}

func (r *countingRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

// openTest opens a queue in a temporary directory.
func openTest(t testing.TB, clock *fakeClock, limits *Limits) (*Queue, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queue.db")
	q, err := Open(path, Options{Key: testKey, Limits: limits, Now: clock.Now, Rand: &countingRand{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q, path
}

// mustEnqueue enqueues and confirms tp, as a terminal does around showing
// the approval.
func mustEnqueue(t testing.TB, q *Queue, tp Tap) Item {
	t.Helper()
	it, err := q.Enqueue(context.Background(), tp)
	if err != nil {
		t.Fatalf("enqueue %s: %v", tp.TxnID, err)
	}
	if err := q.Confirm(context.Background(), tp.TxnID); err != nil {
		t.Fatalf("confirm %s: %v", tp.TxnID, err)
	}
	it.State = StateQueued
	return it
}

// assertNoPAN fails if data contains a test PAN as ASCII digits (which
// also covers the hex form of its BCD) or as BCD.
func assertNoPAN(t testing.TB, what string, data []byte) {
	t.Helper()
	if form := findPAN(data); form != "" {
		t.Errorf("%s contains a full PAN (%s)", what, form)
	}
}

// findPAN returns the form in which data holds a test PAN, or "".
func findPAN(data []byte) string {
	for _, pan := range testPANs {
		packed := bcd(pan, (len(pan)+1)/2)
		switch {
		case bytes.Contains(data, []byte(pan)):
			return "ASCII"
		case bytes.Contains(data, packed[:len(pan)/2]):
			return "BCD"
		}
	}
	return ""
}
