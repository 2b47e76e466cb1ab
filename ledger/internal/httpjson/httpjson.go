// Package httpjson holds what the ledger's HTTP handlers (the terminal API
// and chat checkout) share: JSON bodies and answers, the error body, a
// rate limiter per API key and a rate-limited warning log.
package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"tappos/ledger"
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError answers with status and an ErrorBody.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	WriteJSON(w, status, b)
}

// Decode decodes the JSON request body into v, refusing unknown fields;
// its error wraps ledger.ErrInvalid.
func Decode(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", ledger.ErrInvalid, err)
	}
	return nil
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ReportKey tells the request log which API key made the request: the
// log's ResponseWriter, w or one it wraps, records it if it has a
// ReportKey(id string) method. Handlers mounted beside the ledger API
// (checkout, /mcp) authenticate on their own and call it, so that their
// requests are attributed in the log like the API's.
func ReportKey(w http.ResponseWriter, id string) {
	for {
		switch x := w.(type) {
		case interface{ ReportKey(string) }:
			x.ReportKey(id)
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}

// Limiter is a token bucket per API key.
type Limiter struct {
	rate, burst float64
	now         func() time.Time
	mu          sync.Mutex
	buckets     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter allows each key rate requests a second, in bursts of burst.
func NewLimiter(rate, burst float64, now func() time.Time) *Limiter {
	return &Limiter{rate: rate, burst: burst, now: now, buckets: make(map[string]*bucket)}
}

// Allow takes a token from the key's bucket if there is one.
func (l *Limiter) Allow(key string) bool {
	ok, _ := l.AllowN(key, 1)
	return ok
}

// AllowN takes n tokens from the key's bucket if it holds them all, for a
// request that does the work of n (a batch). Otherwise it takes none and
// says how long until the bucket would hold n; n above the burst never
// fits, see [Limiter.Burst].
func (l *Limiter) AllowN(key string, n float64) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < n {
		return false, time.Duration((n - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens -= n
	return true, 0
}

// Burst is the most tokens a bucket holds: the largest n AllowN can grant.
func (l *Limiter) Burst() float64 { return l.burst }

// WarnLimiter logs at WARN at most once per interval per key (a route),
// so that an outage failing every request does not flood the log. Lines
// it drops are counted in the next one it writes, as "suppressed".
type WarnLimiter struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time
	mu    sync.Mutex
	keys  map[string]*warnState
}

type warnState struct {
	last       time.Time
	suppressed int
}

// NewWarnLimiter returns a WarnLimiter writing to log at most once per
// every per key; now is the clock.
func NewWarnLimiter(log *slog.Logger, every time.Duration, now func() time.Time) *WarnLimiter {
	return &WarnLimiter{log: log, every: every, now: now, keys: make(map[string]*warnState)}
}

// Warn logs msg with args under key unless key logged within the interval.
func (l *WarnLimiter) Warn(ctx context.Context, key, msg string, args ...any) {
	now := l.now()
	l.mu.Lock()
	st := l.keys[key]
	if st == nil {
		st = &warnState{}
		l.keys[key] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < l.every {
		st.suppressed++
		l.mu.Unlock()
		return
	}
	n := st.suppressed
	st.last, st.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.log.WarnContext(ctx, msg, args...)
}
