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
// # Held, then confirmed
//
// Enqueue commits the item as held: it counts against every limit but is
// never forwarded. The terminal shows Approved, then calls
// [Queue.Confirm], which moves it to queued for the Syncer. A process
// killed between the two leaves the item held; once it is older than
// [Options.HeldGrace] (a minute by default) the Syncer cancels it before it
// claims work, so a tap nobody saw approved is never charged. Younger held
// items are left alone: another process may be between its commit and its
// confirm. The residual window is the other way round: a kill after the
// approval was shown and before Confirm's commit cancels a tap the cashier
// saw approved, a small loss for the merchant instead of a double charge for
// the shopper. Against a killed process it lasts from the display's
// write(2) until Confirm's WAL frame is written, a fraction of a
// millisecond; against a power cut, until Confirm's fsync (a millisecond
// or two; BenchmarkEnqueue reports offline_confirm_p99_ms). Canceled items
// show in [Status] and in List.
//
// A [Syncer] drains the queue in batches through a [Forwarder], with
// exponential backoff and jitter. Every item travels with its terminal
// transaction id as idempotency key, so items left in the sending state by
// a crash are simply sent again.
//
// A [Policy] decides, tap by tap, whether to ask the ledger first or to go
// straight to the offline rules.
package offline
