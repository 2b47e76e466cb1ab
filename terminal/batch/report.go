package batch

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"tappos/terminal/receipt"
)

// A Total is the count and amount of one type of item in one currency.
type Total struct {
	Type     Type
	Currency receipt.Currency
	Count    int
	Amount   int64
}

// An Item is what reconciliation compares: a purchase by its transaction
// id, or the refunds of a purchase together (the ledger knows refunds by
// the purchase they refund).
type Item struct {
	Key             string // the purchase's transaction id, "<id>/refunds" for its refunds
	Type            Type   // Purchase, Void (a voided purchase) or Refund
	Amount          int64
	Currency        receipt.Currency
	AuthorizationID string // the ledger's id of the purchase, when known
}

// RefundsKey is the reconciliation key of a purchase's refunds.
func RefundsKey(purchaseTxnID string) string { return purchaseTxnID + "/refunds" }

// Items returns the items of records that move money: approved purchases
// (online or offline), voided purchases, and approved refunds summed per
// purchase. Declined, failed and reversed records post nothing.
func Items(records []Record) []Item {
	var out []Item
	refunds := map[string]int{} // key → index in out
	for _, r := range records {
		switch {
		case r.Type == Purchase && (r.Status == Approved || r.Status == OfflineApproved):
			out = append(out, Item{Key: r.TxnID, Type: Purchase, Amount: r.Amount, Currency: r.Currency, AuthorizationID: r.AuthorizationID})
		case r.Type == Purchase && r.Status == Voided:
			out = append(out, Item{Key: r.TxnID, Type: Void, Amount: r.Amount, Currency: r.Currency, AuthorizationID: r.AuthorizationID})
		case r.Type == Refund && r.Status == Approved:
			k := RefundsKey(r.OrigTxnID)
			if i, ok := refunds[k]; ok {
				out[i].Amount += r.Amount
				continue
			}
			refunds[k] = len(out)
			out = append(out, Item{Key: k, Type: Refund, Amount: r.Amount, Currency: r.Currency, AuthorizationID: r.AuthorizationID})
		}
	}
	return out
}

// typeOrder orders totals and report lines.
var typeOrder = map[Type]int{Purchase: 0, Refund: 1, Void: 2}

// Totals sums items per type and currency, in a stable order.
func Totals(items []Item) []Total {
	var out []Total
	for _, it := range items {
		i := slices.IndexFunc(out, func(t Total) bool { return t.Type == it.Type && t.Currency.Alpha == it.Currency.Alpha })
		if i < 0 {
			out = append(out, Total{Type: it.Type, Currency: it.Currency})
			i = len(out) - 1
		}
		out[i].Count++
		out[i].Amount += it.Amount
	}
	slices.SortFunc(out, func(a, b Total) int {
		if c := strings.Compare(a.Currency.Alpha, b.Currency.Alpha); c != 0 {
			return c
		}
		return typeOrder[a.Type] - typeOrder[b.Type]
	})
	return out
}

// Header names the shop and terminal on a report.
type Header struct {
	Merchant   string
	MerchantID string
	TerminalID string
}

// A Report is an X report (a snapshot of the open batch) or a Z report
// (the batch as it was closed).
type Report struct {
	Kind string // "X" or "Z"
	Header
	Batch   BatchInfo
	At      time.Time // when it was made
	Totals  []Total
	Records []Record
}

// X returns the X report of the open batch. It changes nothing.
func (j *Journal) X(ctx context.Context, h Header) (*Report, error) {
	b, err := j.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("x report: %w", err)
	}
	recs, err := j.Records(ctx, b.No)
	if err != nil {
		return nil, fmt.Errorf("x report: %w", err)
	}
	return &Report{Kind: "X", Header: h, Batch: b, At: j.now().In(j.loc), Totals: Totals(Items(recs)), Records: recs}, nil
}

// CloseBatch closes the open batch, stores its Z report (text and CSV,
// never changed afterwards) and opens the next batch, all in one
// transaction. Records added afterwards go to the next batch.
func (j *Journal) CloseBatch(ctx context.Context, h Header) (*Report, error) {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("closing batch: %w", err)
	}
	defer tx.Rollback()
	b, err := j.batch(ctx, tx, `SELECT no, opened_at, closed_at FROM batches WHERE closed_at IS NULL ORDER BY no DESC LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("closing batch: %w", err)
	}
	recs, err := j.listTx(ctx, tx, b.No)
	if err != nil {
		return nil, fmt.Errorf("closing batch %d: %w", b.No, err)
	}
	now := j.now().In(j.loc)
	b.Closed = now
	z := &Report{Kind: "Z", Header: h, Batch: b, At: now, Totals: Totals(Items(recs)), Records: recs}
	var text, csvb strings.Builder
	if err := z.WriteText(&text); err != nil {
		return nil, err
	}
	if err := z.WriteCSV(&csvb); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE batches SET closed_at = ?, z_text = ?, z_csv = ? WHERE no = ?`,
		now.UnixNano(), text.String(), csvb.String(), b.No); err != nil {
		return nil, fmt.Errorf("closing batch %d: %w", b.No, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO batches (no, opened_at) VALUES (?, ?)`, b.No+1, now.UnixNano()); err != nil {
		return nil, fmt.Errorf("opening batch %d: %w", b.No+1, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("closing batch %d: committing: %w", b.No, err)
	}
	return z, nil
}

func (j *Journal) listTx(ctx context.Context, tx *sql.Tx, batch int) ([]Record, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+cols+` FROM txns WHERE batch = ? ORDER BY created_at, txn_id`, batch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := j.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// StoredZ returns the Z report of a closed batch as it was stored when
// the batch closed: text and CSV.
func (j *Journal) StoredZ(ctx context.Context, no int) (text, csv string, err error) {
	var t, c sql.NullString
	err = j.db.QueryRowContext(ctx, `SELECT z_text, z_csv FROM batches WHERE no = ?`, no).Scan(&t, &c)
	switch {
	case err == sql.ErrNoRows:
		return "", "", fmt.Errorf("batch %d: %w", no, ErrNotFound)
	case err != nil:
		return "", "", fmt.Errorf("batch %d: %w", no, err)
	case !t.Valid:
		return "", "", fmt.Errorf("batch %d is still open", no)
	}
	return t.String, c.String, nil
}

// LastClosed returns the number of the last closed batch, 0 if none.
func (j *Journal) LastClosed(ctx context.Context) (int, error) {
	var n sql.NullInt64
	if err := j.db.QueryRowContext(ctx, `SELECT MAX(no) FROM batches WHERE closed_at IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("last closed batch: %w", err)
	}
	return int(n.Int64), nil
}

var typeLabel = map[Type]string{Purchase: "SALES", Refund: "REFUNDS", Void: "VOIDS"}

const stamp = "2006-01-02 15:04:05"

// WriteText writes the report for a printer or a screen.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	title := "X REPORT (snapshot, batch stays open)"
	if r.Kind == "Z" {
		title = fmt.Sprintf("Z REPORT %06d (batch closed)", r.Batch.No)
	}
	fmt.Fprintf(&b, "%s\n%s\nmerchant %s  terminal %s\n", r.Merchant, title, r.MerchantID, r.TerminalID)
	fmt.Fprintf(&b, "batch %d opened %s\n", r.Batch.No, r.Batch.Opened.Format(stamp))
	if !r.Batch.Closed.IsZero() {
		fmt.Fprintf(&b, "batch %d closed %s\n", r.Batch.No, r.Batch.Closed.Format(stamp))
	}
	fmt.Fprintf(&b, "printed %s\n\n", r.At.Format(stamp))
	if len(r.Totals) == 0 {
		b.WriteString("no sales\n")
	}
	var net = map[string]int64{}
	var cur []receipt.Currency
	for _, t := range r.Totals {
		fmt.Fprintf(&b, "%-8s %s %4d %14s\n", typeLabel[t.Type], t.Currency.Alpha, t.Count, t.Currency.Format(t.Amount))
		if !slices.ContainsFunc(cur, func(c receipt.Currency) bool { return c.Alpha == t.Currency.Alpha }) {
			cur = append(cur, t.Currency)
		}
		// Voided sales are listed but, like declines, move no money.
		switch t.Type {
		case Purchase:
			net[t.Currency.Alpha] += t.Amount
		case Refund:
			net[t.Currency.Alpha] -= t.Amount
		}
	}
	for _, c := range cur {
		fmt.Fprintf(&b, "%-8s %s      %14s\n", "NET", c.Alpha, c.Format(net[c.Alpha]))
	}
	var declined, offline, pending int
	for _, rec := range r.Records {
		switch {
		case rec.Status == Declined:
			declined++
		case rec.Status == Pending:
			pending++
		}
		if rec.Offline && rec.Status == OfflineApproved {
			offline++
		}
	}
	fmt.Fprintf(&b, "\ndeclined %d  offline approved %d  unresolved %d\n\n", declined, offline, pending)
	b.WriteString("TIME     TXN                          TYPE     STATUS           CARD                      AMOUNT CODE\n")
	for _, rec := range r.Records {
		line := fmt.Sprintf("%s %-28s %-8s %-16s %-16s %14s %s", rec.Created.Format("15:04:05"), rec.TxnID, rec.Type,
			rec.Status, rec.MaskedPAN, rec.Currency.Format(rec.Amount), rec.ApprovalCode)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCSV writes the report as CSV: one "total" row per type and
// currency, then one "txn" row per record. Amounts are decimal strings.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	batch := strconv.Itoa(r.Batch.No)
	cw.Write([]string{"report", "batch", "row", "time", "txn_id", "type", "status", "currency", "count", "amount", "masked_pan", "approval_code", "orig_txn_id"})
	for _, t := range r.Totals {
		cw.Write([]string{r.Kind, batch, "total", r.At.Format(time.RFC3339), "", string(t.Type), "", t.Currency.Alpha,
			strconv.Itoa(t.Count), t.Currency.Decimal(t.Amount), "", "", ""})
	}
	for _, rec := range r.Records {
		cw.Write([]string{r.Kind, batch, "txn", rec.Created.Format(time.RFC3339), rec.TxnID, string(rec.Type), string(rec.Status),
			rec.Currency.Alpha, "1", rec.Currency.Decimal(rec.Amount), rec.MaskedPAN, rec.ApprovalCode, rec.OrigTxnID})
	}
	cw.Flush()
	return cw.Error()
}
