// Package sqlitestore keeps the ledger in an SQLite database (WAL mode,
// synchronous=FULL) with a redo log beside it (the database's path with
// "-redo" appended): a batch of authorizations is durable once its writes
// are synced to the log, and SQLite commits many batches at a time (see
// redoLog). One connection writes; readers use their own connections.
//
// The first process to open the database owns the log. Others (ledgerd's
// admin commands, a second ledgerd) commit each write at once, in
// between the owner's commits.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"tappos/ledger"
	"tappos/ledger/internal/dbrow"
	"tappos/ledger/internal/sqlcheck"
)

// Store is a [ledger.Store] in an SQLite file.
type Store struct {
	w      *sql.DB // one connection, BEGIN IMMEDIATE
	r      *sql.DB
	redo   *redoLog
	flushc chan struct{}        // asks the flusher to commit now
	stmts  map[string]*sql.Stmt // prepared once on the writer's connection
	chunks map[string][]string  // multi-row forms of the INSERTs, by chunkSizes
	stop   chan struct{}
	done   chan struct{}

	// SQLite starts the WAL over only when a write begins after a
	// checkpoint copied all of it. A writer that is never idle outruns
	// the passive checkpoints, and its WAL would grow without bound (355
	// MB after 15,000 authorizations at full load), each frame appended
	// to the file costing more than one written over. So past
	// restartFrames the writer checkpoints itself (see writeLocked).
	walFrames     atomic.Int64 // the WAL's length at the last checkpoint
	restartFrames int64

	// mu serializes the writer: tx is the transaction it keeps open
	// across batches, nil when everything is committed. broken is set
	// when the database could not be brought back in line with the redo
	// log: nothing more may be written.
	mu     sync.Mutex
	tx     *sql.Tx
	broken error

	closeOnce sync.Once
}

// writerDriver is go-sqlite3 with automatic checkpoints off: the writer
// commits only its own transaction, and a background goroutine copies the
// WAL back into the database (see checkpoints).
//
// Its temporary files are kept in memory. A multi-row INSERT that could
// fail a constraint halfway keeps a statement journal, the pages it
// changed as they were, and past 64 KiB SQLite spilled that journal to a
// temporary file: half of the bytes the writer wrote (57 KB an
// authorization, 28 KB without), and an eighth of its CPU.
const writerDriver = "sqlite3-ledger-writer"

var registerOnce sync.Once

func registerWriter() {
	registerOnce.Do(func() {
		sql.Register(writerDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec("PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY", nil)
			return err
		}})
	})
}

// checkpointEvery is how often the WAL is copied back into the database.
// A page written by many commits in between is copied once: at full load,
// once a second cost less than four times a second (3,124–3,521 against
// 2,713–3,205 authorizations/s in alternating runs).
const checkpointEvery = time.Second

// restartFrames is the WAL length, in frames (pages), past which the
// writer restarts it (see Store.restartFrames).
const restartFrames = 32768 // 128 MiB of 4 KiB pages

// flushEvery is how long batches stay in the redo log before SQLite
// commits them, and flushBytes how much of the log makes it commit
// sooner. Each commit holds up the writer while it writes the pages the
// batches changed (~11 ms at 100 ms), so it must stay short; but each
// writes the pages of every terminal, card and wallet that paid since
// the last. In eight alternating runs, 200 ms gave 4,698 authorizations/s
// against 4,323 at 100 ms, with the same p99.
const (
	flushEvery = 200 * time.Millisecond
	flushBytes = 4 << 20
)

// background commits the writer's transaction every flushEvery and when
// asked, and runs passive checkpoints, which never block the writer, until
// Close.
func (s *Store) background() {
	defer close(s.done)
	f := time.NewTicker(flushEvery)
	defer f.Stop()
	c := time.NewTicker(checkpointEvery)
	defer c.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-f.C:
		case <-s.flushc:
		case <-c.C:
			s.checkpoint()
			continue
		}
		// A commit that fails is recovered from the log (see
		// commitLocked); the next write or read meets any lasting error.
		s.flush()
	}
}

// checkpoint copies what it can of the WAL into the database without
// waiting for the writer, and notes the WAL's length.
func (s *Store) checkpoint() {
	var busy, frames, done int64
	if s.r.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done) == nil {
		s.walFrames.Store(frames)
	}
}

// Open opens or creates the database at path and brings its schema up to
// date.
func Open(path string) (*Store, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_cache_size", "-65536") // KiB: keep the hot index pages in memory
	dsn := "file:" + path + "?" + q.Encode()
	registerWriter()
	w, err := sql.Open(writerDriver, dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite3", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	redo, err := openRedo(path + "-redo")
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &Store{w: w, r: r, redo: redo, stmts: make(map[string]*sql.Stmt), chunks: make(map[string][]string),
		flushc: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), restartFrames: restartFrames}
	go s.background()
	if err := s.migrate(); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, err
	}
	if s.redo.owner {
		s.mu.Lock()
		err = s.recoverLocked(nil)
		s.mu.Unlock()
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
	}
	return s, nil
}

// prepare prepares the writer's hot statements once, on its only
// connection; transactions then reuse them without preparing again.
func (s *Store) prepare() error {
	qs := hotQueries
	for _, q := range hotQueries {
		if !strings.HasPrefix(q, "INSERT") {
			continue
		}
		for _, n := range chunkSizes {
			m := multiRow(q, n)
			s.chunks[q] = append(s.chunks[q], m)
			qs = append(qs, m)
		}
	}
	for _, q := range qs {
		st, err := s.w.Prepare(q)
		if err != nil {
			return fmt.Errorf("preparing %q: %w", q, err)
		}
		s.stmts[q] = st
	}
	return nil
}

// chunkSizes are the row counts of the multi-row forms of the INSERTs, in
// decreasing order: a batch's rows go in as few statements as possible,
// at most one of each size after the first.
var chunkSizes = []int{32, 16, 8, 4, 2}

// multiRow turns an INSERT of one row into an INSERT of n rows.
func multiRow(q string, n int) string {
	i := strings.LastIndex(q, "VALUES ") + len("VALUES ")
	return q[:i] + strings.Repeat(q[i:]+", ", n-1) + q[i:]
}

// stmt returns a statement for a query in the transaction.
func (t *sqliteTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := t.s.stmts[query]; st != nil {
		return t.tx.StmtContext(ctx, st), nil
	}
	return t.tx.PrepareContext(ctx, query)
}

func (s *Store) migrate() error {
	ctx := context.Background()
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	var have int
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this ledgerd (%d)", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?)`, v, time.Now().UnixMicro()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}

// Close commits what the redo log holds and closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	err := s.commitLocked()
	s.mu.Unlock()
	// A last full checkpoint leaves a small WAL behind.
	s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	for _, st := range s.stmts {
		st.Close()
	}
	return errors.Join(err, s.r.Close(), s.w.Close(), s.redo.close())
}

// Ping implements [ledger.Store].
func (s *Store) Ping(ctx context.Context) error {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil {
		// Every write fails until an operator restarts ledgerd: it is
		// not ready, though the file still answers.
		return broken
	}
	return s.r.PingContext(ctx)
}

// Write implements [ledger.Store]. A batch that only applies
// [ledger.Changes] is durable once the redo log is synced; any other
// write commits at once.
func (s *Store) Write(ctx context.Context, fn func(ledger.Tx) error) error {
	durable, err := s.WriteAsync(ctx, fn)
	if err != nil {
		return err
	}
	return durable()
}

// WriteAsync implements [ledger.PipelinedStore].
func (s *Store) WriteAsync(ctx context.Context, fn func(ledger.Tx) error) (func() error, error) {
	s.mu.Lock()
	seq, err := s.writeLocked(ctx, fn)
	if seq == 0 {
		// A batch that wrote nothing may have read what the batches
		// before it wrote: its answers wait for theirs.
		seq = s.redo.last
	}
	size := s.redo.size()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if size > flushBytes {
		select {
		case s.flushc <- struct{}{}:
		default:
		}
	}
	return func() error { return s.redo.wait(seq) }, nil
}

// writeLocked runs fn in the writer's transaction and returns the
// sequence number of its redo record, 0 if it has none.
func (s *Store) writeLocked(ctx context.Context, fn func(ledger.Tx) error) (uint64, error) {
	if s.broken != nil {
		return 0, s.broken
	}
	for !s.redo.owner {
		done, err := s.writeShared(ctx, fn)
		if done || err != nil {
			return 0, err
		}
	}
	if s.tx == nil {
		if s.walFrames.Load() > s.restartFrames {
			// Between transactions, the writer's own checkpoint has only
			// the frames since the last passive one left to copy, and then
			// the next write starts the WAL over. If it cannot finish (a
			// reader holds an old snapshot), the next passive checkpoint
			// says so and a later write tries again: nothing is lost
			// either way.
			s.walFrames.Store(0)
			s.w.Exec("PRAGMA wal_checkpoint(RESTART)")
		}
		// Not ctx: the transaction outlives this request.
		tx, err := s.w.Begin()
		if err != nil {
			return 0, fmt.Errorf("beginning transaction: %w", err)
		}
		s.tx = tx
	}
	// A batch that fails rolls back the whole transaction, and the
	// batches before it are applied again from the log: failures are rare,
	// and a savepoint per batch would copy every page it changes.
	t := &sqliteTx{tx: s.tx, s: s}
	if err := fn(t); err != nil {
		return 0, s.recoverLocked(err)
	}
	if t.other {
		return 0, s.commitLocked()
	}
	if len(t.redo) == 0 {
		return 0, nil
	}
	seq := s.redo.last + 1
	if _, err := s.tx.Exec("UPDATE redo SET seq = ?", seq); err != nil {
		return 0, s.recoverLocked(fmt.Errorf("writing redo sequence: %w", err))
	}
	if _, err := s.redo.append(t.redo); err != nil {
		return 0, s.recoverLocked(err)
	}
	return seq, nil
}

// writeShared runs fn in a transaction of its own and commits it, unless
// the log's owner has died: then it takes the log over, brings the
// database up to date from it, and reports that it did not write.
func (s *Store) writeShared(ctx context.Context, fn func(ledger.Tx) error) (done bool, err error) {
	// BEGIN IMMEDIATE waits for the owner to commit its batches.
	tx, err := s.w.Begin()
	if err != nil {
		return false, fmt.Errorf("beginning transaction: %w", err)
	}
	alive, err := s.redo.ownerAlive()
	if err != nil || !alive {
		tx.Rollback()
		if err != nil {
			return false, err
		}
		if _, err := s.redo.own(); err != nil {
			return false, err
		}
		if s.redo.owner {
			return false, s.recoverLocked(nil)
		}
		return false, nil // another process took it over first
	}
	if err := fn(&sqliteTx{tx: tx, s: s}); err != nil {
		tx.Rollback()
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("committing: %w", mapErr(err))
	}
	return true, nil
}

// A queryer is the database or the writer's open transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readLatest runs a short read, fn, so that it sees every batch written:
// in the writer's open transaction if there is one, rather than holding
// the writer up to commit it. It returns once what fn saw is durable.
func (s *Store) readLatest(fn func(queryer) error) error {
	s.mu.Lock()
	if s.tx == nil {
		s.mu.Unlock()
		return fn(s.r)
	}
	err := fn(s.tx)
	seq := s.redo.last
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.redo.wait(seq)
}

// flush commits the writer's transaction, so that readers see every
// batch written. Long reads (verify, counts) use it.
func (s *Store) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLocked()
}

// commitLocked commits the writer's transaction, if one is open, and
// starts the redo log over.
func (s *Store) commitLocked() error {
	if s.tx == nil {
		return nil
	}
	err := s.tx.Commit()
	s.tx = nil
	if err != nil {
		return s.recoverLocked(fmt.Errorf("committing: %w", mapErr(err)))
	}
	s.redo.committed()
	return nil
}

// recoverLocked rolls back the writer's transaction, if one is open, and
// commits again what the redo log holds and the database lacks. It
// returns cause, or why recovery failed.
func (s *Store) recoverLocked(cause error) error {
	if s.tx != nil {
		s.tx.Rollback()
		s.tx = nil
	}
	if err := s.replayLocked(); err != nil {
		s.broken = fmt.Errorf("bringing the database up to date from its redo log: %w", err)
		return errors.Join(cause, s.broken)
	}
	s.redo.committed()
	return cause
}

// replayLocked commits the redo log's records that the database lacks.
func (s *Store) replayLocked() error {
	var committed uint64
	if err := s.w.QueryRow("SELECT seq FROM redo").Scan(&committed); err != nil {
		return fmt.Errorf("reading redo sequence: %w", err)
	}
	recs, err := s.redo.records(committed)
	if err != nil || len(recs) == 0 {
		return err
	}
	ctx := context.Background()
	tx, err := s.w.Begin()
	if err != nil {
		return err
	}
	t := &sqliteTx{tx: tx, s: s, replay: true}
	for _, r := range recs {
		if err := t.replayRecord(ctx, r.body); err != nil {
			tx.Rollback()
			return fmt.Errorf("redo record %d: %w", r.seq, err)
		}
	}
	if _, err := tx.Exec("UPDATE redo SET seq = ?", recs[len(recs)-1].seq); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// mapErr turns a uniqueness violation into ledger.ErrConflict.
func mapErr(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey) {
		return fmt.Errorf("%w: %v", ledger.ErrConflict, err)
	}
	return err
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// The writer's queries, prepared once (see prepare). The reads take all
// of a batch's keys at once, as a JSON array of hex strings (see
// [hexed]), and look each one up in its index: one statement a batch
// instead of one a key.
const (
	qIdem              = `SELECT scope, key, hash, result, created_at FROM idempotency WHERE (scope, key) IN (SELECT CAST(unhex(value->>0) AS TEXT), CAST(unhex(value->>1) AS TEXT) FROM json_each(?))`
	qCred              = `SELECT ` + credCols + ` FROM credentials WHERE token IN (SELECT CAST(unhex(value) AS TEXT) FROM json_each(?))`
	qAcct              = `SELECT ` + acctCols + ` FROM accounts WHERE id IN (SELECT CAST(unhex(value) AS TEXT) FROM json_each(?))`
	qAuthByID          = `SELECT ` + authRead + ` FROM authorizations WHERE id IN (SELECT CAST(unhex(value) AS TEXT) FROM json_each(?))`
	qAuthByTxn         = `SELECT ` + authRead + ` FROM authorizations WHERE (terminal_id, txn_id) IN (SELECT CAST(unhex(value->>0) AS TEXT), CAST(unhex(value->>1) AS TEXT) FROM json_each(?))`
	qAuthByATC         = `SELECT ` + authRead + ` FROM authorizations WHERE atc_key IN (SELECT CAST(unhex(value) AS TEXT) FROM json_each(?))`
	qNewAccounts       = `INSERT INTO accounts (` + acctCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qAccounts          = `UPDATE accounts SET balance = v.value->>1, held = v.value->>2 FROM json_each(?) AS v WHERE accounts.id = v.value->>0`
	qDeltas            = `UPDATE accounts SET balance = balance + v.value->>1 FROM json_each(?) AS v WHERE accounts.id = v.value->>0`
	qCredentials       = `UPDATE credentials SET last_atc = v.value->>1 FROM json_each(?) AS v WHERE credentials.id = v.value->>0`
	qNewAuthorizations = `INSERT INTO authorizations (` + authCols + `, atc_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qAuthorizations    = `UPDATE authorizations SET status = ?, reason = ?, held = ?, captured = ?, refunded = ?, refund_settled = ?, refund_batch_id = ?, refund_batch_amount = ?, batch_id = ?, updated_at = ?, atc_key = ? WHERE id = ?`
	qJournals          = `INSERT INTO journals (id, kind, auth_id, merchant_id, channel, memo, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	qOverdrafts        = `INSERT INTO overdrafts (id, auth_id, wallet_id, amount, currency, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	qRecoveries        = `UPDATE overdrafts SET recovered = recovered + v.value->>1, status = CASE WHEN recovered + v.value->>1 >= amount THEN 'recovered' ELSE status END FROM json_each(?) AS v WHERE overdrafts.auth_id = v.value->>0`
	qIdempotencyKeys   = `INSERT INTO idempotency (scope, key, hash, result, created_at) VALUES (?, ?, ?, ?, ?)`
	qEntries           = `INSERT INTO entries (journal_id, leg, account_id, amount, currency) VALUES (?, ?, ?, ?, ?)`
)

// queryIndex is each hot query's place in hotQueries.
var queryIndex = func() map[string]int {
	m := make(map[string]int, len(hotQueries))
	for i, q := range hotQueries {
		m[q] = i
	}
	return m
}()

var hotQueries = []string{qIdem, qCred, qAcct, qAuthByID, qAuthByTxn, qAuthByATC, qNewAccounts, qAccounts, qDeltas, qCredentials, qNewAuthorizations, qAuthorizations, qJournals, qOverdrafts, qRecoveries, qIdempotencyKeys, qEntries}

type sqliteTx struct {
	tx *sql.Tx
	s  *Store
	// redo records the statements Apply runs, for the redo log, unless
	// replay is set; other is set by any other write, which the redo log
	// does not carry.
	redo   []byte
	replay bool
	other  bool
}

// record adds a statement to the batch's redo record: the query's place
// in hotQueries, then its arguments, each a kind byte and its value.
func (t *sqliteTx) record(query string, args []any) error {
	if t.replay {
		return nil
	}
	t.redo = binary.AppendUvarint(t.redo, uint64(queryIndex[query]))
	t.redo = binary.AppendUvarint(t.redo, uint64(len(args)))
	for _, a := range args {
		switch v := a.(type) {
		case nil:
			t.redo = append(t.redo, argNull)
		case int64:
			t.redo = binary.AppendVarint(append(t.redo, argInt), v)
		case int:
			t.redo = binary.AppendVarint(append(t.redo, argInt), int64(v))
		case string:
			t.redo = binary.AppendUvarint(append(t.redo, argText), uint64(len(v)))
			t.redo = append(t.redo, v...)
		default:
			return fmt.Errorf("redo: cannot record a %T", a)
		}
	}
	return nil
}

// The kinds of recorded arguments.
const (
	argNull byte = iota
	argInt
	argText
)

var errBadRecord = errors.New("malformed redo record")

// A statement is one recorded statement: its query's place in
// hotQueries and its arguments.
type statement struct {
	query int
	args  []any
}

// decodeRecord returns the statements of a redo record's body.
func decodeRecord(body []byte) ([]statement, error) {
	next := func() (uint64, error) {
		v, n := binary.Uvarint(body)
		if n <= 0 {
			return 0, errBadRecord
		}
		body = body[n:]
		return v, nil
	}
	var out []statement
	for len(body) > 0 {
		q, err := next()
		if err != nil {
			return nil, err
		}
		n, err := next()
		if err != nil || q >= uint64(len(hotQueries)) || n > uint64(len(body)) {
			return nil, errBadRecord
		}
		st := statement{query: int(q), args: make([]any, n)}
		for i := range st.args {
			if len(body) == 0 {
				return nil, errBadRecord
			}
			kind := body[0]
			body = body[1:]
			switch kind {
			case argNull:
			case argInt:
				v, m := binary.Varint(body)
				if m <= 0 {
					return nil, errBadRecord
				}
				st.args[i], body = v, body[m:]
			case argText:
				l, err := next()
				if err != nil || l > uint64(len(body)) {
					return nil, errBadRecord
				}
				st.args[i], body = string(body[:l]), body[l:]
			default:
				return nil, errBadRecord
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// replayRecord runs the statements of a redo record again.
func (t *sqliteTx) replayRecord(ctx context.Context, body []byte) error {
	stmts, err := decodeRecord(body)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		st, err := t.stmt(ctx, hotQueries[s.query])
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, s.args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqliteTx) Idempotency(ctx context.Context, keys []ledger.IdemKey) ([]ledger.IdemRecord, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	pairs := make([][2]string, len(keys))
	for i, k := range keys {
		pairs[i] = [2]string{hex.EncodeToString([]byte(k.Scope)), hex.EncodeToString([]byte(k.Key))}
	}
	var out []ledger.IdemRecord
	err := t.query(ctx, qIdem, pairs, func(rows *sql.Rows) error {
		var r ledger.IdemRecord
		var res string
		var created int64
		if err := rows.Scan(&r.Scope, &r.Key, &r.Hash, &res, &created); err != nil {
			return err
		}
		r.CreatedAt = dbrow.FromMicros(created)
		if err := json.Unmarshal([]byte(res), &r.Result); err != nil {
			return fmt.Errorf("decoding stored result: %w", err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// hexed hex-encodes the keys of a read: JSON would turn bytes that are
// not UTF-8 (an Idempotency-Key header may hold any) into U+FFFD, and the
// key would not be found.
func hexed(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = hex.EncodeToString([]byte(k))
	}
	return out
}

// query runs one of the writer's reads with keys as its JSON array
// parameter, calling row for each row.
func (t *sqliteTx) query(ctx context.Context, query string, keys any, row func(*sql.Rows) error) error {
	arg, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	st, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, string(arg))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

const credCols = `id, wallet_id, kind, token, display, last_atc, status, created_at`

func scanCred(sc interface{ Scan(...any) error }) (ledger.Credential, error) {
	var c ledger.Credential
	var created int64
	err := sc.Scan(&c.ID, &c.WalletID, &c.Kind, &c.Token, &c.Display, &c.LastATC, &c.Status, &created)
	c.CreatedAt = dbrow.FromMicros(created)
	return c, err
}

func (t *sqliteTx) Credentials(ctx context.Context, tokens []string) ([]ledger.Credential, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	var out []ledger.Credential
	err := t.query(ctx, qCred, hexed(tokens), func(rows *sql.Rows) error {
		c, err := scanCred(rows)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// authCols are the columns a new authorization is written with, authRead
// the ones read (the refund settlement columns start empty).
const (
	authCols = `id, kind, channel, merchant_id, terminal_id, txn_id, wallet_id, credential_id, masked_pan,
	atc, amount, currency, status, reason, approval_code, held, captured, refunded, expires_at, batch_id,
	created_at, updated_at, overdraft`
	authRead = authCols + `, refund_settled, refund_batch_id, refund_batch_amount`
)

func scanAuth(sc interface{ Scan(...any) error }) (ledger.Authorization, error) {
	var a ledger.Authorization
	var exp, created, updated int64
	err := sc.Scan(&a.ID, &a.Kind, &a.Channel, &a.MerchantID, &a.TerminalID, &a.TxnID, &a.WalletID,
		&a.CredentialID, &a.MaskedPAN, &a.ATC, &a.Amount, &a.Currency, &a.Status, &a.Reason,
		&a.ApprovalCode, &a.Held, &a.Captured, &a.Refunded, &exp, &a.BatchID, &created, &updated,
		&a.Overdraft, &a.RefundSettled, &a.RefundBatchID, &a.RefundBatchAmount)
	a.ExpiresAt, a.CreatedAt, a.UpdatedAt = dbrow.FromMicros(exp), dbrow.FromMicros(created), dbrow.FromMicros(updated)
	return a, err
}

func (t *sqliteTx) Authorizations(ctx context.Context, q ledger.AuthQuery) ([]ledger.Authorization, error) {
	seen := make(map[string]bool)
	var out []ledger.Authorization
	add := func(rows *sql.Rows) error {
		a, err := scanAuth(rows)
		if err != nil {
			return err
		}
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
		return nil
	}
	txns := make([][2]string, len(q.Txns))
	for i, r := range q.Txns {
		txns[i] = [2]string{hex.EncodeToString([]byte(r.TerminalID)), hex.EncodeToString([]byte(r.TxnID))}
	}
	for _, l := range []struct {
		query string
		n     int
		keys  any
	}{{qAuthByID, len(q.IDs), hexed(q.IDs)}, {qAuthByTxn, len(txns), txns}, {qAuthByATC, len(q.ATCKeys), hexed(q.ATCKeys)}} {
		if l.n == 0 {
			continue
		}
		if err := t.query(ctx, l.query, l.keys, add); err != nil {
			return nil, err
		}
	}
	for _, u := range q.Unsettled {
		rows, err := t.tx.QueryContext(ctx, `SELECT `+authRead+` FROM authorizations
			WHERE terminal_id = ? AND (? = '' OR merchant_id = ?) AND status IN ('approved', 'captured')
			AND (batch_id = '' OR refunded > refund_settled)`, u.TerminalID, u.MerchantID, u.MerchantID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			a, err := scanAuth(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if !seen[a.ID] {
				seen[a.ID] = true
				out = append(out, a)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const acctCols = `id, kind, currency, owner, balance, held, floor, tx_limit, created_at`

func scanAcct(sc interface{ Scan(...any) error }) (ledger.Account, error) {
	var a ledger.Account
	var floor sql.NullInt64
	var created int64
	err := sc.Scan(&a.ID, &a.Kind, &a.Currency, &a.Owner, &a.Balance, &a.Held, &floor, &a.TxLimit, &created)
	if floor.Valid {
		a.Floor = &floor.Int64
	}
	a.CreatedAt = dbrow.FromMicros(created)
	return a, err
}

// HouseAccounts implements [ledger.Tx]. SQLite has one writer, so
// reading locks nothing either way.
func (t *sqliteTx) HouseAccounts(ctx context.Context, ids []string) ([]ledger.Account, error) {
	return t.Accounts(ctx, ids)
}

func (t *sqliteTx) Accounts(ctx context.Context, ids []string) ([]ledger.Account, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []ledger.Account
	err := t.query(ctx, qAcct, hexed(ids), func(rows *sql.Rows) error {
		a, err := scanAcct(rows)
		if err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// execJSON runs a statement once for all rows of args, passed as one
// JSON array of arrays. The ledger's own ids and integers are all it
// carries, so JSON's UTF-8 needs no hex here.
func (t *sqliteTx) execJSON(ctx context.Context, query string, n int, args func(i int) []any) error {
	if n == 0 {
		return nil
	}
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = args(i)
	}
	arg, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	st, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	if _, err = st.ExecContext(ctx, string(arg)); err != nil {
		return mapErr(err)
	}
	return t.record(query, []any{string(arg)})
}

// execMany runs one statement for each row of args.
func (t *sqliteTx) execMany(ctx context.Context, query string, n int, args func(i int) []any) error {
	if n == 0 {
		return nil
	}
	i := 0
	for k, q := range t.s.chunks[query] {
		size := chunkSizes[k]
		if n-i < size {
			continue
		}
		st, err := t.stmt(ctx, q)
		if err != nil {
			return err
		}
		for ; n-i >= size; i += size {
			var all []any
			rows := make([][]any, 0, size)
			for j := i; j < i+size; j++ {
				rows = append(rows, args(j))
				all = append(all, rows[len(rows)-1]...)
			}
			if _, err := st.ExecContext(ctx, all...); err != nil {
				return mapErr(err)
			}
			for _, r := range rows {
				if err := t.record(query, r); err != nil {
					return err
				}
			}
		}
	}
	if i == n {
		return nil
	}
	st, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	for ; i < n; i++ {
		a := args(i)
		if _, err := st.ExecContext(ctx, a...); err != nil {
			return mapErr(err)
		}
		if err := t.record(query, a); err != nil {
			return err
		}
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (t *sqliteTx) Apply(ctx context.Context, c *ledger.Changes) error {
	err := t.execJSON(ctx, qAccounts, len(c.Accounts), func(i int) []any {
		a := c.Accounts[i]
		return []any{a.ID, a.Balance, a.Held}
	})
	if err != nil {
		return fmt.Errorf("writing accounts: %w", err)
	}
	err = t.execJSON(ctx, qCredentials, len(c.Credentials), func(i int) []any {
		return []any{c.Credentials[i].ID, c.Credentials[i].LastATC}
	})
	if err != nil {
		return fmt.Errorf("writing credentials: %w", err)
	}
	steps := []struct {
		what  string
		query string
		n     int
		args  func(i int) []any
	}{
		{"new accounts", qNewAccounts, len(c.NewAccounts), func(i int) []any {
			a := c.NewAccounts[i]
			var floor any
			if a.Floor != nil {
				floor = *a.Floor
			}
			return []any{a.ID, a.Kind, a.Currency, a.Owner, a.Balance, a.Held, floor, a.TxLimit, micros(a.CreatedAt)}
		}},
		{"new authorizations", qNewAuthorizations, len(c.NewAuths), func(i int) []any {
			a := c.NewAuths[i]
			return []any{a.ID, a.Kind, a.Channel, a.MerchantID, a.TerminalID, a.TxnID, a.WalletID, a.CredentialID,
				a.MaskedPAN, a.ATC, a.Amount, a.Currency, a.Status, a.Reason, a.ApprovalCode, a.Held, a.Captured,
				a.Refunded, micros(a.ExpiresAt), a.BatchID, micros(a.CreatedAt), micros(a.UpdatedAt), a.Overdraft, nullable(a.ATCKey())}
		}},
		{"authorizations", qAuthorizations, len(c.Auths), func(i int) []any {
			a := c.Auths[i]
			return []any{a.Status, a.Reason, a.Held, a.Captured, a.Refunded, a.RefundSettled, a.RefundBatchID, a.RefundBatchAmount, a.BatchID, micros(a.UpdatedAt), nullable(a.ATCKey()), a.ID}
		}},
		{"journals", qJournals, len(c.Journals), func(i int) []any {
			j := c.Journals[i]
			return []any{j.ID, j.Kind, j.AuthID, j.MerchantID, j.Channel, j.Memo, micros(j.CreatedAt)}
		}},
		{"overdrafts", qOverdrafts, len(c.Overdrafts), func(i int) []any {
			o := c.Overdrafts[i]
			return []any{o.ID, o.AuthID, o.WalletID, o.Amount, o.Currency, o.Status, micros(o.CreatedAt)}
		}},
		{"idempotency keys", qIdempotencyKeys, len(c.Idempotency), func(i int) []any {
			r := c.Idempotency[i]
			res, _ := json.Marshal(r.Result) // a Result always encodes
			return []any{r.Scope, r.Key, r.Hash, string(res), micros(r.CreatedAt)}
		}},
	}
	for _, s := range steps {
		if err := t.execMany(ctx, s.query, s.n, s.args); err != nil {
			return fmt.Errorf("writing %s: %w", s.what, err)
		}
	}
	type entry struct {
		j   string
		leg int
		e   ledger.Entry
	}
	var entries []entry
	for _, j := range c.Journals {
		for i, e := range j.Entries {
			entries = append(entries, entry{j.ID, i, e})
		}
	}
	err = t.execMany(ctx, qEntries, len(entries), func(i int) []any {
		e := entries[i]
		return []any{e.j, e.leg, e.e.AccountID, e.e.Amount, e.e.Currency}
	})
	if err != nil {
		return fmt.Errorf("writing entries: %w", err)
	}
	// After the new overdrafts: a refund may recover one booked in the
	// same batch.
	err = t.execJSON(ctx, qRecoveries, len(c.Recoveries), func(i int) []any {
		return []any{c.Recoveries[i].AuthID, c.Recoveries[i].Amount}
	})
	if err != nil {
		return fmt.Errorf("writing overdraft recoveries: %w", err)
	}
	err = t.execJSON(ctx, qDeltas, len(c.Deltas), func(i int) []any {
		return []any{c.Deltas[i].AccountID, c.Deltas[i].Amount}
	})
	if err != nil {
		return fmt.Errorf("writing house account deltas: %w", err)
	}
	return nil
}

func (t *sqliteTx) CreateMerchant(ctx context.Context, m ledger.Merchant) error {
	t.other = true
	_, err := t.tx.ExecContext(ctx, `INSERT INTO merchants (id, name, created_at) VALUES (?, ?, ?)`, m.ID, m.Name, micros(m.CreatedAt))
	return mapErr(err)
}

func (t *sqliteTx) CreateTerminal(ctx context.Context, tm ledger.Terminal) error {
	t.other = true
	_, err := t.tx.ExecContext(ctx, `INSERT INTO terminals (id, merchant_id, name, created_at) VALUES (?, ?, ?, ?)`,
		tm.ID, tm.MerchantID, tm.Name, micros(tm.CreatedAt))
	return mapErr(err)
}

func (t *sqliteTx) CreateCredential(ctx context.Context, c ledger.Credential) error {
	t.other = true
	_, err := t.tx.ExecContext(ctx, `INSERT INTO credentials (`+credCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.WalletID, c.Kind, c.Token, c.Display, c.LastATC, c.Status, micros(c.CreatedAt))
	return mapErr(err)
}

func (t *sqliteTx) CreateAPIKey(ctx context.Context, k ledger.APIKey) error {
	t.other = true
	_, err := t.tx.ExecContext(ctx, `INSERT INTO api_keys (id, hash, role, merchant_id, terminal_id, revoked, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Hash, k.Role, k.MerchantID, k.TerminalID, k.Revoked, micros(k.CreatedAt))
	return mapErr(err)
}

func (t *sqliteTx) RevokeAPIKeys(ctx context.Context, id, terminalID string) (int64, error) {
	t.other = true
	res, err := t.tx.ExecContext(ctx, `UPDATE api_keys SET revoked = 1
		WHERE revoked = 0 AND ((? != '' AND id = ?) OR (? = '' AND ? != '' AND terminal_id = ?))`, id, id, id, terminalID, terminalID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ledger.ErrNotFound)
	}
	return err
}

// APIKey implements [ledger.Store].
func (s *Store) APIKey(ctx context.Context, hash string) (ledger.APIKey, error) {
	var k ledger.APIKey
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, hash, role, merchant_id, terminal_id, revoked, created_at FROM api_keys WHERE hash = ?`, hash).
		Scan(&k.ID, &k.Hash, &k.Role, &k.MerchantID, &k.TerminalID, &k.Revoked, &created)
	k.CreatedAt = dbrow.FromMicros(created)
	return k, notFound(err, "api key")
}

// Terminal implements [ledger.Store].
func (s *Store) Terminal(ctx context.Context, id string) (ledger.Terminal, error) {
	var t ledger.Terminal
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, merchant_id, name, created_at FROM terminals WHERE id = ?`, id).
		Scan(&t.ID, &t.MerchantID, &t.Name, &created)
	t.CreatedAt = dbrow.FromMicros(created)
	return t, notFound(err, "terminal")
}

// Authorization implements [ledger.Store].
func (s *Store) Authorization(ctx context.Context, id string) (a ledger.Authorization, err error) {
	err = s.readLatest(func(q queryer) error {
		a, err = scanAuth(q.QueryRowContext(ctx, `SELECT `+authRead+` FROM authorizations WHERE id = ?`, id))
		return notFound(err, "authorization")
	})
	return a, err
}

// Account implements [ledger.Store].
func (s *Store) Account(ctx context.Context, id string) (a ledger.Account, err error) {
	err = s.readLatest(func(q queryer) error {
		a, err = scanAcct(q.QueryRowContext(ctx, `SELECT `+acctCols+` FROM accounts WHERE id = ?`, id))
		return notFound(err, "account")
	})
	return a, err
}

// History implements [ledger.Store]: newest first in the order the
// entries were booked, their rowids (entries are never deleted). The
// account's index holds its entries in that order, so the read costs
// limit rows however long the account's history, and it runs in the
// writer's open transaction (see readLatest) rather than making it commit.
func (s *Store) History(ctx context.Context, accountID string, limit int) (out []ledger.HistoryItem, err error) {
	err = s.readLatest(func(q queryer) error {
		rows, err := q.QueryContext(ctx, `
SELECT j.id, j.kind, j.auth_id, j.merchant_id, j.channel, j.memo, e.amount, e.currency, j.created_at
FROM entries e JOIN journals j ON j.id = e.journal_id
WHERE e.account_id = ? ORDER BY e.rowid DESC LIMIT ?`, accountID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h ledger.HistoryItem
			var created int64
			if err := rows.Scan(&h.JournalID, &h.Kind, &h.AuthID, &h.MerchantID, &h.Channel, &h.Memo, &h.Amount, &h.Currency, &created); err != nil {
				return err
			}
			h.CreatedAt = dbrow.FromMicros(created)
			out = append(out, h)
		}
		return rows.Err()
	})
	return out, err
}

// ExpiredHolds implements [ledger.Store].
func (s *Store) ExpiredHolds(ctx context.Context, t time.Time, limit int) (ids []string, err error) {
	err = s.readLatest(func(q queryer) error {
		rows, err := q.QueryContext(ctx, `SELECT id FROM authorizations WHERE status = 'held' AND expires_at < ? ORDER BY expires_at LIMIT ?`, micros(t), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

// PurgeIdempotency implements [ledger.Store].
func (s *Store) PurgeIdempotency(ctx context.Context, t time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.commitLocked(); err != nil {
		return 0, err
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM idempotency WHERE created_at < ?`, micros(t))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Verify implements [ledger.Store]. It reads one snapshot of the books.
func (s *Store) Verify(ctx context.Context) ([]ledger.Violation, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var out []ledger.Violation
	for _, c := range sqlcheck.Checks {
		rows, err := tx.QueryContext(ctx, c.Query)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", c.Name, err)
		}
		for rows.Next() {
			v := ledger.Violation{Check: c.Name}
			if err := rows.Scan(&v.Object, &v.Detail); err != nil {
				rows.Close()
				return nil, fmt.Errorf("check %s: %w", c.Name, err)
			}
			out = append(out, v)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("check %s: %w", c.Name, err)
		}
	}
	return out, nil
}

// Counts implements [ledger.Store].
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, sqlcheck.Counts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Exec runs raw SQL on the writer; tests use it to break the books on
// purpose.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.commitLocked(); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, query, args...)
	return err
}

var _ ledger.Store = (*Store)(nil)
