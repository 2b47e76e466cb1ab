// Package pgstore keeps the ledger in PostgreSQL, through pgx. Several
// ledgerd processes may share one database: a batch locks the rows it
// reads (FOR UPDATE, in a fixed order), and a batch that loses a race is
// retried by the ledger.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tappos/ledger"
	"tappos/ledger/internal/dbrow"
	"tappos/ledger/internal/sqlcheck"
)

// Store is a [ledger.Store] in PostgreSQL.
type Store struct {
	pool  *pgxpool.Pool // reads, migrations
	write *pgxpool.Pool // Write's transactions (see writerParams)
}

// Open connects to the database at url (postgres://...) and brings its
// schema up to date.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The URL may hold a password: do not repeat it.
		return nil, errors.New("pgstore: cannot parse the database URL")
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	// pgx prepares each query once per connection, and after five runs
	// PostgreSQL may switch a prepared query to a generic plan made when
	// the tables were still small: a sequential scan that gets slower with
	// every row. Plan each run for the parameters and table sizes it has.
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	wcfg := cfg.Copy()
	maps.Copy(wcfg.ConnConfig.RuntimeParams, writerParams)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connecting: %w", err)
	}
	write, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connecting: %w", err)
	}
	s := &Store{pool: pool, write: write}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("pgstore: migrating: %w", err)
	}
	return s, nil
}

// writerParams are the settings of the writers' connections. Every
// statement of a write transaction finds its rows by key, so it runs on
// one generic plan, made once per connection, instead of being planned
// again for each batch (planning took a fifth of the machine's CPU under
// load). The planner may not choose scans that read whole tables or
// indexes: a generic plan made while the tables were small would keep
// one as they grow.
var writerParams = map[string]string{
	"plan_cache_mode":  "force_generic_plan",
	"enable_seqscan":   "off",
	"enable_hashjoin":  "off",
	"enable_mergejoin": "off",
}

// Writers implements [ledger.ConcurrentStore]: the server works on one
// transaction while another commits. Two measured best on a 2-core
// machine running the server, the ledger and its clients (a third only
// added waits on shared wallets); give ledgerd --writers on bigger ones.
func (s *Store) Writers() int { return 2 }

// migrationLock is the advisory lock key held while migrating.
const migrationLock = 0x7461707073 // "tapps"

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this ledgerd (%d)", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2)`, v, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.write.Close()
	s.pool.Close()
	return nil
}

// Ping implements [ledger.Store].
func (s *Store) Ping(ctx context.Context) error { return mapErr(s.pool.Ping(ctx)) }

// Write implements [ledger.Store]. With the default synchronous_commit,
// the commit is flushed to the WAL on disk before it returns.
func (s *Store) Write(ctx context.Context, fn func(ledger.Tx) error) error {
	tx, err := s.write.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", mapErr(err))
	}
	if err := fn(&pgTx{tx: tx}); err != nil {
		tx.Rollback(context.Background())
		return mapErr(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing: %w", mapErr(err))
	}
	return nil
}

// mapErr turns the errors of losing a race with another writer into
// ledger.ErrConflict, and those of a database out of reach into
// ledger.ErrUnavailable, so that the API can tell clients to retry.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case conflict(err):
		return fmt.Errorf("%w: %v", ledger.ErrConflict, err)
	case unavailable(err):
		return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	}
	return err
}

func conflict(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "23505", "40P01", "40001": // unique_violation, deadlock_detected, serialization_failure
		return true
	}
	return false
}

// unavailable reports whether err says the database cannot be reached
// for now: it refused or dropped the connection, or is shutting down.
func unavailable(err error) bool {
	// A caller's deadline is its own business, not an outage.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception. 57P01-57P03: admin_shutdown,
		// crash_shutdown, cannot_connect_now (starting up).
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		// Nothing was sent, as on a connection found closed.
		pgconn.SafeToRetry(err)
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

type pgTx struct {
	tx pgx.Tx
}

func (t *pgTx) Idempotency(ctx context.Context, keys []ledger.IdemKey) ([]ledger.IdemRecord, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	scopes, ks := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		scopes[i], ks[i] = k.Scope, k.Key
	}
	rows, err := t.tx.Query(ctx, `SELECT i.scope, i.key, i.hash, i.result, i.created_at FROM idempotency i
		JOIN unnest($1::text[], $2::text[]) AS k(scope, key) ON i.scope = k.scope AND i.key = k.key`, scopes, ks)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.IdemRecord
	for rows.Next() {
		var r ledger.IdemRecord
		var res string
		var created int64
		if err := rows.Scan(&r.Scope, &r.Key, &r.Hash, &res, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(res), &r.Result); err != nil {
			return nil, fmt.Errorf("decoding stored result: %w", err)
		}
		r.CreatedAt = dbrow.FromMicros(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

const credCols = `id, wallet_id, kind, token, display, last_atc, status, created_at`

func (t *pgTx) Credentials(ctx context.Context, tokens []string) ([]ledger.Credential, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	rows, err := t.tx.Query(ctx, `SELECT `+credCols+` FROM credentials WHERE token = ANY($1) ORDER BY token FOR UPDATE`, tokens)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Credential
	for rows.Next() {
		var c ledger.Credential
		var created int64
		if err := rows.Scan(&c.ID, &c.WalletID, &c.Kind, &c.Token, &c.Display, &c.LastATC, &c.Status, &created); err != nil {
			return nil, err
		}
		c.CreatedAt = dbrow.FromMicros(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

// authCols are the columns read; a new authorization's refund
// settlement columns start empty.
const authCols = `id, kind, channel, merchant_id, terminal_id, txn_id, wallet_id, credential_id, masked_pan,
	atc, amount, currency, status, reason, approval_code, held, captured, refunded, expires_at, batch_id,
	created_at, updated_at, refund_settled, refund_batch_id, refund_batch_amount, overdraft`

func scanAuth(sc interface{ Scan(...any) error }) (ledger.Authorization, error) {
	var a ledger.Authorization
	var exp, created, updated int64
	err := sc.Scan(&a.ID, &a.Kind, &a.Channel, &a.MerchantID, &a.TerminalID, &a.TxnID, &a.WalletID,
		&a.CredentialID, &a.MaskedPAN, &a.ATC, &a.Amount, &a.Currency, &a.Status, &a.Reason,
		&a.ApprovalCode, &a.Held, &a.Captured, &a.Refunded, &exp, &a.BatchID, &created, &updated,
		&a.RefundSettled, &a.RefundBatchID, &a.RefundBatchAmount, &a.Overdraft)
	a.ExpiresAt, a.CreatedAt, a.UpdatedAt = dbrow.FromMicros(exp), dbrow.FromMicros(created), dbrow.FromMicros(updated)
	return a, err
}

func (t *pgTx) Authorizations(ctx context.Context, q ledger.AuthQuery) ([]ledger.Authorization, error) {
	if len(q.IDs)+len(q.Txns)+len(q.ATCKeys)+len(q.Unsettled) == 0 {
		return nil, nil
	}
	terms, txns := make([]string, len(q.Txns)), make([]string, len(q.Txns))
	for i, r := range q.Txns {
		terms[i], txns[i] = r.TerminalID, r.TxnID
	}
	batchTerms, batchMerchants := make([]string, len(q.Unsettled)), make([]string, len(q.Unsettled))
	for i, u := range q.Unsettled {
		batchTerms[i], batchMerchants[i] = u.TerminalID, u.MerchantID
	}
	// A union of index lookups: ORed together, the transaction pairs'
	// condition is a hashed subplan that no index serves, and every batch
	// scanned the whole table.
	rows, err := t.tx.Query(ctx, `SELECT `+authCols+` FROM authorizations WHERE id IN (
			SELECT id FROM authorizations WHERE id = ANY($1)
			UNION SELECT a.id FROM authorizations a JOIN unnest($2::text[], $3::text[]) AS u(terminal_id, txn_id)
				ON a.terminal_id = u.terminal_id AND a.txn_id = u.txn_id
			UNION SELECT id FROM authorizations WHERE atc_key = ANY($4)
			UNION SELECT a.id FROM authorizations a JOIN unnest($5::text[], $6::text[]) AS u(terminal_id, merchant_id)
				ON a.terminal_id = u.terminal_id AND (u.merchant_id = '' OR a.merchant_id = u.merchant_id)
				WHERE a.status IN ('approved', 'captured') AND (a.batch_id = '' OR a.refunded > a.refund_settled))
		ORDER BY id FOR UPDATE`, q.IDs, terms, txns, q.ATCKeys, batchTerms, batchMerchants)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Authorization
	for rows.Next() {
		a, err := scanAuth(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

const acctCols = `id, kind, currency, owner, balance, held, floor, tx_limit, created_at`

func scanAcct(sc interface{ Scan(...any) error }) (ledger.Account, error) {
	var a ledger.Account
	var created int64
	err := sc.Scan(&a.ID, &a.Kind, &a.Currency, &a.Owner, &a.Balance, &a.Held, &a.Floor, &a.TxLimit, &created)
	a.CreatedAt = dbrow.FromMicros(created)
	return a, err
}

func (t *pgTx) Accounts(ctx context.Context, ids []string) ([]ledger.Account, error) {
	return t.accounts(ctx, `SELECT `+acctCols+` FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
}

// HouseAccounts implements [ledger.Tx]: the same read, without locks.
func (t *pgTx) HouseAccounts(ctx context.Context, ids []string) ([]ledger.Account, error) {
	return t.accounts(ctx, `SELECT `+acctCols+` FROM accounts WHERE id = ANY($1)`, ids)
}

func (t *pgTx) accounts(ctx context.Context, query string, ids []string) ([]ledger.Account, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := t.tx.Query(ctx, query, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Account
	for rows.Next() {
		a, err := scanAcct(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Apply implements [ledger.Tx]: one statement per table, over arrays,
// all sent in one round trip. The house accounts' deltas go last, so that
// their row locks are held only while the transaction commits.
func (t *pgTx) Apply(ctx context.Context, c *ledger.Changes) error {
	if c.Empty() {
		return nil
	}
	b := &pgx.Batch{}
	if n := len(c.NewAccounts); n > 0 {
		var id, kind, cur, owner []string
		var bal, held, lim, created []int64
		floor := make([]*int64, 0, n)
		for _, a := range c.NewAccounts {
			id, kind, cur, owner = append(id, a.ID), append(kind, a.Kind), append(cur, a.Currency), append(owner, a.Owner)
			bal, held, lim, created = append(bal, a.Balance), append(held, a.Held), append(lim, a.TxLimit), append(created, micros(a.CreatedAt))
			floor = append(floor, a.Floor)
		}
		b.Queue(`INSERT INTO accounts (`+acctCols+`) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])`,
			id, kind, cur, owner, bal, held, floor, lim, created)
	}
	if len(c.NewAuths) > 0 {
		queueAuths(b, c.NewAuths)
	}
	if len(c.Journals) > 0 {
		var id, kind, auth, merchant, channel, memo []string
		var created []int64
		var ej, ea, ec []string
		var leg []int32
		var amt []int64
		for _, j := range c.Journals {
			id, kind, auth, merchant = append(id, j.ID), append(kind, j.Kind), append(auth, j.AuthID), append(merchant, j.MerchantID)
			channel, memo, created = append(channel, j.Channel), append(memo, j.Memo), append(created, micros(j.CreatedAt))
			for i, e := range j.Entries {
				ej, leg, ea, amt, ec = append(ej, j.ID), append(leg, int32(i)), append(ea, e.AccountID), append(amt, e.Amount), append(ec, e.Currency)
			}
		}
		b.Queue(`INSERT INTO journals (id, kind, auth_id, merchant_id, channel, memo, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])`,
			id, kind, auth, merchant, channel, memo, created)
		b.Queue(`INSERT INTO entries (journal_id, leg, account_id, amount, currency)
			SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::text[])`, ej, leg, ea, amt, ec)
	}
	if len(c.Overdrafts) > 0 {
		var id, auth, wallet, cur, status []string
		var amt, created []int64
		for _, o := range c.Overdrafts {
			id, auth, wallet, cur, status = append(id, o.ID), append(auth, o.AuthID), append(wallet, o.WalletID), append(cur, o.Currency), append(status, o.Status)
			amt, created = append(amt, o.Amount), append(created, micros(o.CreatedAt))
		}
		b.Queue(`INSERT INTO overdrafts (id, auth_id, wallet_id, amount, currency, status, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])`,
			id, auth, wallet, amt, cur, status, created)
	}
	if len(c.Recoveries) > 0 {
		var auth []string
		var amt []int64
		for _, r := range c.Recoveries {
			auth, amt = append(auth, r.AuthID), append(amt, r.Amount)
		}
		b.Queue(`UPDATE overdrafts o SET recovered = o.recovered + u.amount,
			status = CASE WHEN o.recovered + u.amount >= o.amount THEN 'recovered' ELSE o.status END
			FROM unnest($1::text[], $2::bigint[]) AS u(auth_id, amount) WHERE o.auth_id = u.auth_id`, auth, amt)
	}
	if len(c.Idempotency) > 0 {
		var scope, key, hash, res []string
		var created []int64
		for _, r := range c.Idempotency {
			enc, _ := json.Marshal(r.Result) // a Result always encodes
			scope, key, hash, res = append(scope, r.Scope), append(key, r.Key), append(hash, r.Hash), append(res, string(enc))
			created = append(created, micros(r.CreatedAt))
		}
		b.Queue(`INSERT INTO idempotency (scope, key, hash, result, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])`, scope, key, hash, res, created)
	}
	if len(c.Auths) > 0 {
		var id, status, reason, batch []string
		var atcKey []*string
		var held, captured, refunded, settled, refBatchAmt, updated []int64
		var refBatch []string
		for _, a := range c.Auths {
			id, status, reason, batch = append(id, a.ID), append(status, a.Status), append(reason, a.Reason), append(batch, a.BatchID)
			held, captured, refunded, updated = append(held, a.Held), append(captured, a.Captured), append(refunded, a.Refunded), append(updated, micros(a.UpdatedAt))
			settled, refBatch, refBatchAmt = append(settled, a.RefundSettled), append(refBatch, a.RefundBatchID), append(refBatchAmt, a.RefundBatchAmount)
			atcKey = append(atcKey, nullable(a.ATCKey()))
		}
		b.Queue(`UPDATE authorizations a SET status = u.status, reason = u.reason, held = u.held, captured = u.captured,
			refunded = u.refunded, refund_settled = u.refund_settled, refund_batch_id = u.refund_batch_id,
			refund_batch_amount = u.refund_batch_amount, batch_id = u.batch_id, updated_at = u.updated_at, atc_key = u.atc_key
			FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[],
				$9::bigint[], $10::text[], $11::bigint[], $12::text[])
			AS u(id, status, reason, held, captured, refunded, refund_settled, refund_batch_id, refund_batch_amount,
				batch_id, updated_at, atc_key) WHERE a.id = u.id`,
			id, status, reason, held, captured, refunded, settled, refBatch, refBatchAmt, batch, updated, atcKey)
	}
	if len(c.Credentials) > 0 {
		var id []string
		var atc []int32
		for _, cr := range c.Credentials {
			id, atc = append(id, cr.ID), append(atc, int32(cr.LastATC))
		}
		b.Queue(`UPDATE credentials c SET last_atc = u.atc FROM unnest($1::text[], $2::int[]) AS u(id, atc) WHERE c.id = u.id`, id, atc)
	}
	if len(c.Accounts) > 0 {
		var id []string
		var bal, held []int64
		for _, a := range c.Accounts {
			id, bal, held = append(id, a.ID), append(bal, a.Balance), append(held, a.Held)
		}
		b.Queue(`UPDATE accounts a SET balance = u.balance, held = u.held
			FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(id, balance, held) WHERE a.id = u.id`, id, bal, held)
	}
	if len(c.Deltas) > 0 {
		id := make([]string, len(c.Deltas))
		amt := make([]int64, len(c.Deltas))
		for i, d := range c.Deltas {
			id[i], amt[i] = d.AccountID, d.Amount
		}
		if len(id) > 1 {
			// One UPDATE locks its rows in no set order; two writers
			// crediting the same two accounts could deadlock.
			b.Queue(`SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, id)
		}
		b.Queue(`UPDATE accounts a SET balance = a.balance + u.amount
			FROM unnest($1::text[], $2::bigint[]) AS u(id, amount) WHERE a.id = u.id`, id, amt)
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("writing batch: %w", mapErr(err))
	}
	return nil
}

func queueAuths(b *pgx.Batch, auths []ledger.Authorization) {
	n := len(auths)
	cols := make([][]string, 12)
	for i := range cols {
		cols[i] = make([]string, 0, n)
	}
	var atc []int32
	var amount, held, captured, refunded, overdraft, exp, created, updated []int64
	var atcKey []*string
	for _, a := range auths {
		for i, v := range []string{a.ID, a.Kind, a.Channel, a.MerchantID, a.TerminalID, a.TxnID, a.WalletID,
			a.CredentialID, a.MaskedPAN, a.Currency, a.Status, a.Reason} {
			cols[i] = append(cols[i], v)
		}
		atc = append(atc, int32(a.ATC))
		amount, held, captured, refunded = append(amount, a.Amount), append(held, a.Held), append(captured, a.Captured), append(refunded, a.Refunded)
		overdraft = append(overdraft, a.Overdraft)
		exp, created, updated = append(exp, micros(a.ExpiresAt)), append(created, micros(a.CreatedAt)), append(updated, micros(a.UpdatedAt))
		atcKey = append(atcKey, nullable(a.ATCKey()))
	}
	codes, batches := make([]string, 0, n), make([]string, 0, n)
	for _, a := range auths {
		codes, batches = append(codes, a.ApprovalCode), append(batches, a.BatchID)
	}
	b.Queue(`INSERT INTO authorizations (id, kind, channel, merchant_id, terminal_id, txn_id, wallet_id, credential_id,
		masked_pan, currency, status, reason, atc, amount, held, captured, refunded, expires_at, created_at, updated_at,
		atc_key, approval_code, batch_id, overdraft)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		$9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::bigint[], $15::bigint[], $16::bigint[],
		$17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[], $21::text[], $22::text[], $23::text[], $24::bigint[])`,
		cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9], cols[10], cols[11],
		atc, amount, held, captured, refunded, exp, created, updated, atcKey, codes, batches, overdraft)
}

func (t *pgTx) CreateMerchant(ctx context.Context, m ledger.Merchant) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)`, m.ID, m.Name, micros(m.CreatedAt))
	return mapErr(err)
}

func (t *pgTx) CreateTerminal(ctx context.Context, tm ledger.Terminal) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO terminals (id, merchant_id, name, created_at) VALUES ($1, $2, $3, $4)`,
		tm.ID, tm.MerchantID, tm.Name, micros(tm.CreatedAt))
	return mapErr(err)
}

func (t *pgTx) CreateCredential(ctx context.Context, c ledger.Credential) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO credentials (`+credCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, c.WalletID, c.Kind, c.Token, c.Display, c.LastATC, c.Status, micros(c.CreatedAt))
	return mapErr(err)
}

func (t *pgTx) CreateAPIKey(ctx context.Context, k ledger.APIKey) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO api_keys (id, hash, role, merchant_id, terminal_id, revoked, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Hash, k.Role, k.MerchantID, k.TerminalID, k.Revoked, micros(k.CreatedAt))
	return mapErr(err)
}

func (t *pgTx) RevokeAPIKeys(ctx context.Context, id, terminalID string) (int64, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE api_keys SET revoked = true
		WHERE NOT revoked AND (($1 != '' AND id = $1) OR ($1 = '' AND $2 != '' AND terminal_id = $2))`, id, terminalID)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ledger.ErrNotFound)
	}
	return mapErr(err)
}

// APIKey implements [ledger.Store].
func (s *Store) APIKey(ctx context.Context, hash string) (ledger.APIKey, error) {
	var k ledger.APIKey
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT id, hash, role, merchant_id, terminal_id, revoked, created_at FROM api_keys WHERE hash = $1`, hash).
		Scan(&k.ID, &k.Hash, &k.Role, &k.MerchantID, &k.TerminalID, &k.Revoked, &created)
	k.CreatedAt = dbrow.FromMicros(created)
	return k, notFound(err, "api key")
}

// Terminal implements [ledger.Store].
func (s *Store) Terminal(ctx context.Context, id string) (ledger.Terminal, error) {
	var t ledger.Terminal
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT id, merchant_id, name, created_at FROM terminals WHERE id = $1`, id).
		Scan(&t.ID, &t.MerchantID, &t.Name, &created)
	t.CreatedAt = dbrow.FromMicros(created)
	return t, notFound(err, "terminal")
}

// Authorization implements [ledger.Store].
func (s *Store) Authorization(ctx context.Context, id string) (ledger.Authorization, error) {
	a, err := scanAuth(s.pool.QueryRow(ctx, `SELECT `+authCols+` FROM authorizations WHERE id = $1`, id))
	return a, notFound(err, "authorization")
}

// Account implements [ledger.Store].
func (s *Store) Account(ctx context.Context, id string) (ledger.Account, error) {
	a, err := scanAcct(s.pool.QueryRow(ctx, `SELECT `+acctCols+` FROM accounts WHERE id = $1`, id))
	return a, notFound(err, "account")
}

// historyQuery reads an account's last entries: journal ids grow with
// time, so the index on (account_id, journal_id) gives them newest first
// without reading the older ones.
const historyQuery = `
SELECT j.id, j.kind, j.auth_id, j.merchant_id, j.channel, j.memo, e.amount, e.currency, j.created_at
FROM entries e JOIN journals j ON j.id = e.journal_id
WHERE e.account_id = $1 ORDER BY e.journal_id DESC LIMIT $2`

// History implements [ledger.Store].
func (s *Store) History(ctx context.Context, accountID string, limit int) ([]ledger.HistoryItem, error) {
	rows, err := s.pool.Query(ctx, historyQuery, accountID, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []ledger.HistoryItem
	for rows.Next() {
		var h ledger.HistoryItem
		var created int64
		if err := rows.Scan(&h.JournalID, &h.Kind, &h.AuthID, &h.MerchantID, &h.Channel, &h.Memo, &h.Amount, &h.Currency, &created); err != nil {
			return nil, err
		}
		h.CreatedAt = dbrow.FromMicros(created)
		out = append(out, h)
	}
	return out, mapErr(rows.Err())
}

// ExpiredHolds implements [ledger.Store].
func (s *Store) ExpiredHolds(ctx context.Context, t time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM authorizations WHERE status = 'held' AND expires_at < $1 ORDER BY expires_at LIMIT $2`, micros(t), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// PurgeIdempotency implements [ledger.Store].
func (s *Store) PurgeIdempotency(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency WHERE created_at < $1`, micros(t))
	return tag.RowsAffected(), err
}

// Verify implements [ledger.Store]. It reads one snapshot of the books.
func (s *Store) Verify(ctx context.Context) ([]ledger.Violation, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	var out []ledger.Violation
	for _, c := range sqlcheck.Checks {
		rows, err := tx.Query(ctx, c.Query)
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
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("check %s: %w", c.Name, err)
		}
	}
	return out, nil
}

// Counts implements [ledger.Store].
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, sqlcheck.Counts)
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

// Exec runs raw SQL; tests use it to break the books on purpose.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.pool.Exec(ctx, query, args...)
	return err
}

var _ ledger.Store = (*Store)(nil)
