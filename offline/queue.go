package offline

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the queue's database

	"tappos/emv/tags"
)

// A State is where an item is on its way to the ledger.
type State string

// Item states.
const (
	StateHeld            State = "held"             // committed, approval not yet shown; never sent
	StateQueued          State = "queued"           // approved offline and shown, not yet sent
	StateSending         State = "sending"          // sent at least once, no answer yet
	StateAccepted        State = "accepted"         // booked by the ledger
	StateDeclined        State = "declined"         // refused by the ledger on sync
	StateBookedOverdraft State = "booked_overdraft" // booked, overdrawing the wallet
	StateCanceled        State = "canceled"         // held, and recovery found its approval never shown
)

// final reports whether the ledger has answered for the item.
func (s State) final() bool {
	return s == StateAccepted || s == StateDeclined || s == StateBookedOverdraft
}

// A Tap is a card's offline approval, as the kernel ended it, offered to
// the queue.
type Tap struct {
	TxnID    string // the terminal's transaction id, made before the tap
	Amount   int64  // minor units
	Currency string // ISO 4217 alphabetic code, e.g. "EUR"
	// EMV is the online data the ledger needs: cryptogram, CID, ATC, TVR,
	// PAN and the rest, as BER-TLV. It is sealed before it is stored.
	EMV []byte
	// CardApprovedOffline is set when the card answered with a TC.
	CardApprovedOffline bool
	// ODAPassed is set when offline data authentication succeeded.
	ODAPassed bool
}

// An Item is a queued tap as the queue shows it: no card data beyond the
// masked PAN and the terminal's card token.
type Item struct {
	Seq       int64     `json:"seq"`
	TxnID     string    `json:"txn_id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	CardToken string    `json:"card_token"`
	MaskedPAN string    `json:"masked_pan"`
	State     State     `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Attempts  int       `json:"attempts"`
	// Filled in from the ledger's answer.
	Reason          string `json:"reason,omitempty"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	Overdraft       int64  `json:"overdraft,omitempty"`
}

// Queue errors.
var (
	// ErrDuplicateTxn is returned by Enqueue for a transaction id already
	// queued with a different amount, currency or card.
	ErrDuplicateTxn = errors.New("transaction id already queued for a different tap")
	// ErrInvalidTap wraps the reasons a tap is malformed.
	ErrInvalidTap = errors.New("invalid tap")
	// ErrUnknownTxn is returned by Confirm for a transaction id the queue
	// does not hold.
	ErrUnknownTxn = errors.New("transaction id not in the queue")
	// ErrCanceled is returned by Confirm for an item recovery canceled
	// as never shown; it will not be charged.
	ErrCanceled = errors.New("offline approval canceled by recovery: never shown")
)

// Options configure a Queue.
type Options struct {
	Key Key
	// Limits are the offline risk limits; nil means DefaultLimits.
	Limits *Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand supplies nonces; nil means crypto/rand.
	Rand io.Reader
	// Witness tells recovery which held items were shown approved; see
	// [Witness]. nil: recovery cannot tell, and cancels every item held
	// past HeldGrace, shown or not.
	Witness Witness
	// HeldGrace is how long a held item may belong to a tap still in
	// progress: recovery settles younger ones only when the Witness says
	// no tap is; 0 means 1 minute. It must exceed the time from a commit
	// to its Confirm.
	HeldGrace time.Duration
}

// A Witness is the terminal's record of the approvals it showed, such as
// a display log written before the approval is shown. Recovery settles a
// held item by it: shown means queued (the shopper saw it approved, so it
// is charged), not shown means canceled.
type Witness interface {
	// Shown reports which of txnIDs were shown approved. settled reports
	// that no tap was between its Enqueue and its Confirm when it looked,
	// so the answer is final for every id; otherwise recovery trusts it
	// only for items held longer than the grace period.
	Shown(ctx context.Context, txnIDs []string) (shown map[string]bool, settled bool, err error)
}

// A Queue is the terminal's durable store of offline approvals. Its
// methods are safe for concurrent use; one process at a time should run a
// Syncer on it.
type Queue struct {
	db     *sql.DB
	seal   *sealer
	limits Limits
	now    func() time.Time
	grace  time.Duration
	wit    Witness
}

// Open opens or creates the queue database at path, in WAL mode with full
// synchronous commits.
func Open(path string, opt Options) (*Queue, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	limits := DefaultLimits()
	if opt.Limits != nil {
		limits = *opt.Limits
	}
	s, err := newSealer(opt.Key, opt.Rand)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_txlock=immediate&_foreign_keys=1"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening queue %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and the pragmas above
	// then hold for every statement.
	db.SetMaxOpenConns(1)
	if opt.HeldGrace <= 0 {
		opt.HeldGrace = time.Minute
	}
	q := &Queue{db: db, seal: s, limits: limits, now: opt.Now, grace: opt.HeldGrace, wit: opt.Witness}
	if err := q.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening queue %s: %w", path, err)
	}
	return q, nil
}

// Close closes the database.
func (q *Queue) Close() error { return q.db.Close() }

// migrations[v] takes the schema from version v to v+1.
var migrations = []string{`
CREATE TABLE items (
	seq              INTEGER PRIMARY KEY AUTOINCREMENT,
	txn_id           TEXT    NOT NULL UNIQUE,
	amount           INTEGER NOT NULL CHECK (amount > 0),
	currency         TEXT    NOT NULL,
	card_token       TEXT    NOT NULL,
	masked_pan       TEXT    NOT NULL,
	sealed           BLOB    NOT NULL,
	state            TEXT    NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	attempts         INTEGER NOT NULL DEFAULT 0,
	reason           TEXT    NOT NULL DEFAULT '',
	authorization_id TEXT    NOT NULL DEFAULT '',
	overdraft        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX items_unsent ON items (seq) WHERE state IN ('queued', 'sending');
CREATE INDEX items_unsent_card ON items (card_token) WHERE state IN ('queued', 'sending');
CREATE TABLE meta (
	k TEXT PRIMARY KEY,
	v TEXT NOT NULL
);
PRAGMA user_version = 1;
`, `
DROP INDEX items_unsent_card;
CREATE INDEX items_open_card ON items (card_token) WHERE state IN ('held', 'queued', 'sending');
CREATE INDEX items_held ON items (created_at) WHERE state = 'held';
PRAGMA user_version = 2;
`}

func (q *Queue) migrate() error {
	var v int
	if err := q.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	var mode string
	if err := q.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		return fmt.Errorf("journal mode %q, want wal (%v)", mode, err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this program", v)
	}
	if v == len(migrations) {
		return nil
	}
	tx, err := q.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for ; v < len(migrations); v++ {
		if _, err := tx.Exec(migrations[v]); err != nil {
			return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
		}
	}
	return tx.Commit()
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// maxTxnID bounds transaction ids; they travel as idempotency keys.
const maxTxnID = 64

func (t Tap) validate() error {
	switch {
	case t.TxnID == "" || len(t.TxnID) > maxTxnID || strings.ContainsFunc(t.TxnID, func(r rune) bool { return r <= ' ' || r > '~' }):
		return fmt.Errorf("%w: transaction id must be 1 to %d printable ASCII characters", ErrInvalidTap, maxTxnID)
	case t.Amount <= 0 || t.Amount > 999_999_999_999:
		return fmt.Errorf("%w: amount %d out of range", ErrInvalidTap, t.Amount)
	case !currencyRE.MatchString(t.Currency):
		return fmt.Errorf("%w: currency %q is not an ISO 4217 alphabetic code", ErrInvalidTap, t.Currency)
	}
	return nil
}

// Enqueue checks a tap against the risk limits and, if they allow it,
// stores it as held. It returns once the item is durably committed; the
// terminal may then show Approved, and must then Confirm it. A refused tap
// gives a *DeclineError.
//
// Enqueueing the same tap again (same transaction id, amount, currency and
// card) returns the stored item, so a retry after an unclear failure is
// safe; the same id for a different tap gives ErrDuplicateTxn.
func (q *Queue) Enqueue(ctx context.Context, t Tap) (Item, error) {
	p, err := q.prepare(t)
	if err != nil {
		return Item{}, err
	}
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return Item{}, fmt.Errorf("enqueueing %s: %w", t.TxnID, err)
	}
	defer tx.Rollback()
	it, fresh, err := q.insert(ctx, tx, p)
	if err != nil || !fresh {
		return it, err
	}
	// With synchronous=FULL in WAL mode the commit returns after the WAL
	// is fsynced: the approval survives a power cut from here on.
	if err := tx.Commit(); err != nil {
		return Item{}, fmt.Errorf("enqueueing %s: committing: %w", t.TxnID, err)
	}
	return it, nil
}

// prepared is a checked tap, sealed, ready to insert.
type prepared struct {
	tap    Tap
	token  string
	masked string
	sealed []byte
}

// prepare does the work of Enqueue that needs no database.
func (q *Queue) prepare(t Tap) (prepared, error) {
	if err := t.validate(); err != nil {
		return prepared{}, err
	}
	pan, emvAmount, ok, err := cardPAN(t.EMV)
	if err != nil {
		return prepared{}, fmt.Errorf("enqueueing %s: %w", t.TxnID, err)
	}
	if ok && emvAmount != t.Amount {
		return prepared{}, fmt.Errorf("%w: amount %d differs from the card's 9F02 amount %d", ErrInvalidTap, t.Amount, emvAmount)
	}
	sealed, err := q.seal.seal(t.TxnID, t.EMV)
	if err != nil {
		return prepared{}, fmt.Errorf("enqueueing %s: %w", t.TxnID, err)
	}
	return prepared{tap: t, token: q.seal.cardToken(pan), masked: tags.MaskPAN(pan), sealed: sealed}, nil
}

// insert checks the limits and inserts a prepared tap in tx. fresh is
// false when the same tap was already queued; it then returns that item.
func (q *Queue) insert(ctx context.Context, tx *sql.Tx, p prepared) (it Item, fresh bool, err error) {
	t := p.tap
	old, err := scanItem(tx.QueryRowContext(ctx, `SELECT `+itemCols+` FROM items WHERE txn_id = ?`, t.TxnID))
	switch {
	case err == nil:
		if old.Amount == t.Amount && old.Currency == t.Currency && old.CardToken == p.token {
			return old, false, nil
		}
		return Item{}, false, fmt.Errorf("enqueueing %s: %w", t.TxnID, ErrDuplicateTxn)
	case !errors.Is(err, sql.ErrNoRows):
		return Item{}, false, fmt.Errorf("enqueueing %s: %w", t.TxnID, err)
	}

	now := q.now()
	var e exposure
	if l := q.limits; l.CumulativeAmount > 0 || l.CumulativeCount > 0 || l.OldestAge > 0 || l.SameCard > 0 {
		var oldest sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN currency = ? THEN amount END), 0),
			COUNT(*),
			MIN(created_at),
			COALESCE(SUM(card_token = ?), 0)
			FROM items WHERE state IN ('held', 'queued', 'sending')`, t.Currency, p.token).
			Scan(&e.amount, &e.count, &oldest, &e.sameCard)
		if err != nil {
			return Item{}, false, fmt.Errorf("enqueueing %s: reading exposure: %w", t.TxnID, err)
		}
		if oldest.Valid {
			e.oldest = time.Unix(0, oldest.Int64)
		}
	}
	if err := q.limits.check(t, e, now); err != nil {
		return Item{}, false, err
	}

	ts := now.UnixNano()
	res, err := tx.ExecContext(ctx, `INSERT INTO items
		(txn_id, amount, currency, card_token, masked_pan, sealed, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.TxnID, t.Amount, t.Currency, p.token, p.masked, p.sealed, StateHeld, ts, ts)
	if err != nil {
		return Item{}, false, fmt.Errorf("enqueueing %s: %w", t.TxnID, err)
	}
	it = Item{TxnID: t.TxnID, Amount: t.Amount, Currency: t.Currency, CardToken: p.token, MaskedPAN: p.masked,
		State: StateHeld, CreatedAt: time.Unix(0, ts), UpdatedAt: time.Unix(0, ts)}
	if it.Seq, err = res.LastInsertId(); err != nil {
		return Item{}, false, fmt.Errorf("enqueueing %s: %w", t.TxnID, err)
	}
	return it, true, nil
}

// Confirm moves a held item to queued, for the Syncer to forward: the
// terminal calls it once it has shown the approval. Confirming an item
// again, or one already sent, does nothing; an item recovery canceled
// gives ErrCanceled.
func (q *Queue) Confirm(ctx context.Context, txnID string) error {
	// One statement, one commit. A crash before it leaves the item held
	// for recovery to settle by the Witness.
	res, err := q.db.ExecContext(ctx, `UPDATE items SET state = 'queued', updated_at = ? WHERE txn_id = ? AND state = 'held'`,
		q.now().UnixNano(), txnID)
	if err != nil {
		return fmt.Errorf("confirming %s: %w", txnID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var state State
	err = q.db.QueryRowContext(ctx, `SELECT state FROM items WHERE txn_id = ?`, txnID).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("confirming %s: %w", txnID, ErrUnknownTxn)
	case err != nil:
		return fmt.Errorf("confirming %s: %w", txnID, err)
	case state == StateCanceled:
		return fmt.Errorf("confirming %s: %w", txnID, ErrCanceled)
	}
	return nil
}

// settleHeld decides, in tx, the held items whose tap is over: those the
// Witness saw shown are queued, the others canceled. Without a Witness,
// held items past the grace period are canceled: nobody knows whether
// they were shown, and the safe side is not to charge. It returns how
// many items it changed.
func (q *Queue) settleHeld(ctx context.Context, tx *sql.Tx) (int, error) {
	now := q.now()
	old := now.Add(-q.grace).UnixNano()
	if q.wit == nil {
		res, err := tx.ExecContext(ctx, `UPDATE items SET state = 'canceled', reason = 'approval never shown', updated_at = ?
			WHERE state = 'held' AND created_at < ?`, now.UnixNano(), old)
		if err != nil {
			return 0, fmt.Errorf("canceling stale held items: %w", err)
		}
		n, err := res.RowsAffected()
		return int(n), err
	}
	rows, err := tx.QueryContext(ctx, `SELECT txn_id, created_at FROM items WHERE state = 'held' ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("reading held items: %w", err)
	}
	var ids []string
	isOld := map[string]bool{}
	for rows.Next() {
		var id string
		var created int64
		if err := rows.Scan(&id, &created); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reading held items: %w", err)
		}
		ids = append(ids, id)
		isOld[id] = created < old
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading held items: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	// Asked inside the transaction: a tap's Enqueue waits for it, so no
	// item can turn up held between the answer and the updates.
	shown, settled, err := q.wit.Shown(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("settling held items: %w", err)
	}
	n := 0
	for _, id := range ids {
		if !settled && !isOld[id] {
			continue // its tap may still be showing it
		}
		var err error
		if shown[id] {
			_, err = tx.ExecContext(ctx, `UPDATE items SET state = 'queued', updated_at = ? WHERE txn_id = ? AND state = 'held'`,
				now.UnixNano(), id)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE items SET state = 'canceled', reason = 'approval never shown', updated_at = ?
				WHERE txn_id = ? AND state = 'held'`, now.UnixNano(), id)
		}
		if err != nil {
			return n, fmt.Errorf("settling held item %s: %w", id, err)
		}
		n++
	}
	return n, nil
}

const itemCols = `seq, txn_id, amount, currency, card_token, masked_pan, state,
	created_at, updated_at, attempts, reason, authorization_id, overdraft`

type scanner interface{ Scan(dest ...any) error }

func scanItem(r scanner) (Item, error) {
	var it Item
	var created, updated int64
	err := r.Scan(&it.Seq, &it.TxnID, &it.Amount, &it.Currency, &it.CardToken, &it.MaskedPAN,
		&it.State, &created, &updated, &it.Attempts, &it.Reason, &it.AuthorizationID, &it.Overdraft)
	if err != nil {
		return Item{}, err
	}
	it.CreatedAt, it.UpdatedAt = time.Unix(0, created), time.Unix(0, updated)
	return it, nil
}

// ListOptions select items for List.
type ListOptions struct {
	States []State // empty means all
	After  int64   // only items with a larger Seq
	Limit  int     // at most this many; 0 means 100
}

// List returns items in queue order.
func (q *Queue) List(ctx context.Context, o ListOptions) ([]Item, error) {
	o.Limit = o.pageSize()
	query := `SELECT ` + itemCols + ` FROM items WHERE seq > ?`
	args := []any{o.After}
	if len(o.States) > 0 {
		query += ` AND state IN (?` + strings.Repeat(`, ?`, len(o.States)-1) + `)`
		for _, s := range o.States {
			args = append(args, string(s))
		}
	}
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, o.Limit)
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing items: %w", err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("listing items: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing items: %w", err)
	}
	return out, nil
}

// pageSize is o.Limit, or its default.
func (o ListOptions) pageSize() int {
	if o.Limit <= 0 {
		return 100
	}
	return o.Limit
}

// EachPage calls fn with every item o selects after o.After, in queue
// order, o.Limit at a time, until there are none left or fn fails.
// Answered items stay in the queue for good, so one List does not reach
// the newest of them.
func (q *Queue) EachPage(ctx context.Context, o ListOptions, fn func([]Item) error) error {
	o.Limit = o.pageSize()
	for {
		items, err := q.List(ctx, o)
		if err != nil {
			return err
		}
		if len(items) > 0 {
			if err := fn(items); err != nil {
				return err
			}
		}
		if len(items) < o.Limit {
			return nil
		}
		o.After = items[len(items)-1].Seq
	}
}
