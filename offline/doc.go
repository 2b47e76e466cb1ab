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
// never forwarded. The terminal records the approval in its display log
// (on disk), shows it, then calls [Queue.Confirm], which moves the item to
// queued for the Syncer. A process killed in between leaves the item held,
// and the Syncer's recovery settles it by the terminal's record, a
// [Witness] in [Options]: shown means queued and charged, not shown means
// canceled. The display log is written before anything is shown, so
// "shown" and "charged" cannot part, whatever the moment of the crash.
//
// Recovery settles only items whose tap is over: when the Witness says
// no tap is between its Enqueue and its Confirm (the terminal knows by a
// lock), every held item; otherwise those held longer than
// [Options.HeldGrace]. Without a Witness it cannot tell shown from unseen
// and cancels items held past the grace period, the merchant's loss
// rather than a charge nobody saw approved. Canceled items show in
// [Status] and in List.
//
// A [Syncer] drains the queue in batches through a [Forwarder], with
// exponential backoff and jitter. Every item travels with its terminal
// transaction id as idempotency key, so items left in the sending state by
// a crash are simply sent again.
//
// A [Policy] decides, tap by tap, whether to ask the ledger first or to go
// straight to the offline rules.
package offline
