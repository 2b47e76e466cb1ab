package sqlitestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"tappos/ledger"
)

// stopBackground stops s's timed commits, so that what a test wrote stays
// in the redo log until it says otherwise.
func stopBackground(s *Store) {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
}

// crash stops s as a killed process would: the writer's transaction is
// lost, the redo log and its lock are left behind.
func crash(t *testing.T, s *Store) {
	t.Helper()
	stopBackground(s)
	s.mu.Lock()
	if s.tx != nil {
		s.tx.Rollback()
		s.tx = nil
	}
	s.mu.Unlock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.r.Close()
	s.w.Close()
	s.redo.close()
}

// deposit opens an account, then posts amount to it from a funding
// account, in two batches as the ledger writes them, and returns the
// account's id.
func deposit(t *testing.T, s *Store, i int, amount int64) string {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprint("acct-", i)
	ch := &ledger.Changes{
		NewAccounts: []ledger.Account{{ID: id, Kind: ledger.KindWallet, Currency: "EUR", Owner: "o"}},
		Idempotency: []ledger.IdemRecord{{IdemKey: ledger.IdemKey{Scope: "s", Key: id}, Hash: "h",
			Result: ledger.Result{Outcome: ledger.OutcomeOK, Amount: amount}}},
	}
	if err := s.Write(ctx, func(tx ledger.Tx) error { return tx.Apply(ctx, ch) }); err != nil {
		t.Fatal(err)
	}
	fund := "funding:" + id
	ch = &ledger.Changes{
		NewAccounts: []ledger.Account{{ID: fund, Kind: ledger.KindFunding, Currency: "EUR", Owner: "o", Balance: -amount}},
		Accounts:    []ledger.Account{{ID: id, Balance: amount}},
		Journals: []ledger.Journal{{ID: "jr-" + id, Kind: "deposit", Entries: []ledger.Entry{
			{AccountID: id, Amount: amount, Currency: "EUR"}, {AccountID: fund, Amount: -amount, Currency: "EUR"}}}},
	}
	if err := s.Write(ctx, func(tx ledger.Tx) error { return tx.Apply(ctx, ch) }); err != nil {
		t.Fatal(err)
	}
	return id
}

func wantBalances(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		a, err := s.Account(context.Background(), fmt.Sprint("acct-", i))
		if err != nil || a.Balance != int64(100+i) {
			t.Fatalf("account %d after recovery: %+v, %v; want balance %d", i, a, err, 100+i)
		}
	}
}

// TestRedoRecovery: batches written and answered but not yet committed by
// SQLite when the process dies are in the database when it opens again,
// also when the log ends in a torn record.
func TestRedoRecovery(t *testing.T) {
	for _, tail := range []string{"", "torn"} {
		t.Run("tail="+tail, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			stopBackground(s)
			for i := range 5 {
				deposit(t, s, i, int64(100+i))
			}
			if s.tx == nil || s.redo.size() == 0 {
				t.Fatal("the batches were committed before the crash: nothing to recover")
			}
			crash(t, s)
			if tail == "torn" {
				f, err := os.OpenFile(path+"-redo", os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 5})
				f.Close()
			}
			s, err = Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			wantBalances(t, s, 5)
			// Replayed once: a second recovery finds nothing to do.
			deposit(t, s, 5, 105)
			if err := s.flush(); err != nil {
				t.Fatal(err)
			}
			crash(t, s)
			if s, err = Open(path); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			wantBalances(t, s, 6)
			if v, err := s.Verify(context.Background()); err != nil || len(v) > 0 {
				t.Fatalf("verify: %v %v", v, err)
			}
		})
	}
}

// TestRedoSharedProcess: a second process (here a second Open) does not
// own the log; its writes commit at once, between the owner's commits.
// When the owner dies, the next write takes the log over and first
// brings the database up to date from it.
func TestRedoSharedProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	owner, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if !owner.redo.owner || other.redo.owner {
		t.Fatalf("owners: first %v, second %v", owner.redo.owner, other.redo.owner)
	}
	deposit(t, owner, 0, 100)
	err = other.Write(ctx, func(tx ledger.Tx) error {
		return tx.CreateMerchant(ctx, ledger.Merchant{ID: "m1", Name: "shop"})
	})
	if err != nil {
		t.Fatal(err)
	}
	stopBackground(owner)
	deposit(t, owner, 1, 101)
	crash(t, owner)
	// The owner's last batch is only in its log.
	if _, err := other.Account(ctx, "acct-1"); err == nil {
		t.Fatal("the crashed owner's last batch was committed")
	}
	deposit(t, other, 2, 102)
	if !other.redo.owner {
		t.Fatal("the second process did not take the log over")
	}
	wantBalances(t, other, 3)
	var n int
	if err := other.r.QueryRow(`SELECT count(*) FROM merchants WHERE id = 'm1'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the second process's merchant: %d, %v", n, err)
	}
}

// FuzzRedoLog: whatever a redo log file holds, reading it gives records
// or an error, never a panic, and a record's statements decode or fail.
func FuzzRedoLog(f *testing.F) {
	t := &sqliteTx{}
	t.record(qAccounts, []any{`[["w1",100,0]]`})
	t.record(qJournals, []any{"jr1", "deposit", "", nil, int64(-5), 3, "memo"})
	rec := func(seq uint64, body []byte) []byte {
		b := make([]byte, 8, 20+len(body))
		b = binary.LittleEndian.AppendUint64(b, seq)
		b = binary.LittleEndian.AppendUint32(b, queriesPrint)
		b = append(b, body...)
		binary.LittleEndian.PutUint32(b, uint32(len(b)-8))
		binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
		return b
	}
	f.Add(append(rec(1, t.redo), rec(2, t.redo)...))
	f.Add(append(rec(7, t.redo), rec(3, nil)...))
	f.Add(rec(1, []byte{7, 1, 2, 200}))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _, err := parseRecords(data, 0)
		if err != nil {
			return
		}
		for _, r := range recs {
			stmts, err := decodeRecord(r.body)
			for _, s := range stmts {
				if err == nil && (s.query < 0 || s.query >= len(hotQueries)) {
					t.Fatalf("statement of query %d", s.query)
				}
			}
		}
	})
}

// TestRedoConstraint: a batch that breaks a constraint rolls back the
// writer's whole transaction; the batches before it are applied again
// from the log, and the batch fails as a conflict.
func TestRedoConstraint(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		deposit(t, s, i, int64(100+i))
	}
	dup := &ledger.Changes{NewAccounts: []ledger.Account{{ID: "acct-1", Kind: ledger.KindWallet, Currency: "EUR", Owner: "o"}}}
	err = s.Write(ctx, func(tx ledger.Tx) error { return tx.Apply(ctx, dup) })
	if !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("a second account acct-1: %v, want a conflict", err)
	}
	deposit(t, s, 3, 103)
	wantBalances(t, s, 4)
}

// TestReadLatest: a point read or an account's history sees the batches
// SQLite has not committed yet, without holding the writer up to commit
// them.
func TestReadLatest(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stopBackground(s)
	deposit(t, s, 0, 100)
	deposit(t, s, 1, 101)
	wantBalances(t, s, 2)
	h, err := s.History(context.Background(), "acct-1", 10)
	if err != nil || len(h) != 1 || h[0].JournalID != "jr-acct-1" || h[0].Amount != 101 {
		t.Errorf("history of acct-1: %+v, %v", h, err)
	}
	s.mu.Lock()
	open := s.tx != nil
	s.mu.Unlock()
	if !open {
		t.Error("reading an account or its history committed the writer's transaction")
	}
}
