package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"tappos/terminal/batch"
	"tappos/terminal/receipt"
)

// batchBody is the JSON of POST /v1/batches (ledger/openapi.yaml): the
// keys of the terminal's items, and for a close its totals in one
// currency.
type batchBody struct {
	TerminalID string   `json:"terminal_id,omitempty"`
	Currency   string   `json:"currency,omitempty"`
	Count      int      `json:"count"`
	Amount     int64    `json:"amount"`
	Keys       []string `json:"keys,omitempty"`
	DryRun     bool     `json:"dry_run,omitempty"`
	Force      bool     `json:"force,omitempty"`
}

type batchItem struct {
	Key             string `json:"key"` // terminal txn id, "<id>/refunds" for a purchase's refunds
	Type            string `json:"type"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	AuthorizationID string `json:"authorization_id,omitempty"`
}

type batchAnswer struct {
	Outcome string      `json:"outcome"`
	Reason  string      `json:"reason,omitempty"`
	Items   []batchItem `json:"items"`
}

// BatchKey is the idempotency key of the close of a terminal's batch in
// a currency.
func BatchKey(terminalID string, no int, currency string) string {
	return terminalID + "/batch/" + strconv.Itoa(no) + "/" + currency
}

// ErrBatchRefused: the ledger refused to close a batch the terminal
// found balanced, its totals differing from the terminal's.
var ErrBatchRefused = errors.New("ledger refused to close the batch: totals differ")

// CloseBatch implements batch.Host. A dry run gets the ledger's items for
// the terminal in every currency; when they balance with the terminal's
// (or u.Force), the batch is closed on the ledger one currency at a time.
// Each close is keyed by terminal, batch number and currency, so a close
// whose answer was lost may be sent again: the ledger then lists the
// payments it settled with their batch id, and replays its answer.
func (c *Client) CloseBatch(ctx context.Context, u batch.Upload) (batch.HostView, error) {
	terminal := c.TerminalID
	if terminal == "" {
		terminal = u.TerminalID
	}
	keys := make([]string, len(u.Items))
	for i, it := range u.Items {
		keys[i] = it.Key
	}
	hv, err := c.batchView(ctx, BatchKey(terminal, u.Batch, "dry-run"), batchBody{TerminalID: c.TerminalID, Keys: keys, DryRun: true})
	if err != nil {
		return hv, fmt.Errorf("reconciling batch %d: %w", u.Batch, err)
	}
	balanced := batch.Reconcile(u.Batch, u.Items, hv).Balanced()
	if !balanced && !u.Force {
		return hv, nil
	}
	for _, cur := range currencies(u.Items, hv.Items) {
		body := batchBody{TerminalID: c.TerminalID, Currency: cur, Force: !balanced}
		for _, it := range u.Items {
			if it.Currency.Alpha == cur {
				body.Keys = append(body.Keys, it.Key)
			}
		}
		// The ledger's totals are purchases and their net of refunds.
		for _, t := range u.Totals {
			switch {
			case t.Currency.Alpha != cur:
			case t.Type == batch.Purchase:
				body.Count, body.Amount = t.Count, body.Amount+t.Amount
			case t.Type == batch.Refund:
				body.Amount -= t.Amount
			}
		}
		if _, err := c.batchView(ctx, BatchKey(terminal, u.Batch, cur), body); err != nil {
			return hv, fmt.Errorf("closing batch %d in %s: %w", u.Batch, cur, err)
		}
	}
	hv.Settled = true
	return hv, nil
}

// batchView posts a batch body and returns the ledger's items.
func (c *Client) batchView(ctx context.Context, key string, body batchBody) (batch.HostView, error) {
	var ans batchAnswer
	status, err := c.do(ctx, http.MethodPost, "/v1/batches", key, body, &ans)
	switch {
	case (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) && errors.Is(err, ErrNotFound):
		return batch.HostView{}, fmt.Errorf("%w: %w", ErrNoBatchEndpoint, err)
	case err != nil:
		return batch.HostView{}, err
	case ans.Outcome == OutcomeRejected && ans.Reason == "totals_mismatch":
		return batch.HostView{}, ErrBatchRefused
	case ans.Outcome != OutcomeOK:
		return batch.HostView{}, fmt.Errorf("%w: outcome %q, reason %q", ErrRefused, ans.Outcome, ans.Reason)
	}
	hv := batch.HostView{Complete: true}
	for _, it := range ans.Items {
		hv.Items = append(hv.Items, batch.Item{Key: it.Key, Type: batch.Type(it.Type), Amount: it.Amount,
			Currency: currency(it.Currency), AuthorizationID: it.AuthorizationID})
	}
	return hv, nil
}

// currencies lists the currencies of both sides' items, in order.
func currencies(sides ...[]batch.Item) []string {
	var out []string
	for _, items := range sides {
		for _, it := range items {
			out = append(out, it.Currency.Alpha)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
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
