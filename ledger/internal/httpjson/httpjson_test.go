package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tappos/ledger"
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

func TestLimiterAllowN(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(10, 100, func() time.Time { return now })
	for _, tc := range []struct {
		name    string
		advance time.Duration
		n       float64
		ok      bool
		wait    time.Duration
	}{
		{"whole burst at once", 0, 100, true, 0},
		{"empty bucket", 0, 1, false, 100 * time.Millisecond},
		{"refused takes nothing", time.Second, 20, false, time.Second},
		{"partial refill", 0, 10, true, 0},
		{"over the burst never fits", time.Hour, 101, false, 100 * time.Millisecond},
		{"full after an hour", 0, 100, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = now.Add(tc.advance)
			ok, wait := l.AllowN("k", tc.n)
			if ok != tc.ok || wait != tc.wait {
				t.Fatalf("AllowN(%v) = %v, %v; want %v, %v", tc.n, ok, wait, tc.ok, tc.wait)
			}
		})
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

func TestDecode(t *testing.T) {
	type body struct {
		Amount int64 `json:"amount"`
	}
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"valid", `{"amount":1250}`, true},
		{"unknown field", `{"amount":1250,"pan":"4761730000000010"}`, false},
		{"wrong type", `{"amount":"12.50"}`, false},
		{"truncated", `{"amount":`, false},
		{"empty", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b body
			err := Decode([]byte(tc.in), &b)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ledger.ErrInvalid)) {
				t.Fatalf("Decode(%q) = %v", tc.in, err)
			}
			if err != nil && strings.Contains(err.Error(), "4761730000000010") {
				t.Errorf("error repeats the body: %v", err)
			}
		})
	}
}

// TestWarnLimiter: one line per route per interval, the dropped ones
// counted in the next.
func TestWarnLimiter(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	l := NewWarnLimiter(slog.New(slog.NewJSONHandler(&buf, nil)), time.Second, func() time.Time { return now })
	for _, c := range []struct {
		at         time.Duration
		route      string
		logged     bool
		suppressed int
	}{
		{0, "a", true, 0},
		{0, "b", true, 0}, // routes are limited apart
		{100 * time.Millisecond, "a", false, 0},
		{999 * time.Millisecond, "a", false, 0},
		{time.Second, "a", true, 2},
		{time.Second, "b", true, 0},
		{1500 * time.Millisecond, "a", false, 0},
		{3 * time.Second, "a", true, 1},
	} {
		buf.Reset()
		now = time.Unix(0, 0).Add(c.at)
		l.Warn(context.Background(), c.route, "request failed", "route", c.route)
		if (buf.Len() > 0) != c.logged {
			t.Fatalf("at %v route %s: logged %q, want logged %v", c.at, c.route, buf.String(), c.logged)
		}
		if !c.logged {
			continue
		}
		var line struct {
			Level      string
			Route      string
			Suppressed int
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Level != "WARN" || line.Route != c.route || line.Suppressed != c.suppressed {
			t.Errorf("at %v route %s: logged %+v, want WARN with suppressed %d", c.at, c.route, line, c.suppressed)
		}
	}
}
