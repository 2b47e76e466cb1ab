package offline

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeLedger implements the idempotency semantics of the ledger's offline
// bookings: a key replays its first answer and posts nothing new, a key in
// flight gets 409.
type fakeLedger struct {
	srv *httptest.Server

	mu       sync.Mutex
	answers  map[string][]byte // by idempotency key
	inflight map[string]bool
	postings map[string]int // bookings per transaction id
	requests int
	fail     int           // answer the next fail requests with 503
	delay    time.Duration // before booking
	declines map[string]string
	overdraw map[string]int64
}

func newFakeLedger(t testing.TB) *fakeLedger {
	f := &fakeLedger{answers: map[string][]byte{}, inflight: map[string]bool{}, postings: map[string]int{},
		declines: map[string]string{}, overdraw: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/authorizations", f.authorize)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLedger) forwarder() *HTTPForwarder {
	return &HTTPForwarder{BaseURL: f.srv.URL, APIKey: "k", Client: f.srv.Client()}
}

func (f *fakeLedger) failNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = n
}

func (f *fakeLedger) authorize(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	var body authorizeBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || key == "" || body.Kind != "offline" || body.TxnID != key {
		http.Error(w, `{"error":{"code":"bad_request"}}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests++
	if f.fail > 0 {
		f.fail--
		f.mu.Unlock()
		http.Error(w, `{"error":{"code":"unavailable"}}`, http.StatusServiceUnavailable)
		return
	}
	if a, ok := f.answers[key]; ok {
		f.mu.Unlock()
		w.Write(a)
		return
	}
	if f.inflight[key] {
		f.mu.Unlock()
		http.Error(w, `{"error":{"code":"idempotency_key_in_flight"}}`, http.StatusConflict)
		return
	}
	f.inflight[key] = true
	delay := f.delay
	f.mu.Unlock()
	time.Sleep(delay)

	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.inflight, key)
	lr := ledgerResult{Outcome: "approved", AuthorizationID: "au-" + key}
	if reason, ok := f.declines[key]; ok {
		lr = ledgerResult{Outcome: "declined", Reason: reason, AuthorizationID: "au-" + key}
	} else {
		f.postings[key]++
		if od := f.overdraw[key]; od > 0 {
			lr.Reason, lr.Overdraft = "overdraft", od
		}
	}
	a, _ := json.Marshal(lr)
	f.answers[key] = a
	w.Write(a)
}

// checkPostings fails unless each of ids was booked exactly once and
// nothing else was.
func (f *fakeLedger) checkPostings(t testing.TB, ids []string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		if n := f.postings[id]; n != 1 {
			t.Errorf("%s posted %d times", id, n)
		}
	}
	for id, n := range f.postings {
		if !want[id] {
			t.Errorf("unexpected posting of %s (%d)", id, n)
		}
	}
}

// enqueueTaps queues one tap of 1.00 per id of txnIDs(prefix, n), all
// with one card, and returns the ids.
func enqueueTaps(t testing.TB, q *Queue, prefix string, n int, pan string) []string {
	t.Helper()
	ids := txnIDs(prefix, n)
	for _, id := range ids {
		mustEnqueue(t, q, tap(id, pan, 100))
	}
	return ids
}

func txnIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return ids
}
