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
)

// HTTPForwarder books offline approvals through the ledger's HTTP API (see
// ledger/openapi.yaml): one POST /v1/authorizations of kind "offline" per
// item, with the terminal transaction id as Idempotency-Key, several in
// flight at once. The ledger has no batch endpoint; the requests of a
// batch share its group commits instead.
type HTTPForwarder struct {
	BaseURL    string // e.g. http://127.0.0.1:8080
	APIKey     string // the terminal's API key
	MerchantID string
	TerminalID string
	// Client is the HTTP client; nil means http.DefaultClient. Its
	// timeout bounds each request.
	Client *http.Client
	// Concurrency is the number of requests in flight; 0 means 8.
	Concurrency int
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
		workers = 8
	}
	results := make([]Result, len(batch))
	errs := make([]error, len(batch))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = f.forwardOne(ctx, batch[i])
			}
		}()
	}
feed:
	for i := range batch {
		select {
		case next <- i:
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

// maxAnswer bounds the ledger's answer the forwarder reads.
const maxAnswer = 64 << 10

func (f *HTTPForwarder) forwardOne(ctx context.Context, o Outgoing) (Result, error) {
	body, err := json.Marshal(authorizeBody{
		Kind: "offline", MerchantID: f.MerchantID, TerminalID: f.TerminalID,
		TxnID: o.TxnID, Amount: o.Amount, Currency: o.Currency, EMV: hex.EncodeToString(o.EMV),
	})
	if err != nil {
		return Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(f.BaseURL, "/")+"/v1/authorizations", bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("item %s: %w", o.TxnID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", o.TxnID)
	if f.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+f.APIKey)
	}
	resp, err := f.client().Do(req)
	if err != nil {
		// The URL error names the endpoint only; the body is not in it.
		return Result{}, fmt.Errorf("item %s: %w: %w", o.TxnID, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return Result{}, fmt.Errorf("item %s: reading answer: %w: %w", o.TxnID, ErrUnavailable, err)
	}
	return answerResult(o.TxnID, resp.StatusCode, raw)
}

// answerResult reads the ledger's answer to one item.
func answerResult(txnID string, status int, raw []byte) (Result, error) {
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil && status < 500 {
		return Result{}, fmt.Errorf("item %s: decoding HTTP %d answer: %w", txnID, status, err)
	}
	switch {
	case a.Outcome != "":
		// 200 for approvals and declines; 409 with outcome "rejected"
		// for a transaction id the ledger already holds under another
		// idempotency key.
		return resultOf(txnID, a.ledgerResult)
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
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
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

// Healthy implements HealthChecker with the ledger's /readyz.
func (f *HTTPForwarder) Healthy(ctx context.Context) error {
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
