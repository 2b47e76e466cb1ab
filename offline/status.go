package offline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// A CurrencyTotal is the unsent count and amount in one currency.
type CurrencyTotal struct {
	Currency string `json:"currency"`
	Count    int    `json:"count"`
	Amount   int64  `json:"amount"`
}

// Status is what the queue holds and how its forwarding goes, for the UI
// and `posctl queue status`.
type Status struct {
	Unsent  int `json:"unsent"`  // queued and sending
	Sending int `json:"sending"` // of which sent, no answer yet
	// Held items are committed but their approval not yet confirmed as
	// shown; they count against the limits and are not forwarded.
	Held       int             `json:"held"`
	ByCurrency []CurrencyTotal `json:"by_currency"`
	// Oldest is the creation time of the oldest unsent item; OldestAge
	// its age by the queue's clock. Both zero when nothing is unsent.
	Oldest    time.Time     `json:"oldest,omitzero"`
	OldestAge time.Duration `json:"oldest_age_ns"`
	Accepted  int           `json:"accepted"`
	Declined  int           `json:"declined"`
	Overdraft int           `json:"booked_overdraft"`
	// Canceled items were held when their tap ended, and recovery found
	// their approval never shown (or, without a Witness, held past the
	// grace period); they are not charged.
	Canceled int `json:"canceled"`
	// LastSync is when a sync last reached the ledger; LastError is the
	// error of the latest attempt, empty if it succeeded.
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// Status returns the queue's status.
func (q *Queue) Status(ctx context.Context) (Status, error) {
	var st Status
	rows, err := q.db.QueryContext(ctx, `SELECT state, currency, COUNT(*), SUM(amount), MIN(created_at)
		FROM items GROUP BY state, currency ORDER BY currency`)
	if err != nil {
		return Status{}, fmt.Errorf("reading status: %w", err)
	}
	defer rows.Close()
	var oldest int64
	for rows.Next() {
		var state State
		var cur string
		var n int
		var amount, first int64
		if err := rows.Scan(&state, &cur, &n, &amount, &first); err != nil {
			return Status{}, fmt.Errorf("reading status: %w", err)
		}
		switch state {
		case StateQueued, StateSending:
			st.Unsent += n
			if state == StateSending {
				st.Sending += n
			}
			if oldest == 0 || first < oldest {
				oldest = first
			}
			if k := len(st.ByCurrency); k > 0 && st.ByCurrency[k-1].Currency == cur {
				st.ByCurrency[k-1].Count += n
				st.ByCurrency[k-1].Amount += amount
			} else {
				st.ByCurrency = append(st.ByCurrency, CurrencyTotal{cur, n, amount})
			}
		case StateAccepted:
			st.Accepted += n
		case StateDeclined:
			st.Declined += n
		case StateBookedOverdraft:
			st.Overdraft += n
		case StateHeld:
			st.Held += n
		case StateCanceled:
			st.Canceled += n
		}
	}
	if err := rows.Err(); err != nil {
		return Status{}, fmt.Errorf("reading status: %w", err)
	}
	if oldest != 0 {
		st.Oldest = time.Unix(0, oldest)
		st.OldestAge = q.now().Sub(st.Oldest)
	}
	if v, err := q.meta(ctx, metaLastSync); err != nil {
		return Status{}, err
	} else if v != "" {
		if st.LastSync, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return Status{}, fmt.Errorf("reading status: last sync time: %w", err)
		}
	}
	if st.LastError, err = q.meta(ctx, metaLastError); err != nil {
		return Status{}, err
	}
	return st, nil
}

// Keys of the meta table.
const (
	metaLastSync  = "last_sync"
	metaLastError = "last_error"
)

func (q *Queue) meta(ctx context.Context, k string) (string, error) {
	var v string
	err := q.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", k, err)
	}
	return v, nil
}
