// Package host is the terminal's client for the ledger's HTTP API
// (ledger/openapi.yaml): online authorizations, refunds, voids, reversals
// by terminal transaction id, authorization lookups and batch close.
//
// The terminal and the ledger talk only over HTTP, so this package has
// its own request and response types rather than the ledger's. Every POST
// carries an Idempotency-Key derived from the terminal's transaction id,
// so a retry after a lost answer can never post twice.
//
// Errors that mean the ledger could not be asked, or did not answer in
// time, wrap [offline.ErrUnavailable], which is how an [offline.Policy]
// tells them from answers. Declines and rejections are answers, not
// errors: they come back as a [Result].
package host

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"tappos/offline"
)

// Client talks to one ledger for one terminal.
type Client struct {
	BaseURL    string // e.g. http://127.0.0.1:8080
	APIKey     string // the terminal's key, sent as a bearer token
	MerchantID string // "" lets the ledger take the key's merchant
	TerminalID string // "" lets the ledger take the key's terminal
	// HTTP is the HTTP client; nil means http.DefaultClient. Deadlines
	// come from the contexts passed to each call.
	HTTP *http.Client
}

// Outcomes of a Result.
const (
	OutcomeApproved = "approved"
	OutcomeDeclined = "declined"
	OutcomeOK       = "ok"
	OutcomeRejected = "rejected"
)

// Result is the ledger's answer to a POST.
type Result struct {
	Outcome         string `json:"outcome"`
	Reason          string `json:"reason,omitempty"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	Status          string `json:"status,omitempty"`
	ApprovalCode    string `json:"approval_code,omitempty"`
	ARC             Hex    `json:"arc,omitempty"`  // authorization response code (8A)
	ARPC            Hex    `json:"arpc,omitempty"` // for issuer authentication
	JournalID       string `json:"journal_id,omitempty"`
	Amount          int64  `json:"amount,omitempty"`
	Currency        string `json:"currency,omitempty"`
	MaskedPAN       string `json:"masked_pan,omitempty"`
	Overdraft       int64  `json:"overdraft,omitempty"`
	// Replayed is set when the ledger answered from an earlier request
	// with the same idempotency key.
	Replayed bool `json:"-"`
}

// Hex is a byte string sent as hexadecimal.
type Hex []byte

// MarshalText writes upper-case hexadecimal.
func (h Hex) MarshalText() ([]byte, error) {
	return []byte(strings.ToUpper(hex.EncodeToString(h))), nil
}

// UnmarshalText reads hexadecimal.
func (h *Hex) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return fmt.Errorf("hex value: %w", err)
	}
	*h = v
	return nil
}

// Errors of the client. Network failures and timeouts wrap
// offline.ErrUnavailable instead.
var (
	// ErrRefused: the ledger refused the request itself (bad key, wrong
	// merchant, malformed request, idempotency key reused): retrying the
	// same request will not help.
	ErrRefused = errors.New("ledger refused the request")
	// ErrNoBatchEndpoint: the ledger has no batch endpoint (an older
	// ledger).
	ErrNoBatchEndpoint = errors.New("ledger has no batch endpoint")
)

// An APIError is an error answer of the ledger.
type APIError struct {
	HTTPStatus int
	Code       string // e.g. "forbidden", "idempotency_key_reused"
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("ledger answered HTTP %d %s: %s", e.HTTPStatus, e.Code, e.Message)
}

// AuthRequest is an online authorization (or an offline booking).
type AuthRequest struct {
	TxnID    string // the terminal's transaction id, made before the tap
	Kind     string // "purchase" (default), "preauth" or "offline"
	Amount   int64  // minor units; must equal 9F02
	Currency string // ISO 4217 alphabetic; must match 5F2A
	// EMV is the kernel's online data: card data, never logged.
	EMV []byte
}

type authBody struct {
	Kind       string `json:"kind,omitempty"`
	MerchantID string `json:"merchant_id,omitempty"`
	TerminalID string `json:"terminal_id,omitempty"`
	TxnID      string `json:"terminal_txn_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	EMV        string `json:"emv"`
}

// Authorize asks the ledger to authorize a tap. The idempotency key is the
// transaction id, so the request may be retried as it is.
func (c *Client) Authorize(ctx context.Context, r AuthRequest) (Result, error) {
	body := authBody{Kind: r.Kind, MerchantID: c.MerchantID, TerminalID: c.TerminalID,
		TxnID: r.TxnID, Amount: r.Amount, Currency: r.Currency, EMV: hex.EncodeToString(r.EMV)}
	res, err := c.post(ctx, "/v1/authorizations", r.TxnID, body)
	if err != nil {
		return Result{}, fmt.Errorf("authorizing %s: %w", r.TxnID, err)
	}
	return res, nil
}

// Refund refunds amount of an authorization. key is the refund's own
// terminal transaction id.
func (c *Client) Refund(ctx context.Context, key, authID string, amount int64) (Result, error) {
	res, err := c.post(ctx, "/v1/authorizations/"+url.PathEscape(authID)+"/refunds", key, struct {
		Amount int64 `json:"amount"`
	}{amount})
	if err != nil {
		return Result{}, fmt.Errorf("refunding %s: %w", key, err)
	}
	return res, nil
}

// Void voids an authorization before settlement. key is the void's own
// terminal transaction id.
func (c *Client) Void(ctx context.Context, key, authID string) (Result, error) {
	res, err := c.post(ctx, "/v1/authorizations/"+url.PathEscape(authID)+"/void", key, struct{}{})
	if err != nil {
		return Result{}, fmt.Errorf("voiding %s: %w", key, err)
	}
	return res, nil
}

// Reverse undoes the authorization of a terminal transaction whose answer
// never came. It is keyed "<txnID>/reversal", so it may be retried until
// the ledger answers.
func (c *Client) Reverse(ctx context.Context, txnID string) (Result, error) {
	res, err := c.post(ctx, "/v1/reversals", ReversalKey(txnID), struct {
		TerminalID string `json:"terminal_id,omitempty"`
		TxnID      string `json:"terminal_txn_id"`
	}{c.TerminalID, txnID})
	if err != nil {
		return Result{}, fmt.Errorf("reversing %s: %w", txnID, err)
	}
	return res, nil
}

// ReversalKey is the idempotency key of the reversal of txnID.
func ReversalKey(txnID string) string { return txnID + "/reversal" }

// Authorization is an authorization as the ledger keeps it.
type Authorization struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	TerminalID    string `json:"terminal_id"`
	TerminalTxnID string `json:"terminal_txn_id"`
	MaskedPAN     string `json:"masked_pan,omitempty"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
	ApprovalCode  string `json:"approval_code,omitempty"`
	Captured      int64  `json:"captured"`
	Refunded      int64  `json:"refunded"`
}

// ErrNotFound: the ledger has no such authorization.
var ErrNotFound = errors.New("not found on the ledger")

// Authorization reads an authorization by the ledger's id.
func (c *Client) Authorization(ctx context.Context, id string) (Authorization, error) {
	var a Authorization
	status, err := c.do(ctx, http.MethodGet, "/v1/authorizations/"+url.PathEscape(id), "", nil, &a)
	switch {
	case status == http.StatusNotFound:
		return a, fmt.Errorf("authorization %s: %w", id, ErrNotFound)
	case err != nil:
		return a, fmt.Errorf("authorization %s: %w", id, err)
	}
	return a, nil
}

// Healthy reports whether the ledger's /readyz answers ready.
func (c *Client) Healthy(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/readyz", "", nil, nil)
	return err
}

// maxAnswer bounds the answers read from the ledger.
const maxAnswer = 1 << 20

// post sends a POST with an idempotency key; rejections (404, 409, 422
// with a result body) come back as results.
func (c *Client) post(ctx context.Context, path, key string, body any) (Result, error) {
	var res Result
	_, err := c.do(ctx, http.MethodPost, path, key, body, &res)
	return res, err
}

// do sends a request and decodes the answer into out. It returns the HTTP
// status whenever the ledger answered.
func (c *Client) do(ctx context.Context, method, path, key string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The URL error names the endpoint only, never the body.
		return 0, fmt.Errorf("%w: %w", offline.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading answer: %w: %w", offline.ErrUnavailable, err)
	}
	code := resp.StatusCode
	if code == http.StatusOK || code == http.StatusCreated {
		if out == nil {
			return code, nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return code, fmt.Errorf("decoding answer: %w", err)
		}
		if r, ok := out.(*Result); ok {
			r.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
		}
		return code, nil
	}
	var e struct {
		Outcome string `json:"outcome"`
		Error   struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(raw, &e) // an undecodable body leaves e empty
	if out != nil && e.Outcome != "" {
		// A rejection: an answer, not an error.
		if err := json.Unmarshal(raw, out); err != nil {
			return code, fmt.Errorf("decoding answer: %w", err)
		}
		return code, nil
	}
	apiErr := &APIError{HTTPStatus: code, Code: e.Error.Code, Message: truncate(e.Error.Message, 200)}
	switch {
	case code == http.StatusConflict, code == http.StatusTooManyRequests, code >= 500:
		// In flight, rate limited or down: the same request may succeed later.
		return code, fmt.Errorf("%w: %w", offline.ErrUnavailable, apiErr)
	case (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) && e.Error.Code == "":
		return code, fmt.Errorf("%w: %w", ErrNotFound, apiErr)
	}
	return code, fmt.Errorf("%w: %w", ErrRefused, apiErr)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
