package offline

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPForwarder books offline approvals through the ledger's HTTP API (see
// ledger/openapi.yaml): POST /v1/authorizations/batch with items of kind
// "offline", each with its terminal transaction id as idempotency key, a
// few requests in flight at once. Against a ledger without the batch
// endpoint (404) it falls back to one POST /v1/authorizations per item,
// with the same keys.
type HTTPForwarder struct {
	BaseURL    string // e.g. http://127.0.0.1:8080
	APIKey     string // the terminal's API key
	MerchantID string
	TerminalID string
	// Client is the HTTP client; nil means http.DefaultClient.
	Client *http.Client
	// Timeout bounds each request, its answer included, whatever Client's
	// own timeout; 0 means 30 s. A request that times out is of unknown
	// outcome, like one whose connection broke: its items are sent again,
	// under the same idempotency keys.
	Timeout time.Duration
	// Concurrency is the number of requests in flight; 0 means 4.
	Concurrency int
	// ItemsPerRequest is the most items in one batch request; 0 means
	// 500. The ledger takes at most 1000.
	ItemsPerRequest int
	// Single sends one request per item even if the ledger has the batch
	// endpoint.
	Single bool

	noBatch atomic.Bool // the ledger answered 404 to a batch
}

// authorizeBody is the ledger's authorization request.
type authorizeBody struct {
	Kind       string `json:"kind"`
	MerchantID string `json:"merchant_id,omitempty"`
	TerminalID string `json:"terminal_id,omitempty"`
	TxnID      string `json:"terminal_txn_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	EMV        string `json:"emv"` // hex BER-TLV
}

func (f *HTTPForwarder) body(o Outgoing) authorizeBody {
	return authorizeBody{Kind: "offline", MerchantID: f.MerchantID, TerminalID: f.TerminalID,
		TxnID: o.TxnID, Amount: o.Amount, Currency: o.Currency, EMV: hex.EncodeToString(o.EMV)}
}

// ledgerResult is the part of the ledger's answer the queue keeps.
type ledgerResult struct {
	Outcome         string `json:"outcome"`
	Reason          string `json:"reason"`
	AuthorizationID string `json:"authorization_id"`
	Overdraft       int64  `json:"overdraft"`
}

// Forward implements Forwarder.
func (f *HTTPForwarder) Forward(ctx context.Context, batch []Outgoing) ([]Result, error) {
	workers := f.Concurrency
	if workers <= 0 {
		workers = 4
	}
	per := f.ItemsPerRequest
	if per <= 0 {
		per = 500
	}
	per = min(per, maxBatchItems)
	results := make([]Result, len(batch))
	errs := make([]error, len(batch))
	// Each job is a run of items, sent as one batch request or, without
	// the batch endpoint, one request per item.
	type job struct{ lo, hi int }
	next := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if !f.Single && !f.noBatch.Load() && f.forwardBatch(ctx, batch[j.lo:j.hi], results[j.lo:j.hi], errs[j.lo:j.hi]) {
					continue
				}
				for i := j.lo; i < j.hi; i++ {
					results[i], errs[i] = f.forwardOne(ctx, batch[i])
				}
			}
		}()
	}
	// Without the batch endpoint, jobs of one item keep every worker busy.
	step := per
	if f.Single || f.noBatch.Load() {
		step = 1
	}
feed:
	for lo := 0; lo < len(batch); lo += step {
		select {
		case next <- job{lo, min(lo+step, len(batch))}:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	var out []Result
	var firstErr error
	failed := 0
	for i := range batch {
		switch {
		case errs[i] != nil:
			failed++
			if firstErr == nil {
				firstErr = errs[i]
			}
		case results[i].TxnID != "":
			out = append(out, results[i])
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return out, fmt.Errorf("%d of %d items failed, first: %w", failed, len(batch), firstErr)
	}
	return out, nil
}

// maxBatchItems is the most items the ledger takes in one batch.
const maxBatchItems = 1000

// batchItem and batchAnswer are the ledger's batch request item and its
// answer to one item.
type (
	batchItem struct {
		IdempotencyKey string `json:"idempotency_key"`
		authorizeBody
	}
	batchAnswer struct {
		Status int           `json:"status"`
		Result *ledgerResult `json:"result"`
		Error  *errorDetail  `json:"error"`
	}
)

// forwardBatch sends items as one batch request and fills in results and
// errs. It returns false, having sent nothing that was booked, if the
// ledger has no batch endpoint.
func (f *HTTPForwarder) forwardBatch(ctx context.Context, items []Outgoing, results []Result, errs []error) bool {
	fail := func(err error) bool {
		for i := range errs {
			errs[i] = err
		}
		return true
	}
	req := struct {
		Items []batchItem `json:"items"`
	}{Items: make([]batchItem, len(items))}
	for i, o := range items {
		req.Items[i] = batchItem{o.TxnID, f.body(o)}
	}
	// The batch's own key is required but not stored: each item is
	// idempotent under its transaction id.
	status, raw, err := f.post(ctx, "/v1/authorizations/batch", "sync-"+items[0].TxnID, req, maxBatchAnswer)
	switch {
	case err != nil:
		return fail(fmt.Errorf("batch of %d from %s: %w", len(items), items[0].TxnID, err))
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		f.noBatch.Store(true)
		return false
	case status != http.StatusOK:
		_, err := answerResult("batch from "+items[0].TxnID, status, raw)
		return fail(err)
	}
	var a struct {
		Results []batchAnswer `json:"results"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return fail(fmt.Errorf("batch from %s: decoding answer: %w", items[0].TxnID, err))
	}
	if len(a.Results) != len(items) {
		return fail(fmt.Errorf("batch from %s: %d answers for %d items", items[0].TxnID, len(a.Results), len(items)))
	}
	for i, r := range a.Results {
		if r.Result != nil && r.Result.Outcome != "" {
			results[i], errs[i] = resultOf(items[i].TxnID, *r.Result)
			continue
		}
		_, errs[i] = classify(items[i].TxnID, r.Status, answer{Error: r.Error})
	}
	return true
}

// post sends body as JSON and returns the answer's status and body.
// Network failures wrap ErrUnavailable.
func (f *HTTPForwarder) post(ctx context.Context, path, idemKey string, body any, limit int64) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	// Without a deadline, a ledger that takes the request and never
	// answers would hold the sync until the process restarts.
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(f.BaseURL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	if f.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+f.APIKey)
	}
	resp, err := f.client().Do(req)
	if err != nil {
		// The URL error names the endpoint only; the body is not in it.
		return 0, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, nil, fmt.Errorf("reading answer: %w: %w", ErrUnavailable, err)
	}
	return resp.StatusCode, raw, nil
}

// maxAnswer bounds the ledger's answer the forwarder reads.
const (
	maxAnswer      = 64 << 10
	maxBatchAnswer = 8 << 20
)

func (f *HTTPForwarder) forwardOne(ctx context.Context, o Outgoing) (Result, error) {
	status, raw, err := f.post(ctx, "/v1/authorizations", o.TxnID, f.body(o), maxAnswer)
	if err != nil {
		return Result{}, fmt.Errorf("item %s: %w", o.TxnID, err)
	}
	return answerResult(o.TxnID, status, raw)
}

// answerResult reads the ledger's answer to one item.
func answerResult(txnID string, status int, raw []byte) (Result, error) {
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil && status < 500 {
		return Result{}, fmt.Errorf("item %s: decoding HTTP %d answer: %w", txnID, status, err)
	}
	if a.Outcome != "" {
		// 200 for approvals and declines; 409 with outcome "rejected"
		// for a transaction id the ledger already holds under another
		// idempotency key.
		return resultOf(txnID, a.ledgerResult)
	}
	return classify(txnID, status, a)
}

// classify turns an error answer into an error: ErrUnavailable for those
// that a later retry may get past.
func classify(txnID string, status int, a answer) (Result, error) {
	switch {
	case status == http.StatusConflict, status == http.StatusTooManyRequests, status >= 500:
		// In flight elsewhere, rate limited, or down: try again later.
		return Result{}, fmt.Errorf("item %s: %w: HTTP %d %s", txnID, ErrUnavailable, status, a.code())
	default:
		// The ledger refuses the request itself (a key, a malformed
		// item). It stays sending, visible in the status, until fixed.
		return Result{}, fmt.Errorf("item %s: ledger refused the request: HTTP %d %s", txnID, status, a.code())
	}
}

// answer is a ledger response: a result, or an error.
type answer struct {
	ledgerResult
	Error *errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// code returns the error code and message of an error answer; they never
// echo card data.
func (a answer) code() string {
	if a.Error == nil {
		return ""
	}
	return truncate(a.Error.Code+": "+a.Error.Message, 200)
}

// resultOf turns the ledger's answer into the item's final state.
func resultOf(txnID string, lr ledgerResult) (Result, error) {
	r := Result{TxnID: txnID, Reason: lr.Reason, AuthorizationID: lr.AuthorizationID, Overdraft: lr.Overdraft}
	switch {
	case lr.Outcome == "approved" && (lr.Overdraft > 0 || lr.Reason == "overdraft"):
		r.State = StateBookedOverdraft
	case lr.Outcome == "approved":
		r.State = StateAccepted
	case lr.Outcome == "declined", lr.Outcome == "rejected":
		// A rejection (duplicate_transaction) means the ledger holds the
		// transaction id under another idempotency key, for instance
		// after the keys expired; the manager must look at it.
		r.State = StateDeclined
	default:
		return Result{}, fmt.Errorf("item %s: unknown outcome %q", txnID, lr.Outcome)
	}
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (f *HTTPForwarder) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return http.DefaultClient
}

// defaultTimeout bounds a request when HTTPForwarder.Timeout is 0: long
// enough for a batch of 500 items over a slow link, short enough that a
// hung ledger delays the sync rather than stopping it.
const defaultTimeout = 30 * time.Second

// withTimeout returns ctx bounded by the forwarder's request timeout.
func (f *HTTPForwarder) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	d := f.Timeout
	if d <= 0 {
		d = defaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// Healthy implements HealthChecker with the ledger's /readyz.
func (f *HTTPForwarder) Healthy(ctx context.Context) error {
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(f.BaseURL, "/")+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: readyz HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	return nil
}
