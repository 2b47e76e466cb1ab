package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"tappos/emv/kernel"
	"tappos/ui/i18n"
)

// forLangs runs a test in English and in Chinese.
func forLangs(t *testing.T, f func(t *testing.T, h *harness, suffix string)) {
	for _, l := range i18n.Langs {
		t.Run(string(l), func(t *testing.T) {
			f(t, newHarness(t, l), "_"+string(l))
		})
	}
}

func TestAmountKeypad(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, sfx string) {
		h.mustText("€0.00")
		if !h.button("amount.charge").Disabled() {
			t.Error("Charge enabled at zero")
		}
		for _, d := range "1250" {
			h.tap(string(d))
		}
		h.mustText("€12.50")
		h.golden("amount" + sfx)
		h.checkTouchTargets()
		h.tap("keypad.back")
		h.mustText("€1.25")
		h.tap("keypad.clear")
		h.mustText("€0.00")

		// The keyboard does the same: digits, Backspace, Delete.
		h.typeKeys("0099")
		h.mustText("€0.99")
		h.key(fyne.KeyBackspace)
		h.mustText("€0.09")
		h.key(fyne.KeyDelete)
		h.typeKeys("12345678901")
		if got, want := h.k.Amount(), int64(123456789); got != want {
			t.Errorf("amount after 11 digits = %d, want %d (at most %d digits)", got, want, maxDigits)
		}
		h.mustText("€1,234,567.89")
	})
}

// charge types an amount and presses Charge, returning the payment the
// kiosk started.
func (h *harness) charge(digits string) *payCall {
	h.t.Helper()
	h.typeKeys(digits)
	h.key(fyne.KeyReturn)
	if h.k.Screen() != ScreenTap {
		h.t.Fatalf("after Charge: screen %s, want tap", h.k.Screen())
	}
	return h.call()
}

func TestTapMessages(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, sfx string) {
		c := h.charge("1250")
		if c.amount != 1250 || c.kind != Sale {
			t.Fatalf("charged %s %d, want sale 1250", c.kind, c.amount)
		}
		h.mustText(h.k.tr.T("tap.present"))
		h.golden("tap" + sfx)
		h.checkTouchTargets()
		for _, m := range []struct {
			msg kernel.Message
			id  string
		}{
			{kernel.MsgProcessing, "tap.processing"},
			{kernel.MsgRemoveCard, "tap.remove"},
			{kernel.MsgPresentCardAgain, "tap.try_again"},
			{kernel.MsgSeePhone, "tap.see_phone"},
			{kernel.MsgTryAnotherCard, "tap.another_interface"},
			{kernel.MsgAuthorising, "tap.authorising"},
			{kernel.Message("something new"), "tap.processing"},
		} {
			h.prompt(c, m.msg, m.id)
		}
		h.answer(c, approvedResult(1250, false), nil, ScreenApproved)
	})
}

func TestOutcomes(t *testing.T) {
	declined := Result{Kind: Sale, Amount: 1250, Reason: ReasonFunds, PAN: "476173******0119", Label: "VISA CREDIT"}
	notRecorded := approvedResult(1250, true)
	notRecorded.NotRecorded = true
	tests := []struct {
		name    string
		res     Result
		err     error
		screen  Screen
		head    string
		detail  string
		cue     Cue
		receipt bool
	}{
		{"approved_online", approvedResult(1250, false), nil, ScreenApproved, "outcome.approved", "outcome.online", CueApproved, true},
		{"approved_offline", approvedResult(1250, true), nil, ScreenApproved, "outcome.approved", "outcome.offline", CueApproved, true},
		{"approved_not_recorded", notRecorded, nil, ScreenApproved, "outcome.approved", "outcome.not_recorded", CueApproved, true},
		{"declined_funds", declined, nil, ScreenDeclined, "outcome.declined", "reason.insufficient_funds", CueDeclined, false},
		{"declined_offline_limit", Result{Kind: Sale, Amount: 1250, Reason: ReasonOfflineLimit}, nil, ScreenDeclined, "outcome.declined", "reason.offline_limit", CueDeclined, false},
		{"declined_reversing", Result{Kind: Sale, Amount: 1250, Reason: ReasonOfflineLimit, Reversing: true}, nil, ScreenDeclined, "outcome.declined", "outcome.reversing", CueDeclined, false},
		{"declined_no_pin_entry", Result{Kind: Sale, Amount: 1250, Reason: ReasonNoPINEntry}, nil, ScreenDeclined, "outcome.declined", "reason.pin_unavailable", CueDeclined, false},
		{"declined_unknown_reason", Result{Kind: Sale, Amount: 1250, Reason: "some_code"}, nil, ScreenDeclined, "outcome.declined", "reason.other", CueDeclined, false},
		{"not_allowed", Result{}, fmt.Errorf("selecting: %w", kernel.ErrNotAllowed), ScreenDeclined, "outcome.not_completed", "reason.not_allowed", CueDeclined, false},
		{"card_error", Result{}, errors.New("card removed"), ScreenDeclined, "outcome.not_completed", "reason.communication", CueDeclined, false},
		{"timeout", Result{}, context.DeadlineExceeded, ScreenDeclined, "outcome.not_completed", "reason.timeout", CueDeclined, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forLangs(t, func(t *testing.T, h *harness, sfx string) {
				c := h.charge("1250")
				h.answer(c, tt.res, tt.err, tt.screen)
				h.mustText(h.k.tr.T(tt.head))
				h.mustText(h.k.tr.T(tt.detail))
				h.mustText("€12.50")
				if (tt.screen == ScreenApproved || tt.res.Reversing) && h.hasText(h.k.tr.T("outcome.nothing_taken")) {
					t.Error("says no money was taken when money may have been taken")
				}
				if !slices.Equal(h.sound.cues, []Cue{tt.cue}) {
					t.Errorf("cues %v, want [%v]", h.sound.cues, tt.cue)
				}
				switch tt.name {
				case "approved_online", "approved_offline", "declined_funds":
					h.golden(tt.name + sfx)
				}
				h.checkTouchTargets()
				if tt.receipt {
					h.button("outcome.receipt")
				}
				h.key(fyne.KeyN)
				h.typeKeys("n")
				if h.k.Screen() != ScreenAmount || h.k.Amount() != 0 {
					t.Errorf("after New sale: screen %s amount %d", h.k.Screen(), h.k.Amount())
				}
			})
		})
	}
}

func TestCancelTap(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, _ string) {
		c := h.charge("500")
		h.tap("tap.cancel")
		<-c.ctx.Done()
		h.until("amount screen", func() bool { return h.k.Screen() == ScreenAmount })
		if h.k.Amount() != 500 {
			t.Errorf("amount after cancel = %d, want 500 kept", h.k.Amount())
		}
		// Escape cancels too.
		c = h.charge("")
		h.key(fyne.KeyEscape)
		<-c.ctx.Done()
		h.until("amount screen", func() bool { return h.k.Screen() == ScreenAmount })
	})
}

func TestCancelRefund(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, _ string) {
		h.key(fyne.KeyF2)
		h.k.Lookup("T0001")
		h.until("found", func() bool { return h.k.found != nil })
		h.k.StartRefund("€10.00")
		c := h.call()
		h.key(fyne.KeyEscape)
		<-c.ctx.Done()
		h.until("amount screen", func() bool { return h.k.Screen() == ScreenAmount })
		if h.k.Amount() != 0 {
			t.Fatalf("amount after a cancelled refund = %d, want 0: Charge would sell it", h.k.Amount())
		}
		h.tap("amount.charge")
		h.settle()
		select {
		case c := <-h.pay.calls:
			t.Errorf("Charge after a cancelled refund started a %s of %d", c.kind, c.amount)
		default:
		}
	})
}

func TestKeyboardAfterLookup(t *testing.T) {
	tests := []struct {
		name  string
		leave func(h *harness)
	}{
		{name: "back with Escape", leave: func(h *harness) { h.key(fyne.KeyEscape) }},
		{name: "back button", leave: func(h *harness) { h.tap("common.back") }},
		{name: "after a lookup", leave: func(h *harness) {
			h.k.Lookup("T0001")
			h.until("found", func() bool { return h.k.found != nil })
			h.key(fyne.KeyEscape)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, i18n.English)
			h.key(fyne.KeyF2)
			tt.leave(h)
			if h.k.Screen() != ScreenAmount {
				t.Fatalf("screen %s, want amount", h.k.Screen())
			}
			h.typeKeys("1250")
			if h.k.Amount() != 1250 {
				t.Fatalf("typed 1250: keypad amount %d (focused %T)", h.k.Amount(), h.w.Canvas().Focused())
			}
			h.key(fyne.KeyReturn)
			if c := h.call(); c.kind != Sale || c.amount != 1250 {
				t.Errorf("Enter started a %s of %d, want a sale of 1250", c.kind, c.amount)
			}
		})
	}
}

func TestRefundAmountTyped(t *testing.T) {
	tests := []struct {
		name string
		in   string
		note string // the message id shown, or "" for a refund started
		want int64
	}{
		{name: "as prefilled", in: "€25.00", want: 2500},
		{name: "plain", in: "10.5", want: 1050},
		{name: "negative", in: "-5", note: "common.amount_format"},
		{name: "letters", in: "abc5", note: "common.amount_format"},
		{name: "commas", in: "1,2,3", note: "common.amount_format"},
		{name: "too many decimals", in: "1.234", note: "common.amount_format"},
		{name: "more than left", in: "€30.00", note: "lookup.bad_amount"},
		{name: "zero", in: "0", note: "lookup.bad_amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, i18n.English)
			h.key(fyne.KeyF2)
			h.k.Lookup("T0001")
			h.until("found", func() bool { return h.k.found != nil })
			h.k.StartRefund(tt.in)
			if tt.note == "" {
				if c := h.call(); c.kind != Refund || c.amount != tt.want {
					t.Errorf("started a %s of %d, want a refund of %d", c.kind, c.amount, tt.want)
				}
				return
			}
			h.mustText(h.k.tr.T(tt.note, "Example", "€1,234.50"))
			if h.k.Screen() != ScreenLookup {
				t.Errorf("screen %s, want lookup", h.k.Screen())
			}
			select {
			case c := <-h.pay.calls:
				t.Errorf("started a %s of %d", c.kind, c.amount)
			default:
			}
		})
	}
}

func TestRefundVoidWording(t *testing.T) {
	errLedger := errors.New("ledger unavailable")
	tests := []struct {
		name     string
		void     bool
		reply    payReply
		want     []string // message ids shown
		wantNone []string // message ids not shown
	}{
		{name: "refund with the ledger down", reply: payReply{Result{Reason: ReasonLedgerUnavailable}, errLedger},
			want:     []string{"outcome.not_completed", "reason.ledger_unavailable"},
			wantNone: []string{"reason.communication", "outcome.nothing_taken", "outcome.nothing_refunded"}},
		{name: "refund failed", reply: payReply{Result{Reason: ReasonCommunication}, errors.New("disk full")},
			want: []string{"outcome.not_completed", "outcome.nothing_refunded"}, wantNone: []string{"outcome.nothing_taken"}},
		{name: "refund declined", reply: payReply{Result{Kind: Refund, Amount: 1000, Reason: "ledger refused the request"}, nil},
			want: []string{"outcome.declined", "outcome.nothing_refunded"}, wantNone: []string{"outcome.nothing_taken"}},
		{name: "void with the ledger down", void: true, reply: payReply{Result{Reason: ReasonLedgerUnavailable}, errLedger},
			want:     []string{"outcome.not_completed", "reason.ledger_unavailable"},
			wantNone: []string{"reason.communication", "outcome.nothing_taken", "outcome.nothing_voided"}},
		{name: "void declined", void: true, reply: payReply{Result{Kind: Void, Amount: 2500, Reason: "too late"}, nil},
			want: []string{"outcome.declined", "outcome.nothing_voided"}, wantNone: []string{"outcome.nothing_taken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forLangs(t, func(t *testing.T, h *harness, _ string) {
				h.key(fyne.KeyF2)
				h.k.Lookup("T0001")
				h.until("found", func() bool { return h.k.found != nil })
				if tt.void {
					h.pay.voidFail = &tt.reply
					h.key(fyne.KeyF6)
					h.until("declined", func() bool { return h.k.Screen() == ScreenDeclined })
				} else {
					h.k.StartRefund("€10.00")
					c := h.call()
					h.mustText(h.k.tr.T("tap.refunding"))
					if h.hasText(h.k.tr.T("tap.present")) || h.hasText(")))") {
						t.Error("the refund screen asks for a card")
					}
					h.answer(c, tt.reply.res, tt.reply.err, ScreenDeclined)
				}
				for _, id := range tt.want {
					h.mustText(h.k.tr.T(id))
				}
				for _, id := range tt.wantNone {
					if h.hasText(h.k.tr.T(id)) {
						t.Errorf("shows %q", h.k.tr.T(id))
					}
				}
			})
		})
	}
}

func TestNotSyncedSale(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, _ string) {
		h.key(fyne.KeyF2)
		h.k.Lookup("T0009")
		h.until("found", func() bool { return h.k.found != nil })
		h.mustText(h.k.tr.T("reason.not_synced"))
		for _, id := range []string{"lookup.refund", "lookup.void"} {
			label := h.k.tr.T(id)
			for _, o := range h.objects() {
				if b, ok := o.(*widget.Button); ok && b.Visible() && strings.HasPrefix(b.Text, label) {
					t.Errorf("button %q offered for a sale not synced yet", b.Text)
				}
			}
		}
		h.key(fyne.KeyF5)
		h.key(fyne.KeyF6)
		h.k.StartRefund("€12.00")
		h.k.StartVoid()
		h.settle()
		if len(h.pay.voids) > 0 || len(h.pay.calls) > 0 || h.k.Screen() != ScreenLookup {
			t.Errorf("refund or void started: voids %v, screen %s", h.pay.voids, h.k.Screen())
		}
	})
}

func TestReceipt(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, sfx string) {
		c := h.charge("1250")
		h.answer(c, approvedResult(1250, false), nil, ScreenApproved)
		h.key(fyne.KeyReturn)
		if h.k.Screen() != ScreenReceipt {
			t.Fatalf("Enter on Approved: screen %s, want receipt", h.k.Screen())
		}
		h.mustText("MASTERCARD 541333******0345")
		h.mustText(h.k.tr.T("receipt.scan"))
		h.golden("receipt" + sfx)
		h.checkTouchTargets()

		h.typeKeys("p")
		h.until("printed", func() bool { return h.hasText(h.k.tr.T("receipt.printed")) })
		if h.printer.url != "https://receipts.example/r/T0002" || len(h.printer.lines) != 6 {
			t.Errorf("printed %d lines, url %q", len(h.printer.lines), h.printer.url)
		}
		h.printer.fail = true
		h.tap("receipt.print")
		h.until("print failure", func() bool { return h.hasText(h.k.tr.T("receipt.print_failed")) })
		h.tap("receipt.done")
		if h.k.Screen() != ScreenAmount {
			t.Errorf("after Done: screen %s", h.k.Screen())
		}
	})
}

// TestStuckPrinter checks that a printer that takes no data holds
// neither the receipt screen nor the next sale, and that the cashier
// hears of it once the print times out.
func TestStuckPrinter(t *testing.T) {
	h := newHarness(t, i18n.English)
	h.k.opt.PrintTimeout = time.Millisecond
	h.printer.stuck = true
	c := h.charge("1250")
	h.answer(c, approvedResult(1250, false), nil, ScreenApproved)
	h.k.ShowReceipt()
	h.typeKeys("p")
	if h.k.Busy() {
		t.Fatal("printing holds the kiosk busy")
	}
	h.tap("receipt.done")
	if h.k.Screen() != ScreenAmount {
		t.Fatalf("Done while printing: screen %s", h.k.Screen())
	}
	h.until("printer not responding", func() bool { return h.hasText(h.k.tr.T("receipt.print_timeout")) })
	h.golden("amount_print_timeout")
	h.checkTouchTargets()
	c = h.charge("500")
	h.answer(c, approvedResult(500, false), nil, ScreenApproved)
}

func TestRefundAndVoid(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, sfx string) {
		h.key(fyne.KeyF2)
		if h.k.Screen() != ScreenLookup {
			t.Fatalf("F2: screen %s, want lookup", h.k.Screen())
		}
		// The reference entry has the focus: typing goes there.
		h.typeKeys("NOPE")
		h.key(fyne.KeyReturn)
		h.until("not found", func() bool { return h.hasText(h.k.tr.T("lookup.not_found")) })
		h.k.Lookup("broken")
		h.until("lookup failure", func() bool { return h.hasText(h.k.tr.T("lookup.failed")) })

		h.k.Lookup("A1B2C3") // by approval code
		h.until("found", func() bool { return h.k.found != nil })
		h.mustText("476173******0119")
		h.golden("lookup" + sfx)
		h.checkTouchTargets()

		h.k.StartRefund("€30.00")
		h.mustText(h.k.tr.T("lookup.bad_amount"))
		h.k.StartRefund("€10.00")
		c := h.call()
		if c.kind != Refund || c.txnID != "T0001" || c.amount != 1000 {
			t.Fatalf("refund call %s %s %d", c.kind, c.txnID, c.amount)
		}
		h.mustText(h.k.tr.T("tap.title_refund"))
		h.answer(c, Result{Approved: true, Kind: Refund, Amount: 1000, TxnID: "T0004"}, nil, ScreenApproved)
		h.mustText(h.k.tr.T("outcome.refunded"))
		h.mustText("€10.00")

		h.key(fyne.KeyEscape)
		h.tap("amount.refund")
		h.k.Lookup("T0001")
		h.until("found", func() bool { return h.k.found != nil })
		h.key(fyne.KeyF6)
		h.until("voided", func() bool { return h.k.Screen() == ScreenApproved })
		h.mustText(h.k.tr.T("outcome.voided"))
		h.mustText("€25.00")
		if !slices.Equal(h.pay.voids, []string{"T0001"}) {
			t.Errorf("voids %v", h.pay.voids)
		}
	})
}

func TestStatusBar(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, sfx string) {
		tr := h.k.tr
		h.mustText(tr.T("status.reader", "Name", "ACS ACR1252 PICC"))
		h.mustText(tr.T("status.online"))
		h.mustText(tr.T("status.batch", "Number", 7, "Count", 3, "Amount", "€40.50"))
		if h.k.bar.banner.Visible() {
			t.Error("offline banner shown while online")
		}

		h.status.set(StatusInfo{LedgerOnline: false, Queued: 2, QueuedAmount: 2050, Batch: BatchTotals{Number: 7, Count: 5, Amount: 6100}})
		h.k.RefreshStatus()
		h.until("offline", func() bool { return h.hasText(tr.T("status.offline")) })
		h.mustText(tr.T("status.no_reader"))
		h.mustText(tr.T("banner.offline", "Count", 2, "Amount", "€20.50"))
		if !h.k.bar.banner.Visible() {
			t.Error("no offline banner while offline")
		}
		h.golden("offline_banner" + sfx)
		h.checkTouchTargets()
	})
}

func TestManagerPIN(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, sfx string) {
		h.key(fyne.KeyF9)
		if h.k.Screen() != ScreenPIN {
			t.Fatalf("F9: screen %s", h.k.Screen())
		}
		h.typeKeys("9999")
		h.key(fyne.KeyReturn)
		h.mustText(h.k.tr.T("pin.wrong_left", "Left", maxPINTries-1))
		h.golden("pin_wrong" + sfx)
		h.checkTouchTargets()
		for _, d := range "1234" {
			h.tap(string(d))
		}
		h.tap("pin.ok")
		if h.k.Screen() != ScreenManager {
			t.Fatalf("right PIN: screen %s", h.k.Screen())
		}
		h.checkTouchTargets()
		h.key(fyne.KeyEscape)
		if h.k.Screen() != ScreenAmount {
			t.Errorf("Esc on manager: screen %s", h.k.Screen())
		}
	})
}

// TestManagerPINLockout checks that wrong PINs shut the manager screen
// for a while, even to the right PIN, and that it opens again later.
func TestManagerPINLockout(t *testing.T) {
	tests := []struct {
		name  string
		wrong int
		after time.Duration
		open  bool
	}{
		{"one_short_of_lockout", maxPINTries - 1, 0, true},
		{"locked", maxPINTries, time.Minute, false},
		{"locked_until_the_end", maxPINTries, pinLockout - time.Second, false},
		{"open_again", maxPINTries, pinLockout, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, i18n.English)
			h.k.OpenManager()
			for range tt.wrong {
				h.typeKeys("9999")
				h.k.SubmitPIN()
			}
			locked := h.k.tr.T("pin.locked", "Time", h.now.Add(pinLockout).Local().Format("15:04"))
			if tt.wrong >= maxPINTries {
				h.mustText(locked)
			}
			h.now = h.now.Add(tt.after)
			h.k.NewSale()
			h.k.OpenManager()
			if !tt.open {
				h.mustText(locked)
			}
			h.typeKeys("1234")
			h.k.SubmitPIN()
			if got := h.k.Screen() == ScreenManager; got != tt.open {
				t.Fatalf("right PIN after %d wrong and %v: manager open %v, want %v", tt.wrong, tt.after, got, tt.open)
			}
		})
	}
}

// manager opens the manager screen with the right PIN.
func (h *harness) manager() {
	h.t.Helper()
	h.k.OpenManager()
	h.typeKeys("1234")
	h.k.SubmitPIN()
	if h.k.Screen() != ScreenManager {
		h.t.Fatalf("screen %s, want manager", h.k.Screen())
	}
}

func TestManagerPages(t *testing.T) {
	forLangs(t, func(t *testing.T, h *harness, sfx string) {
		h.manager()
		h.key(fyne.KeyF1)
		h.until("X report", func() bool { return h.hasText("X REPORT") })
		h.golden("x_report" + sfx)
		h.checkTouchTargets()

		h.key(fyne.KeyF3)
		h.until("queue", func() bool { return h.hasText("T0009") })
		h.mustText("541333******0345")
		h.mustText(h.k.tr.T("queue.summary", "Count", 2, "Amount", "€20.50"))
		h.mustText(h.k.tr.T("queue.state_failed"))
		h.golden("queue" + sfx)
		h.checkTouchTargets()

		h.key(fyne.KeyF4)
		h.key(fyne.KeyReturn)
		h.until("sync", func() bool { return h.k.syncRes != nil })
		h.mustText(h.k.tr.T("sync.result", "Sent", 2, "Declined", 0, "Left", 0))

		h.key(fyne.KeyF5)
		h.until("work offline", func() bool { return h.hasText(h.k.tr.T("status.work_offline")) })
		h.settle()
		h.mgr.mu.Lock()
		if !slices.Equal(h.mgr.offline, []bool{true}) {
			t.Errorf("SetWorkOffline calls %v, want [true]", h.mgr.offline)
		}
		h.mgr.mu.Unlock()
		h.checkTouchTargets()
	})
}

func TestBatchClose(t *testing.T) {
	unbalanced := Reconciliation{Batch: 7, TerminalCount: 3, TerminalTotal: 4050, HostCount: 3, HostTotal: 4100,
		Lines: []ReconLine{
			{Matched, "T0001", 2500, 2500},
			{MissingHost, "T0003", -500, 0},
			{MissingTerminal, "T0005", 0, 450},
			{Mismatch, "T0002", 2050, 2150},
		}}
	tests := []struct {
		name  string
		recon func(h *harness) Reconciliation
		head  string
		lines []string
	}{
		{"balanced", func(h *harness) Reconciliation { return h.mgr.recon }, "batch.balanced", nil},
		{"unbalanced", func(*harness) Reconciliation { return unbalanced }, "batch.not_balanced",
			[]string{"recon.missing_on_host", "recon.missing_on_terminal", "recon.amount_mismatch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forLangs(t, func(t *testing.T, h *harness, sfx string) {
				h.mgr.recon = tt.recon(h)
				h.manager()
				h.key(fyne.KeyF2)
				h.mustText(h.k.tr.T("batch.summary", "Count", 3, "Amount", "€40.50"))
				h.key(fyne.KeyReturn)
				h.mustText(h.k.tr.T("batch.confirm", "Number", 7))
				h.mustText(h.k.tr.T("batch.summary", "Count", 3, "Amount", "€40.50"))
				if tt.name == "balanced" {
					h.golden("batch_confirm" + sfx)
				}
				h.checkTouchTargets()
				h.key(fyne.KeyReturn)
				h.until("reconciliation", func() bool { return h.k.recon != nil })
				h.mustText(h.k.tr.T(tt.head))
				for _, id := range tt.lines {
					for _, l := range unbalanced.Lines {
						if "recon."+string(l.Match) == id {
							h.mustText(h.k.tr.T(id, "ID", l.TxnID, "Terminal", h.k.money(l.Terminal), "Host", h.k.money(l.Host)))
						}
					}
				}
				h.golden("batch_" + tt.name + sfx)
				h.checkTouchTargets()
			})
		})
	}
}

// TestBatchCloseGuard checks that a batch closes only once confirmed,
// and that neither an empty batch nor the one just closed (while the
// status still shows it) can be closed.
func TestBatchCloseGuard(t *testing.T) {
	tests := []struct {
		name   string
		batch  BatchTotals
		keys   []fyne.KeyName
		closes int
		text   string
	}{
		{"back_from_confirm", BatchTotals{Number: 7, Count: 3, Amount: 4050},
			[]fyne.KeyName{fyne.KeyReturn, fyne.KeyEscape, fyne.KeyReturn, fyne.KeyEscape}, 0, "batch.close_now"},
		{"confirmed", BatchTotals{Number: 7, Count: 3, Amount: 4050},
			[]fyne.KeyName{fyne.KeyReturn, fyne.KeyReturn}, 1, "batch.closed"},
		{"empty", BatchTotals{Number: 8}, []fyne.KeyName{fyne.KeyReturn, fyne.KeyReturn}, 0, "batch.empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, i18n.English)
			h.k.status.Batch = tt.batch
			h.manager()
			h.key(fyne.KeyF2)
			for _, k := range tt.keys {
				h.key(k)
			}
			h.until("the kiosk idle", func() bool { return !h.k.Busy() })
			h.settle()
			h.mustText(h.k.tr.T(tt.text, "Number", 7))
			h.mgr.mu.Lock()
			got := h.mgr.closes
			h.mgr.mu.Unlock()
			if got != tt.closes {
				t.Errorf("CloseBatch called %d times, want %d", got, tt.closes)
			}
		})
	}

	// The fake status still shows batch 7 with 3 transactions after
	// closing it, as a status that has not caught up would.
	h := newHarness(t, i18n.English)
	h.manager()
	h.key(fyne.KeyF2)
	h.key(fyne.KeyReturn)
	h.key(fyne.KeyReturn)
	h.until("reconciliation", func() bool { return h.k.recon != nil })
	h.settle()
	h.key(fyne.KeyF2)
	h.k.AskCloseBatch()
	h.k.CloseBatch()
	h.settle()
	h.mustText(h.k.tr.T("batch.empty"))
	h.mgr.mu.Lock()
	defer h.mgr.mu.Unlock()
	if h.mgr.closes != 1 {
		t.Errorf("closing batch 7 again: CloseBatch called %d times, want 1", h.mgr.closes)
	}
}

func TestSettings(t *testing.T) {
	h := newHarness(t, i18n.English)
	h.manager()
	h.key(fyne.KeyF6)
	h.mustText(h.k.tr.T("settings.offline_limit"))
	h.golden("settings_en")
	h.checkTouchTargets()

	h.k.SaveSettings("Virtual PCD 00 00", "€100.00", "x", "€25.00", "English")
	h.mustText(h.k.tr.T("settings.bad_amount"))

	h.k.SaveSettings("Virtual PCD 00 00", "€150.00", "€50.00", "€30.00", i18n.Chinese.Name())
	h.until("language switched", func() bool { return h.k.Lang() == i18n.Chinese })
	want := Settings{Reader: "Virtual PCD 00 00", Readers: h.mgr.settings.Readers, ContactlessLimit: 15000, CVMLimit: 5000, OfflineLimit: 3000, Lang: i18n.Chinese}
	if got := h.mgr.settings; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("saved %+v, want %+v", got, want)
	}
	h.mustText("设置")
	h.golden("settings_zh-Hans")
	h.checkTouchTargets()
}

func TestLanguageToggle(t *testing.T) {
	h := newHarness(t, i18n.English)
	h.typeKeys("42")
	h.key(fyne.KeyF8)
	if h.k.Lang() != i18n.Chinese {
		t.Fatalf("F8: language %s", h.k.Lang())
	}
	h.mustText("收款")
	h.mustText("€0.42") // the amount survives the switch
	h.tap("amount.language")
	h.mustText("Charge")
}
