package sqlitestore

// migrations are applied in order; each runs once, in its own transaction.
var migrations = []string{
	// 1: the books.
	`
CREATE TABLE merchants (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE terminals (
	id TEXT PRIMARY KEY,
	merchant_id TEXT NOT NULL REFERENCES merchants(id),
	name TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE accounts (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	currency TEXT NOT NULL,
	owner TEXT NOT NULL,
	balance INTEGER NOT NULL,
	held INTEGER NOT NULL,
	floor INTEGER,
	tx_limit INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE credentials (
	id TEXT PRIMARY KEY,
	wallet_id TEXT NOT NULL REFERENCES accounts(id),
	kind TEXT NOT NULL,
	token TEXT NOT NULL UNIQUE,
	display TEXT NOT NULL,
	last_atc INTEGER NOT NULL,
	status TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX credentials_wallet ON credentials(wallet_id);
CREATE TABLE authorizations (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	channel TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	terminal_id TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	wallet_id TEXT NOT NULL,
	credential_id TEXT NOT NULL,
	masked_pan TEXT NOT NULL,
	atc INTEGER NOT NULL,
	atc_key TEXT UNIQUE,
	amount INTEGER NOT NULL,
	currency TEXT NOT NULL,
	status TEXT NOT NULL,
	reason TEXT NOT NULL,
	approval_code TEXT NOT NULL,
	held INTEGER NOT NULL,
	captured INTEGER NOT NULL,
	refunded INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	batch_id TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (terminal_id, txn_id)
);
CREATE INDEX authorizations_holds ON authorizations(expires_at) WHERE status = 'held';
CREATE INDEX authorizations_wallet ON authorizations(wallet_id, created_at);
CREATE TABLE journals (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	auth_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	channel TEXT NOT NULL,
	memo TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX journals_auth ON journals(auth_id);
CREATE TABLE entries (
	journal_id TEXT NOT NULL REFERENCES journals(id),
	leg INTEGER NOT NULL,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	amount INTEGER NOT NULL,
	currency TEXT NOT NULL,
	PRIMARY KEY (journal_id, leg)
);
CREATE INDEX entries_account ON entries(account_id);
CREATE TRIGGER journals_no_update BEFORE UPDATE ON journals BEGIN SELECT RAISE(ABORT, 'journals are immutable'); END;
CREATE TRIGGER journals_no_delete BEFORE DELETE ON journals BEGIN SELECT RAISE(ABORT, 'journals are immutable'); END;
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;
CREATE TABLE overdrafts (
	id TEXT PRIMARY KEY,
	auth_id TEXT NOT NULL,
	wallet_id TEXT NOT NULL,
	amount INTEGER NOT NULL,
	currency TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE idempotency (
	scope TEXT NOT NULL,
	key TEXT NOT NULL,
	hash TEXT NOT NULL,
	result TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_created ON idempotency(created_at);
CREATE TABLE api_keys (
	id TEXT PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	role TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	terminal_id TEXT NOT NULL,
	revoked INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
`,
	// 2: chat checkout (ledger/chat.go): catalog, mandates and their uses,
	// checkout sessions, wallet owner keys.
	`
CREATE TABLE catalog_items (
	merchant_id TEXT NOT NULL,
	sku TEXT NOT NULL,
	name TEXT NOT NULL,
	price INTEGER NOT NULL,
	currency TEXT NOT NULL,
	stock INTEGER NOT NULL CHECK (stock >= 0),
	PRIMARY KEY (merchant_id, sku)
);
CREATE TABLE mandates (
	id TEXT PRIMARY KEY,
	wallet_id TEXT NOT NULL REFERENCES accounts(id),
	agent_key_id TEXT NOT NULL,
	currency TEXT NOT NULL,
	max_per_purchase INTEGER NOT NULL,
	budget INTEGER NOT NULL,
	period_us INTEGER NOT NULL,
	merchants TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	status TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX mandates_wallet ON mandates(wallet_id, created_at);
CREATE TABLE mandate_uses (
	id TEXT PRIMARY KEY,
	mandate_id TEXT NOT NULL REFERENCES mandates(id),
	session_id TEXT NOT NULL UNIQUE,
	auth_id TEXT NOT NULL,
	amount INTEGER NOT NULL,
	currency TEXT NOT NULL,
	confirmed INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX mandate_uses_mandate ON mandate_uses(mandate_id, created_at);
CREATE TABLE checkout_sessions (
	id TEXT PRIMARY KEY,
	agent_key_id TEXT NOT NULL,
	mandate_id TEXT NOT NULL REFERENCES mandates(id),
	wallet_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	items TEXT NOT NULL,
	amount INTEGER NOT NULL,
	currency TEXT NOT NULL,
	status TEXT NOT NULL,
	reason TEXT NOT NULL,
	confirmation_code TEXT NOT NULL,
	authorization_id TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TABLE wallet_owner_keys (
	key_id TEXT PRIMARY KEY REFERENCES api_keys(id),
	wallet_id TEXT NOT NULL REFERENCES accounts(id)
);
`,
	// 3: no query reads authorizations by wallet, and each authorization
	// written put an entry on a scattered page of this index: one more
	// page for every commit to write.
	`DROP INDEX authorizations_wallet;`,
	// 4: refunds of one payment may fall in several batches: the part of
	// refunded already settled, and by which batch last. (A batch close
	// reads a terminal's authorizations through the unique index on
	// (terminal_id, txn_id); a partial index of the unsettled ones would
	// cost every authorization one more scattered index write.)
	`
ALTER TABLE authorizations ADD COLUMN refund_settled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE authorizations ADD COLUMN refund_batch_id TEXT NOT NULL DEFAULT '';
ALTER TABLE authorizations ADD COLUMN refund_batch_amount INTEGER NOT NULL DEFAULT 0;
-- Refunds were counted with their payment's batch before.
UPDATE authorizations SET refund_settled = refunded, refund_batch_id = batch_id, refund_batch_amount = refunded
	WHERE batch_id != '' AND refunded > 0;
`,
	// 5: the sequence number of the last redo record committed (see
	// redoLog).
	`
CREATE TABLE redo (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
INSERT INTO redo VALUES (1, 0);
`,
	// 6: a refund of an offline booking takes its overdraft back first:
	// the shortfall on the authorization, so that a refund knows it, and
	// the part recovered on the overdraft, found by its authorization.
	// Refunds made before paid the wallet in full; they stay as they are.
	`
ALTER TABLE authorizations ADD COLUMN overdraft INTEGER NOT NULL DEFAULT 0;
UPDATE authorizations SET overdraft = (SELECT o.amount FROM overdrafts o WHERE o.auth_id = authorizations.id)
	WHERE id IN (SELECT auth_id FROM overdrafts);
ALTER TABLE overdrafts ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;
CREATE INDEX overdrafts_auth ON overdrafts(auth_id);
`,
}
