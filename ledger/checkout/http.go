package checkout

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tappos/ledger"
	"tappos/ledger/internal/httpjson"
)

// Timeout bounds a checkout request's wait for the ledger, over REST or
// as an MCP tool call, so that a stuck ledger frees the request.
const Timeout = 10 * time.Second

// Handler serves the checkout API:
//
//	POST /v1/checkout_sessions                      agent: open a session
//	GET  /v1/checkout_sessions/{id}                 agent
//	POST /v1/checkout_sessions/{id}                 agent: replace the items
//	POST /v1/checkout_sessions/{id}/complete        agent: pay
//	POST /v1/checkout_sessions/{id}/cancel          agent
//	POST /v1/checkout_sessions/{id}/confirm         wallet owner: approve a purchase
//	GET  /v1/wallets/{id}/mandates                  wallet owner
//	POST /v1/wallets/{id}/mandates                  wallet owner: grant
//	POST /v1/wallets/{id}/mandates/{mid}/revoke     wallet owner
//	GET  /v1/merchants/{id}/catalog?q=              any key
//	GET  /openapi-checkout.yaml                     this API's description
//
// Every POST needs an Idempotency-Key, with the ledger API's rules.
type Handler struct {
	s    *Service
	log  *slog.Logger
	warn *httpjson.WarnLimiter // database outages, once a second per route
	mux  *http.ServeMux
}

// Patterns are the routes a [Handler] serves, for mounting it on a mux
// next to the ledger API.
var Patterns = []string{
	"/v1/checkout_sessions",
	"/v1/checkout_sessions/",
	"/v1/wallets/{id}/mandates",
	"/v1/wallets/{id}/mandates/",
	"/v1/merchants/{id}/catalog",
	"/openapi-checkout.yaml",
}

// OpenAPI describes the checkout API (OpenAPI 3).
//
//go:embed openapi.yaml
var OpenAPI []byte

// NewHandler returns the HTTP handler of a service.
func NewHandler(s *Service, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{s: s, log: log, warn: httpjson.NewWarnLimiter(log, time.Second, s.now), mux: http.NewServeMux()}
	h.mux.Handle("POST /v1/checkout_sessions", h.post(h.create))
	h.mux.Handle("GET /v1/checkout_sessions/{id}", h.authed(h.get))
	h.mux.Handle("POST /v1/checkout_sessions/{id}", h.post(h.update))
	h.mux.Handle("POST /v1/checkout_sessions/{id}/complete", h.post(h.complete))
	h.mux.Handle("POST /v1/checkout_sessions/{id}/cancel", h.post(h.cancel))
	h.mux.Handle("POST /v1/checkout_sessions/{id}/confirm", h.post(h.confirm))
	h.mux.Handle("GET /v1/wallets/{id}/mandates", h.authed(h.listMandates))
	h.mux.Handle("POST /v1/wallets/{id}/mandates", h.post(h.grant))
	h.mux.Handle("POST /v1/wallets/{id}/mandates/{mid}/revoke", h.post(h.revoke))
	h.mux.Handle("GET /v1/merchants/{id}/catalog", h.authed(h.catalog))
	h.mux.HandleFunc("GET /openapi-checkout.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(OpenAPI)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

const maxBody = 64 << 10

func (h *Handler) authed(next func(w http.ResponseWriter, r *http.Request, k ledger.APIKey)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			httpjson.WriteError(w, http.StatusUnauthorized, "unauthorized", "missing API key: send Authorization: Bearer <key>")
			return
		}
		k, err := h.s.Authenticate(r.Context(), secret)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		httpjson.ReportKey(w, k.ID)
		if !h.s.Allow(k.ID) {
			w.Header().Set("Retry-After", "1")
			httpjson.WriteError(w, http.StatusTooManyRequests, "rate_limited", "too many requests for this API key")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next(w, r, k)
	})
}

// call is a POST: its key, body and idempotency.
type call struct {
	r    *http.Request
	key  ledger.APIKey
	body []byte
	idem *ledger.Idempotency
}

// decode reads the JSON body into v, refusing unknown fields.
func (c *call) decode(v any) error { return httpjson.Decode(c.body, v) }

// post reads the body, requires an Idempotency-Key and writes what h
// returns: a session, a mandate or a result.
func (h *Handler) post(fn func(c *call) (any, ledger.Result, error)) http.Handler {
	return h.authed(func(w http.ResponseWriter, r *http.Request, k ledger.APIKey) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || len(key) > 255 {
			httpjson.WriteError(w, http.StatusBadRequest, "idempotency_key_required", "every POST needs an Idempotency-Key header of 1 to 255 characters")
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			httpjson.WriteError(w, http.StatusBadRequest, "bad_body", "could not read the request body (at most 64 KiB)")
			return
		}
		sum := sha256.New()
		sum.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
		sum.Write(body)
		ctx, cancel := context.WithTimeout(r.Context(), Timeout)
		defer cancel()
		c := &call{r: r.WithContext(ctx), key: k, body: body, idem: &ledger.Idempotency{
			IdemKey: ledger.IdemKey{Scope: k.ID, Key: key}, Hash: hex.EncodeToString(sum.Sum(nil))}}
		v, res, err := fn(c)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if res.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		httpjson.WriteJSON(w, statusOf(res), Response{Result: res, Object: v})
	})
}

// Response is the body of a POST's answer: the ledger's result and the
// session or mandate as it is now.
type Response struct {
	Result ledger.Result `json:"result"`
	Object any           `json:"object,omitempty"`
}

func statusOf(r ledger.Result) int {
	if r.Outcome != ledger.OutcomeRejected {
		return http.StatusOK
	}
	switch r.Reason {
	case ledger.ReasonNotFound:
		return http.StatusNotFound
	case ledger.ReasonAmountTooLarge, ledger.ReasonCurrency, ledger.ReasonUnknownItem:
		return http.StatusUnprocessableEntity
	}
	return http.StatusConflict
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnauthorized):
		httpjson.WriteError(w, http.StatusUnauthorized, "unauthorized", err.Error())
	case errors.Is(err, ErrForbidden):
		httpjson.WriteError(w, http.StatusForbidden, "forbidden", err.Error())
	case errors.Is(err, ledger.ErrNotFound):
		httpjson.WriteError(w, http.StatusNotFound, "not_found", err.Error())
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
		// Every request fails alike in an outage: WARN, once a second.
		h.warn.Warn(r.Context(), r.Pattern, "database unavailable", "route", r.Pattern, "err", err)
		w.Header().Set("Retry-After", "1")
		httpjson.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the ledger's database is unavailable; retry with the same Idempotency-Key")
	default:
		h.log.Error("checkout request failed", "route", r.Pattern, "err", err)
		httpjson.WriteError(w, http.StatusInternalServerError, "internal", "internal error; retry with the same Idempotency-Key")
	}
}

// SessionRequest is the body that opens or changes a session.
type SessionRequest struct {
	WalletID   string               `json:"wallet_id,omitempty"`
	MerchantID string               `json:"merchant_id,omitempty"`
	Items      []ledger.ItemRequest `json:"items"`
}

func (h *Handler) create(c *call) (any, ledger.Result, error) {
	var b SessionRequest
	if err := c.decode(&b); err != nil {
		return nil, ledger.Result{}, err
	}
	return session(h.s.CreateCheckout(c.r.Context(), c.idem, c.key, b.WalletID, b.MerchantID, b.Items))
}

func session(s ledger.CheckoutSession, res ledger.Result, err error) (any, ledger.Result, error) {
	if err != nil || s.ID == "" {
		return nil, res, err
	}
	return s, res, nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, k ledger.APIKey) {
	s, err := h.s.Session(r.Context(), k, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, s)
}

func (h *Handler) update(c *call) (any, ledger.Result, error) {
	var b SessionRequest
	if err := c.decode(&b); err != nil {
		return nil, ledger.Result{}, err
	}
	if b.WalletID != "" || b.MerchantID != "" {
		return nil, ledger.Result{}, fmt.Errorf("%w: a session's wallet and merchant do not change", ledger.ErrInvalid)
	}
	return session(h.s.UpdateCheckout(c.r.Context(), c.idem, c.key, c.r.PathValue("id"), b.Items))
}

func (h *Handler) complete(c *call) (any, ledger.Result, error) {
	return session(h.s.CompleteCheckout(c.r.Context(), c.idem, c.key, c.r.PathValue("id")))
}

func (h *Handler) cancel(c *call) (any, ledger.Result, error) {
	return session(h.s.CancelCheckout(c.r.Context(), c.idem, c.key, c.r.PathValue("id")))
}

// ConfirmRequest is the body of a confirmation.
type ConfirmRequest struct {
	Code string `json:"confirmation_code"`
}

func (h *Handler) confirm(c *call) (any, ledger.Result, error) {
	var b ConfirmRequest
	if err := c.decode(&b); err != nil {
		return nil, ledger.Result{}, err
	}
	return session(h.s.ConfirmCheckout(c.r.Context(), c.idem, c.key, c.r.PathValue("id"), b.Code))
}

// MandateBody is the body that grants a mandate.
type MandateBody struct {
	AgentKeyID     string    `json:"agent_key_id"`
	MaxPerPurchase int64     `json:"max_per_purchase"`
	Budget         int64     `json:"budget"`
	PeriodSeconds  int64     `json:"period_seconds"`
	Merchants      []string  `json:"merchants,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
}

func (h *Handler) grant(c *call) (any, ledger.Result, error) {
	var b MandateBody
	if err := c.decode(&b); err != nil {
		return nil, ledger.Result{}, err
	}
	if b.PeriodSeconds < 0 || b.PeriodSeconds > 10*365*24*3600 {
		return nil, ledger.Result{}, fmt.Errorf("%w: period_seconds out of range", ledger.ErrInvalid)
	}
	m, res, err := h.s.GrantMandate(c.r.Context(), c.idem, c.key, ledger.MandateRequest{
		WalletID: c.r.PathValue("id"), AgentKeyID: b.AgentKeyID, MaxPerPurchase: b.MaxPerPurchase,
		Budget: b.Budget, Period: time.Duration(b.PeriodSeconds) * time.Second, Merchants: b.Merchants,
		ExpiresAt: b.ExpiresAt})
	if err != nil || m.ID == "" {
		return nil, res, err
	}
	return view(m), res, nil
}

// MandateView is a mandate as the API shows it.
type MandateView struct {
	ID             string    `json:"id"`
	WalletID       string    `json:"wallet_id"`
	AgentKeyID     string    `json:"agent_key_id"`
	Currency       string    `json:"currency"`
	MaxPerPurchase int64     `json:"max_per_purchase"`
	Budget         int64     `json:"budget"`
	PeriodSeconds  int64     `json:"period_seconds"`
	Merchants      []string  `json:"merchants,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func view(m ledger.Mandate) MandateView {
	return MandateView{ID: m.ID, WalletID: m.WalletID, AgentKeyID: m.AgentKeyID, Currency: m.Currency,
		MaxPerPurchase: m.MaxPerPurchase, Budget: m.Budget, PeriodSeconds: int64(m.Period / time.Second),
		Merchants: m.Merchants, ExpiresAt: m.ExpiresAt, Status: m.Status, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func (h *Handler) revoke(c *call) (any, ledger.Result, error) {
	res, err := h.s.RevokeMandate(c.r.Context(), c.idem, c.key, c.r.PathValue("id"), c.r.PathValue("mid"))
	return nil, res, err
}

func (h *Handler) listMandates(w http.ResponseWriter, r *http.Request, k ledger.APIKey) {
	ms, err := h.s.Mandates(r.Context(), k, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]MandateView, len(ms))
	for i, m := range ms {
		views[i] = view(m)
	}
	httpjson.WriteJSON(w, http.StatusOK, map[string]any{"mandates": views})
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request, k ledger.APIKey) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	items, err := h.s.Catalog(r.Context(), r.PathValue("id"), r.URL.Query().Get("q"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if items == nil {
		items = []ledger.CatalogItem{}
	}
	httpjson.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}
