// Package ledger is tappos's online ledger: wallets, double-entry journals,
// card authorizations with issuer cryptogram checks, holds, refunds, and
// offline bookings, each posted exactly once.
//
// A [Ledger] turns requests into postings. It verifies the card's
// application cryptogram outside any database transaction, then hands the
// request to a single writer goroutine that applies many requests in one
// durable transaction of its [Store] (group commit). Within a batch the
// requests are applied in order against rows the store has locked, so
// several ledger processes may share one database.
//
// Money is an int64 amount of minor units with an ISO 4217 currency. A full
// PAN never leaves this package: cards are known by a keyed token and a
// masked PAN.
package ledger
