package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"

	"tappos/ledger"
	"tappos/ledger/internal/httpjson"
)

// Limits of POST /v1/authorizations/batch.
const (
	maxBatchItems = 1000
	maxBatchBody  = 2 << 20
)

// BatchItem is one authorization of a batch, with its own idempotency key.
type BatchItem struct {
	IdempotencyKey string `json:"idempotency_key"`
	AuthorizationRequest
}

// BatchRequest is the body of POST /v1/authorizations/batch.
type BatchRequest struct {
	Items []BatchItem `json:"items"`
}

// BatchResult is the answer to one item: what POST /v1/authorizations
// would have answered.
type BatchResult struct {
	Status int            `json:"status"`
	Result *ledger.Result `json:"result,omitempty"`
	Error  *errorDetail   `json:"error,omitempty"`
	// Replayed is set when the item's key was seen before.
	Replayed bool `json:"replayed,omitempty"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// BatchResponse is the answer to POST /v1/authorizations/batch, one
// result per item, in order.
type BatchResponse struct {
	Results []BatchResult `json:"results"`
}

// batch authorizes many items in one request, for the offline queue's
// sync: the items reach the writer together and share its transactions.
// Each item is idempotent under its own key, so the batch as a whole may
// be sent again; the batch's own Idempotency-Key is required but not
// stored.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	p := r.Context().Value(ctxKey{}).(principal)
	if r.Header.Get("Idempotency-Key") == "" {
		httpjson.WriteError(w, http.StatusBadRequest, "idempotency_key_required", "every POST needs an Idempotency-Key header; batch items also need their own idempotency_key")
		return
	}
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		httpjson.WriteError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("a batch is at most %d bytes", maxBatchBody))
		return
	}
	if err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "bad_body", "could not read the request body")
		return
	}
	var b BatchRequest
	q := &request{r: r, p: p, body: body}
	if err := q.decode(&b); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if len(b.Items) == 0 || len(b.Items) > maxBatchItems {
		httpjson.WriteError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("a batch has 1 to %d items", maxBatchItems))
		return
	}
	// authed took one token for the request; the rest of the items are
	// charged now, or a batch would be a way round the limit.
	if s.limits != nil {
		n := float64(len(b.Items))
		if n > s.limits.Burst() {
			httpjson.WriteError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("a batch has at most %.0f items under this server's rate limit", s.limits.Burst()))
			return
		}
		if ok, wait := s.limits.AllowN(p.ID, n-1); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			httpjson.WriteError(w, http.StatusTooManyRequests, "rate_limited", "too many requests for this API key: a batch counts one per item")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	out := BatchResponse{Results: make([]BatchResult, len(b.Items))}
	var wg sync.WaitGroup
	for i, it := range b.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Results[i] = s.batchItem(ctx, r, p, it)
		}()
	}
	wg.Wait()
	httpjson.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) batchItem(ctx context.Context, r *http.Request, p principal, it BatchItem) BatchResult {
	fail := func(status int, code, msg string) BatchResult {
		return BatchResult{Status: status, Error: &errorDetail{code, msg}}
	}
	if it.IdempotencyKey == "" || len(it.IdempotencyKey) > 255 {
		return fail(http.StatusBadRequest, "idempotency_key_required", "every item needs an idempotency_key of 1 to 255 characters")
	}
	// authorize sets the key's hash once it has decoded the item.
	body, _ := json.Marshal(it.AuthorizationRequest)
	q := &request{r: r.WithContext(ctx), p: p, body: body, idem: &ledger.Idempotency{
		IdemKey: ledger.IdemKey{Scope: p.ID, Key: it.IdempotencyKey}}}
	res, err := s.authorize(q)
	var f forbidden
	switch {
	case errors.As(err, &f):
		return fail(http.StatusForbidden, "forbidden", string(f))
	case errors.Is(err, ledger.ErrInvalid):
		return fail(http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, ledger.ErrKeyReused):
		return fail(http.StatusUnprocessableEntity, "idempotency_key_reused", err.Error())
	case errors.Is(err, ledger.ErrInFlight):
		return fail(http.StatusConflict, "idempotency_key_in_flight", err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ledger.ErrClosed):
		return fail(http.StatusServiceUnavailable, "unavailable", "the ledger did not answer in time; send the item again with the same key")
	case errors.Is(err, ledger.ErrUnavailable):
		s.warn.Warn(r.Context(), r.Pattern, "database unavailable", "route", r.Pattern, "err", err)
		return fail(http.StatusServiceUnavailable, "unavailable", "the ledger's database is unavailable; send the item again with the same key")
	case err != nil:
		s.log.Error("batch item failed", "err", err)
		return fail(http.StatusInternalServerError, "internal", "internal error; send the item again with the same key")
	}
	return BatchResult{Status: statusOf(res), Result: &res, Replayed: res.Replayed}
}

// authorizationHash fingerprints an authorization for its idempotency key
// as decoded, not as sent, and the same whether it came alone or in a
// batch: the offline queue may send an item one way and, after a lost
// answer, the other, and that resend must replay, not count as a reused
// key.
func authorizationHash(b AuthorizationRequest) string {
	body, _ := json.Marshal(b) // plain fields: it always encodes
	sum := sha256.Sum256(append([]byte("authorization\n"), body...))
	return hex.EncodeToString(sum[:])
}
