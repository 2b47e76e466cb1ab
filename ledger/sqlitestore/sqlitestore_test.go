package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"tappos/ledger"
	"tappos/ledger/storetest"
)

func open(t *testing.T) ledger.Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, open)
}

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for range 2 {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

// TestIdempotencyKeyBytes: the writer's batched reads find keys byte for
// byte, also ones that are not UTF-8, among others.
func TestIdempotencyKeyBytes(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	keys := []ledger.IdemKey{{Scope: "k1", Key: "\xff\x00a"}, {Scope: "k1", Key: "plain"}, {Scope: "k2", Key: "«☃»"}}
	var ch ledger.Changes
	for i, k := range keys {
		ch.Idempotency = append(ch.Idempotency, ledger.IdemRecord{IdemKey: k, Hash: fmt.Sprint("h", i),
			Result: ledger.Result{Outcome: ledger.OutcomeOK, Amount: int64(i + 1)}})
	}
	if err := s.Write(ctx, func(tx ledger.Tx) error { return tx.Apply(ctx, &ch) }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keys []ledger.IdemKey
		want int
	}{
		{"not utf-8", keys[:1], 1},
		{"all", keys, 3},
		{"other bytes", []ledger.IdemKey{{Scope: "k1", Key: "\ufffd\x00a"}, {Scope: "k2", Key: "plain"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []ledger.IdemRecord
			err := s.Write(ctx, func(tx ledger.Tx) (err error) {
				got, err = tx.Idempotency(ctx, tt.keys)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("found %d records, want %d", len(got), tt.want)
			}
			for _, r := range got {
				i := slices.Index(keys, r.IdemKey)
				if i < 0 || r.Hash != fmt.Sprint("h", i) || r.Result.Amount != int64(i+1) {
					t.Errorf("record %+v does not match what was written", r)
				}
			}
		})
	}
}

// TestWALRestarts: when checkpoints cannot keep up with the writer (here a
// reader's old snapshot holds one back, as a never-idle writer would),
// the writer starts the WAL over instead of appending to it forever.
func TestWALRestarts(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.restartFrames = 8
	ctx := context.Background()
	merchant := func(i int) {
		t.Helper()
		err := s.Write(ctx, func(tx ledger.Tx) error {
			return tx.CreateMerchant(ctx, ledger.Merchant{ID: fmt.Sprint("m", i), Name: "shop"})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	merchant(0)
	old, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := old.QueryRow(`SELECT count(*) FROM merchants`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		merchant(i)
	}
	s.checkpoint() // copies nothing past the old snapshot
	old.Rollback()
	before := s.walFrames.Load()
	merchant(21)
	s.checkpoint()
	if after := s.walFrames.Load(); before <= s.restartFrames || after >= before {
		t.Errorf("WAL of %d frames, then %d after one more write: not started over", before, after)
	}
}

// TestMigrateOverdraft: migration 6 gives an overdraft booked before it
// its shortfall on the authorization, so that refunds recover it, and
// the books still verify.
func TestMigrateOverdraft(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	e := storetest.Setup(t, s, 1, 1_000)
	r := e.Auth(t, ledger.AuthOffline, "o1", 1_500, storetest.Tap(t, e.Cards[0], 1_500, 0x40))
	if r.Overdraft != 500 {
		t.Fatalf("offline booking %+v, want an overdraft of 500", r)
	}
	e.Ledger.Close()
	// Back to the schema before migration 6.
	err = s.Exec(ctx, `DROP INDEX overdrafts_auth;
ALTER TABLE overdrafts DROP COLUMN recovered;
ALTER TABLE authorizations DROP COLUMN overdraft;
DELETE FROM schema_migrations WHERE version = 6`)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := s.Authorization(ctx, r.AuthorizationID)
	if err != nil || a.Overdraft != 500 {
		t.Errorf("after migration: overdraft %d, %v; want 500", a.Overdraft, err)
	}
	v, err := s.Verify(ctx)
	if err != nil || len(v) > 0 {
		t.Errorf("verify: %+v %v", v, err)
	}
}

// TestPingBroken: a store that could not bring its database in line with
// its redo log refuses every write, and says so to /readyz.
func TestPingBroken(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	s.mu.Lock()
	s.broken = errors.New("bringing the database up to date from its redo log: disk gone")
	s.mu.Unlock()
	if err := s.Ping(context.Background()); err == nil {
		t.Error("a broken store answers Ping")
	}
}
