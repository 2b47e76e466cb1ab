package ledger

import (
	"context"
	"errors"
	"time"
)

// Store errors.
var (
	// ErrNotFound is returned for a row that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned by Tx.Apply when a concurrent writer got
	// there first (a unique key taken, a deadlock); the batch is retried.
	ErrConflict = errors.New("conflicting concurrent write")
	// ErrUnavailable is wrapped by errors of a database that cannot be
	// reached for now (refused or dropped connections, a server shutting
	// down or restarting). The request may be retried with the same
	// idempotency key: the ledger either committed it or did not.
	ErrUnavailable = errors.New("database unavailable")
)

// A Store keeps the ledger's books. Implementations: sqlitestore, pgstore.
type Store interface {
	// Write runs fn in one read-write transaction and commits it durably
	// if fn returns nil: the commit must be on disk before Write returns.
	Write(ctx context.Context, fn func(Tx) error) error

	// APIKey returns the key with the hash.
	APIKey(ctx context.Context, hash string) (APIKey, error)
	// Terminal returns a terminal.
	Terminal(ctx context.Context, id string) (Terminal, error)
	// Authorization returns an authorization.
	Authorization(ctx context.Context, id string) (Authorization, error)
	// Account returns an account.
	Account(ctx context.Context, id string) (Account, error)
	// History returns up to limit entries of an account, newest first.
	History(ctx context.Context, accountID string, limit int) ([]HistoryItem, error)
	// ExpiredHolds returns up to limit ids of held authorizations whose
	// hold expired before t.
	ExpiredHolds(ctx context.Context, t time.Time, limit int) ([]string, error)
	// PurgeIdempotency deletes idempotency records created before t.
	PurgeIdempotency(ctx context.Context, t time.Time) (int64, error)
	// Verify checks the invariants of the books.
	Verify(ctx context.Context) ([]Violation, error)
	// Counts counts journals by kind ("journal:purchase") and
	// authorizations by kind and status ("authorization:preauth:held").
	Counts(ctx context.Context) (map[string]int64, error)
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// A ConcurrentStore runs several write transactions at once to good
// effect: the ledger starts Writers() writers on it by default.
type ConcurrentStore interface {
	Store
	Writers() int
}

// A PipelinedStore can run its next write transaction while the last
// one's commit is still being made durable: the ledger's single writer
// then never waits for the disk.
type PipelinedStore interface {
	Store
	// WriteAsync is Write, except that the commit need not be durable
	// when it returns: durable blocks until it is. A transaction that
	// reads what an earlier one wrote is durable only after that one.
	WriteAsync(ctx context.Context, fn func(Tx) error) (durable func() error, err error)
}

// A Tx is a store transaction. Its reads lock what they return until the
// transaction ends, in the order credentials, authorizations, accounts,
// so that concurrent writers cannot deadlock on each other. House
// accounts are the exception: read unlocked, and locked last by Apply's
// deltas, in id order.
type Tx interface {
	// Idempotency returns the stored records among keys.
	Idempotency(ctx context.Context, keys []IdemKey) ([]IdemRecord, error)
	// Credentials returns the credentials with the tokens.
	Credentials(ctx context.Context, tokens []string) ([]Credential, error)
	// Authorizations returns the authorizations matching any of q.
	Authorizations(ctx context.Context, q AuthQuery) ([]Authorization, error)
	// Accounts returns the accounts with the ids.
	Accounts(ctx context.Context, ids []string) ([]Account, error)
	// HouseAccounts returns the ledger's own accounts with the ids
	// without locking them: their balances change only by
	// [Changes.Deltas].
	HouseAccounts(ctx context.Context, ids []string) ([]Account, error)
	// Apply writes the changes of a batch.
	Apply(ctx context.Context, c *Changes) error

	// CreateMerchant, CreateTerminal, CreateCredential and CreateAPIKey
	// add the rows the ledger's admin operations make.
	CreateMerchant(ctx context.Context, m Merchant) error
	CreateTerminal(ctx context.Context, t Terminal) error
	CreateCredential(ctx context.Context, c Credential) error
	CreateAPIKey(ctx context.Context, k APIKey) error
	// RevokeAPIKeys revokes the key with the id, or every key of the
	// terminal when id is empty, and returns how many it revoked.
	RevokeAPIKeys(ctx context.Context, id, terminalID string) (int64, error)
}

// A TxnRef names an authorization by its terminal's transaction id.
type TxnRef struct {
	TerminalID string
	TxnID      string
}

// AuthQuery selects authorizations by id, by terminal transaction, by
// the card counter value they used (see [Authorization.ATCKey]), or as
// the unsettled payments of batches (approved or captured, with no
// batch or with refunds in none).
type AuthQuery struct {
	IDs       []string
	Txns      []TxnRef
	ATCKeys   []string
	Unsettled []BatchScope
}

// A BatchScope names the payments of a batch: a terminal's, of one
// merchant, or of any merchant when MerchantID is empty.
type BatchScope struct {
	TerminalID string
	MerchantID string
}

// Changes are the writes of one batch.
type Changes struct {
	NewAccounts []Account
	Accounts    []Account // new Balance and Held
	Credentials []Credential
	NewAuths    []Authorization
	Auths       []Authorization // new Status, Reason, Held, Captured, Refunded, RefundSettled, BatchID, UpdatedAt
	Journals    []Journal
	Overdrafts  []Overdraft
	// Recoveries are added to the recovered part of the overdrafts of
	// their authorizations.
	Recoveries  []Recovery
	Idempotency []IdemRecord
	// Deltas are added to the balances of house accounts, after every
	// other change, so that a concurrent writer waits for their locks
	// only while this one commits.
	Deltas []Delta
}

// A Delta adds Amount to the balance of an existing account.
type Delta struct {
	AccountID string
	Amount    int64
}

// Empty reports whether there is nothing to write.
func (c *Changes) Empty() bool {
	return len(c.NewAccounts)+len(c.Accounts)+len(c.Credentials)+len(c.NewAuths)+
		len(c.Auths)+len(c.Journals)+len(c.Overdrafts)+len(c.Recoveries)+len(c.Idempotency)+len(c.Deltas) == 0
}
