package host

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tappos/ledger/ledgertest"
	"tappos/offline"
	"tappos/terminal/batch"
	"tappos/terminal/receipt"
)

// zeros is a deterministic io.Reader for nonces and jitter.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// TestBatchCloseEndToEnd closes a day's batch against the real ledger
// (HTTP handler in process, SQLite file): online sales with real ARQCs,
// a refund, a void, and an offline sale that reaches the ledger only
// through the offline queue's sync. Before the sync the batch does not
// balance and the ledger settles nothing; after it, it balances, the
// ledger settles, and the next batch starts empty on both sides.
func TestBatchCloseEndToEnd(t *testing.T) {
	ctx := context.Background()
	card := ledgertest.Cards(1, "mc-cvn16", ledgertest.IMK)[0]
	c := realLedger(t, card)
	cny, _ := receipt.LookupCurrency("CNY")
	now := func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }
	dir := t.TempDir()
	j, err := batch.Open(filepath.Join(dir, "journal.db"), batch.Options{Now: now, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var key offline.Key
	copy(key[:], "terminal key for the e2e test...")
	q, err := offline.Open(filepath.Join(dir, "offline.db"), offline.Options{Key: key, Now: now, Rand: zeros{}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	tap := func(amount int64, cid byte) []byte {
		emv, err := card.Tap(amount, 156, ledgertest.Options{CID: cid, UN: [4]byte{9, 8, 7, 6}})
		if err != nil {
			t.Fatal(err)
		}
		return emv
	}
	record := func(r batch.Record) {
		r.Currency = cny
		if _, err := j.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	// The offline sale first: its TC has the card's lowest counter.
	if _, err := q.Enqueue(ctx, offline.Tap{TxnID: "T-5", Amount: 2500, Currency: "CNY", EMV: tap(2500, 0x40),
		CardApprovedOffline: true, ODAPassed: true}); err != nil {
		t.Fatal(err)
	}
	// Shown, then confirmed for forwarding, as terminal/sale does.
	if err := q.Confirm(ctx, "T-5"); err != nil {
		t.Fatal(err)
	}
	record(batch.Record{TxnID: "T-5", Type: batch.Purchase, Status: batch.OfflineApproved, Amount: 2500, Offline: true})
	online := func(txn string, amount int64) string {
		res, err := c.Authorize(ctx, AuthRequest{TxnID: txn, Amount: amount, Currency: "CNY", EMV: tap(amount, 0x80)})
		if err != nil || res.Outcome != OutcomeApproved {
			t.Fatalf("authorize %s: %+v, %v", txn, res, err)
		}
		return res.AuthorizationID
	}
	a1 := online("T-1", 1250)
	record(batch.Record{TxnID: "T-1", Type: batch.Purchase, Status: batch.Approved, Amount: 1250, AuthorizationID: a1})
	if r, err := c.Refund(ctx, "T-2", a1, 500); err != nil || r.Outcome != OutcomeOK {
		t.Fatalf("refund: %+v, %v", r, err)
	}
	record(batch.Record{TxnID: "T-2", Type: batch.Refund, Status: batch.Approved, Amount: 500, OrigTxnID: "T-1", AuthorizationID: a1})
	a3 := online("T-3", 300)
	if r, err := c.Void(ctx, "T-4", a3); err != nil || r.Outcome != OutcomeOK {
		t.Fatalf("void: %+v, %v", r, err)
	}
	record(batch.Record{TxnID: "T-3", Type: batch.Purchase, Status: batch.Voided, Amount: 300, AuthorizationID: a3})
	record(batch.Record{TxnID: "T-4", Type: batch.Void, Status: batch.Approved, Amount: 300, OrigTxnID: "T-3", AuthorizationID: a3})

	report := func(r *batch.Reconciliation) string {
		var b bytes.Buffer
		r.WriteText(&b)
		return b.String()
	}
	rec, err := j.Reconcile(ctx, "", c)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Balanced() || rec.Settled || len(rec.MissingOnHost) != 1 || rec.MissingOnHost[0].Key != "T-5" {
		t.Fatalf("before the sync:\n%s", report(rec))
	}

	syncer := &offline.Syncer{Queue: q, Forwarder: &offline.HTTPForwarder{BaseURL: c.BaseURL, APIKey: c.APIKey},
		Rand: zeros{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if rep, err := syncer.Drain(ctx, 3); err != nil || rep.Remaining != 0 {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	rec, err = j.Reconcile(ctx, "", c)
	if err != nil {
		t.Fatal(err)
	}
	text := report(rec)
	if !rec.Balanced() || !rec.Settled || len(rec.Matched) != 4 || !strings.Contains(text, "\nBALANCED\n") {
		t.Fatalf("after the sync:\n%s", text)
	}
	if _, err := j.CloseBatch(ctx, batch.Header{TerminalID: "CN000001"}); err != nil {
		t.Fatal(err)
	}
	// Settled: the ledger lists nothing for the next batch.
	rec, err = j.Reconcile(ctx, "", c)
	if err != nil || !rec.Balanced() || len(rec.Matched) != 0 || rec.Batch != 2 {
		t.Fatalf("next batch: %v\n%s", err, report(rec))
	}
}
