// Package sale runs a point-of-sale transaction from amount to receipt:
// wait for a card, run the contactless kernel, authorize online with the
// ledger (or decide offline through the offline rules), record the
// outcome durably in the terminal's journal, and print the receipt.
// Refunds and voids work by transaction lookup in the journal, and an
// online request whose answer never came is reversed automatically by its
// terminal transaction id.
//
// # Issuer authentication
//
// The ledger answers an approval with an authorization response code (8A)
// and an ARPC. Only the card can verify an ARPC (it needs the issuer's
// keys), and contactless kernels 2 and 3 end with the first GENERATE AC,
// so there is no second GENERATE AC or EXTERNAL AUTHENTICATE to hand it
// to. The terminal therefore checks what it can: that the ARC agrees with
// the outcome (an "approved" with a declining ARC is treated as a decline
// and reversed) and that an ARPC of a valid length came back. It keeps the
// issuer authentication data (91: ARPC followed by the ARC) in the journal
// as evidence, sets TVR byte 5 bit 7 "issuer authentication failed" when
// the ARPC is missing or malformed, and does not set the TSI bit "issuer
// authentication was performed", because the card never saw it.
//
// # Cardholder verification
//
// The terminal has no PIN entry device. Above the CVM limit a card is
// verified by signature (the receipt prints a signature line) and a phone
// by its own CDCVM. A configuration that advertises online PIN would let
// the kernel choose it; such a tap is declined with [ReasonNoPINEntry] and
// never sent online, since no PIN was captured for the issuer to verify.
//
// # Offline approvals and crashes
//
// An offline approval is committed to the offline queue first, held: it
// counts against the risk limits but is not forwarded. Its APPROVED line
// then goes to the display log (see [DisplayLog]) and is synced to disk,
// the display shows it, the queue's Confirm releases the item for the
// ledger, and only then is the journal written and Sale returns. The
// display log is what the cashier's screen shows from: an approval counts
// as shown once its line is on disk there. What a crash leaves depends on
// where it strikes:
//
//   - before the queue's commit: nothing is stored and nothing was shown;
//     the card's TC is never presented, so the shopper is not charged.
//   - after the commit, before the APPROVED line is in the log: stored
//     held, not shown. The queue's recovery finds no line and cancels it:
//     never charged.
//   - after the line, before Confirm's commit: shown and still held.
//     Recovery finds the line and queues it: charged once, as shown.
//   - after Confirm, before the journal's commit: shown and queued; the
//     journal lacks the sale. NoteSynced adds it once synced, marked
//     "recovered from the offline queue", so it is in the batch, the
//     reports and the reconciliation.
//
// Recovery reads the same display log ([DisplayWitness]) and settles a
// held item only once its tap is over: the sale holds a shared lock on the
// log from before the commit until after Confirm, which a killed process
// drops. So a shopper is charged if and only if the approval was shown,
// whatever the moment of the crash.
//
// The journal never holds an offline sale that was not shown. If writing
// the line fails, nobody can say whether it reached the disk: the item
// stays held for recovery to settle by the log, the sale is not
// journaled, and Sale returns the error. If Confirm fails, recovery
// confirms the item from the log; the sale is journaled as approved.
// Without a display log, recovery cannot tell, and a crash between the
// display and Confirm cancels a shown approval.
package sale

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"tappos/emv/kernel"
	"tappos/emv/tags"
	"tappos/offline"
	"tappos/terminal"
	"tappos/terminal/batch"
	"tappos/terminal/host"
	"tappos/terminal/receipt"
)

// Host is the ledger as the sale needs it; *host.Client implements it.
type Host interface {
	Authorize(ctx context.Context, r host.AuthRequest) (host.Result, error)
	Reverse(ctx context.Context, txnID string) (host.Result, error)
	Refund(ctx context.Context, key, authID string, amount int64) (host.Result, error)
	Void(ctx context.Context, key, authID string) (host.Result, error)
}

// Router decides whether a tap goes online; *offline.Policy implements
// it. Online returns an error wrapping offline.ErrGoOffline when the tap
// should be decided offline.
type Router interface {
	Online(ctx context.Context, attempt func(ctx context.Context) error) error
}

// Queue stores offline approvals; *offline.Queue implements it. A refused
// tap gives an *offline.DeclineError. Enqueue holds an approved tap;
// Confirm, called once the approval was shown, releases it for forwarding.
type Queue interface {
	Enqueue(ctx context.Context, t offline.Tap) (offline.Item, error)
	Confirm(ctx context.Context, txnID string) error
}

// Errors of a sale that ended without a decision.
var (
	// ErrNoCard: no card was presented before the timeout.
	ErrNoCard = errors.New("no card presented")
	// ErrTryAgain: the tap failed (card removed, unreadable); present the
	// card again.
	ErrTryAgain = errors.New("present card again")
	// ErrNotPossible: the card cannot pay contactless for this amount
	// (no matching application, limit, mag-stripe only).
	ErrNotPossible = errors.New("contactless payment not possible")
	// ErrHostUnavailable: a refund or void could not reach the ledger; it
	// stays pending and is resent by ResolvePending.
	ErrHostUnavailable = errors.New("ledger unavailable; request kept pending")
	// ErrNotRefundable: the transaction cannot be refunded or voided.
	ErrNotRefundable = errors.New("transaction cannot be refunded or voided")
	// ErrNotRecorded: the sale was approved, so the money is taken, but
	// the journal could not record it; the result carries the approval.
	ErrNotRecorded = errors.New("approved but not recorded in the journal")
	// ErrNotSynced: the sale, approved offline, has not reached the
	// ledger yet, which has nothing to refund or void until it does. It
	// comes with ErrNotRefundable.
	ErrNotSynced = errors.New("sale not synced to the ledger yet")
)

// ReasonNoPINEntry is the reason of a sale declined because the card's
// cardholder verification is online PIN, which this terminal cannot take:
// it has no PIN entry device, so the request never goes online.
const ReasonNoPINEntry = "PIN entry not available"

// Terminal is a point-of-sale terminal.
type Terminal struct {
	Kernel  *kernel.Kernel
	Reader  terminal.Reader
	Journal *batch.Journal
	// Host is the ledger; nil means the terminal works offline only.
	Host Host
	// Router routes taps online or offline; nil sends every online
	// request to Host, when there is one.
	Router Router
	// Queue takes offline approvals; nil means no offline approvals.
	Queue    Queue
	Currency receipt.Currency // the terminal's currency (5F2A)
	Header   batch.Header     // merchant and terminal, for receipts and reports
	Linker   *receipt.Linker  // nil prints no e-receipt link

	Now   func() time.Time       // nil means time.Now
	NewID func() (string, error) // terminal transaction ids; required
	// Display is the display log: each event goes to it before Event
	// sees it. The offline queue's recovery must read the same file (see
	// the package doc). nil keeps no log.
	Display *DisplayLog
	Event   func(Event) // nil drops events
	// CardTimeout bounds the wait for a card; 0 means 30 s.
	CardTimeout time.Duration
	// ReversalTimeout bounds the automatic reversal attempt made right
	// after an online timeout; 0 means 2 s. A reversal that fails stays
	// pending for ResolvePending.
	ReversalTimeout time.Duration
	// InterruptedAfter is the age from which ResolvePending takes a
	// pending online sale for one a crash interrupted, rather than one
	// another process is still waiting on; 0 means 1 minute.
	InterruptedAfter time.Duration
}

// A Result is the end of a sale, refund or void.
type Result struct {
	Record  batch.Record
	Outcome *kernel.Outcome // nil for refunds and voids
	Host    *host.Result    // the ledger's answer, if it answered
	Receipt *receipt.Receipt
	Elapsed time.Duration
}

// Approved reports whether the transaction was approved, online or offline.
func (r *Result) Approved() bool {
	return r.Record.Status == batch.Approved || r.Record.Status == batch.OfflineApproved
}

func (t *Terminal) now() time.Time {
	if t.Now == nil {
		return time.Now()
	}
	return t.Now()
}

// emit logs and shows a step of the sale. A line the display log did not
// take is shown all the same: only an offline approval's line matters
// (see show).
func (t *Terminal) emit(e Event) {
	if t.Display != nil {
		t.Display.write(e)
	}
	if t.Event != nil {
		t.Event(e)
	}
}

// show logs an offline approval, on disk, and only then shows it.
func (t *Terminal) show(e Event) error {
	if t.Display != nil {
		if err := t.Display.write(e); err != nil {
			return err
		}
	}
	if t.Event != nil {
		t.Event(e)
	}
	return nil
}

// Sale takes payment of amount (minor units of the terminal's currency).
// The transaction id is made before the card is asked for. A decline is a
// result, not an error; the error says why a sale ended without decision
// (ErrNoCard, ErrTryAgain, ErrNotPossible, a ctx cancelled while waiting
// for the card) and then the result, when not nil, carries the kernel's
// outcome. Once the card has been read, cancelling ctx no longer stops the
// sale: the ledger may already have taken the money. An approval the
// journal could not record comes back as its result with an error
// wrapping ErrNotRecorded: the approval stands (an offline one reaches
// the journal later through NoteSynced).
func (t *Terminal) Sale(ctx context.Context, amount int64) (*Result, error) {
	if t.NewID == nil {
		return nil, errors.New("sale: terminal has no transaction id source")
	}
	id, err := t.NewID()
	if err != nil {
		return nil, fmt.Errorf("sale: making transaction id: %w", err)
	}
	start := t.now()
	t.emit(Event{Kind: PresentCard, TxnID: id, Message: kernel.MsgPresentCard, Amount: amount, Currency: t.Currency})

	wait := t.CardTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	card, err := t.Reader.WaitCard(wctx)
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("sale %s: %w", id, ctx.Err())
	case err != nil && wctx.Err() != nil:
		t.emit(Event{Kind: Failed, TxnID: id, Message: "No card presented"})
		return nil, fmt.Errorf("sale %s: %w", id, ErrNoCard)
	case err != nil:
		return nil, fmt.Errorf("sale %s: waiting for a card: %w", id, err)
	}
	t.emit(Event{Kind: Processing, TxnID: id, Message: kernel.MsgProcessing})
	out, kerr := t.Kernel.Run(ctx, card, kernel.Transaction{Amount: amount})
	card.Close()
	if ctx.Err() != nil {
		// Cancelled while the card was read: nothing was sent or stored,
		// so its cryptogram is never presented and nothing is taken.
		return &Result{Outcome: out}, fmt.Errorf("sale %s: %w", id, ctx.Err())
	}
	// The card has been read: from here on the ledger may take the money,
	// so a cancel (the cashier's, or a caller's deadline) must not cut the
	// sale short before its outcome is known and journaled. Each step
	// bounds itself: the Router's timeout, onlineTimeout, the reversal's.
	ctx = context.WithoutCancel(ctx)
	res := &Result{Outcome: out}

	rec := batch.Record{
		TxnID: id, Type: batch.Purchase, Amount: amount, Currency: t.Currency,
		MaskedPAN: out.PAN, Label: out.Label, AID: fmt.Sprintf("%X", out.AID), CVM: out.CVM.String(),
		ATC: fmt.Sprintf("%X", out.ATC), CryptogramType: out.CryptogramType.String(),
	}
	if out.Cryptogram == nil {
		rec.CryptogramType = ""
	}
	tvr, tsi := tags.TVR(out.TVR), tags.TSI(out.TSI)
	shown := false       // the outcome event went out already
	var confirmErr error // the queue did not take a shown offline approval

	switch out.Status {
	case kernel.TryAgain:
		t.emit(Event{Kind: Failed, TxnID: id, Message: kernel.MsgPresentCardAgain})
		return res, fmt.Errorf("sale %s: %w: %w", id, ErrTryAgain, kerr)
	case kernel.Approved, kernel.OnlineRequest, kernel.Declined:
		t.emit(Event{Kind: RemoveCard, TxnID: id, Message: kernel.MsgRemoveCard})
	default:
		t.emit(Event{Kind: Failed, TxnID: id, Message: kernel.MsgTryAnotherCard})
		if kerr == nil {
			kerr = errors.New(out.Reason)
		}
		return res, fmt.Errorf("sale %s: %w (%s): %w", id, ErrNotPossible, out.Status, kerr)
	}

	pending := false // the journal holds the record as pending
	switch {
	case out.CVM == kernel.CVMOnlinePIN && out.Status != kernel.Declined:
		// The till has no PIN entry device: sent online, the request
		// would tell the issuer a PIN was entered (kernel 2 sets the TVR
		// bit and CVM Results) when none was, and nothing verifies it
		// offline. Only a configuration that advertises online PIN gets
		// here; the shipped ones do not.
		rec.Status, rec.Reason = batch.Declined, ReasonNoPINEntry
	case out.Status == kernel.Declined:
		rec.Status, rec.Reason = batch.Declined, "declined by the card"
		if out.Reason != "" {
			rec.Reason = out.Reason
		}
	case out.Status == kernel.Approved:
		stored, release := t.decideOffline(ctx, &rec, out)
		if stored {
			// Logged and shown the moment it is stored, then confirmed:
			// see the package doc.
			if err := t.show(resultEvent(rec, nil)); err != nil {
				release()
				return res, fmt.Errorf("sale %s: showing the offline approval: %w", id, err)
			}
			shown = true
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			confirmErr = t.Queue.Confirm(cctx, id)
			cancel()
			switch {
			case confirmErr == nil:
			case t.Display != nil && !errors.Is(confirmErr, offline.ErrCanceled):
				// On record as shown: recovery queues it.
				rec.Reason, confirmErr = "queue confirm failed; the sync confirms it from the display log", nil
			default:
				rec.Reason = "offline approval not confirmed in the queue; not charged"
			}
		}
		release()
	case out.Status == kernel.OnlineRequest:
		// Written before the request goes out: after a crash, a pending
		// record tells ResolvePending to reverse it.
		rec.Status, pending = batch.Pending, true
		if _, err := t.Journal.Add(ctx, rec); err != nil {
			return res, fmt.Errorf("sale %s: %w", id, err)
		}
		t.emit(Event{Kind: Authorising, TxnID: id, Message: kernel.MsgAuthorising})
		res.Host = t.online(ctx, &rec, out, &tvr)
	}
	rec.TVR, rec.TSI = fmt.Sprintf("%X", tvr[:]), fmt.Sprintf("%X", tsi[:])

	if pending {
		_, err = t.Journal.Update(ctx, rec)
	} else {
		_, err = t.Journal.Add(ctx, rec)
	}
	var stored batch.Record
	if err == nil {
		stored, err = t.Journal.Get(ctx, id)
	}
	if err != nil {
		if rec.Status != batch.Approved && rec.Status != batch.OfflineApproved {
			return res, fmt.Errorf("sale %s: %w", id, err)
		}
		// The approval stands: the screen must say so, not that
		// nothing was taken.
		res.Record, res.Elapsed = rec, t.now().Sub(start)
		if !shown {
			t.emit(resultEvent(rec, res))
		}
		return res, fmt.Errorf("sale %s: %w: %w", id, ErrNotRecorded, err)
	}
	res.Record = stored
	res.Receipt = t.ReceiptOf(stored)
	res.Elapsed = t.now().Sub(start)
	if !shown {
		t.emit(resultEvent(res.Record, res))
	}
	if confirmErr != nil {
		return res, fmt.Errorf("sale %s: %w", id, confirmErr)
	}
	return res, nil
}

func (t *Terminal) emitResult(res *Result) { t.emit(resultEvent(res.Record, res)) }

// resultEvent is the Approved or Declined event of a record; res is nil
// for an offline approval shown before the journal has it.
func resultEvent(r batch.Record, res *Result) Event {
	e := Event{TxnID: r.TxnID, Offline: r.Offline, Amount: r.Amount, Currency: r.Currency, Result: res}
	switch r.Status {
	case batch.Approved, batch.OfflineApproved:
		e.Kind, e.Message = Approved, kernel.MsgApproved
		if r.Offline {
			e.Message = "Approved offline"
		}
		if r.CVM == kernel.CVMSignature.String() {
			e.Message += ", please sign"
		}
	default:
		e.Kind, e.Message = Declined, kernel.MsgDeclined
	}
	return e
}

// decideOffline runs the offline rules on a card's offline approval and
// reports whether the queue committed it. Call release once the approval
// is shown and confirmed, or at once if it is not: until then the display
// log tells the queue's recovery that a tap is in progress.
func (t *Terminal) decideOffline(ctx context.Context, rec *batch.Record, out *kernel.Outcome) (stored bool, release func()) {
	release = func() {}
	rec.Offline = true
	t.emit(Event{Kind: OfflineBadge, TxnID: rec.TxnID, Offline: true, Message: "Offline"})
	if t.Queue == nil {
		rec.Status, rec.Reason = batch.Declined, "offline approval not available on this terminal"
		return false, release
	}
	if t.Display != nil {
		var err error
		if release, err = t.Display.hold(); err != nil {
			rec.Status, rec.Reason = batch.Declined, "display log unavailable"
			return false, func() {}
		}
	}
	_, err := t.Queue.Enqueue(ctx, offline.Tap{
		TxnID: rec.TxnID, Amount: rec.Amount, Currency: t.Currency.Alpha, EMV: out.OnlineData,
		CardApprovedOffline: out.Status == kernel.Approved && out.CryptogramType == kernel.TC,
		ODAPassed:           out.ODA.OK,
	})
	var de *offline.DeclineError
	switch {
	case err == nil:
		rec.Status = batch.OfflineApproved
		rec.ApprovalCode = "OFFLINE"
		return true, release
	case errors.As(err, &de):
		rec.Status, rec.Reason = batch.Declined, "offline limit "+string(de.Limit)
	default:
		// Not stored, so not approved: the goods must not leave.
		rec.Status, rec.Reason = batch.Declined, "offline store failed"
	}
	return false, release
}

// onlineTimeout bounds an online request sent without a Router, which
// otherwise brings its own timeout: the sale no longer has the caller's.
const onlineTimeout = 15 * time.Second

// online authorizes an online request with the ledger.
func (t *Terminal) online(ctx context.Context, rec *batch.Record, out *kernel.Outcome, tvr *tags.TVR) *host.Result {
	if t.Host == nil {
		rec.Status, rec.Reason = batch.Declined, "unable to go online"
		t.decideOfflineAfterOnline(ctx, rec, out)
		return nil
	}
	var ans host.Result
	sent := false
	attempt := func(actx context.Context) error {
		sent = true
		var err error
		ans, err = t.Host.Authorize(actx, host.AuthRequest{TxnID: rec.TxnID, Amount: rec.Amount,
			Currency: t.Currency.Alpha, EMV: out.OnlineData})
		return err
	}
	var err error
	if t.Router != nil {
		err = t.Router.Online(ctx, attempt)
	} else {
		actx, cancel := context.WithTimeout(ctx, onlineTimeout)
		if err = attempt(actx); errors.Is(err, offline.ErrUnavailable) || actx.Err() != nil {
			err = fmt.Errorf("%w: %w", offline.ErrGoOffline, err)
		}
		cancel()
	}
	switch {
	case err == nil:
	case errors.Is(err, offline.ErrGoOffline):
		if sent {
			// The request may have been posted while the answer was lost.
			t.reverse(ctx, rec, "no answer from the ledger")
		}
		t.decideOfflineAfterOnline(ctx, rec, out)
		return nil
	default:
		// The ledger refused the request: nothing was posted.
		rec.Status, rec.Reason = batch.Declined, "ledger refused the request"
		return nil
	}

	rec.AuthorizationID, rec.ApprovalCode = ans.AuthorizationID, ans.ApprovalCode
	switch ans.Outcome {
	case host.OutcomeApproved:
		if len(ans.ARC) > 0 && !bytes.Equal(ans.ARC, []byte("00")) {
			// The ledger's two answers disagree: trust neither.
			t.reverse(ctx, rec, "approval with a declining response code")
			return &ans
		}
		rec.Status = batch.Approved
		rec.IssuerAuth = issuerAuthData(ans.ARPC, ans.ARC)
		if len(ans.ARPC) != 8 && len(ans.ARPC) != 4 {
			tvr.Set(tags.TVRIssuerAuthenticationFailed)
		}
	case host.OutcomeDeclined:
		rec.Status, rec.Reason = batch.Declined, ans.Reason
		rec.IssuerAuth = issuerAuthData(ans.ARPC, ans.ARC)
	default:
		rec.Status, rec.Reason = batch.Declined, "ledger rejected: "+ans.Reason
	}
	return &ans
}

// issuerAuthData is tag 91 as the card would receive it: the ARPC
// followed by the ARC (method 1).
func issuerAuthData(arpc, arc []byte) string {
	if len(arpc) == 0 {
		return ""
	}
	return fmt.Sprintf("%X%X", arpc, arc)
}

// decideOfflineAfterOnline applies the offline rules to an online request
// that could not be authorized: they approve only a card's own offline
// approval, so an ARQC ends declined, with the limit named.
func (t *Terminal) decideOfflineAfterOnline(ctx context.Context, rec *batch.Record, out *kernel.Outcome) {
	reversal, reason := rec.Reversal, rec.Reason
	// Never shown as approved: were it stored, recovery cancels it.
	_, release := t.decideOffline(ctx, rec, out)
	release()
	if rec.Status == batch.Declined {
		rec.Reason = "unable to go online; " + rec.Reason
	}
	if reversal != batch.NoReversal {
		// The reversal keeps its own record: the sale itself is declined
		// and reversed on the ledger.
		rec.Status, rec.Reversal, rec.Reason = batch.Reversed, reversal, reason+"; "+rec.Reason
	}
}

// reverse sends the reversal of rec now; if the ledger does not answer it
// stays pending for ResolvePending.
func (t *Terminal) reverse(ctx context.Context, rec *batch.Record, why string) {
	rec.Status, rec.Reversal, rec.Reason = batch.Reversed, batch.ReversalPending, why
	if t.Host == nil {
		return
	}
	d := t.ReversalTimeout
	if d <= 0 {
		d = 2 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if _, err := t.Host.Reverse(rctx, rec.TxnID); err == nil {
		rec.Reversal = batch.ReversalDone
	}
}

// ResolvePending finishes what a crash or an outage left open: online
// sales left pending for longer than InterruptedAfter are reversed, pending reversals are sent again, and
// pending refunds and voids are resent with their own ids (the ledger
// answers a repeat from its first answer). It returns how many records it
// resolved; the error is the first failure, the rest stay pending.
func (t *Terminal) ResolvePending(ctx context.Context) (int, error) {
	if t.Host == nil {
		return 0, nil
	}
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	done := 0
	pending, err := t.Journal.Unresolved(ctx)
	if err != nil {
		return 0, err
	}
	age := t.InterruptedAfter
	if age <= 0 {
		age = time.Minute
	}
	cutoff := t.now().Add(-age)
	for _, r := range pending {
		switch r.Type {
		case batch.Purchase:
			if r.Created.After(cutoff) {
				continue // possibly still waiting for its answer elsewhere
			}
			r.Status, r.Reversal, r.Reason = batch.Reversed, batch.ReversalPending, "interrupted before the ledger answered"
			if _, err := t.Journal.Update(ctx, r); err != nil {
				return done, err
			}
		case batch.Refund, batch.Void:
			orig, err := t.Journal.Get(ctx, r.OrigTxnID)
			if err != nil {
				keep(err)
				continue
			}
			if _, err := t.sendRefundOrVoid(ctx, r, orig); err != nil {
				keep(err)
				continue
			}
			done++
		}
	}
	revs, err := t.Journal.PendingReversals(ctx)
	if err != nil {
		return done, err
	}
	for _, r := range revs {
		if _, err := t.Host.Reverse(ctx, r.TxnID); err != nil {
			keep(err)
			continue
		}
		r.Reversal = batch.ReversalDone
		if _, err := t.Journal.Update(ctx, r); err != nil {
			return done, err
		}
		done++
	}
	return done, firstErr
}

// NoteSynced copies what the ledger answered for synced offline items
// into the journal: the authorization id (needed for refunds, voids and
// reconciliation) or the reason it was declined on sync. An item the
// journal lacks (the terminal stopped between the queue's commit and the
// journal's) is added to it.
func (t *Terminal) NoteSynced(ctx context.Context, items []offline.Item) error {
	for _, it := range items {
		r, err := t.Journal.Get(ctx, it.TxnID)
		if errors.Is(err, batch.ErrNotFound) {
			cur := t.Currency
			if cur.Alpha != it.Currency {
				if cur, err = receipt.LookupCurrency(it.Currency); err != nil {
					cur = receipt.Currency{Alpha: it.Currency, Exponent: 2}
				}
			}
			r, err = t.Journal.Add(ctx, batch.Record{TxnID: it.TxnID, Type: batch.Purchase, Status: batch.OfflineApproved,
				Offline: true, Amount: it.Amount, Currency: cur, MaskedPAN: it.MaskedPAN, ApprovalCode: "OFFLINE",
				Reason: "recovered from the offline queue"})
		}
		if err != nil {
			return err
		}
		switch it.State {
		case offline.StateAccepted, offline.StateBookedOverdraft:
			if r.AuthorizationID == it.AuthorizationID {
				continue
			}
			r.AuthorizationID = it.AuthorizationID
		case offline.StateDeclined:
			// The goods are gone; the merchant sees it in the reconciliation.
			if strings.HasPrefix(r.Reason, "declined on sync") {
				continue
			}
			r.Reason = "declined on sync: " + it.Reason
		default:
			continue
		}
		if _, err := t.Journal.Update(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// NoteAnswered runs NoteSynced over every item of q the ledger has
// answered for. Answered items stay in the queue for good, so it pages
// through them. Items not answered yet are left out: one held or queued
// by a sale still running is that sale's to journal.
func (t *Terminal) NoteAnswered(ctx context.Context, q *offline.Queue) error {
	o := offline.ListOptions{States: []offline.State{offline.StateAccepted, offline.StateBookedOverdraft, offline.StateDeclined}, Limit: 500}
	return q.EachPage(ctx, o, func(items []offline.Item) error { return t.NoteSynced(ctx, items) })
}

// CatchUp brings the journal up to date with the ledger, as a terminal
// should on start: ResolvePending, then, with a queue, NoteAnswered. Both
// run whatever the other's failure; it returns how many pending records
// were resolved and the failures, joined.
func (t *Terminal) CatchUp(ctx context.Context, q *offline.Queue) (int, error) {
	n, err := t.ResolvePending(ctx)
	if err != nil {
		err = fmt.Errorf("resolving pending requests: %w", err)
	}
	if q != nil {
		if qerr := t.NoteAnswered(ctx, q); qerr != nil {
			err = errors.Join(err, fmt.Errorf("reading the offline queue: %w", qerr))
		}
	}
	return n, err
}

// Refund refunds amount of an approved sale, found by its transaction id;
// an amount of 0 refunds what is left of it.
func (t *Terminal) Refund(ctx context.Context, origTxnID string, amount int64) (*Result, error) {
	orig, err := t.refundable(ctx, origTxnID)
	if err != nil {
		return nil, err
	}
	related, err := t.Journal.Related(ctx, origTxnID)
	if err != nil {
		return nil, err
	}
	left := orig.Amount
	for _, r := range related {
		if r.Type == batch.Refund && (r.Status == batch.Approved || r.Status == batch.Pending) {
			left -= r.Amount
		}
	}
	if amount == 0 {
		amount = left
	}
	if amount <= 0 || amount > left {
		return nil, fmt.Errorf("refund of %s: %w: %s left to refund", origTxnID, ErrNotRefundable, orig.Currency.Format(left))
	}
	return t.refundOrVoid(ctx, batch.Refund, orig, amount)
}

// Void cancels an approved sale before settlement, found by its
// transaction id.
func (t *Terminal) Void(ctx context.Context, origTxnID string) (*Result, error) {
	orig, err := t.refundable(ctx, origTxnID)
	if err != nil {
		return nil, err
	}
	related, err := t.Journal.Related(ctx, origTxnID)
	if err != nil {
		return nil, err
	}
	for _, r := range related {
		if r.Type == batch.Refund && r.Status != batch.Declined {
			return nil, fmt.Errorf("void of %s: %w: it was refunded", origTxnID, ErrNotRefundable)
		}
	}
	return t.refundOrVoid(ctx, batch.Void, orig, orig.Amount)
}

func (t *Terminal) refundable(ctx context.Context, txnID string) (batch.Record, error) {
	orig, err := t.Journal.Get(ctx, txnID)
	switch {
	case err != nil:
		return orig, err
	case orig.Type != batch.Purchase || !(orig.Status == batch.Approved || orig.Status == batch.OfflineApproved):
		return orig, fmt.Errorf("%s is a %s %s: %w", txnID, orig.Status, orig.Type, ErrNotRefundable)
	case orig.AuthorizationID == "":
		return orig, fmt.Errorf("%s: %w: %w", txnID, ErrNotRefundable, ErrNotSynced)
	case t.Host == nil:
		return orig, fmt.Errorf("%s: %w: no ledger configured", txnID, ErrNotRefundable)
	}
	return orig, nil
}

func (t *Terminal) refundOrVoid(ctx context.Context, typ batch.Type, orig batch.Record, amount int64) (*Result, error) {
	id, err := t.NewID()
	if err != nil {
		return nil, fmt.Errorf("%s: making transaction id: %w", typ, err)
	}
	start := t.now()
	rec := batch.Record{TxnID: id, Type: typ, Status: batch.Pending, Amount: amount, Currency: orig.Currency,
		OrigTxnID: orig.TxnID, AuthorizationID: orig.AuthorizationID, MaskedPAN: orig.MaskedPAN,
		Label: orig.Label, AID: orig.AID}
	if _, err := t.Journal.Add(ctx, rec); err != nil {
		return nil, fmt.Errorf("%s of %s: %w", typ, orig.TxnID, err)
	}
	t.emit(Event{Kind: Authorising, TxnID: id, Message: kernel.MsgAuthorising})
	res, err := t.sendRefundOrVoid(ctx, rec, orig)
	if err != nil {
		return nil, err
	}
	res.Elapsed = t.now().Sub(start)
	t.emitResult(res)
	return res, nil
}

// sendRefundOrVoid sends a pending refund or void and records the answer.
func (t *Terminal) sendRefundOrVoid(ctx context.Context, rec, orig batch.Record) (*Result, error) {
	var ans host.Result
	var err error
	if rec.Type == batch.Void {
		ans, err = t.Host.Void(ctx, rec.TxnID, orig.AuthorizationID)
	} else {
		ans, err = t.Host.Refund(ctx, rec.TxnID, orig.AuthorizationID, rec.Amount)
	}
	switch {
	case errors.Is(err, offline.ErrUnavailable):
		return nil, fmt.Errorf("%s %s: %w: %w", rec.Type, rec.TxnID, ErrHostUnavailable, err)
	case err != nil:
		rec.Status, rec.Reason = batch.Declined, "ledger refused the request"
	case ans.Outcome == host.OutcomeOK || ans.Outcome == host.OutcomeApproved:
		rec.Status, rec.ApprovalCode = batch.Approved, ans.ApprovalCode
	default:
		rec.Status, rec.Reason = batch.Declined, ans.Reason
	}
	if rec.Status == batch.Approved && rec.Type == batch.Void {
		orig.Status = batch.Voided
		if _, err := t.Journal.Update(ctx, orig); err != nil {
			return nil, err
		}
	}
	stored, uerr := t.Journal.Update(ctx, rec)
	if uerr != nil {
		return nil, uerr
	}
	res := &Result{Record: stored, Receipt: t.ReceiptOf(stored)}
	if err == nil {
		res.Host = &ans
	}
	return res, nil
}

// ReceiptOf makes the receipt of a journal record.
func (t *Terminal) ReceiptOf(r batch.Record) *receipt.Receipt {
	rc := &receipt.Receipt{
		ID: r.TxnID, Merchant: t.Header.Merchant, MerchantID: t.Header.MerchantID, TerminalID: t.Header.TerminalID,
		Time: r.Created, Type: map[batch.Type]string{batch.Purchase: "SALE", batch.Refund: "REFUND", batch.Void: "VOID"}[r.Type],
		Amount: r.Amount, Currency: r.Currency, MaskedPAN: r.MaskedPAN, Label: r.Label, AID: r.AID,
		CVM: r.CVM, TVR: r.TVR, TSI: r.TSI, ATC: r.ATC, OrigTxnID: r.OrigTxnID,
	}
	switch r.Status {
	case batch.Approved:
		rc.Result, rc.ApprovalCode = receipt.ApprovedOnline, r.ApprovalCode
	case batch.OfflineApproved:
		rc.Result = receipt.ApprovedOffline
	case batch.Voided:
		rc.Result, rc.ApprovalCode = receipt.Voided, r.ApprovalCode
	case batch.Reversed:
		rc.Result, rc.Reason = receipt.Reversed, r.Reason
	default:
		// Ledger reason codes read as words: insufficient_funds → insufficient funds.
		rc.Result, rc.Reason = receipt.Declined, strings.ReplaceAll(r.Reason, "_", " ")
	}
	if t.Linker != nil {
		rc.Link = t.Linker.Link(r.TxnID)
	}
	return rc
}

// NewIDs returns a source of terminal transaction ids,
// "<prefix>-<YYMMDDhhmmss>-<6 hex digits>" (UTC), from the clock and
// random bytes: unique across restarts without a counter to keep, and
// short enough for a receipt line.
func NewIDs(prefix string, now func() time.Time, rand io.Reader) func() (string, error) {
	return func() (string, error) {
		var b [3]byte
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s-%s-%X", prefix, now().UTC().Format("060102150405"), b), nil
	}
}
