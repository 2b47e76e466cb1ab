package ui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"tappos/emv/kernel"
	"tappos/ui/i18n"
)

// payCall is one Charge or Refund waiting for the test to answer.
type payCall struct {
	kind   Kind
	txnID  string
	amount int64
	prompt func(kernel.Message)
	reply  chan payReply
	ctx    context.Context
}

type payReply struct {
	res Result
	err error
}

// fakePayments hands each card payment to the test through calls.
type fakePayments struct {
	calls chan *payCall
	txns  map[string]Txn
	voids []string
	// voidFail, when set, is what Void returns.
	voidFail *payReply
}

func newFakePayments() *fakePayments {
	return &fakePayments{calls: make(chan *payCall, 1), txns: map[string]Txn{
		"T0001": {ID: "T0001", Kind: Sale, Amount: 2500, PAN: "476173******0119", Label: "VISA CREDIT",
			ApprovalCode: "A1B2C3", Time: time.Date(2026, 11, 26, 14, 5, 0, 0, time.UTC), Voidable: true},
		"T0009": {ID: "T0009", Kind: Sale, Amount: 1200, PAN: "541333******0345", Label: "MASTERCARD",
			Time: time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC), Voidable: true, NotSynced: true},
	}}
}

func (f *fakePayments) pay(ctx context.Context, kind Kind, id string, amount int64, prompt func(kernel.Message)) (Result, error) {
	c := &payCall{kind: kind, txnID: id, amount: amount, prompt: prompt, reply: make(chan payReply, 1), ctx: ctx}
	f.calls <- c
	select {
	case r := <-c.reply:
		return r.res, r.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

func (f *fakePayments) Charge(ctx context.Context, amount int64, prompt func(kernel.Message)) (Result, error) {
	return f.pay(ctx, Sale, "", amount, prompt)
}

func (f *fakePayments) Refund(ctx context.Context, id string, amount int64, prompt func(kernel.Message)) (Result, error) {
	return f.pay(ctx, Refund, id, amount, prompt)
}

func (f *fakePayments) Void(_ context.Context, id string) (Result, error) {
	f.voids = append(f.voids, id)
	if f.voidFail != nil {
		return f.voidFail.res, f.voidFail.err
	}
	t := f.txns[id]
	return Result{Approved: true, Kind: Void, TxnID: id, Amount: t.Amount, PAN: t.PAN, Label: t.Label}, nil
}

func (f *fakePayments) Lookup(_ context.Context, ref string) (Txn, error) {
	if ref == "broken" {
		return Txn{}, errors.New("ledger unreachable")
	}
	for _, t := range f.txns {
		if t.ID == ref || t.ApprovalCode == ref {
			return t, nil
		}
	}
	return Txn{}, ErrNotFound
}

type fakeStatus struct {
	mu sync.Mutex
	st StatusInfo
}

func (f *fakeStatus) set(st StatusInfo) { f.mu.Lock(); f.st = st; f.mu.Unlock() }

func (f *fakeStatus) Status(context.Context) (StatusInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, nil
}

type fakeManager struct {
	mu       sync.Mutex
	offline  []bool
	settings Settings
	recon    Reconciliation
	synced   int
	closes   int
}

func (m *fakeManager) CheckPIN(pin string) bool { return pin == "1234" }

func (m *fakeManager) XReport(context.Context) ([]string, error) {
	return []string{"X REPORT       batch 7", "sales      3    EUR 45.50", "refunds    1    EUR -5.00", "net            EUR 40.50"}, nil
}

func (m *fakeManager) CloseBatch(context.Context) (Reconciliation, error) {
	m.mu.Lock()
	m.closes++
	m.mu.Unlock()
	return m.recon, nil
}

func (m *fakeManager) Queue(context.Context) ([]QueuedTxn, error) {
	at := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	return []QueuedTxn{
		{TxnID: "T0009", PAN: "541333******0345", Amount: 1250, State: "queued", Queued: at},
		{TxnID: "T0010", PAN: "476173******0119", Amount: 800, State: "failed", Queued: at.Add(time.Minute)},
	}, nil
}

func (m *fakeManager) SyncNow(context.Context) (SyncResult, error) {
	m.mu.Lock()
	m.synced++
	m.mu.Unlock()
	return SyncResult{Sent: 2}, nil
}

func (m *fakeManager) SetWorkOffline(_ context.Context, on bool) error {
	m.mu.Lock()
	m.offline = append(m.offline, on)
	m.mu.Unlock()
	return nil
}

func (m *fakeManager) Settings() Settings { return m.settings }

func (m *fakeManager) SaveSettings(_ context.Context, s Settings) error {
	m.settings = s
	return nil
}

type fakePrinter struct {
	mu    sync.Mutex
	fail  bool
	stuck bool // takes no data: returns only when ctx ends
	lines []string
	url   string
}

func (p *fakePrinter) Print(ctx context.Context, lines []string, url string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stuck {
		<-ctx.Done()
		return ctx.Err()
	}
	if p.fail {
		return errors.New("paper out")
	}
	p.lines, p.url = lines, url
	return nil
}

type fakeSounder struct {
	mu   sync.Mutex
	cues []Cue
}

func (s *fakeSounder) Play(c Cue) { s.mu.Lock(); s.cues = append(s.cues, c); s.mu.Unlock() }

func approvedResult(amount int64, offline bool) Result {
	r := Result{Approved: true, Offline: offline, Kind: Sale, TxnID: "T0002", Amount: amount, ApprovalCode: "00XK42",
		PAN: "541333******0345", Label: "MASTERCARD", ReceiptURL: "https://receipts.example/r/T0002"}
	code := "00XK42"
	if offline {
		r.ApprovalCode = ""
		code = "OFFLINE APPROVED"
	}
	r.Receipt = strings.Split("Demo Café\n2026-11-26 15:42\nMASTERCARD 541333******0345\nAID A0000000041010\nSALE   EUR "+
		i18n.MustNew(i18n.English).Money(amount, eur)[len("€"):]+"\n"+code, "\n")
	return r
}

var eur = i18n.Currency{Alpha: "EUR", Numeric: 978, Exponent: 2}
