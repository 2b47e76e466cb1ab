package batch

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// An Upload is what the terminal sends the ledger when it closes a batch.
type Upload struct {
	TerminalID string
	Batch      int
	Totals     []Total
	Items      []Item
	// Force asks the ledger to settle its side even when the batch does
	// not balance: the manager closes it as it is.
	Force bool
}

// A HostView is the ledger's side of a batch.
type HostView struct {
	Items []Item
	// Complete is set when the ledger listed all its items for the
	// batch; otherwise it was only asked about the terminal's own items,
	// and items missing on the terminal cannot be found.
	Complete bool
	// Settled is set when the ledger closed its side of the batch: the
	// items balanced, or u.Force.
	Settled bool
}

// A Host is the ledger as batch close needs it. CloseBatch reconciles
// the upload with the ledger's items and, when they balance or u.Force
// is set, closes the ledger's side of the batch; the view it returns is
// the one it reconciled against.
type Host interface {
	CloseBatch(ctx context.Context, u Upload) (HostView, error)
}

// A Mismatch is an item both sides have with different amounts, types or
// currencies.
type Mismatch struct {
	Terminal, Host Item
}

// A Reconciliation compares the terminal's batch with the ledger's.
type Reconciliation struct {
	Batch             int
	Matched           []Item
	MissingOnHost     []Item
	MissingOnTerminal []Item
	Mismatched        []Mismatch
	TerminalTotals    []Total
	HostTotals        []Total
	Complete          bool // see HostView.Complete
	Settled           bool // see HostView.Settled
}

// Balanced reports whether every item matched.
func (r *Reconciliation) Balanced() bool {
	return len(r.MissingOnHost) == 0 && len(r.MissingOnTerminal) == 0 && len(r.Mismatched) == 0
}

// Reconcile compares items by key.
func Reconcile(batch int, terminal []Item, host HostView) *Reconciliation {
	r := &Reconciliation{Batch: batch, Complete: host.Complete, Settled: host.Settled,
		TerminalTotals: Totals(terminal), HostTotals: Totals(host.Items)}
	byKey := make(map[string]Item, len(host.Items))
	for _, h := range host.Items {
		byKey[h.Key] = h
	}
	seen := make(map[string]bool, len(terminal))
	for _, t := range terminal {
		seen[t.Key] = true
		h, ok := byKey[t.Key]
		switch {
		case !ok:
			r.MissingOnHost = append(r.MissingOnHost, t)
		case h.Amount != t.Amount || h.Type != t.Type || h.Currency.Alpha != t.Currency.Alpha:
			r.Mismatched = append(r.Mismatched, Mismatch{Terminal: t, Host: h})
		default:
			r.Matched = append(r.Matched, t)
		}
	}
	for _, h := range host.Items {
		if !seen[h.Key] {
			r.MissingOnTerminal = append(r.MissingOnTerminal, h)
		}
	}
	byItemKey := func(a, b Item) int { return strings.Compare(a.Key, b.Key) }
	slices.SortFunc(r.Matched, byItemKey)
	slices.SortFunc(r.MissingOnHost, byItemKey)
	slices.SortFunc(r.MissingOnTerminal, byItemKey)
	slices.SortFunc(r.Mismatched, func(a, b Mismatch) int { return strings.Compare(a.Terminal.Key, b.Terminal.Key) })
	return r
}

// Reconcile uploads the open batch's totals and items to host and
// compares them with the ledger's; when they balance, the ledger closes
// its side of the batch (see [Reconciliation.Settled]). It changes
// nothing in the journal: [Journal.CloseBatch] closes the terminal's.
func (j *Journal) Reconcile(ctx context.Context, terminalID string, host Host) (*Reconciliation, error) {
	return j.reconcile(ctx, terminalID, host, false)
}

// ForceReconcile is Reconcile for a manager who closes the batch as it
// is: the ledger closes its side even when the batch does not balance.
func (j *Journal) ForceReconcile(ctx context.Context, terminalID string, host Host) (*Reconciliation, error) {
	return j.reconcile(ctx, terminalID, host, true)
}

func (j *Journal) reconcile(ctx context.Context, terminalID string, host Host, force bool) (*Reconciliation, error) {
	b, err := j.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconciling: %w", err)
	}
	recs, err := j.Records(ctx, b.No)
	if err != nil {
		return nil, fmt.Errorf("reconciling batch %d: %w", b.No, err)
	}
	items := Items(recs)
	hv, err := host.CloseBatch(ctx, Upload{TerminalID: terminalID, Batch: b.No, Totals: Totals(items), Items: items, Force: force})
	if err != nil {
		return nil, fmt.Errorf("reconciling batch %d: %w", b.No, err)
	}
	return Reconcile(b.No, items, hv), nil
}

// WriteText writes the reconciliation report.
func (r *Reconciliation) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "RECONCILIATION batch %d\n\n", r.Batch)
	totals := func(name string, ts []Total) {
		fmt.Fprintf(&b, "%s totals:\n", name)
		if len(ts) == 0 {
			b.WriteString("  none\n")
		}
		for _, t := range ts {
			fmt.Fprintf(&b, "  %-8s %s %4d %14s\n", typeLabel[t.Type], t.Currency.Alpha, t.Count, t.Currency.Format(t.Amount))
		}
	}
	totals("terminal", r.TerminalTotals)
	totals("ledger", r.HostTotals)
	list := func(name string, items []Item) {
		fmt.Fprintf(&b, "\n%s: %d\n", name, len(items))
		for _, it := range items {
			fmt.Fprintf(&b, "  %-36s %-8s %14s\n", it.Key, it.Type, it.Currency.Format(it.Amount))
		}
	}
	list("matched", r.Matched)
	list("missing on the ledger", r.MissingOnHost)
	if r.Complete {
		list("missing on the terminal", r.MissingOnTerminal)
	} else {
		b.WriteString("\nmissing on the terminal: not checked (the ledger did not list its items)\n")
	}
	fmt.Fprintf(&b, "\namount (or state) mismatches: %d\n", len(r.Mismatched))
	for _, m := range r.Mismatched {
		fmt.Fprintf(&b, "  %-36s terminal %-8s %14s  ledger %-8s %14s\n", m.Terminal.Key,
			m.Terminal.Type, m.Terminal.Currency.Format(m.Terminal.Amount), m.Host.Type, m.Host.Currency.Format(m.Host.Amount))
	}
	if r.Balanced() {
		b.WriteString("\nBALANCED\n")
	} else {
		fmt.Fprintf(&b, "\nNOT BALANCED: %d missing on the ledger, %d missing on the terminal, %d mismatched\n",
			len(r.MissingOnHost), len(r.MissingOnTerminal), len(r.Mismatched))
	}
	if r.Settled {
		b.WriteString("the ledger closed its side of the batch\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
