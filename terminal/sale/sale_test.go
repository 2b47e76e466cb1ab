package sale

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tappos/emv/kernel"
	"tappos/emv/tlv"
	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/sqlitestore"
	"tappos/offline"
	"tappos/terminal"
	"tappos/terminal/batch"
	"tappos/terminal/cardsim"
	"tappos/terminal/host"
	"tappos/terminal/host/hosttest"
	"tappos/terminal/memreader"
	"tappos/terminal/receipt"
)

var update = flag.Bool("update", false, "rewrite golden files")

// cnShop is a shop in China: floor limit ¥300.00, CVM from ¥1000.00, by
// signature, as testdata/terminal/cn-shop.json (no online PIN).
const cnShop = `{
 "name": "sale test shop", "terminal_type": "22", "country": 156,
 "currency": {"numeric": 156, "alpha": "CNY", "exponent": 2},
 "capabilities": "E028C8", "additional_capabilities": "F000F0A001",
 "merchant_category": "5411", "merchant_id": "TAPPOS-CN-0001", "terminal_id": "CN000001", "timeout_ms": 500,
 "aids": [
  {"aid": "A0000000031010", "label": "Visa", "kernel": 3, "transaction_limit": 10000000,
   "floor_limit": 30000, "cvm_required_limit": 100000, "ttq": "32004000"},
  {"aid": "A0000000041010", "label": "Mastercard", "kernel": 2, "transaction_limit": 10000000,
   "floor_limit": 30000, "cvm_required_limit": 100000,
   "tac_denial": "0000000000", "tac_online": "F45084800C", "tac_default": "F45084800C",
   "cvm_capability_cvm_required": "20", "cvm_capability_no_cvm_required": "08"}
 ]
}`

var (
	cny     = receipt.Currency{Numeric: 156, Alpha: "CNY", Exponent: 2, Symbol: "¥"}
	shopTZ  = time.FixedZone("CST", 8*3600)
	epoch   = time.Date(2026, 11, 26, 10, 0, 0, 0, shopTZ)
	profile = []string{"visa-credit", "visa-offline", "mastercard-credit"}
)

// counter is a deterministic io.Reader.
type counter struct {
	mu sync.Mutex
	n  byte
}

func (r *counter) Read(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range b {
		b[i] = r.n
		r.n++
	}
	return len(b), nil
}

// clock moves a second each reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// rig is a terminal wired to an in-process ledger and an offline queue.
type rig struct {
	t      *Terminal
	reader *memreader.Reader
	queue  *offline.Queue
	client *host.Client
	fake   *hosttest.Ledger
	dir    string
	events []Event
	cards  map[string]*cardsim.Card
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newLedger starts a ledger with a wallet of ¥500.00 for each profile.
func newLedger(t *testing.T, clk func() time.Time) (*httptest.Server, string) {
	t.Helper()
	ctx := context.Background()
	var issuers []ledger.IssuerKey
	var pans []string
	for _, name := range profile {
		p, err := cardsim.LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		imk, _ := hex.DecodeString(p.IMK)
		issuers = append(issuers, ledger.IssuerKey{Prefix: p.PAN, Scheme: p.Scheme, IMK: imk})
		pans = append(pans, p.PAN)
	}
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(ledger.Config{Store: s, TokenSecret: []byte(strings.Repeat("s", 32)), Issuers: issuers,
		Now: clk, Rand: &counter{n: 0x11}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); s.Close() })
	m, err := l.CreateMerchant(ctx, "Demo Café")
	if err != nil {
		t.Fatal(err)
	}
	term, err := l.CreateTerminal(ctx, m.ID, "till 1")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := l.CreateAPIKey(ctx, ledger.RoleTerminal, m.ID, term.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, pan := range pans {
		w, err := l.CreateWallet(ctx, "shopper", "CNY", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.LinkCard(ctx, w.ID, pan); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Deposit(ctx, nil, w.ID, 50000, "CNY", "opening"); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(api.New(api.Config{Ledger: l, Logger: quiet(), Now: clk}))
	t.Cleanup(srv.Close)
	return srv, key
}

func newRig(t testing.TB, h Host) *rig {
	t.Helper()
	clk := &clock{t: epoch}
	cfg, err := kernel.ReadConfig(strings.NewReader(cnShop))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kernel.LoadCAKeyFiles(filepath.Join("..", "..", "testdata", "ca", "capk-tappos.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	j, err := batch.Open(filepath.Join(dir, "journal.db"), batch.Options{Now: clk.Now, Location: shopTZ})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	var key offline.Key
	copy(key[:], "terminal key for the sale tests.")
	q, err := offline.Open(filepath.Join(dir, "offline.db"), offline.Options{Key: key, Now: clk.Now, Rand: &counter{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })

	r := &rig{reader: memreader.New("test reader"), queue: q, cards: map[string]*cardsim.Card{}, dir: dir}
	if h == nil {
		r.fake = hosttest.New()
		r.fake.DeclineAbove = 50000
		t.Cleanup(r.fake.Close)
		r.client = &host.Client{BaseURL: r.fake.URL, APIKey: "terminal key"}
		h = r.client
	}
	for _, name := range append(profile, "pulled", "phone-visa", "phone-mastercard") {
		p, err := cardsim.LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cardsim.NewCard(p, &counter{})
		if err != nil {
			t.Fatal(err)
		}
		r.cards[name] = c
	}
	r.t = &Terminal{
		Kernel:   &kernel.Kernel{Config: cfg, CAKeys: keys, Rand: &counter{n: 0x40}, Now: clk.Now},
		Reader:   r.reader,
		Journal:  j,
		Host:     h,
		Router:   offline.NewPolicy(offline.PolicyConfig{Timeout: 300 * time.Millisecond, Now: clk.Now}),
		Queue:    q,
		Currency: cny,
		Header:   batch.Header{Merchant: "Demo Café", MerchantID: "TAPPOS-CN-0001", TerminalID: "CN000001"},
		Linker:   &receipt.Linker{Base: "https://r.tappos.example", Key: []byte("receipt link key 0123456789abcde")},
		Now:      clk.Now,
		NewID:    NewIDs("CN000001", clk.Now, &counter{n: 0xA0}),
		Event:    func(e Event) { r.events = append(r.events, e) },

		CardTimeout:     200 * time.Millisecond,
		ReversalTimeout: 300 * time.Millisecond,
	}
	return r
}

func (r *rig) tap(t testing.TB, card string, amount int64) (*Result, error) {
	t.Helper()
	r.reader.Present(r.cards[card])
	defer r.reader.Remove()
	r.events = nil
	return r.t.Sale(context.Background(), amount)
}

func golden(t *testing.T, name string, rc *receipt.Receipt) {
	t.Helper()
	var b bytes.Buffer
	if err := rc.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".txt")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("receipt differs from %s:\n%s", path, b.String())
	}
	for _, pan := range []string{"4761739001010010", "4761739001010028", "5413330089010343"} {
		if strings.Contains(b.String(), pan) {
			t.Errorf("receipt carries a full PAN")
		}
	}
}

func kinds(es []Event) string {
	var s []string
	for _, e := range es {
		s = append(s, string(e.Kind))
	}
	return strings.Join(s, " ")
}

// TestDay runs a shop's morning: online, offline, declined, refund and
// void, with golden receipts, then reconciles with the ledger before and
// after the offline sale is synced.
func TestDay(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)

	// Online approval: visa-credit asks for an ARQC.
	online, err := r.tap(t, "visa-credit", 1250)
	if err != nil {
		t.Fatal(err)
	}
	if online.Record.Status != batch.Approved || online.Record.ApprovalCode == "" || online.Record.AuthorizationID == "" {
		t.Fatalf("online: %+v", online.Record)
	}
	if got := kinds(r.events); got != "present_card processing remove_card authorising approved" {
		t.Errorf("events: %s", got)
	}
	// 91 is the 8-byte ARPC and the ARC "00"; the card never saw it, so
	// the TSI does not claim issuer authentication.
	if ia := online.Record.IssuerAuth; len(ia) != 20 || !strings.HasSuffix(ia, "3030") {
		t.Errorf("issuer authentication data %q", ia)
	}
	if online.Record.TVR[8] != '0' || online.Record.TSI[1] == '1' {
		t.Errorf("TVR %s TSI %s", online.Record.TVR, online.Record.TSI)
	}
	golden(t, "approved-online", online.Receipt)

	// Offline approval: visa-offline approves ¥25.00 with fDDA.
	off, err := r.tap(t, "visa-offline", 2500)
	if err != nil {
		t.Fatal(err)
	}
	if off.Record.Status != batch.OfflineApproved || !off.Record.Offline {
		t.Fatalf("offline: %+v", off.Record)
	}
	if got := kinds(r.events); got != "present_card processing remove_card offline approved" {
		t.Errorf("events: %s", got)
	}
	golden(t, "approved-offline", off.Receipt)

	// Declined by the ledger: ¥800.00 is more than the wallet holds.
	dec, err := r.tap(t, "visa-credit", 80000)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Record.Status != batch.Declined || dec.Record.Reason != "insufficient_funds" {
		t.Fatalf("declined: %+v", dec.Record)
	}
	golden(t, "declined", dec.Receipt)

	// Refund part of the online sale, by lookup.
	ref, err := r.t.Refund(ctx, online.Record.TxnID, 500)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Record.Status != batch.Approved || ref.Record.OrigTxnID != online.Record.TxnID {
		t.Fatalf("refund: %+v", ref.Record)
	}
	golden(t, "refund", ref.Receipt)
	if _, err := r.t.Refund(ctx, online.Record.TxnID, 800); !errors.Is(err, ErrNotRefundable) {
		t.Fatalf("refund beyond the sale: %v", err)
	}
	if _, err := r.t.Void(ctx, online.Record.TxnID); !errors.Is(err, ErrNotRefundable) {
		t.Fatalf("void of a refunded sale: %v", err)
	}
	// The offline sale has not reached the ledger yet.
	if _, err := r.t.Refund(ctx, off.Record.TxnID, 0); !errors.Is(err, ErrNotRefundable) || !errors.Is(err, ErrNotSynced) {
		t.Fatalf("refund of an unsynced offline sale: %v", err)
	}

	// Void a fresh sale.
	mc, err := r.tap(t, "visa-credit", 3000)
	if err != nil || mc.Record.Status != batch.Approved {
		t.Fatalf("sale to void: %+v, %v", mc, err)
	}
	v, err := r.t.Void(ctx, mc.Record.TxnID)
	if err != nil || v.Record.Status != batch.Approved {
		t.Fatalf("void: %+v, %v", v, err)
	}
	if got, _ := r.t.Journal.Get(ctx, mc.Record.TxnID); got.Status != batch.Voided {
		t.Fatalf("voided sale is %s", got.Status)
	}

	// Reconcile with the ledger: the offline sale is not uploaded yet,
	// and the ledger holds a different amount for the first sale.
	r.fake.Alter(online.Record.TxnID, 1350)
	rec, err := r.t.Journal.Reconcile(ctx, "CN000001", r.client)
	if err != nil {
		t.Fatal(err)
	}
	var before bytes.Buffer
	rec.WriteText(&before)
	if rec.Balanced() || len(rec.MissingOnHost) != 1 || rec.MissingOnHost[0].Key != off.Record.TxnID ||
		len(rec.Mismatched) != 1 || rec.Mismatched[0].Host.Amount != 1350 {
		t.Fatalf("before the fixes:\n%s", before.String())
	}
	r.fake.Alter(online.Record.TxnID, 1250)
	// Sync, note the ledger's ids, and it balances.
	syncer := &offline.Syncer{Queue: r.queue, Forwarder: &offline.HTTPForwarder{BaseURL: r.client.BaseURL, APIKey: r.client.APIKey},
		Rand: &counter{}, Logger: quiet()}
	if rep, err := syncer.Drain(ctx, 3); err != nil || rep.Remaining != 0 {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	items, err := r.queue.List(ctx, offline.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.t.NoteSynced(ctx, items); err != nil {
		t.Fatal(err)
	}
	rec, err = r.t.Journal.Reconcile(ctx, "CN000001", r.client)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	rec.WriteText(&b)
	if !rec.Balanced() || len(rec.Matched) != 4 {
		t.Fatalf("after sync:\n%s", b.String())
	}
	// Now the offline sale can be refunded too.
	if _, err := r.t.Refund(ctx, off.Record.TxnID, 0); err != nil {
		t.Fatalf("refund of the synced offline sale: %v", err)
	}

	// The journal holds masked PANs only, in the database and its WAL.
	for _, f := range []string{"journal.db", "journal.db-wal"} {
		b, err := os.ReadFile(filepath.Join(r.dir, f))
		if err != nil {
			continue
		}
		for _, name := range profile {
			p, _ := cardsim.LoadProfile(name)
			if bytes.Contains(b, []byte(p.PAN)) || bytes.Contains(b, bcdPAN(p.PAN)) {
				t.Errorf("%s holds the full PAN of %s", f, name)
			}
		}
	}
}

func bcdPAN(pan string) []byte {
	if len(pan)%2 == 1 {
		pan += "F"
	}
	b, _ := hex.DecodeString(pan)
	return b
}

// slowHost never answers authorizations in time, and counts reversals.
type slowHost struct {
	mu        sync.Mutex
	reversals []string
	down      bool // reversals fail too
}

func (h *slowHost) Authorize(ctx context.Context, r host.AuthRequest) (host.Result, error) {
	<-ctx.Done()
	return host.Result{}, offline.ErrUnavailable
}

func (h *slowHost) Reverse(ctx context.Context, txnID string) (host.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return host.Result{}, offline.ErrUnavailable
	}
	h.reversals = append(h.reversals, txnID)
	return host.Result{Outcome: host.OutcomeOK}, nil
}

func (h *slowHost) Refund(ctx context.Context, key, authID string, amount int64) (host.Result, error) {
	return host.Result{}, offline.ErrUnavailable
}

func (h *slowHost) Void(ctx context.Context, key, authID string) (host.Result, error) {
	return host.Result{}, offline.ErrUnavailable
}

func TestTimeoutReversal(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		down        bool
		wantPending bool
	}{
		{"reversed at once", false, false},
		{"reversal pending until the ledger is back", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &slowHost{down: tt.down}
			r := newRig(t, h)
			res, err := r.tap(t, "visa-credit", 1250)
			if err != nil {
				t.Fatal(err)
			}
			if res.Approved() || res.Record.Status != batch.Reversed {
				t.Fatalf("record %+v", res.Record)
			}
			pend, _ := r.t.Journal.PendingReversals(ctx)
			if (len(pend) == 1) != tt.wantPending {
				t.Fatalf("pending reversals %d", len(pend))
			}
			h.down = false
			if _, err := r.t.ResolvePending(ctx); err != nil {
				t.Fatal(err)
			}
			if len(h.reversals) != 1 || h.reversals[0] != res.Record.TxnID {
				t.Fatalf("reversals sent %v", h.reversals)
			}
			if got, _ := r.t.Journal.Get(ctx, res.Record.TxnID); got.Reversal != batch.ReversalDone {
				t.Fatalf("reversal %q", got.Reversal)
			}
			// The ledger is now known down: the next online card is
			// declined offline without waiting and without a reversal.
			res, err = r.tap(t, "visa-credit", 1250)
			if err != nil || res.Record.Status != batch.Declined || !strings.Contains(res.Record.Reason, "card_decision") {
				t.Fatalf("second tap: %+v, %v", res.Record, err)
			}
			// An offline card is still approved.
			res, err = r.tap(t, "visa-offline", 1250)
			if err != nil || res.Record.Status != batch.OfflineApproved {
				t.Fatalf("offline tap: %+v, %v", res.Record, err)
			}
		})
	}
}

func TestCrashRecovery(t *testing.T) {
	ctx := context.Background()
	h := &slowHost{}
	r := newRig(t, h)
	// A sale whose process died between the request and the answer.
	if _, err := r.t.Journal.Add(ctx, batch.Record{TxnID: "CN000001-crashed", Type: batch.Purchase, Status: batch.Pending, Amount: 100, Currency: cny}); err != nil {
		t.Fatal(err)
	}
	// A refund in the same state is resent, and stays pending while the
	// ledger is away.
	if _, err := r.t.Journal.Add(ctx, batch.Record{TxnID: "CN000001-orig", Type: batch.Purchase, Status: batch.Approved, Amount: 100, Currency: cny, AuthorizationID: "au_1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.t.Journal.Add(ctx, batch.Record{TxnID: "CN000001-refund", Type: batch.Refund, Status: batch.Pending, Amount: 100, Currency: cny, OrigTxnID: "CN000001-orig", AuthorizationID: "au_1"}); err != nil {
		t.Fatal(err)
	}
	// At once the sale may still be in flight in another process: left alone.
	if n, err := r.t.ResolvePending(ctx); n != 0 || !errors.Is(err, ErrHostUnavailable) {
		t.Fatalf("ResolvePending at once = %d, %v", n, err)
	}
	if got, _ := r.t.Journal.Get(ctx, "CN000001-crashed"); got.Status != batch.Pending {
		t.Fatalf("a fresh pending sale was reversed: %+v", got)
	}
	// Two minutes later it was interrupted: reversed.
	now := r.t.Now
	r.t.Now = func() time.Time { return now().Add(2 * time.Minute) }
	// An offline approval the queue committed but the journal never saw.
	if err := r.t.NoteSynced(ctx, []offline.Item{{TxnID: "CN000001-lost", Amount: 700, Currency: "CNY",
		MaskedPAN: "476173******0028", State: offline.StateAccepted, AuthorizationID: "au_9"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.t.Journal.Get(ctx, "CN000001-lost"); err != nil || got.Status != batch.OfflineApproved || got.AuthorizationID != "au_9" || got.Currency != cny {
		t.Fatalf("recovered offline sale: %+v, %v", got, err)
	}
	n, err := r.t.ResolvePending(ctx)
	if n != 1 || !errors.Is(err, ErrHostUnavailable) {
		t.Fatalf("ResolvePending = %d, %v", n, err)
	}
	if got, _ := r.t.Journal.Get(ctx, "CN000001-crashed"); got.Status != batch.Reversed || got.Reversal != batch.ReversalDone {
		t.Fatalf("crashed sale: %+v", got)
	}
	if got, _ := r.t.Journal.Get(ctx, "CN000001-refund"); got.Status != batch.Pending {
		t.Fatalf("refund: %+v", got)
	}
}

// TestOfflineApprovedAtCommit checks the order that keeps a crash from
// hiding an approval or charging an unseen one: the Approved event of an
// offline sale comes once the queue holds the tap, still held, and before
// the journal has it, only once; the sale then confirms it.
func TestOfflineApprovedAtCommit(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	approved := 0
	r.t.Event = func(e Event) {
		if e.Kind != Approved {
			return
		}
		approved++
		items, err := r.queue.List(ctx, offline.ListOptions{})
		if err != nil || len(items) != 1 || items[0].TxnID != e.TxnID || items[0].State != offline.StateHeld {
			t.Errorf("at the Approved event the queue holds %+v (%v), want %s held", items, err, e.TxnID)
		}
		if _, err := r.t.Journal.Get(ctx, e.TxnID); !errors.Is(err, batch.ErrNotFound) {
			t.Errorf("at the Approved event the journal has %s already (%v): a crash before it would hide the approval", e.TxnID, err)
		}
		if !e.Offline || e.Result != nil || e.Amount != 2500 || e.Message != "Approved offline" {
			t.Errorf("event %+v", e)
		}
	}
	res, err := r.tap(t, "visa-offline", 2500)
	if err != nil || res.Record.Status != batch.OfflineApproved {
		t.Fatalf("sale: %+v, %v", res, err)
	}
	if approved != 1 {
		t.Errorf("%d Approved events, want 1", approved)
	}
	items, err := r.queue.List(ctx, offline.ListOptions{})
	if err != nil || len(items) != 1 || items[0].State != offline.StateQueued {
		t.Errorf("after the sale the queue holds %+v (%v), want it queued", items, err)
	}
}

// unconfirmed is a queue whose Confirm fails.
type unconfirmed struct{ *offline.Queue }

func (unconfirmed) Confirm(context.Context, string) error { return errors.New("disk full") }

// TestOfflineConfirmFails checks that, without a display log, a shown
// approval the queue did not confirm is journaled as not charged and
// reported as an error (with one, see TestDisplayLogSettles).
func TestOfflineConfirmFails(t *testing.T) {
	r := newRig(t, nil)
	r.t.Queue = unconfirmed{r.queue}
	res, err := r.tap(t, "visa-offline", 2500)
	if err == nil || res == nil || res.Record.Status != batch.OfflineApproved || !strings.Contains(res.Record.Reason, "not charged") {
		t.Fatalf("sale: %+v, %v; want a journaled approval marked not charged, and an error", res, err)
	}
}

// cancelOnClose is a reader whose card cancels the sale as it is let go,
// once the kernel has read it: the cashier's Cancel just then.
type cancelOnClose struct {
	terminal.Reader
	cancel func()
}

func (r cancelOnClose) WaitCard(ctx context.Context) (terminal.Card, error) {
	c, err := r.Reader.WaitCard(ctx)
	if err != nil {
		return nil, err
	}
	return cancelledCard{c, r.cancel}, nil
}

type cancelledCard struct {
	terminal.Card
	cancel func()
}

func (c cancelledCard) Close() error {
	c.cancel()
	return c.Card.Close()
}

func TestNoDecision(t *testing.T) {
	r := newRig(t, &slowHost{})
	tests := []struct {
		name  string
		card  string
		want  error
		event string
	}{
		{"no card", "", ErrNoCard, "present_card failed"},
		{"card pulled", "pulled", ErrTryAgain, "present_card processing failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.events = nil
			if tt.card != "" {
				r.reader.Present(r.cards[tt.card])
				defer r.reader.Remove()
			}
			_, err := r.t.Sale(context.Background(), 1250)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if got := kinds(r.events); got != tt.event {
				t.Errorf("events %s", got)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := r.t.Sale(ctx, 1250); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cancelled as the card is read", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r.t.Reader = cancelOnClose{Reader: r.reader, cancel: cancel}
		defer func() { r.t.Reader = r.reader }()
		r.reader.Present(r.cards["visa-credit"])
		defer r.reader.Remove()
		if _, err := r.t.Sale(ctx, 1250); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
	recs, _ := r.t.Journal.Records(context.Background(), 1)
	if len(recs) != 0 {
		t.Fatalf("taps without a decision were journalled: %d", len(recs))
	}
}

// cancelInFlight is a ledger that posts the authorization, after which
// the caller's ctx is cancelled (the cashier presses Cancel while
// "Authorising"); with answer unset the answer is then lost.
type cancelInFlight struct {
	Host
	cancel func()
	answer bool
}

func (h cancelInFlight) Authorize(ctx context.Context, r host.AuthRequest) (host.Result, error) {
	ans, err := h.Host.Authorize(context.Background(), r)
	h.cancel()
	if h.answer {
		return ans, err
	}
	<-ctx.Done()
	return host.Result{}, fmt.Errorf("%w: %w", offline.ErrUnavailable, ctx.Err())
}

// TestCancelWhileAuthorising checks that a cancel after the card was read
// neither hides the ledger's approval nor leaves it charged unreversed,
// and that it is not taken for the ledger being down.
func TestCancelWhileAuthorising(t *testing.T) {
	tests := []struct {
		name         string
		answer       bool
		want         batch.Status
		wantReversed bool
		wantDown     bool
	}{
		{"the ledger answers", true, batch.Approved, false, false},
		{"the answer is lost", false, batch.Reversed, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := newRig(t, nil)
			r.t.Host = cancelInFlight{Host: r.client, cancel: cancel, answer: tt.answer}
			r.reader.Present(r.cards["visa-credit"])
			defer r.reader.Remove()
			res, err := r.t.Sale(ctx, 1250)
			if err != nil {
				t.Fatalf("Sale: %v; want the outcome, not an error", err)
			}
			if res.Record.Status != tt.want {
				t.Fatalf("record %+v, want %s", res.Record, tt.want)
			}
			if got, err := r.t.Journal.Get(context.Background(), res.Record.TxnID); err != nil || got.Status != tt.want {
				t.Fatalf("journal %+v, %v; want %s", got, err, tt.want)
			}
			reversed := slices.Contains(r.fake.Reversals, res.Record.TxnID)
			if reversed != tt.wantReversed {
				t.Errorf("reversed on the ledger: %v, want %v", reversed, tt.wantReversed)
			}
			// Only the lost answer (the Router's own timeout) says the
			// ledger is down, not the cancel.
			if down := r.t.Router.(*offline.Policy).Mode().LedgerDown; down != tt.wantDown {
				t.Errorf("ledger down %v, want %v", down, tt.wantDown)
			}
		})
	}
}

// thenFail runs fail once the ledger has answered, or once the queue has
// confirmed an offline approval: the journal's disk trouble strikes after
// the money is taken.
type thenFail struct {
	Host
	Queue
	fail func()
}

func (h thenFail) Authorize(ctx context.Context, r host.AuthRequest) (host.Result, error) {
	defer h.fail()
	return h.Host.Authorize(ctx, r)
}

func (h thenFail) Confirm(ctx context.Context, txnID string) error {
	defer h.fail()
	return h.Queue.Confirm(ctx, txnID)
}

// TestApprovedNotRecorded checks that an approval the journal fails to
// record comes back as the approval, with ErrNotRecorded, while a decline
// it fails to record stays a plain error.
func TestApprovedNotRecorded(t *testing.T) {
	tests := []struct {
		name   string
		card   string
		amount int64
		want   batch.Status // "" for no record in the result
	}{
		{"online approval", "visa-credit", 1250, batch.Approved},
		{"offline approval", "visa-offline", 2500, batch.OfflineApproved},
		{"online decline", "visa-credit", 60000, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil)
			f := thenFail{Host: r.client, Queue: r.queue, fail: func() { r.t.Journal.Close() }}
			r.t.Host, r.t.Queue = f, f
			res, err := r.tap(t, tt.card, tt.amount)
			if err == nil || res == nil {
				t.Fatalf("Sale: %+v, %v; want an error", res, err)
			}
			if errors.Is(err, ErrNotRecorded) != (tt.want != "") {
				t.Errorf("err %v; ErrNotRecorded wanted: %v", err, tt.want != "")
			}
			if res.Record.Status != tt.want || (tt.want != "" && (res.Record.TxnID == "" || res.Record.Amount != tt.amount)) {
				t.Errorf("record %+v, want %q", res.Record, tt.want)
			}
		})
	}
}

// TestRealLedger authorizes simulated cards' real ARQCs with the ledger
// itself, in process: approvals with an ARPC, a decline for want of funds,
// a refund and the reconciliation.
func TestRealLedger(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	srv, key := newLedger(t, r.t.Now)
	r.client = &host.Client{BaseURL: srv.URL, APIKey: key}
	r.t.Host = r.client

	for _, tt := range []struct {
		card   string
		amount int64
		want   batch.Status
		reason string
	}{
		{"visa-credit", 1250, batch.Approved, ""},
		{"mastercard-credit", 45000, batch.Approved, ""}, // above the floor limit: ARQC
		{"visa-credit", 60000, batch.Declined, "insufficient_funds"},
	} {
		res, err := r.tap(t, tt.card, tt.amount)
		if err != nil {
			t.Fatal(err)
		}
		if res.Record.Status != tt.want || res.Record.Reason != tt.reason {
			t.Fatalf("%s %d: %+v", tt.card, tt.amount, res.Record)
		}
		if tt.want == batch.Approved && (len(res.Record.IssuerAuth) != 20 || res.Record.TVR[8] != '0') {
			t.Fatalf("issuer authentication: 91=%q TVR %s", res.Record.IssuerAuth, res.Record.TVR)
		}
		if tt.want == batch.Approved {
			if _, err := r.t.Refund(ctx, res.Record.TxnID, 100); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec, err := r.t.Journal.Reconcile(ctx, "CN000001", r.client)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Balanced() || len(rec.Matched) != 4 {
		var b bytes.Buffer
		rec.WriteText(&b)
		t.Fatalf("reconciliation:\n%s", b.String())
	}
}

// answerAll is a ledger that books every offline item but those it
// declines.
type answerAll struct{ decline map[string]bool }

func (a answerAll) Forward(_ context.Context, items []offline.Outgoing) ([]offline.Result, error) {
	out := make([]offline.Result, len(items))
	for i, it := range items {
		out[i] = offline.Result{TxnID: it.TxnID, State: offline.StateAccepted, AuthorizationID: "au-" + it.TxnID}
		if a.decline[it.TxnID] {
			out[i] = offline.Result{TxnID: it.TxnID, State: offline.StateDeclined, Reason: "card_blocked"}
		}
	}
	return out, nil
}

// TestNoteAnswered notes the ledger's answers for more synced items than
// one page of the queue holds (answered items are never deleted), and
// leaves an item not yet answered to its sale.
func TestNoteAnswered(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	var key offline.Key
	copy(key[:], "terminal key for the sale tests.")
	q, err := offline.Open(filepath.Join(r.dir, "many.db"), offline.Options{Key: key, Limits: &offline.Limits{}, Rand: &counter{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	// 4761739001010028, the visa-offline card, as BCD.
	emv := tlv.Append(nil, 0x5A, []byte{0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x00, 0x28})
	enqueue := func(id string) {
		tp := offline.Tap{TxnID: id, Amount: 100, Currency: "CNY", EMV: emv, CardApprovedOffline: true, ODAPassed: true}
		if _, err := q.Enqueue(ctx, tp); err != nil {
			t.Fatal(err)
		}
		if err := q.Confirm(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	const n = 1003
	for i := range n {
		enqueue(fmt.Sprintf("CN000001-%04d", i))
	}
	syncer := &offline.Syncer{Queue: q, Forwarder: answerAll{map[string]bool{"CN000001-1002": true}}, Logger: quiet()}
	if rep, err := syncer.Drain(ctx, 1); err != nil || rep.Answered != n || rep.Declined != 1 {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	enqueue("CN000001-unsent")
	if err := r.t.NoteAnswered(ctx, q); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		txn, authID, reason string
	}{
		{"CN000001-0000", "au-CN000001-0000", "recovered from the offline queue"},
		{"CN000001-1001", "au-CN000001-1001", "recovered from the offline queue"},
		{"CN000001-1002", "", "declined on sync: card_blocked"},
	}
	for _, tt := range tests {
		t.Run(tt.txn, func(t *testing.T) {
			got, err := r.t.Journal.Get(ctx, tt.txn)
			if err != nil || got.AuthorizationID != tt.authID || got.Reason != tt.reason {
				t.Errorf("journal: %+v, %v; want authorization %q, reason %q", got, err, tt.authID, tt.reason)
			}
		})
	}
	t.Run("unsent", func(t *testing.T) {
		if got, err := r.t.Journal.Get(ctx, "CN000001-unsent"); !errors.Is(err, batch.ErrNotFound) {
			t.Errorf("an item not answered yet is in the journal: %+v, %v", got, err)
		}
	})
}
