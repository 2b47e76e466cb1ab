package httpjson

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(2, 3, func() time.Time { return now })
	for i := range 3 {
		if !l.Allow("k") {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	if l.Allow("k") {
		t.Fatal("fourth request in the same instant allowed")
	}
	if !l.Allow("other") {
		t.Fatal("another key shares the bucket")
	}
	now = now.Add(500 * time.Millisecond) // one token back at 2/s
	if !l.Allow("k") || l.Allow("k") {
		t.Fatal("refill is not rate per second")
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, 403, "forbidden", "not yours")
	var b ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || w.Code != 403 || b.Error.Code != "forbidden" || b.Error.Message != "not yours" {
		t.Fatalf("got %d %s (%v)", w.Code, w.Body.String(), err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
}
