package batch

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tappos/terminal/receipt"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	cny = receipt.Currency{Numeric: 156, Alpha: "CNY", Exponent: 2, Symbol: "¥"}
	usd = receipt.Currency{Numeric: 840, Alpha: "USD", Exponent: 2, Symbol: "$"}
	hdr = Header{Merchant: "Demo Café", MerchantID: "TAPPOS-CN-0001", TerminalID: "CN000001"}
)

// clock is a test clock that moves a minute per reading.
type clock struct{ t time.Time }

func (c *clock) now() time.Time {
	c.t = c.t.Add(time.Minute)
	return c.t
}

func openJournal(t *testing.T) *Journal {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"), Options{Now: c.now, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// day fills a journal with a shop's morning: online and offline sales, a
// decline, a refund, a void, a reversal and a sale in another currency.
func day(t *testing.T, j *Journal) {
	t.Helper()
	ctx := context.Background()
	recs := []Record{
		{TxnID: "CN000001-000001", Type: Purchase, Status: Approved, Amount: 1250, Currency: cny, AuthorizationID: "au_1", ApprovalCode: "A1B2C3", MaskedPAN: "476173******0028"},
		{TxnID: "CN000001-000002", Type: Purchase, Status: OfflineApproved, Offline: true, Amount: 800, Currency: cny, MaskedPAN: "541333******0345"},
		{TxnID: "CN000001-000003", Type: Purchase, Status: Declined, Amount: 98000, Currency: cny, Reason: "insufficient_funds", MaskedPAN: "476173******0010"},
		{TxnID: "CN000001-000004", Type: Purchase, Status: Approved, Amount: 4500, Currency: cny, AuthorizationID: "au_4", ApprovalCode: "D4E5F6", MaskedPAN: "476173******0028"},
		{TxnID: "CN000001-000005", Type: Refund, Status: Approved, Amount: 500, Currency: cny, OrigTxnID: "CN000001-000004", AuthorizationID: "au_4", ApprovalCode: "R00001", MaskedPAN: "476173******0028"},
		{TxnID: "CN000001-000006", Type: Purchase, Status: Voided, Amount: 300, Currency: cny, AuthorizationID: "au_6", ApprovalCode: "G7H8I9", MaskedPAN: "541333******0345"},
		{TxnID: "CN000001-000007", Type: Void, Status: Approved, Amount: 300, Currency: cny, OrigTxnID: "CN000001-000006", AuthorizationID: "au_6", MaskedPAN: "541333******0345"},
		{TxnID: "CN000001-000008", Type: Purchase, Status: Reversed, Reversal: ReversalDone, Amount: 2000, Currency: cny, Reason: "no answer from the ledger", MaskedPAN: "476173******0028"},
		{TxnID: "CN000001-000009", Type: Purchase, Status: Approved, Amount: 999, Currency: usd, AuthorizationID: "au_9", ApprovalCode: "J1K2L3", MaskedPAN: "476173******0028"},
	}
	for _, r := range recs {
		if _, err := j.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s", path, got)
	}
}

func TestReports(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	day(t, j)

	x, err := j.X(ctx, hdr)
	if err != nil {
		t.Fatal(err)
	}
	var xt, xc bytes.Buffer
	x.WriteText(&xt)
	x.WriteCSV(&xc)
	golden(t, "x.txt", xt.Bytes())
	golden(t, "x.csv", xc.Bytes())
	if b, _ := j.Current(ctx); b.No != 1 {
		t.Fatalf("X report moved the batch to %d", b.No)
	}

	z, err := j.CloseBatch(ctx, hdr)
	if err != nil {
		t.Fatal(err)
	}
	var zt, zc bytes.Buffer
	z.WriteText(&zt)
	z.WriteCSV(&zc)
	golden(t, "z.txt", zt.Bytes())
	golden(t, "z.csv", zc.Bytes())

	// The stored Z report is the one printed, and stays so.
	st, sc, err := j.StoredZ(ctx, 1)
	if err != nil || st != zt.String() || sc != zc.String() {
		t.Fatalf("stored Z differs (err %v)", err)
	}
	if _, err := j.db.ExecContext(ctx, `UPDATE batches SET z_text = 'forged' WHERE no = 1`); err == nil {
		t.Fatal("a closed batch's Z report could be changed")
	}
	if n, err := j.LastClosed(ctx); err != nil || n != 1 {
		t.Fatalf("LastClosed = %d, %v", n, err)
	}

	// The next batch starts empty, numbered 2.
	r, err := j.Add(ctx, Record{TxnID: "CN000001-000010", Type: Purchase, Status: Approved, Amount: 100, Currency: cny})
	if err != nil || r.Batch != 2 {
		t.Fatalf("next record in batch %d, %v", r.Batch, err)
	}
	if _, _, err := j.StoredZ(ctx, 2); err == nil {
		t.Fatal("open batch has a Z report")
	}
}

func TestJournal(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	r, err := j.Add(ctx, Record{TxnID: "T1", Type: Purchase, Status: Pending, Amount: 1250, Currency: cny})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Add(ctx, r); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Add: %v, want ErrDuplicate", err)
	}
	if un, _ := j.Unresolved(ctx); len(un) != 1 {
		t.Fatalf("unresolved %d, want 1", len(un))
	}
	r.Status, r.Reversal, r.Reason = Reversed, ReversalPending, "timeout"
	if _, err := j.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	pend, err := j.PendingReversals(ctx)
	if err != nil || len(pend) != 1 || pend[0].TxnID != "T1" || !pend[0].Created.Equal(r.Created) {
		t.Fatalf("pending reversals %+v, %v", pend, err)
	}
	got, err := j.Get(ctx, "T1")
	if err != nil || got.Status != Reversed || got.Currency != cny || got.Batch != 1 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := j.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(nope) = %v", err)
	}
	if _, err := j.Update(ctx, Record{TxnID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update(nope) = %v", err)
	}
	if _, err := j.Add(ctx, Record{TxnID: "T2", Amount: -1, Currency: cny}); err == nil {
		t.Fatal("negative amount accepted")
	}
}

// hostOf is the ledger's side of the day as a batch endpoint would list it.
func hostOf(items []Item) HostView {
	return HostView{Items: append([]Item(nil), items...), Complete: true}
}

func TestReconcile(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	day(t, j)
	recs, err := j.Records(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	terminal := Items(recs)

	// The ledger lost the offline sale's upload (it never arrived) and
	// holds a different amount for the refund.
	broken := hostOf(nil)
	for _, it := range terminal {
		switch it.Key {
		case "CN000001-000002":
			continue
		case RefundsKey("CN000001-000004"):
			it.Amount = 5000
		}
		broken.Items = append(broken.Items, it)
	}
	// And it has a posting the terminal does not know.
	stray := Item{Key: "CN000001-000099", Type: Purchase, Amount: 700, Currency: cny}

	tests := []struct {
		name     string
		host     HostView
		balanced bool
	}{
		{"lost-and-altered", HostView{Items: append(broken.Items, stray), Complete: true}, false},
		{"fixed", hostOf(terminal), true},
		{"incomplete-host", HostView{Items: terminal}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reconcile(1, terminal, tt.host)
			if r.Balanced() != tt.balanced {
				t.Fatalf("Balanced = %t, want %t", r.Balanced(), tt.balanced)
			}
			var b bytes.Buffer
			r.WriteText(&b)
			golden(t, "reconcile-"+tt.name+".txt", b.Bytes())
			if strings.Contains(b.String(), "\nBALANCED") != tt.balanced {
				t.Fatalf("report says balanced wrongly:\n%s", b.String())
			}
		})
	}

	r := Reconcile(1, terminal, HostView{Items: append(broken.Items, stray), Complete: true})
	if len(r.MissingOnHost) != 1 || r.MissingOnHost[0].Key != "CN000001-000002" {
		t.Errorf("missing on host %+v", r.MissingOnHost)
	}
	if len(r.Mismatched) != 1 || r.Mismatched[0].Host.Amount != 5000 {
		t.Errorf("mismatched %+v", r.Mismatched)
	}
	if len(r.MissingOnTerminal) != 1 || r.MissingOnTerminal[0].Key != stray.Key {
		t.Errorf("missing on terminal %+v", r.MissingOnTerminal)
	}
}

// fakeHost answers a batch close from a fixed view.
type fakeHost struct {
	view HostView
	got  Upload
}

func (f *fakeHost) CloseBatch(ctx context.Context, u Upload) (HostView, error) {
	f.got = u
	return f.view, nil
}

func TestJournalReconcile(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	day(t, j)
	recs, _ := j.Records(ctx, 1)
	h := &fakeHost{view: hostOf(Items(recs))}
	r, err := j.Reconcile(ctx, "CN000001", h)
	if err != nil || !r.Balanced() {
		t.Fatalf("Reconcile: balanced %t, %v", r != nil && r.Balanced(), err)
	}
	if h.got.Batch != 1 || h.got.TerminalID != "CN000001" || len(h.got.Items) != 6 {
		t.Fatalf("upload %+v", h.got)
	}
	want := []Total{
		{Purchase, cny, 3, 1250 + 800 + 4500},
		{Refund, cny, 1, 500},
		{Void, cny, 1, 300},
		{Purchase, usd, 1, 999},
	}
	if len(h.got.Totals) != len(want) {
		t.Fatalf("totals %+v", h.got.Totals)
	}
	for i := range want {
		if h.got.Totals[i] != want[i] {
			t.Errorf("total %d = %+v, want %+v", i, h.got.Totals[i], want[i])
		}
	}
}

// TestForceReconcile asks the host to settle whatever the differences,
// and the reconciliation says whether the ledger did.
func TestForceReconcile(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	day(t, j)
	tests := []struct {
		name  string
		force bool
	}{{"reconcile", false}, {"forced", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHost{view: HostView{Complete: true, Settled: tt.force}}
			reconcile := j.Reconcile
			if tt.force {
				reconcile = j.ForceReconcile
			}
			r, err := reconcile(ctx, "CN000001", h)
			if err != nil || r.Balanced() || h.got.Force != tt.force || r.Settled != tt.force {
				t.Fatalf("force %t: upload %+v, reconciliation %+v, %v", tt.force, h.got, r, err)
			}
			var b strings.Builder
			r.WriteText(&b)
			if got := strings.Contains(b.String(), "the ledger closed its side"); got != tt.force {
				t.Errorf("report:\n%s", b.String())
			}
		})
	}
}
