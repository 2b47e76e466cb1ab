// Package client calls ledgerd's HTTP API, for terminals, the offline
// sync and tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"tappos/ledger"
	"tappos/ledger/api"
)

// Client calls one ledgerd with one API key.
type Client struct {
	BaseURL string       // e.g. "http://127.0.0.1:8080"
	Key     string       // API key
	HTTP    *http.Client // default http.DefaultClient
}

// Response is the answer to a POST.
type Response struct {
	Status   int
	Result   ledger.Result // for 200 and rejections (404, 409, 422 with an outcome)
	Code     string        // error code of other failures
	Message  string
	Replayed bool // Idempotent-Replayed: the original response to an earlier request
}

// Post sends body as JSON with an idempotency key. An error means no
// answer arrived: retry with the same key.
func (c *Client) Post(ctx context.Context, path, idemKey string, body any) (Response, error) {
	resp, err := c.do(ctx, http.MethodPost, path, idemKey, body)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Response{}, fmt.Errorf("reading response: %w", err)
	}
	r := Response{Status: resp.StatusCode, Replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	var e struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != nil {
		r.Code, r.Message = e.Error.Code, e.Error.Message
		return r, nil
	}
	if err := json.Unmarshal(raw, &r.Result); err != nil {
		return Response{}, fmt.Errorf("decoding %d response: %w", resp.StatusCode, err)
	}
	return r, nil
}

// Authorize posts an authorization.
func (c *Client) Authorize(ctx context.Context, idemKey string, a api.AuthorizationRequest) (Response, error) {
	return c.Post(ctx, "/v1/authorizations", idemKey, a)
}

// Refund refunds an amount of an authorization.
func (c *Client) Refund(ctx context.Context, idemKey, authID string, amount int64) (Response, error) {
	return c.Post(ctx, "/v1/authorizations/"+authID+"/refunds", idemKey, api.AmountRequest{Amount: amount})
}

// Void voids an authorization.
func (c *Client) Void(ctx context.Context, idemKey, authID string) (Response, error) {
	return c.Post(ctx, "/v1/authorizations/"+authID+"/void", idemKey, struct{}{})
}

// Reverse reverses a terminal transaction.
func (c *Client) Reverse(ctx context.Context, idemKey, terminalID, txnID string) (Response, error) {
	return c.Post(ctx, "/v1/reversals", idemKey, api.ReversalRequest{TerminalID: terminalID, TerminalTxnID: txnID})
}

// AuthorizeBatch posts up to 1000 authorizations in one request, each
// with its own idempotency key; the results come back in order. An error
// means no answer arrived: send the batch again.
func (c *Client) AuthorizeBatch(ctx context.Context, idemKey string, items []api.BatchItem) ([]api.BatchResult, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/authorizations/batch", idemKey, api.BatchRequest{Items: items})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("batch: status %d", resp.StatusCode)
	}
	var out api.BatchResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding batch response: %w", err)
	}
	if len(out.Results) != len(items) {
		return nil, fmt.Errorf("batch: %d results for %d items", len(out.Results), len(items))
	}
	return out.Results, nil
}

// do sends a request with the client's key: body, if not nil, as JSON
// under the idempotency key.
func (c *Client) do(ctx context.Context, method, path, idemKey string, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idemKey)
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}
