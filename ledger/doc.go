// Package ledger is tappos's online ledger: wallets, double-entry journals,
// card authorizations with issuer cryptogram checks, holds, refunds, and
// offline bookings, each posted exactly once.
//
// A [Ledger] turns requests into postings. It verifies the card's
// application cryptogram outside any database transaction, then hands the
// request to a writer goroutine that applies many requests in one durable
// transaction of its [Store] (group commit): one writer on SQLite, two on
// PostgreSQL, whose server works on one transaction while another commits.
// On a [PipelinedStore] (SQLite, with its redo log) the writer goes on
// with the next batch while the last one is made durable, and a batch's
// answers go out only once it is.
// Within a batch the requests are applied in order against rows the store
// has locked, so writers and several ledger processes may share one
// database. The ledger's own accounts (merchants' settlement, the offline
// receivable, funding) are not locked: no decision reads their balances,
// and a batch adds its entries to them last, just before it commits.
//
// Money is an int64 amount of minor units with an ISO 4217 currency. A full
// PAN never leaves this package: cards are known by a keyed token and a
// masked PAN.
package ledger
