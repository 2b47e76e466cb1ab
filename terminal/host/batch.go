package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"tappos/offline"
	"tappos/terminal/batch"
	"tappos/terminal/receipt"
)

// batchTotal, batchItem and batchBody are the JSON of POST /v1/batches,
// the batch endpoint the terminal expects of the ledger: the terminal's
// totals and items go up, the ledger's items for the same terminal and
// period come back.
type batchTotal struct {
	Type     string `json:"type"`
	Currency string `json:"currency"`
	Count    int    `json:"count"`
	Amount   int64  `json:"amount"`
}

type batchItem struct {
	Key             string `json:"key"` // terminal txn id, "<id>/refunds" for a purchase's refunds
	Type            string `json:"type"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	AuthorizationID string `json:"authorization_id,omitempty"`
}

type batchBody struct {
	TerminalID string       `json:"terminal_id,omitempty"`
	Batch      int          `json:"batch"`
	OpenedAt   time.Time    `json:"opened_at"`
	Totals     []batchTotal `json:"totals"`
	Items      []batchItem  `json:"items"`
}

type batchAnswer struct {
	Totals []batchTotal `json:"totals"`
	Items  []batchItem  `json:"items"`
}

// BatchKey is the idempotency key of a batch close.
func BatchKey(terminalID string, no int) string {
	return terminalID + "/batch/" + strconv.Itoa(no)
}

// CloseBatch uploads the terminal's batch totals and items and returns
// the ledger's. It implements batch.Host.
//
// When the ledger has no batch endpoint, it falls back to reading each of
// the terminal's authorizations by id: the view is then not Complete, as
// postings the terminal does not know cannot be found that way.
func (c *Client) CloseBatch(ctx context.Context, u batch.Upload) (batch.HostView, error) {
	body := batchBody{TerminalID: c.TerminalID, Batch: u.Batch, OpenedAt: u.Opened}
	if body.TerminalID == "" {
		body.TerminalID = u.TerminalID
	}
	for _, t := range u.Totals {
		body.Totals = append(body.Totals, batchTotal{string(t.Type), t.Currency.Alpha, t.Count, t.Amount})
	}
	for _, it := range u.Items {
		body.Items = append(body.Items, batchItem{it.Key, string(it.Type), it.Amount, it.Currency.Alpha, it.AuthorizationID})
	}
	var ans batchAnswer
	status, err := c.do(ctx, http.MethodPost, "/v1/batches", BatchKey(body.TerminalID, u.Batch), body, &ans)
	switch {
	case err == nil:
		hv := batch.HostView{Complete: true}
		for _, it := range ans.Items {
			hv.Items = append(hv.Items, batch.Item{Key: it.Key, Type: batch.Type(it.Type), Amount: it.Amount,
				Currency: currency(it.Currency), AuthorizationID: it.AuthorizationID})
		}
		return hv, nil
	case (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) && errors.Is(err, ErrNotFound):
		return c.lookupItems(ctx, u.Items)
	}
	return batch.HostView{}, fmt.Errorf("closing batch %d: %w", u.Batch, err)
}

// lookupItems builds the ledger's view of the terminal's items from the
// authorizations they name.
func (c *Client) lookupItems(ctx context.Context, items []batch.Item) (batch.HostView, error) {
	var hv batch.HostView
	auths := map[string]*Authorization{}
	for _, it := range items {
		if it.AuthorizationID == "" {
			continue // never reached the ledger, as far as the terminal knows
		}
		a, ok := auths[it.AuthorizationID]
		if !ok {
			got, err := c.lookupRetrying(ctx, it.AuthorizationID)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return hv, fmt.Errorf("looking up the ledger's items: %w", err)
			default:
				a = &got
			}
			auths[it.AuthorizationID] = a
		}
		if a == nil {
			continue
		}
		h := batch.Item{Key: it.Key, Currency: currency(a.Currency), AuthorizationID: a.ID}
		switch {
		case it.Type == batch.Refund:
			h.Type, h.Amount = batch.Refund, a.Refunded
			if h.Amount == 0 {
				continue
			}
		case a.TerminalTxnID != it.Key:
			continue // another transaction's authorization: not this item
		case a.Status == "approved" || a.Status == "captured":
			h.Type, h.Amount = batch.Purchase, a.Amount
		case a.Status == "voided":
			h.Type, h.Amount = batch.Void, a.Amount
		default:
			h.Type, h.Amount = batch.Type(a.Status), a.Amount
		}
		hv.Items = append(hv.Items, h)
	}
	return hv, nil
}

// lookupRetrying reads an authorization, waiting and retrying while the
// ledger is busy: a batch of many items meets its per-key rate limit.
func (c *Client) lookupRetrying(ctx context.Context, id string) (Authorization, error) {
	for attempt := 1; ; attempt++ {
		a, err := c.Authorization(ctx, id)
		if err == nil || !errors.Is(err, offline.ErrUnavailable) || attempt == 8 {
			return a, err
		}
		t := time.NewTimer(time.Duration(attempt) * 250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return a, err
		case <-t.C:
		}
	}
}

// currency finds a currency by its alphabetic code; an unknown one is
// shown with its code and two decimals.
func currency(alpha string) receipt.Currency {
	c, err := receipt.LookupCurrency(alpha)
	if err != nil {
		return receipt.Currency{Alpha: alpha, Exponent: 2}
	}
	return c
}
