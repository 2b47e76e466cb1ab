package ui

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"tappos/emv/kernel"
	"tappos/ui/i18n"
)

// Screen names a kiosk screen.
type Screen string

// The kiosk's screens.
const (
	ScreenAmount   Screen = "amount"
	ScreenTap      Screen = "tap"
	ScreenApproved Screen = "approved"
	ScreenDeclined Screen = "declined"
	ScreenReceipt  Screen = "receipt"
	ScreenLookup   Screen = "lookup"
	ScreenPIN      Screen = "pin"
	ScreenManager  Screen = "manager"
)

// Page names a page of the manager screen.
type Page string

// Manager pages.
const (
	PageXReport  Page = "x_report"
	PageBatch    Page = "batch"
	PageQueue    Page = "queue"
	PageSync     Page = "sync"
	PageSettings Page = "settings"
)

// Options configure a Kiosk. Payments and Currency are required.
type Options struct {
	Payments Payments
	Status   Status  // nil: no status bar data
	Manager  Manager // nil: no manager screen
	Printer  Printer // nil: no print button
	Sounder  Sounder // nil: silent
	Currency i18n.Currency
	Lang     i18n.Lang
	// Do runs a function on the UI goroutine; fyne.Do when nil. Tests
	// pass a queue they drain themselves.
	Do func(func())
	// Side is shown at the right edge, e.g. the demo's simulate-tap
	// panel.
	Side fyne.CanvasObject
	// Timeout bounds each reader or network call; 60 s when zero.
	Timeout time.Duration
	// PrintTimeout bounds a print; 10 s when zero. Printing runs beside
	// the sale, so a printer that stops taking data never holds it.
	PrintTimeout time.Duration
	// Now is the clock for the manager PIN's lockout; time.Now when nil.
	Now func() time.Time
	// PINHint is shown on the PIN screen, e.g. the demo's PIN; empty
	// outside demo mode.
	PINHint string
}

// PIN lockout: after maxPINTries wrong PINs in a row the manager screen
// stays shut for pinLockout, so a customer cannot guess a 4-digit PIN
// at the counter.
const (
	maxPINTries = 5
	pinLockout  = 5 * time.Minute
)

// maxDigits bounds the keypad amount (9,999,999.99 in a 2-decimal
// currency), far below EMV's n12 limit.
const maxDigits = 9

// Kiosk is the running kiosk in one window. Its methods are the
// cashier's and manager's actions; call them on the UI goroutine.
type Kiosk struct {
	win fyne.Window
	opt Options
	tr  *i18n.Catalog

	root *fyne.Container // status bar, banner, body, side
	body *fyne.Container
	bar  *statusBar

	screen Screen
	page   Page
	digits string // keypad amount, minor units
	pin    string

	pinFails    int       // wrong PINs in a row
	pinLockedTo time.Time // the manager screen is shut until then

	// the transaction on screen
	busy     bool
	printing bool // a receipt is on its way to the printer
	cancel   context.CancelFunc
	message  kernel.Message
	result   Result
	failure  error
	found    *Txn
	note     string // a one-line notice under the current screen

	status       StatusInfo
	statusErr    error
	statusActive atomic.Bool

	// manager page data
	xreport  []string
	recon    *Reconciliation
	queue    []QueuedTxn
	syncRes  *SyncResult
	settings Settings
	// confirmClose is set while the batch page asks whether to close;
	// closedBatch is the batch the kiosk last closed, so a stale status
	// cannot offer to close it again.
	confirmClose bool
	closedBatch  int

	keys  map[fyne.KeyName]func()
	focus fyne.Focusable // takes the keyboard when the screen shows
	mu    sync.Mutex     // guards cancel, read by Close from any goroutine
}

// New builds the kiosk into w and shows the amount screen.
func New(w fyne.Window, opt Options) *Kiosk {
	if opt.Do == nil {
		opt.Do = fyne.Do
	}
	if opt.Timeout == 0 {
		opt.Timeout = 60 * time.Second
	}
	if opt.Lang == "" {
		opt.Lang = i18n.English
	}
	if opt.PrintTimeout == 0 {
		opt.PrintTimeout = 10 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	k := &Kiosk{win: w, opt: opt}
	k.body = container.NewStack()
	fyne.CurrentApp().Settings().SetTheme(newTheme(cjkFont))
	w.Canvas().SetOnTypedRune(k.typedRune)
	w.Canvas().SetOnTypedKey(k.typedKey)
	k.SetLang(opt.Lang)
	return k
}

// Screen returns the screen on show.
func (k *Kiosk) Screen() Screen { return k.screen }

// Page returns the manager page on show.
func (k *Kiosk) Page() Page { return k.page }

// Amount returns the amount on the keypad in minor units.
func (k *Kiosk) Amount() int64 { return digitsValue(k.digits) }

// Message returns the reader's latest message to the customer.
func (k *Kiosk) Message() kernel.Message { return k.message }

// Reconciliation returns the batch close on the manager's screen, or
// nil before one.
func (k *Kiosk) Reconciliation() *Reconciliation { return k.recon }

// Result returns the outcome on screen.
func (k *Kiosk) Result() Result { return k.result }

// Busy reports whether a reader or network call is running; printing
// runs beside it.
func (k *Kiosk) Busy() bool { return k.busy }

// StatusInfo returns the status the bar shows.
func (k *Kiosk) StatusInfo() StatusInfo { return k.status }

// Lang returns the kiosk's language.
func (k *Kiosk) Lang() i18n.Lang { return k.tr.Lang() }

// SetLang switches the kiosk's language and redraws it.
func (k *Kiosk) SetLang(l i18n.Lang) {
	k.tr = i18n.MustNew(l)
	k.bar = newStatusBar(k)
	top := container.NewVBox(k.bar.row, k.bar.banner)
	k.root = container.NewBorder(top, nil, nil, k.opt.Side, k.body)
	k.win.SetContent(k.root)
	k.bar.update()
	k.show(k.screenOrDefault())
}

func (k *Kiosk) screenOrDefault() Screen {
	if k.screen == "" {
		return ScreenAmount
	}
	return k.screen
}

// Close cancels the transaction in progress, if any.
func (k *Kiosk) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cancel != nil {
		k.cancel()
	}
}

// show builds screen s from the kiosk's state and puts it on the
// window. Every redraw goes through here, so a language switch or a
// late event simply rebuilds.
func (k *Kiosk) show(s Screen) {
	k.screen = s
	k.keys = make(map[fyne.KeyName]func())
	k.focus = nil
	var content fyne.CanvasObject
	switch s {
	case ScreenAmount:
		content = k.amountScreen()
	case ScreenTap:
		content = k.tapScreen()
	case ScreenApproved, ScreenDeclined:
		content = k.outcomeScreen()
	case ScreenReceipt:
		content = k.receiptScreen()
	case ScreenLookup:
		content = k.lookupScreen()
	case ScreenPIN:
		content = k.pinScreen()
	case ScreenManager:
		content = k.managerScreen()
	}
	k.body.Objects = []fyne.CanvasObject{content}
	k.body.Refresh()
	// The widget that had the keyboard was on the old content: left
	// focused, it would take keys meant for this screen.
	if k.focus != nil {
		k.win.Canvas().Focus(k.focus)
	} else {
		k.win.Canvas().Unfocus()
	}
}

func (k *Kiosk) redraw() { k.show(k.screen) }

// run calls f on its own goroutine with a cancellable context, and then
// done on the UI goroutine.
func (k *Kiosk) run(f func(ctx context.Context) func()) {
	ctx, cancel := context.WithTimeout(context.Background(), k.opt.Timeout)
	k.mu.Lock()
	k.cancel = cancel
	k.mu.Unlock()
	k.busy = true
	go func() {
		done := f(ctx)
		cancel()
		k.opt.Do(func() {
			k.busy = false
			done()
		})
	}()
}

// prompt passes a reader message to the tap screen from any goroutine.
func (k *Kiosk) prompt(m kernel.Message) {
	k.opt.Do(func() {
		if k.screen != ScreenTap {
			return
		}
		k.message = m
		k.redraw()
	})
}

// Digit adds a digit to the keypad amount (or to the PIN).
func (k *Kiosk) Digit(d byte) {
	if d < '0' || d > '9' {
		return
	}
	switch k.screen {
	case ScreenAmount:
		if len(k.digits) >= maxDigits || k.digits == "" && d == '0' {
			return
		}
		k.digits += string(d)
	case ScreenPIN:
		if len(k.pin) >= 12 {
			return
		}
		k.pin += string(d)
		k.note = ""
	default:
		return
	}
	k.redraw()
}

// Backspace removes the last digit.
func (k *Kiosk) Backspace() {
	switch k.screen {
	case ScreenAmount:
		if k.digits != "" {
			k.digits = k.digits[:len(k.digits)-1]
		}
	case ScreenPIN:
		if k.pin != "" {
			k.pin = k.pin[:len(k.pin)-1]
		}
	}
	k.redraw()
}

// Clear empties the keypad.
func (k *Kiosk) Clear() {
	k.digits, k.pin = "", ""
	k.redraw()
}

// Charge starts a payment of the keypad amount.
func (k *Kiosk) Charge() {
	amount := k.Amount()
	if k.screen != ScreenAmount || amount <= 0 || k.busy {
		return
	}
	k.startTap(func(ctx context.Context) (Result, error) {
		return k.opt.Payments.Charge(ctx, amount, k.prompt)
	})
}

// startTap shows the tap screen and runs a card payment.
func (k *Kiosk) startTap(pay func(ctx context.Context) (Result, error)) {
	k.message = kernel.MsgPresentCard
	k.result, k.failure, k.note = Result{}, nil, ""
	k.show(ScreenTap)
	k.run(func(ctx context.Context) func() {
		res, err := pay(ctx)
		return func() { k.finish(res, err) }
	})
}

// finish shows a payment's outcome.
func (k *Kiosk) finish(res Result, err error) {
	if errors.Is(err, context.Canceled) {
		// The cashier cancelled: nothing was taken; back to the amount.
		// A refund's amount is not the next sale's: start afresh.
		if k.result.Kind == Refund {
			k.NewSale()
			return
		}
		k.show(ScreenAmount)
		return
	}
	if res.Kind == "" {
		res.Kind = k.result.Kind // a failure's empty result: still a refund or void
	}
	k.result, k.failure = res, err
	if err != nil || !res.Approved {
		k.result.Approved = false
		if k.result.Reason == "" {
			k.result.Reason = reasonOf(err)
		}
		k.cue(CueDeclined)
		k.show(ScreenDeclined)
	} else {
		k.cue(CueApproved)
		k.show(ScreenApproved)
	}
	k.RefreshStatus()
}

func reasonOf(err error) Reason {
	switch {
	case err == nil:
		return ReasonCard
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, kernel.ErrNotAllowed):
		return ReasonNotAllowed
	case errors.Is(err, kernel.ErrNoApplication), errors.Is(err, kernel.ErrMagStripe), errors.Is(err, kernel.ErrCardData):
		return ReasonTryAnotherCard
	}
	return ReasonCommunication
}

func (k *Kiosk) cue(c Cue) {
	if k.opt.Sounder != nil {
		k.opt.Sounder.Play(c)
	}
}

// Cancel stops the tap in progress, or leaves the current screen.
func (k *Kiosk) Cancel() {
	switch k.screen {
	case ScreenTap:
		k.Close()
	case ScreenManager:
		if k.page != "" {
			k.page = ""
			k.redraw()
			return
		}
		k.NewSale()
	default:
		k.NewSale()
	}
}

// NewSale clears everything and shows an empty amount screen.
func (k *Kiosk) NewSale() {
	if k.busy {
		return
	}
	k.digits, k.pin, k.note, k.page = "", "", "", ""
	k.found, k.result, k.failure = nil, Result{}, nil
	k.show(ScreenAmount)
}

// ShowReceipt shows the receipt of the transaction on screen.
func (k *Kiosk) ShowReceipt() {
	if (k.screen == ScreenApproved || k.screen == ScreenDeclined) && len(k.result.Receipt) > 0 {
		k.note = ""
		k.show(ScreenReceipt)
	}
}

// Print prints the receipt on screen in the background: the kiosk stays
// free to sell while it prints, and says so if the printer fails or
// does not answer within PrintTimeout.
func (k *Kiosk) Print() {
	if k.screen != ScreenReceipt || k.opt.Printer == nil || k.busy || k.printing {
		return
	}
	lines, url := k.result.Receipt, k.result.ReceiptURL
	k.printing = true
	k.note = k.tr.T("receipt.printing")
	k.redraw()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), k.opt.PrintTimeout)
		err := k.opt.Printer.Print(ctx, lines, url)
		cancel()
		k.opt.Do(func() {
			k.printing = false
			note := k.tr.T("receipt.printed")
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				note = k.tr.T("receipt.print_timeout")
			case err != nil:
				note = k.tr.T("receipt.print_failed")
			}
			// The cashier may have moved on: tell them on the amount
			// screen too, but never over a customer's tap.
			if k.busy || k.screen != ScreenReceipt && k.screen != ScreenAmount {
				return
			}
			k.note = note
			k.redraw()
		})
	}()
}

// RefreshStatus fetches the status bar's data in the background. Calls
// while one is in flight are dropped.
func (k *Kiosk) RefreshStatus() {
	if k.opt.Status == nil || !k.statusActive.CompareAndSwap(false, true) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := k.opt.Status.Status(ctx)
		cancel()
		k.opt.Do(func() {
			k.statusActive.Store(false)
			k.status, k.statusErr = st, err
			k.bar.update()
		})
	}()
}

func digitsValue(d string) int64 {
	var v int64
	for i := 0; i < len(d); i++ {
		v = v*10 + int64(d[i]-'0')
	}
	return v
}

// typedRune handles characters typed while no entry has the focus.
func (k *Kiosk) typedRune(r rune) {
	switch {
	case r >= '0' && r <= '9':
		k.Digit(byte(r))
	case k.screen == ScreenApproved || k.screen == ScreenDeclined:
		switch r {
		case 'r', 'R':
			k.ShowReceipt()
		case 'n', 'N':
			k.NewSale()
		}
	case k.screen == ScreenReceipt && (r == 'p' || r == 'P'):
		k.Print()
	}
}

// typedKey handles special keys; each screen registers its own in keys.
func (k *Kiosk) typedKey(e *fyne.KeyEvent) {
	name := e.Name
	if name == fyne.KeyEnter {
		name = fyne.KeyReturn
	}
	if f := k.keys[name]; f != nil {
		f()
		return
	}
	switch name {
	case fyne.KeyBackspace:
		k.Backspace()
	case fyne.KeyEscape:
		k.Cancel()
	}
}
