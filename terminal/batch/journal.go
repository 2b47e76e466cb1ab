// Package batch is the terminal's transaction journal and its batches:
// every sale, refund and void the terminal makes is recorded in a local
// SQLite file before and after it goes to the ledger; the records of the
// current batch make the X report (a read-only snapshot), and closing the
// batch makes the Z report (numbered, immutable). [Reconcile] compares
// the terminal's items with the ledger's and says "balanced" only when
// all match.
//
// The journal holds no card data beyond masked PANs.
package batch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "github.com/mattn/go-sqlite3" // the journal's database

	"tappos/terminal/receipt"
)

// Type is what a journal record does to money.
type Type string

// Record types.
const (
	Purchase Type = "purchase"
	Refund   Type = "refund"
	Void     Type = "void"
)

// Status is where a record stands.
type Status string

// Record statuses.
const (
	// Pending: written before the request went to the ledger; a pending
	// online record found after a crash must be reversed.
	Pending         Status = "pending"
	Approved        Status = "approved"         // approved online by the ledger
	OfflineApproved Status = "offline_approved" // approved by the card and the offline rules
	Declined        Status = "declined"
	Reversed        Status = "reversed" // the answer never came; reversed by txn id
	Voided          Status = "voided"   // an approved purchase voided later
	Failed          Status = "failed"   // the tap ended without a decision (try again, no card)
)

// Counts reports whether the record moves money in the batch totals.
func (s Status) Counts() bool { return s == Approved || s == OfflineApproved || s == Voided }

// Reversal is the state of a record's automatic reversal.
type Reversal string

// Reversal states.
const (
	NoReversal      Reversal = ""
	ReversalPending Reversal = "pending" // to send (again) until the ledger answers
	ReversalDone    Reversal = "done"
)

// A Record is one transaction in the journal. It holds no card data but
// the masked PAN.
type Record struct {
	TxnID    string
	Batch    int // set by the journal
	Type     Type
	Status   Status
	Amount   int64 // minor units of Currency
	Currency receipt.Currency
	// OrigTxnID is the purchase a refund or void refers to.
	OrigTxnID       string
	AuthorizationID string // the ledger's id
	ApprovalCode    string
	Reason          string // why declined or failed, in words
	Offline         bool   // decided offline (queued for the ledger)

	MaskedPAN      string
	Label          string
	AID            string // hex
	CVM            string
	TVR            string // hex
	TSI            string // hex
	ATC            string // hex
	CryptogramType string // TC, ARQC, AAC
	// IssuerAuth is the issuer authentication data (91) the ledger
	// returned, hex; the terminal keeps it as evidence (see terminal/sale).
	IssuerAuth string
	Reversal   Reversal

	Created time.Time
	Updated time.Time
}

// Journal errors.
var (
	ErrNotFound  = errors.New("no such transaction in the journal")
	ErrDuplicate = errors.New("transaction id already in the journal")
	ErrClosed    = errors.New("batch already closed")
)

// Journal is the terminal's durable transaction journal. Its methods are
// safe for concurrent use.
type Journal struct {
	db  *sql.DB
	now func() time.Time
	loc *time.Location
}

// Options configure a Journal.
type Options struct {
	Now func() time.Time // nil means time.Now
	// Location is the shop's time zone for records and reports; nil
	// means time.Local.
	Location *time.Location
}

// Open opens or creates the journal at path (WAL, full synchronous
// commits: a record is on disk when Add or Update returns).
func Open(path string, opt Options) (*Journal, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Location == nil {
		opt.Location = time.Local
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening journal %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	j := &Journal{db: db, now: opt.Now, loc: opt.Location}
	if err := j.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening journal %s: %w", path, err)
	}
	return j, nil
}

// Close closes the database.
func (j *Journal) Close() error { return j.db.Close() }

const schema = `
CREATE TABLE batches (
	no        INTEGER PRIMARY KEY,
	opened_at INTEGER NOT NULL,
	closed_at INTEGER,
	z_text    TEXT,
	z_csv     TEXT
);
-- A closed batch and its Z report never change.
CREATE TRIGGER batches_immutable BEFORE UPDATE ON batches WHEN OLD.closed_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'batch closed'); END;
CREATE TRIGGER batches_keep BEFORE DELETE ON batches
BEGIN SELECT RAISE(ABORT, 'batches are never deleted'); END;
CREATE TABLE txns (
	txn_id           TEXT PRIMARY KEY,
	batch            INTEGER NOT NULL REFERENCES batches (no),
	type             TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	amount           INTEGER NOT NULL CHECK (amount >= 0),
	currency         TEXT    NOT NULL,
	currency_num     INTEGER NOT NULL,
	exponent         INTEGER NOT NULL,
	symbol           TEXT    NOT NULL,
	orig_txn_id      TEXT    NOT NULL,
	authorization_id TEXT    NOT NULL,
	approval_code    TEXT    NOT NULL,
	reason           TEXT    NOT NULL,
	offline          INTEGER NOT NULL,
	masked_pan       TEXT    NOT NULL,
	label            TEXT    NOT NULL,
	aid              TEXT    NOT NULL,
	cvm              TEXT    NOT NULL,
	tvr              TEXT    NOT NULL,
	tsi              TEXT    NOT NULL,
	atc              TEXT    NOT NULL,
	cryptogram_type  TEXT    NOT NULL,
	issuer_auth      TEXT    NOT NULL,
	reversal         TEXT    NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
);
CREATE INDEX txns_batch ON txns (batch, created_at);
CREATE INDEX txns_orig ON txns (orig_txn_id) WHERE orig_txn_id != '';
CREATE INDEX txns_reversal ON txns (txn_id) WHERE reversal = 'pending';
PRAGMA user_version = 1;
`

func (j *Journal) migrate() error {
	var v int
	if err := j.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	switch v {
	case 0:
		tx, err := j.db.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.Exec(schema); err != nil {
			return fmt.Errorf("creating schema: %w", err)
		}
		if _, err := tx.Exec(`INSERT INTO batches (no, opened_at) VALUES (1, ?)`, j.now().UnixNano()); err != nil {
			return fmt.Errorf("opening batch 1: %w", err)
		}
		return tx.Commit()
	case 1:
		return nil
	}
	return fmt.Errorf("schema version %d is newer than this program", v)
}

// BatchInfo describes a batch.
type BatchInfo struct {
	No     int
	Opened time.Time
	Closed time.Time // zero while open
}

// Current returns the open batch.
func (j *Journal) Current(ctx context.Context) (BatchInfo, error) {
	return j.batch(ctx, j.db, `SELECT no, opened_at, closed_at FROM batches WHERE closed_at IS NULL ORDER BY no DESC LIMIT 1`)
}

// Batch returns batch no.
func (j *Journal) Batch(ctx context.Context, no int) (BatchInfo, error) {
	return j.batch(ctx, j.db, `SELECT no, opened_at, closed_at FROM batches WHERE no = ?`, no)
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (j *Journal) batch(ctx context.Context, q querier, query string, args ...any) (BatchInfo, error) {
	var b BatchInfo
	var opened int64
	var closed sql.NullInt64
	if err := q.QueryRowContext(ctx, query, args...).Scan(&b.No, &opened, &closed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return b, fmt.Errorf("batch: %w", ErrNotFound)
		}
		return b, fmt.Errorf("reading batch: %w", err)
	}
	b.Opened = time.Unix(0, opened).In(j.loc)
	if closed.Valid {
		b.Closed = time.Unix(0, closed.Int64).In(j.loc)
	}
	return b, nil
}

const cols = `txn_id, batch, type, status, amount, currency, currency_num, exponent, symbol,
	orig_txn_id, authorization_id, approval_code, reason, offline, masked_pan, label, aid, cvm,
	tvr, tsi, atc, cryptogram_type, issuer_auth, reversal, created_at, updated_at`

func args(r *Record) []any {
	return []any{r.TxnID, r.Batch, r.Type, r.Status, r.Amount, r.Currency.Alpha, r.Currency.Numeric,
		r.Currency.Exponent, r.Currency.Symbol, r.OrigTxnID, r.AuthorizationID, r.ApprovalCode, r.Reason,
		r.Offline, r.MaskedPAN, r.Label, r.AID, r.CVM, r.TVR, r.TSI, r.ATC, r.CryptogramType,
		r.IssuerAuth, r.Reversal, r.Created.UnixNano(), r.Updated.UnixNano()}
}

func (j *Journal) scan(s interface{ Scan(...any) error }) (Record, error) {
	var r Record
	var created, updated int64
	err := s.Scan(&r.TxnID, &r.Batch, &r.Type, &r.Status, &r.Amount, &r.Currency.Alpha, &r.Currency.Numeric,
		&r.Currency.Exponent, &r.Currency.Symbol, &r.OrigTxnID, &r.AuthorizationID, &r.ApprovalCode, &r.Reason,
		&r.Offline, &r.MaskedPAN, &r.Label, &r.AID, &r.CVM, &r.TVR, &r.TSI, &r.ATC, &r.CryptogramType,
		&r.IssuerAuth, &r.Reversal, &created, &updated)
	r.Created, r.Updated = time.Unix(0, created).In(j.loc), time.Unix(0, updated).In(j.loc)
	return r, err
}

// Add records a new transaction in the open batch and returns it as
// stored. It returns once the record is on disk.
func (j *Journal) Add(ctx context.Context, r Record) (Record, error) {
	if r.TxnID == "" || r.Amount < 0 || r.Currency.Alpha == "" {
		return r, fmt.Errorf("adding %q: transaction id, currency and a non-negative amount are required", r.TxnID)
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return r, fmt.Errorf("adding %s: %w", r.TxnID, err)
	}
	defer tx.Rollback()
	cur, err := j.batch(ctx, tx, `SELECT no, opened_at, closed_at FROM batches WHERE closed_at IS NULL ORDER BY no DESC LIMIT 1`)
	if err != nil {
		return r, fmt.Errorf("adding %s: %w", r.TxnID, err)
	}
	now := j.now().In(j.loc)
	r.Batch, r.Created, r.Updated = cur.No, now, now
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM txns WHERE txn_id = ?`, r.TxnID).Scan(&n); err != nil {
		return r, fmt.Errorf("adding %s: %w", r.TxnID, err)
	}
	if n > 0 {
		return r, fmt.Errorf("adding %s: %w", r.TxnID, ErrDuplicate)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO txns (`+cols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, args(&r)...); err != nil {
		return r, fmt.Errorf("adding %s: %w", r.TxnID, err)
	}
	if err := tx.Commit(); err != nil {
		return r, fmt.Errorf("adding %s: committing: %w", r.TxnID, err)
	}
	return r, nil
}

// Update rewrites a record (found by its transaction id) with r's
// outcome fields; the batch and creation time stay. It returns once the
// change is on disk.
func (j *Journal) Update(ctx context.Context, r Record) (Record, error) {
	old, err := j.Get(ctx, r.TxnID)
	if err != nil {
		return r, fmt.Errorf("updating: %w", err)
	}
	r.Batch, r.Created, r.Updated = old.Batch, old.Created, j.now().In(j.loc)
	a := args(&r)
	res, err := j.db.ExecContext(ctx, `UPDATE txns SET (`+cols+`) = (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) WHERE txn_id = ?`, append(a, r.TxnID)...)
	if err != nil {
		return r, fmt.Errorf("updating %s: %w", r.TxnID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return r, fmt.Errorf("updating %s: %w", r.TxnID, ErrNotFound)
	}
	return r, nil
}

// Get returns a record by transaction id.
func (j *Journal) Get(ctx context.Context, txnID string) (Record, error) {
	r, err := j.scan(j.db.QueryRowContext(ctx, `SELECT `+cols+` FROM txns WHERE txn_id = ?`, txnID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("transaction %s: %w", txnID, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("transaction %s: %w", txnID, err)
	}
	return r, nil
}

// Records returns a batch's records, oldest first.
func (j *Journal) Records(ctx context.Context, batch int) ([]Record, error) {
	return j.list(ctx, `SELECT `+cols+` FROM txns WHERE batch = ? ORDER BY created_at, txn_id`, batch)
}

// Related returns the refunds and voids of a purchase, oldest first.
func (j *Journal) Related(ctx context.Context, origTxnID string) ([]Record, error) {
	return j.list(ctx, `SELECT `+cols+` FROM txns WHERE orig_txn_id = ? ORDER BY created_at, txn_id`, origTxnID)
}

// PendingReversals returns the records whose reversal is still to send.
func (j *Journal) PendingReversals(ctx context.Context) ([]Record, error) {
	return j.list(ctx, `SELECT `+cols+` FROM txns WHERE reversal = 'pending' ORDER BY created_at, txn_id`)
}

// Unresolved returns online records left pending, e.g. by a crash
// between the request and its answer.
func (j *Journal) Unresolved(ctx context.Context) ([]Record, error) {
	return j.list(ctx, `SELECT `+cols+` FROM txns WHERE status = 'pending' ORDER BY created_at, txn_id`)
}

func (j *Journal) list(ctx context.Context, q string, a ...any) ([]Record, error) {
	rows, err := j.db.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("listing transactions: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := j.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("listing transactions: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
