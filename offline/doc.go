// Package offline is tappos's store-and-forward queue: when the ledger
// cannot be reached, taps the card approved offline are checked against
// the terminal's risk limits, committed durably to a local SQLite file, and
// forwarded to the ledger later, exactly once.
//
// A [Queue] holds the items. [Queue.Enqueue] checks the [Limits] and commits
// the item in one transaction; it returns only once the commit is on disk,
// so a terminal may show Approved as soon as it returns. The EMV data the
// ledger needs, which includes the PAN, is sealed with AES-256-GCM under a
// key derived from the terminal's [Key]; only a masked PAN and a keyed card
// token are stored in the clear.
//
// A [Syncer] drains the queue in batches through a [Forwarder], with
// exponential backoff and jitter. Every item travels with its terminal
// transaction id as idempotency key, so items left in the sending state by
// a crash are simply sent again.
//
// A [Policy] decides, tap by tap, whether to ask the ledger first or to go
// straight to the offline rules.
package offline
