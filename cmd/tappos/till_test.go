package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"tappos/emv/kernel"
	"tappos/offline"
	"tappos/terminal/batch"
	"tappos/terminal/cardsim"
	"tappos/terminal/host"
	"tappos/terminal/host/hosttest"
	"tappos/terminal/memreader"
	"tappos/terminal/receipt"
	"tappos/terminal/sale"
	"tappos/ui"
)

// tillRig is the kiosk's till as main wires it, without the window: a
// simulated reader and a fake ledger.
type tillRig struct {
	p     *till
	mem   *memreader.Reader
	led   *hosttest.Ledger
	queue *offline.Queue
	cards map[string]*cardsim.Card
}

func newTillRig(t *testing.T) *tillRig {
	t.Helper()
	cfg, err := kernel.LoadConfig(findUp("testdata/terminal/cn-shop.json"))
	if err != nil {
		t.Fatal(err)
	}
	caKeys, err := cfg.CAKeys()
	if err != nil {
		t.Fatal(err)
	}
	cur, err := receipt.LookupCurrency(cfg.Currency.Alpha)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	j, err := batch.Open(filepath.Join(dir, "journal.db"), batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	display, err := sale.OpenDisplayLog(filepath.Join(dir, "display.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { display.Close() })
	var key offline.Key
	copy(key[:], "terminal key for the till tests.")
	q, err := offline.Open(filepath.Join(dir, "offline.db"), offline.Options{Key: key, Witness: display})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	led := hosttest.New()
	t.Cleanup(led.Close)
	client := &host.Client{BaseURL: led.URL, APIKey: "k"}
	forwarder := &offline.HTTPForwarder{BaseURL: led.URL, APIKey: "k"}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	mem := memreader.New("Simulated reader")
	p := &till{host: client, queue: q, reader: mem.Name(), log: logger, afterTap: mem.Remove,
		policy: offline.NewPolicy(offline.PolicyConfig{Timeout: 300 * time.Millisecond, Health: forwarder}),
		syncer: &offline.Syncer{Queue: q, Forwarder: forwarder, Logger: logger}}
	p.t = &sale.Terminal{
		Kernel: &kernel.Kernel{Config: cfg, CAKeys: caKeys, Rand: rand.Reader, Now: time.Now},
		Reader: mem, Journal: j, Host: client, Router: p.policy, Queue: q, Currency: cur, Display: display,
		Header:      batch.Header{Merchant: "Demo Café", MerchantID: cfg.MerchantID, TerminalID: cfg.TerminalID},
		NewID:       sale.NewIDs(cfg.TerminalID, time.Now, rand.Reader),
		Event:       p.event,
		CardTimeout: 2 * time.Second, ReversalTimeout: 300 * time.Millisecond,
	}
	r := &tillRig{p: p, mem: mem, led: led, queue: q, cards: map[string]*cardsim.Card{}}
	for _, name := range []string{"visa-credit", "visa-offline"} {
		pr, err := cardsim.LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		if r.cards[name], err = cardsim.NewCard(pr, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// charge taps card for amount through the kiosk's Charge.
func (r *tillRig) charge(t *testing.T, card string, amount int64) (ui.Result, error) {
	t.Helper()
	r.mem.Present(r.cards[card])
	return r.p.Charge(context.Background(), amount, func(kernel.Message) {})
}

// TestChargeNotRecorded checks that an approval the journal could not
// record is shown as an approval with the manager's note, not as "no
// money was taken".
func TestChargeNotRecorded(t *testing.T) {
	tests := []struct {
		name        string
		card        string
		wantOffline bool
	}{
		{"online", "visa-credit", false},
		{"offline", "visa-offline", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTillRig(t)
			// The journal's disk trouble strikes once the money may be
			// taken: the request is going out, or the approval is shown.
			show := r.p.t.Event
			r.p.t.Event = func(e sale.Event) {
				if e.Kind == sale.Authorising || e.Kind == sale.Approved {
					r.p.t.Journal.Close()
				}
				show(e)
			}
			res, err := r.charge(t, tt.card, 2500)
			if err != nil || !res.Approved || !res.NotRecorded || res.Offline != tt.wantOffline || res.TxnID == "" || res.Amount != 2500 {
				t.Fatalf("Charge: %+v, %v; want an approval marked not recorded", res, err)
			}
		})
	}
}

// lateLedger posts an authorization but its answer never comes back in
// time, and it cannot take the reversal either.
type lateLedger struct{ sale.Host }

func (h lateLedger) Authorize(ctx context.Context, r host.AuthRequest) (host.Result, error) {
	if _, err := h.Host.Authorize(context.Background(), r); err != nil {
		return host.Result{}, err
	}
	<-ctx.Done()
	return host.Result{}, fmt.Errorf("%w: %w", offline.ErrUnavailable, ctx.Err())
}

func (lateLedger) Reverse(context.Context, string) (host.Result, error) {
	return host.Result{}, offline.ErrUnavailable
}

// TestForwardResolvesPending checks that the kiosk's forward loop sends
// what the ledger missed, at start and once the ledger is back: a refund
// made while it was down, and the reversal of a late approval.
func TestForwardResolvesPending(t *testing.T) {
	tests := []struct {
		name        string
		downAtStart bool
		// setup leaves a request pending and returns the sale's id.
		setup func(t *testing.T, r *tillRig) string
		// done reports whether the ledger has it.
		done func(a hosttest.Auth) bool
	}{
		{"refund made while the ledger was down, at start", false,
			func(t *testing.T, r *tillRig) string {
				res, err := r.charge(t, "visa-credit", 1250)
				if err != nil || !res.Approved {
					t.Fatalf("sale: %+v, %v", res, err)
				}
				r.led.SetDown(true)
				defer r.led.SetDown(false)
				if _, err := r.p.Refund(context.Background(), res.TxnID, 1250, func(kernel.Message) {}); !errors.Is(err, sale.ErrHostUnavailable) {
					t.Fatalf("refund while the ledger is down: %v", err)
				}
				return res.TxnID
			},
			func(a hosttest.Auth) bool { return a.Refunded == 1250 }},
		{"late approval, reversed once the ledger is back", true,
			func(t *testing.T, r *tillRig) string {
				h := r.p.t.Host
				r.p.t.Host = lateLedger{h}
				defer func() { r.p.t.Host = h }()
				res, err := r.charge(t, "visa-credit", 1250)
				if err != nil || res.Approved || !res.Reversing {
					t.Fatalf("sale: %+v, %v; want it declined, its reversal pending", res, err)
				}
				return res.TxnID
			},
			func(a hosttest.Auth) bool { return a.Status == "reversed" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTillRig(t)
			id := tt.setup(t, r)
			if a, _ := r.led.Auth(id); tt.done(a) {
				t.Fatalf("the ledger has it already: %+v", a)
			}
			r.led.SetDown(tt.downAtStart)
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			defer func() { cancel(); <-stopped }()
			go func() {
				defer close(stopped)
				r.p.forward(ctx, 20*time.Millisecond, r.p.log)
			}()
			if tt.downAtStart {
				time.Sleep(100 * time.Millisecond)
				r.led.SetDown(false)
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				a, _ := r.led.Auth(id)
				un, err := r.p.t.Journal.Unresolved(context.Background())
				revs, rerr := r.p.t.Journal.PendingReversals(context.Background())
				if tt.done(a) && err == nil && rerr == nil && len(un)+len(revs) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the ledger has %+v; the journal pending %+v, reversals %+v (%v, %v)", a, un, revs, err, rerr)
				}
			}
		})
	}
}
