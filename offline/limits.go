package offline

import (
	"fmt"
	"time"
)

// A Limit names one offline risk rule.
type Limit string

// The offline risk rules, in the order they are checked.
const (
	LimitCardDecision     Limit = "card_decision"     // the card did not approve offline
	LimitODA              Limit = "oda"               // offline data authentication did not pass
	LimitPerTransaction   Limit = "per_transaction"   // the amount is over the per-transaction limit
	LimitCumulativeAmount Limit = "cumulative_amount" // unsent amount in this currency would be too high
	LimitCumulativeCount  Limit = "cumulative_count"  // too many unsent items
	LimitOldestAge        Limit = "oldest_age"        // the oldest unsent item is too old
	LimitSameCard         Limit = "same_card"         // this card has too many unsent items
)

// Limits are the terminal's offline risk limits. A zero field disables its
// rule; the card's own decision is always required.
type Limits struct {
	PerTransaction   int64         // largest offline amount, in minor units
	CumulativeAmount int64         // largest unsent total per currency, including the tap
	CumulativeCount  int           // most unsent items, including the tap
	OldestAge        time.Duration // oldest an unsent item may be for a new offline approval
	SameCard         int           // most unsent items of one card, including the tap
}

// DefaultLimits returns conservative limits for a small shop: 50.00 a tap,
// 500.00 and 50 taps unsent, nothing older than 24 hours, 3 taps a card.
func DefaultLimits() Limits {
	return Limits{
		PerTransaction:   5000,
		CumulativeAmount: 50000,
		CumulativeCount:  50,
		OldestAge:        24 * time.Hour,
		SameCard:         3,
	}
}

// A DeclineError is an offline decline; Limit names the rule that refused
// the tap.
type DeclineError struct {
	Limit  Limit
	Detail string // amounts and counts, never card data
}

func (e *DeclineError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("offline declined by limit %s", e.Limit)
	}
	return fmt.Sprintf("offline declined by limit %s: %s", e.Limit, e.Detail)
}

// exposure is what is already at risk, read inside the enqueue transaction.
type exposure struct {
	amount   int64     // unsent, in the tap's currency
	count    int       // unsent, all currencies
	oldest   time.Time // created time of the oldest unsent item; zero if none
	sameCard int       // unsent items of the tap's card
}

// check applies the limits to a tap given the current exposure.
func (l Limits) check(t Tap, e exposure, now time.Time) error {
	switch {
	case !t.CardApprovedOffline:
		return &DeclineError{Limit: LimitCardDecision}
	case !t.ODAPassed:
		return &DeclineError{Limit: LimitODA}
	case l.PerTransaction > 0 && t.Amount > l.PerTransaction:
		return &DeclineError{LimitPerTransaction, fmt.Sprintf("%d over %d", t.Amount, l.PerTransaction)}
	case l.CumulativeAmount > 0 && e.amount+t.Amount > l.CumulativeAmount:
		return &DeclineError{LimitCumulativeAmount, fmt.Sprintf("%d unsent plus %d over %d %s", e.amount, t.Amount, l.CumulativeAmount, t.Currency)}
	case l.CumulativeCount > 0 && e.count+1 > l.CumulativeCount:
		return &DeclineError{LimitCumulativeCount, fmt.Sprintf("%d unsent items, limit %d", e.count, l.CumulativeCount)}
	case l.OldestAge > 0 && !e.oldest.IsZero() && now.Sub(e.oldest) > l.OldestAge:
		return &DeclineError{LimitOldestAge, fmt.Sprintf("oldest unsent item is %s old, limit %s", now.Sub(e.oldest).Truncate(time.Second), l.OldestAge)}
	case l.SameCard > 0 && e.sameCard+1 > l.SameCard:
		return &DeclineError{LimitSameCard, fmt.Sprintf("card has %d unsent items, limit %d", e.sameCard, l.SameCard)}
	}
	return nil
}
