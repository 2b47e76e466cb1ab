// Package api serves the ledger over HTTP: JSON requests, API keys,
// idempotency keys on every POST, rate limits, health, metrics and the
// OpenAPI description (ledger/openapi.yaml).
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"tappos/ledger"
	"tappos/ledger/internal/httpjson"
)

// GCPercent is the garbage collector's target that ledgerd serves with
// unless GOGC is set. The server's live heap is small and each request
// leaves garbage behind, so at Go's default of 100 the collector ran
// every few milliseconds under load. At 400 an authorization cost ~20 µs
// less CPU, for a few tens of MB more memory.
const GCPercent = 400

// Config configures a [Server].
type Config struct {
	Ledger *ledger.Ledger
	Logger *slog.Logger     // default slog.Default()
	Now    func() time.Time // default time.Now

	// Rate and Burst limit requests per API key: Rate per second on
	// average, Burst at once. A batch counts one request per item, so
	// Burst defaults to twice Rate but at least a full batch (1000): a
	// kiosk's offline backlog must fit, or it would be refused for good.
	// Rate defaults to 200; a negative Rate turns the limit off.
	Rate  float64
	Burst float64
	// MaxBody caps request bodies; default 64 KiB.
	MaxBody int64
	// Timeout bounds the wait for the ledger; default 10 s.
	Timeout time.Duration
}

// Server is the ledger's HTTP handler.
type Server struct {
	l       *ledger.Ledger
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
	timeout time.Duration
	mux     *http.ServeMux
	limits  *httpjson.Limiter
	metrics *metrics
	warn    *httpjson.WarnLimiter // database outages, once a second per route

	keysMu sync.Mutex
	keys   map[string]cachedKey // by hash
	termMu sync.Mutex
	terms  map[string]string // terminal id -> merchant id
}

type cachedKey struct {
	key     ledger.APIKey
	fetched time.Time
}

// keyTTL is how long a key is trusted from the cache: a revocation takes
// effect on every server within it.
const keyTTL = 30 * time.Second

// New returns a Server.
func New(cfg Config) *Server {
	s := &Server{l: cfg.Ledger, log: cfg.Logger, now: cfg.Now, maxBody: cfg.MaxBody, timeout: cfg.Timeout,
		mux: http.NewServeMux(), keys: make(map[string]cachedKey), terms: make(map[string]string),
		metrics: newMetrics()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.warn = httpjson.NewWarnLimiter(s.log, time.Second, s.now)
	if s.maxBody == 0 {
		s.maxBody = 64 << 10
	}
	if s.timeout == 0 {
		s.timeout = 10 * time.Second
	}
	rate, burst := cfg.Rate, cfg.Burst
	if rate == 0 {
		rate = 200
	}
	if burst == 0 {
		burst = max(2*rate, maxBatchItems)
	}
	if rate > 0 {
		s.limits = httpjson.NewLimiter(rate, burst, s.now)
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /metrics", s.serveMetrics)
	s.mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(ledger.OpenAPI)
	})
	post := func(pattern string, h func(*request) (ledger.Result, error)) {
		s.mux.Handle("POST "+pattern, s.authed(s.idempotent(h)))
	}
	post("/v1/authorizations", s.authorize)
	post("/v1/authorizations/{id}/capture", s.capture)
	post("/v1/authorizations/{id}/void", s.void)
	post("/v1/authorizations/{id}/refunds", s.refund)
	post("/v1/reversals", s.reverse)
	post("/v1/batches", s.closeBatch)
	post("/v1/wallets/{id}/deposits", s.deposit)
	s.mux.Handle("POST /v1/authorizations/batch", s.authedLimit(maxBatchBody, s.batch))
	s.mux.Handle("GET /v1/authorizations/{id}", s.authed(s.getAuthorization))
	s.mux.Handle("GET /v1/wallets/{id}", s.authed(s.getWallet))
	s.mux.Handle("GET /v1/wallets/{id}/history", s.authed(s.getHistory))
}

// Mount serves h at pattern beside the ledger API (chat checkout, /mcp),
// counted in /metrics and logged like the API's own routes; h names the
// API key in the log with httpjson.ReportKey. Call it before serving.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(sw, r)
	route := r.Pattern // set by the mux on r itself
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	s.metrics.observe(route, sw.status, d)
	// Paths carry ids, never card data; bodies are not logged.
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("route", route),
		slog.Int("status", sw.status), slog.Duration("duration", d), slog.String("key", sw.keyID))
}

type statusWriter struct {
	http.ResponseWriter
	status int
	keyID  string
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// ReportKey records the API key for the request log; see
// [httpjson.ReportKey].
func (w *statusWriter) ReportKey(id string) { w.keyID = id }

// Flush lets a streaming handler (the /mcp event stream) flush through.
func (w *statusWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.l.Store().Ping(ctx); err != nil {
		httpjson.WriteError(w, http.StatusServiceUnavailable, "not_ready", "database unreachable")
		return
	}
	w.Write([]byte("ready\n"))
}

// principal is the caller, from its API key.
type principal struct {
	ledger.APIKey
}

type ctxKey struct{}

// authed checks the API key and the rate limit.
func (s *Server) authed(next http.HandlerFunc) http.Handler {
	return s.authedLimit(s.maxBody, next)
}

// authedLimit is authed with a body size limit.
func (s *Server) authedLimit(maxBody int64, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if secret == "" {
			httpjson.WriteError(w, http.StatusUnauthorized, "unauthorized", "missing API key: send Authorization: Bearer <key>")
			return
		}
		k, err := s.lookupKey(r.Context(), secret)
		if errors.Is(err, ledger.ErrUnavailable) {
			// Not the key's fault: a client told 401 would give up on it.
			s.unavailable(w, r, err)
			return
		}
		if err != nil {
			httpjson.WriteError(w, http.StatusUnauthorized, "unauthorized", "unknown or revoked API key")
			return
		}
		httpjson.ReportKey(w, k.ID)
		if s.limits != nil && !s.limits.Allow(k.ID) {
			w.Header().Set("Retry-After", "1")
			httpjson.WriteError(w, http.StatusTooManyRequests, "rate_limited", "too many requests for this API key")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, principal{k})))
	})
}

func (s *Server) lookupKey(ctx context.Context, secret string) (ledger.APIKey, error) {
	hash := ledger.HashKey([]byte(secret))
	now := s.now()
	s.keysMu.Lock()
	c, ok := s.keys[hash]
	s.keysMu.Unlock()
	if !ok || now.Sub(c.fetched) > keyTTL {
		k, err := s.l.Store().APIKey(ctx, hash)
		if err != nil {
			return ledger.APIKey{}, err
		}
		c = cachedKey{k, now}
		s.keysMu.Lock()
		s.keys[hash] = c
		s.keysMu.Unlock()
	}
	// The lookup was by hash; compare in constant time all the same, so
	// that no code path compares secrets byte by byte.
	if subtle.ConstantTimeCompare([]byte(c.key.Hash), []byte(hash)) != 1 || c.key.Revoked {
		return ledger.APIKey{}, errors.New("bad key")
	}
	return c.key, nil
}

// request is a POST on its way to the ledger.
type request struct {
	r    *http.Request
	p    principal
	body []byte
	idem *ledger.Idempotency
}

// decode reads the JSON body into v, refusing unknown fields.
func (q *request) decode(v any) error { return httpjson.Decode(q.body, v) }

// forbidden is returned by handlers when the caller may not act.
type forbidden string

func (f forbidden) Error() string { return string(f) }

// idempotent reads the body, requires an Idempotency-Key, runs h and maps
// its result to HTTP.
func (s *Server) idempotent(h func(*request) (ledger.Result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := r.Context().Value(ctxKey{}).(principal)
		key := r.Header.Get("Idempotency-Key")
		if key == "" || len(key) > 255 {
			httpjson.WriteError(w, http.StatusBadRequest, "idempotency_key_required", "every POST needs an Idempotency-Key header of 1 to 255 characters")
			return
		}
		body, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			httpjson.WriteError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
			return
		}
		if err != nil {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_body", "could not read the request body")
			return
		}
		sum := sha256.New()
		sum.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
		sum.Write(body)
		q := &request{r: r, p: p, body: body, idem: &ledger.Idempotency{
			IdemKey: ledger.IdemKey{Scope: p.ID, Key: key}, Hash: hex.EncodeToString(sum.Sum(nil))}}
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		q.r = r.WithContext(ctx)
		res, err := h(q)
		var f forbidden
		switch {
		case errors.As(err, &f):
			httpjson.WriteError(w, http.StatusForbidden, "forbidden", string(f))
		case errors.Is(err, ledger.ErrInvalid):
			httpjson.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		case errors.Is(err, ledger.ErrKeyReused):
			httpjson.WriteError(w, http.StatusUnprocessableEntity, "idempotency_key_reused", err.Error())
		case errors.Is(err, ledger.ErrInFlight):
			w.Header().Set("Retry-After", "1")
			httpjson.WriteError(w, http.StatusConflict, "idempotency_key_in_flight", err.Error())
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ledger.ErrClosed):
			httpjson.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the ledger did not answer in time; retry with the same Idempotency-Key")
		case errors.Is(err, ledger.ErrUnavailable):
			s.unavailable(w, r, err)
		case err != nil:
			s.log.Error("request failed", "route", r.Pattern, "err", err)
			httpjson.WriteError(w, http.StatusInternalServerError, "internal", "internal error; retry with the same Idempotency-Key")
		default:
			if res.Replayed {
				w.Header().Set("Idempotent-Replayed", "true")
			}
			httpjson.WriteJSON(w, statusOf(res), res)
		}
	}
}

// unavailable answers 503 for a database out of reach. Every request
// fails alike during an outage, so the log gets one line a second per
// route, at WARN: the outage is the database's, not a bug here.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.warn.Warn(r.Context(), r.Pattern, "database unavailable", "route", r.Pattern, "err", err)
	w.Header().Set("Retry-After", "1")
	httpjson.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the ledger's database is unavailable; retry with the same Idempotency-Key")
}

// statusOf maps a result to its HTTP status. Declines are answers, not
// errors: 200 with outcome "declined".
func statusOf(r ledger.Result) int {
	if r.Outcome != ledger.OutcomeRejected {
		return http.StatusOK
	}
	switch r.Reason {
	case ledger.ReasonNotFound:
		return http.StatusNotFound
	case ledger.ReasonAmountTooLarge, ledger.ReasonCurrency:
		return http.StatusUnprocessableEntity
	default:
		return http.StatusConflict
	}
}
