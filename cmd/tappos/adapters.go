package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"tappos/emv/kernel"
	"tappos/offline"
	"tappos/terminal"
	"tappos/terminal/batch"
	"tappos/terminal/host"
	"tappos/terminal/sale"
	"tappos/ui"
)

// till adapts the sale flow (terminal/sale) to the kiosk's Payments,
// Status and Manager interfaces.
type till struct {
	t      *sale.Terminal
	host   *host.Client
	policy *offline.Policy
	queue  *offline.Queue
	syncer *offline.Syncer
	reader string
	// readerUp reports whether the reader is still there; nil means it
	// always is (the simulated reader).
	readerUp func() bool
	pin      string
	log      *slog.Logger

	// afterTap runs when a sale is over, e.g. to take the simulated card
	// out of the field.
	afterTap func()

	mu       sync.Mutex
	prompt   func(kernel.Message) // the running payment's, or nil
	retry    bool                 // the next tap is a retry: keep the retry message up
	saleDone time.Time            // when the last sale came back, for the benchmark
	settings ui.Settings
	saveFile func(ui.Settings) error
}

// event passes the sale's messages to the kiosk's tap screen.
func (p *till) event(e sale.Event) {
	p.mu.Lock()
	prompt := p.prompt
	p.mu.Unlock()
	if prompt == nil || e.Message == "" {
		return
	}
	switch e.Kind {
	case sale.PresentCard:
		p.mu.Lock()
		retry := p.retry
		p.retry = false
		p.mu.Unlock()
		if !retry {
			prompt(e.Message)
		}
	case sale.Processing, sale.RemoveCard, sale.Authorising:
		prompt(e.Message)
	case sale.Failed:
		if e.Message != "No card presented" {
			prompt(e.Message)
		}
	}
}

func (p *till) withPrompt(prompt func(kernel.Message), f func() (*sale.Result, error)) (ui.Result, error) {
	p.mu.Lock()
	p.prompt = prompt
	p.mu.Unlock()
	res, err := f()
	p.mu.Lock()
	p.prompt = nil
	p.saleDone = time.Now()
	p.mu.Unlock()
	if p.afterTap != nil {
		p.afterTap()
	}
	if errors.Is(err, sale.ErrNotRecorded) {
		// The money is taken: show the approval, with a note for the
		// manager, never "no money was taken".
		p.log.Error("approved sale not recorded", "txn", res.Record.TxnID, "err", err)
		out := toResult(res)
		out.NotRecorded = true
		return out, nil
	}
	if err != nil {
		return ui.Result{Reason: reasonOfErr(err)}, err
	}
	return toResult(res), nil
}

// maxTries bounds the taps of one charge: a card that leaves the field
// too early, or a phone that wants its owner to unlock it, is presented
// again rather than failing the charge.
const maxTries = 3

// Charge runs a sale, asking for the card again after a failed tap.
func (p *till) Charge(ctx context.Context, amount int64, prompt func(kernel.Message)) (ui.Result, error) {
	return p.withPrompt(prompt, func() (*sale.Result, error) {
		for try := 1; ; try++ {
			res, err := p.t.Sale(ctx, amount)
			if !errors.Is(err, sale.ErrTryAgain) || try == maxTries || ctx.Err() != nil {
				return res, err
			}
			msg := kernel.MsgPresentCardAgain
			if res != nil && res.Outcome != nil && slices.Contains(res.Outcome.Messages, kernel.MsgSeePhone) {
				msg = kernel.MsgSeePhone
			}
			if p.afterTap != nil {
				p.afterTap()
			}
			p.mu.Lock()
			p.retry = true
			p.mu.Unlock()
			prompt(msg)
		}
	})
}

// lift asks the shopper to lift a card the last transaction left on the
// reader, which pays for nothing until presented again, and to present one
// once it is gone.
func (p *till) lift(waiting bool) {
	p.mu.Lock()
	prompt := p.prompt
	p.mu.Unlock()
	switch {
	case prompt == nil:
	case waiting:
		prompt(kernel.MsgRemoveCard)
	default:
		prompt(kernel.MsgPresentCard)
	}
}

// Refund refunds through the ledger; no card tap is needed because the
// ledger refunds the original authorization.
func (p *till) Refund(ctx context.Context, txnID string, amount int64, prompt func(kernel.Message)) (ui.Result, error) {
	return p.withPrompt(prompt, func() (*sale.Result, error) { return p.t.Refund(ctx, txnID, amount) })
}

// Void voids a sale of the open batch.
func (p *till) Void(ctx context.Context, txnID string) (ui.Result, error) {
	return p.withPrompt(nil, func() (*sale.Result, error) { return p.t.Void(ctx, txnID) })
}

// Lookup finds a sale by transaction id, or by approval code in the
// open batch.
func (p *till) Lookup(ctx context.Context, ref string) (ui.Txn, error) {
	j := p.t.Journal
	r, err := j.Get(ctx, ref)
	if errors.Is(err, batch.ErrNotFound) {
		cur, cerr := j.Current(ctx)
		if cerr != nil {
			return ui.Txn{}, cerr
		}
		recs, rerr := j.Records(ctx, cur.No)
		if rerr != nil {
			return ui.Txn{}, rerr
		}
		for _, c := range recs {
			if c.Type == batch.Purchase && c.ApprovalCode != "" && strings.EqualFold(c.ApprovalCode, ref) {
				r, err = c, nil
			}
		}
	}
	if errors.Is(err, batch.ErrNotFound) {
		return ui.Txn{}, ui.ErrNotFound
	}
	if err != nil {
		return ui.Txn{}, err
	}
	related, err := j.Related(ctx, r.TxnID)
	if err != nil {
		return ui.Txn{}, err
	}
	t := ui.Txn{ID: r.TxnID, Kind: ui.Sale, Amount: r.Amount, PAN: r.MaskedPAN, Label: r.Label,
		ApprovalCode: r.ApprovalCode, Time: r.Created, Voided: r.Status == batch.Voided,
		NotSynced: r.Status == batch.OfflineApproved && r.AuthorizationID == ""}
	refunded := false
	for _, x := range related {
		if x.Type == batch.Refund && (x.Status == batch.Approved || x.Status == batch.Pending) {
			t.Refunded += x.Amount
			refunded = true
		}
	}
	if cur, err := j.Current(ctx); err == nil {
		t.Voidable = r.Batch == cur.No && !refunded &&
			(r.Status == batch.Approved || r.Status == batch.OfflineApproved)
	}
	return t, nil
}

func toResult(res *sale.Result) ui.Result {
	r := res.Record
	out := ui.Result{
		Approved: res.Approved(), Offline: r.Offline, ApprovalCode: r.ApprovalCode, TxnID: r.TxnID,
		Amount: r.Amount, PAN: r.MaskedPAN, Label: r.Label, Kind: ui.Sale,
		Reversing: r.Status == batch.Reversed && r.Reversal == batch.ReversalPending,
	}
	switch r.Type {
	case batch.Refund:
		out.Kind = ui.Refund
	case batch.Void:
		out.Kind = ui.Void
	}
	if !out.Approved {
		out.Reason = reasonOf(r.Reason)
	}
	if out.ApprovalCode == "OFFLINE" {
		out.ApprovalCode = ""
	}
	if rc := res.Receipt; rc != nil {
		var b bytes.Buffer
		if err := rc.WriteText(&b); err == nil {
			out.Receipt = strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
		}
		out.ReceiptURL = rc.Link
	}
	return out
}

// reasonOf turns the journal's reason words into a kiosk reason.
func reasonOf(why string) ui.Reason {
	switch {
	case why == sale.ReasonNoPINEntry:
		return ui.ReasonNoPINEntry
	case strings.Contains(why, "insufficient_funds"):
		return ui.ReasonFunds
	case strings.Contains(why, "offline limit"), strings.Contains(why, "unable to go online"):
		return ui.ReasonOfflineLimit
	case strings.Contains(why, "declined by the card"):
		return ui.ReasonCard
	case strings.Contains(why, "card_blocked"), strings.Contains(why, "unknown_card"),
		strings.Contains(why, "no acceptable cardholder verification"):
		return ui.ReasonTryAnotherCard
	case strings.Contains(why, "bad_cryptogram"), strings.Contains(why, "declining response code"):
		return ui.ReasonIssuerAuth
	case strings.Contains(why, "limit"):
		return ui.ReasonNotAllowed
	}
	return ui.Reason(why)
}

func reasonOfErr(err error) ui.Reason {
	switch {
	case errors.Is(err, terminal.ErrNoReader), errors.Is(err, terminal.ErrReaderGone):
		return ui.ReasonNoReader
	case errors.Is(err, sale.ErrNoCard):
		return ui.ReasonTimeout
	case errors.Is(err, sale.ErrTryAgain):
		return ui.ReasonCommunication
	case errors.Is(err, kernel.ErrNotAllowed):
		return ui.ReasonNotAllowed
	case errors.Is(err, sale.ErrNotPossible):
		return ui.ReasonTryAnotherCard
	case errors.Is(err, sale.ErrNotSynced):
		return ui.ReasonNotSynced
	case errors.Is(err, sale.ErrNotRefundable):
		return ui.ReasonAlreadyRefunded
	case errors.Is(err, sale.ErrHostUnavailable):
		return ui.ReasonLedgerUnavailable
	case errors.Is(err, context.Canceled):
		return ui.ReasonCancelled
	}
	return ui.ReasonCommunication
}

// Status reports the reader, the ledger, the offline queue and the batch.
func (p *till) Status(ctx context.Context) (ui.StatusInfo, error) {
	st := ui.StatusInfo{Reader: p.reader, ReaderConnected: p.readerUp == nil || p.readerUp()}
	mode := p.policy.Mode()
	st.WorkOffline = mode.WorkOffline
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	st.LedgerOnline = p.host.Healthy(hctx) == nil
	cancel()
	qs, err := p.queue.Status(ctx)
	if err != nil {
		return st, err
	}
	st.Queued = qs.Unsent
	for _, c := range qs.ByCurrency {
		if c.Currency == p.t.Currency.Alpha {
			st.QueuedAmount += c.Amount
		}
	}
	cur, err := p.t.Journal.Current(ctx)
	if err != nil {
		return st, err
	}
	recs, err := p.t.Journal.Records(ctx, cur.No)
	if err != nil {
		return st, err
	}
	st.Batch.Number = cur.No
	for _, it := range batch.Items(recs) {
		st.Batch.Count++
		st.Batch.Amount += signed(it.Type, it.Amount)
	}
	return st, nil
}

// signed counts a refund against the batch and a voided sale as nothing.
func signed(t batch.Type, amount int64) int64 {
	switch t {
	case batch.Refund:
		return -amount
	case batch.Void:
		return 0
	}
	return amount
}

// CheckPIN compares in constant time.
func (p *till) CheckPIN(pin string) bool {
	return p.pin != "" && subtle.ConstantTimeCompare([]byte(pin), []byte(p.pin)) == 1
}

// XReport is the journal's X report as text.
func (p *till) XReport(ctx context.Context) ([]string, error) {
	rep, err := p.t.Journal.X(ctx, p.t.Header)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(b.String(), "\n"), "\n"), nil
}

// CloseBatch reconciles the open batch with the ledger and, when it
// balances (the ledger then closed its side), closes it with a Z report.
// A batch that does not balance stays open on both sides: the manager sees
// the differences, and closes again once they are resolved.
func (p *till) CloseBatch(ctx context.Context) (ui.Reconciliation, error) {
	rec, err := p.t.Journal.Reconcile(ctx, p.t.Header.TerminalID, p.host)
	if err != nil {
		p.log.Warn("batch close: reconciling with the ledger", "err", err)
		return ui.Reconciliation{}, err
	}
	var z *batch.Report
	if rec.Balanced() {
		if z, err = p.t.Journal.CloseBatch(ctx, p.t.Header); err != nil {
			p.log.Warn("batch close", "err", err)
			return ui.Reconciliation{}, err
		}
	}
	out := ui.Reconciliation{Batch: rec.Batch, Balanced: rec.Balanced()}
	add := func(m ui.Match, term, hst *batch.Item) {
		l := ui.ReconLine{Match: m}
		if term != nil {
			l.TxnID, l.Terminal = term.Key, signed(term.Type, term.Amount)
			out.TerminalCount++
			out.TerminalTotal += l.Terminal
		}
		if hst != nil {
			l.TxnID, l.Host = hst.Key, signed(hst.Type, hst.Amount)
			out.HostCount++
			out.HostTotal += l.Host
		}
		out.Lines = append(out.Lines, l)
	}
	for i := range rec.Matched {
		add(ui.Matched, &rec.Matched[i], &rec.Matched[i])
	}
	for i := range rec.MissingOnHost {
		add(ui.MissingHost, &rec.MissingOnHost[i], nil)
	}
	for i := range rec.MissingOnTerminal {
		add(ui.MissingTerminal, nil, &rec.MissingOnTerminal[i])
	}
	for i := range rec.Mismatched {
		add(ui.Mismatch, &rec.Mismatched[i].Terminal, &rec.Mismatched[i].Host)
	}
	if z != nil {
		var b bytes.Buffer
		if err := z.WriteText(&b); err == nil {
			out.Report = strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
		}
	}
	return out, nil
}

// Queue lists what waits for the ledger.
func (p *till) Queue(ctx context.Context) ([]ui.QueuedTxn, error) {
	// Held items are approvals being shown right now, or left by a crash
	// for the sync to settle by the display log: money at risk all the same.
	items, err := p.queue.List(ctx, offline.ListOptions{States: []offline.State{offline.StateHeld, offline.StateQueued, offline.StateSending}})
	if err != nil {
		return nil, err
	}
	out := make([]ui.QueuedTxn, 0, len(items))
	for _, it := range items {
		state := "queued"
		switch it.State {
		case offline.StateSending:
			state = "sending"
		case offline.StateHeld:
			state = "held"
		}
		out = append(out, ui.QueuedTxn{TxnID: it.TxnID, PAN: it.MaskedPAN, Amount: it.Amount, State: state, Queued: it.CreatedAt})
	}
	return out, nil
}

// SyncNow drains the offline queue and notes the ledger's answers in
// the journal, so synced sales can be refunded and reconciled.
func (p *till) SyncNow(ctx context.Context) (ui.SyncResult, error) {
	rep, err := p.syncer.Drain(ctx, 1)
	if err != nil && rep.Answered == 0 {
		return ui.SyncResult{Left: rep.Remaining}, err
	}
	if err := p.t.NoteAnswered(ctx, p.queue); err != nil {
		return ui.SyncResult{}, err
	}
	return ui.SyncResult{Sent: rep.Answered, Declined: rep.Declined, Left: rep.Remaining}, nil
}

// resolveTimeout bounds one round of pending requests sent to the
// ledger; what is left stays pending for the next round.
const resolveTimeout = 10 * time.Second

// forward keeps the terminal up to date with the ledger until ctx is
// done. At once it catches up with what a crash or an outage left open
// (see sale.Terminal.CatchUp); then, every interval while the ledger
// answers and the manager's offline switch is off, it sends pending
// reversals, refunds and voids again, and syncs the offline queue while
// it holds something, held taps a crash left included. Without it, a late
// approval whose reversal failed stays charged on the ledger.
func (p *till) forward(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	n, err := p.t.CatchUp(rctx, p.queue)
	cancel()
	logResolved(logger, n, err)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.policy.Mode().WorkOffline {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		err := p.host.Healthy(hctx)
		cancel()
		if err != nil {
			continue
		}
		rctx, cancel = context.WithTimeout(ctx, resolveTimeout)
		n, err = p.t.CatchUp(rctx, nil) // pending requests only: the queue is synced below
		cancel()
		logResolved(logger, n, err)
		st, err := p.queue.Status(ctx)
		if err != nil || st.Unsent+st.Held == 0 {
			continue
		}
		if _, err := p.SyncNow(ctx); err != nil {
			logger.Warn("forwarding the offline queue", "err", err)
		}
	}
}

// logResolved logs a round of pending requests sent to the ledger.
func logResolved(logger *slog.Logger, n int, err error) {
	if n > 0 {
		logger.Info("resolved pending requests", "n", n)
	}
	if err != nil {
		logger.Warn("catching up with the ledger", "err", err)
	}
}

// SetWorkOffline flips the manager's offline switch.
func (p *till) SetWorkOffline(_ context.Context, on bool) error {
	p.policy.SetWorkOffline(on)
	return nil
}

// Settings returns the kiosk settings.
func (p *till) Settings() ui.Settings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settings
}

// SaveSettings keeps the settings for the next start; the language
// applies at once (the kiosk switches itself).
func (p *till) SaveSettings(_ context.Context, s ui.Settings) error {
	p.mu.Lock()
	p.settings = s
	p.mu.Unlock()
	if p.saveFile != nil {
		return p.saveFile(s)
	}
	return nil
}

// lastSaleDone is when the last sale returned.
func (p *till) lastSaleDone() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.saleDone
}
