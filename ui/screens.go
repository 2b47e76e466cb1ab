package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/skip2/go-qrcode"

	"tappos/emv/kernel"
	"tappos/ui/i18n"
)

func (k *Kiosk) money(minor int64) string { return k.tr.Money(minor, k.opt.Currency) }

func (k *Kiosk) amountScreen() fyne.CanvasObject {
	amount := text(k.money(k.Amount()), 72, colForeground, true)
	charge := k.button("amount.charge", fyne.KeyReturn, k.Charge)
	charge.Importance = widget.HighImportance
	if k.Amount() == 0 {
		charge.Disable()
	}
	var actions []fyne.CanvasObject
	actions = append(actions, touch(k.button("amount.refund", fyne.KeyF2, k.OpenLookup), 0, 64))
	if k.opt.Manager != nil {
		actions = append(actions, touch(k.button("amount.manager", fyne.KeyF9, k.OpenManager), 0, 64))
	}
	actions = append(actions, touch(k.button("amount.language", fyne.KeyF8, k.ToggleLang), 0, 64))
	k.keys[fyne.KeyDelete] = k.Clear
	top := container.NewVBox(text(k.tr.T("amount.title"), 24, colMuted, false), amount)
	if k.note != "" {
		// e.g. a receipt that failed to print after the cashier moved on
		top.Add(para(k.note, theme.SizeNameSubHeadingText, widget.WarningImportance, true))
	}
	return container.NewBorder(
		top,
		container.NewVBox(touch(charge, 0, 80), container.NewGridWithColumns(len(actions), actions...)),
		nil, nil,
		k.keypad(),
	)
}

// tapMessages maps the kernel's messages to the words on the tap screen.
var tapMessages = map[kernel.Message]string{
	kernel.MsgPresentCard:      "tap.present",
	kernel.MsgProcessing:       "tap.processing",
	kernel.MsgRemoveCard:       "tap.remove",
	kernel.MsgAuthorising:      "tap.authorising",
	kernel.MsgEnterPIN:         "tap.enter_pin",
	kernel.MsgSign:             "tap.sign",
	kernel.MsgSeePhone:         "tap.see_phone",
	kernel.MsgPresentCardAgain: "tap.try_again",
	kernel.MsgTryAnotherCard:   "tap.another_interface",
	kernel.MsgInsertOrSwipe:    "tap.another_interface",
	kernel.MsgApproved:         "tap.processing",
	kernel.MsgDeclined:         "tap.processing",
}

func (k *Kiosk) tapScreen() fyne.CanvasObject {
	id, ok := tapMessages[k.message]
	if !ok {
		id = "tap.processing"
	}
	title := "tap.title_sale"
	middle := []fyne.CanvasObject{layout.NewSpacer(), text(")))", 96, colPrimary, true)}
	if k.result.Kind == Refund {
		// The ledger refunds the original authorization: no card is
		// tapped, so no tap symbol and no reader messages.
		title, id = "tap.title_refund", "tap.refunding"
		middle = middle[:1]
	}
	msg := para(k.tr.T(id), sizeLarge, widget.WarningImportance, true)
	return container.NewBorder(
		container.NewVBox(text(k.tr.T(title), 24, colMuted, false), text(k.money(k.Amount()), 64, colForeground, true)),
		touch(k.button("tap.cancel", fyne.KeyEscape, k.Cancel), 0, 72),
		nil, nil,
		container.NewVBox(append(middle, msg, layout.NewSpacer())...),
	)
}

func (k *Kiosk) outcomeScreen() fyne.CanvasObject {
	r := k.result
	bg, head := colDeclined, "outcome.declined"
	var lines []fyne.CanvasObject
	switch {
	case r.Approved:
		bg, head = colApproved, "outcome.approved"
		if r.Kind == Refund {
			head = "outcome.refunded"
		} else if r.Kind == Void {
			head = "outcome.voided"
		}
	case k.failure != nil:
		head = "outcome.not_completed"
	}
	amount := r.Amount
	if amount == 0 {
		amount = k.Amount()
	}
	lines = append(lines, text(k.tr.T(head), 72, colForeground, true), text(k.money(amount), 48, colForeground, true))
	if r.Approved {
		badge, imp := k.tr.T("outcome.online"), widget.MediumImportance
		if r.Offline {
			badge, imp = k.tr.T("outcome.offline"), widget.WarningImportance
		}
		lines = append(lines, para(badge, sizeMedium, imp, true))
		if r.ApprovalCode != "" {
			lines = append(lines, para(k.tr.T("outcome.approval_code", "Code", r.ApprovalCode), theme.SizeNameSubHeadingText, widget.MediumImportance, false))
		}
		if r.NotRecorded {
			lines = append(lines, para(k.tr.T("outcome.not_recorded"), sizeMedium, widget.DangerImportance, true))
		}
	} else {
		lines = append(lines, para(k.reasonText(r.Reason), sizeMedium, widget.MediumImportance, true))
		if nothing := nothingDone(r); nothing != "" {
			lines = append(lines, para(k.tr.T(nothing), theme.SizeNameSubHeadingText, widget.MediumImportance, false))
		}
	}
	if r.PAN != "" {
		lines = append(lines, para(strings.TrimSpace(r.Label+"  "+r.PAN), theme.SizeNameSubHeadingText, widget.MediumImportance, false))
	}
	var buttons []fyne.CanvasObject
	if len(r.Receipt) > 0 {
		buttons = append(buttons, touch(k.button("outcome.receipt", fyne.KeyReturn, k.ShowReceipt), 0, 72))
		k.keys[fyne.KeyR] = k.ShowReceipt
	} else {
		k.keys[fyne.KeyReturn] = k.NewSale
	}
	buttons = append(buttons, touch(k.button("outcome.new_sale", fyne.KeyN, k.NewSale), 0, 72))
	return container.NewStack(
		canvas.NewRectangle(bg),
		container.NewBorder(nil, container.NewGridWithColumns(len(buttons), buttons...), nil, nil,
			container.NewVBox(append(append([]fyne.CanvasObject{layout.NewSpacer()}, lines...), layout.NewSpacer())...)),
	)
}

// nothingDone names the message saying what did not happen to the money
// when r did not go through, or "" when the reason says it already.
func nothingDone(r Result) string {
	switch {
	case r.Reason == ReasonLedgerUnavailable:
		return "" // kept and sent again: it may yet go through
	case r.Reversing:
		return "outcome.reversing" // the ledger may hold money until then
	case r.Kind == Refund:
		return "outcome.nothing_refunded"
	case r.Kind == Void:
		return "outcome.nothing_voided"
	}
	return "outcome.nothing_taken"
}

// reasonText explains a decline in plain words.
func (k *Kiosk) reasonText(r Reason) string {
	id := "reason." + string(r)
	if r == "" || !k.tr.Has(id) {
		id = "reason.other"
	}
	return k.tr.T(id)
}

func (k *Kiosk) receiptScreen() fyne.CanvasObject {
	r := k.result
	body := widget.NewLabel(strings.Join(r.Receipt, "\n"))
	body.TextStyle.Monospace = true
	right := []fyne.CanvasObject{}
	if img := qrImage(r.ReceiptURL); img != nil {
		qr := canvas.NewImageFromImage(img)
		qr.FillMode = canvas.ImageFillContain
		qr.ScaleMode = canvas.ImageScalePixels
		qr.SetMinSize(fyne.NewSize(240, 240))
		right = append(right, qr, text(k.tr.T("receipt.scan"), 20, colForeground, false))
	}
	var buttons []fyne.CanvasObject
	if k.opt.Printer != nil {
		buttons = append(buttons, touch(k.button("receipt.print", fyne.KeyP, k.Print), 0, 72))
	}
	buttons = append(buttons, touch(k.button("receipt.done", fyne.KeyReturn, k.NewSale), 0, 72))
	bottom := container.NewVBox(container.NewGridWithColumns(len(buttons), buttons...))
	if k.note != "" {
		bottom.Objects = append([]fyne.CanvasObject{para(k.note, theme.SizeNameSubHeadingText, widget.WarningImportance, true)}, bottom.Objects...)
	}
	return container.NewBorder(
		text(k.tr.T("receipt.title"), 28, colForeground, true),
		bottom,
		nil, nil,
		container.NewBorder(nil, nil, nil, container.NewCenter(container.NewVBox(right...)), container.NewScroll(body)),
	)
}

// qrImage encodes an e-receipt link, or returns nil when there is none.
func qrImage(url string) image.Image {
	if url == "" {
		return nil
	}
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return nil
	}
	q.DisableBorder = false
	return q.Image(240)
}

// OpenLookup shows the refund and void screen.
func (k *Kiosk) OpenLookup() {
	if k.busy {
		return
	}
	k.found, k.note = nil, ""
	k.show(ScreenLookup)
}

func (k *Kiosk) lookupScreen() fyne.CanvasObject {
	ref := k.newEntry(k.tr.T("lookup.placeholder"))
	ref.OnSubmitted = func(s string) { k.Lookup(s) }
	find := k.button("lookup.find", "", func() { k.Lookup(ref.Text) })
	items := []fyne.CanvasObject{
		text(k.tr.T("lookup.title"), 28, colForeground, true),
		container.NewBorder(nil, nil, nil, touch(find, 160, 56), touch(ref, 0, 56)),
	}
	var actions []fyne.CanvasObject
	if t := k.found; t != nil {
		ref.SetText(t.ID)
		items = append(items, widget.NewLabel(k.tr.T("lookup.details",
			"ID", t.ID, "Amount", k.money(t.Amount), "Refunded", k.money(t.Refunded),
			"Card", strings.TrimSpace(t.Label+" "+t.PAN), "Code", t.ApprovalCode,
			"Time", t.Time.Format("2006-01-02 15:04"))))
		refund := k.newEntry("")
		refund.SetText(k.tr.Money(t.Amount-t.Refunded, k.opt.Currency))
		items = append(items, container.NewBorder(nil, nil, widget.NewLabel(k.tr.T("lookup.refund_amount")), nil, touch(refund, 0, 56)))
		if t.NotSynced {
			items = append(items, para(k.reasonText(ReasonNotSynced), theme.SizeNameSubHeadingText, widget.WarningImportance, true))
		}
		if t.Amount-t.Refunded > 0 && !t.Voided && !t.NotSynced {
			actions = append(actions, touch(k.button("lookup.refund", fyne.KeyF5, func() { k.StartRefund(refund.Text) }), 0, 72))
		}
		if t.Voidable && !t.Voided && !t.NotSynced {
			actions = append(actions, touch(k.button("lookup.void", fyne.KeyF6, k.StartVoid), 0, 72))
		}
	}
	if k.note != "" {
		items = append(items, para(k.note, theme.SizeNameSubHeadingText, widget.WarningImportance, true))
	}
	actions = append(actions, touch(k.button("common.back", fyne.KeyEscape, k.NewSale), 0, 72))
	k.focus = ref
	return container.NewBorder(nil, container.NewGridWithColumns(len(actions), actions...), nil, nil,
		container.NewVBox(items...))
}

// Lookup finds a transaction for refund or void.
func (k *Kiosk) Lookup(ref string) {
	ref = strings.TrimSpace(ref)
	if ref == "" || k.busy {
		return
	}
	k.note = k.tr.T("common.loading")
	k.redraw()
	k.run(func(ctx context.Context) func() {
		t, err := k.opt.Payments.Lookup(ctx, ref)
		return func() {
			k.found, k.note = nil, ""
			switch {
			case errors.Is(err, ErrNotFound):
				k.note = k.tr.T("lookup.not_found")
			case err != nil:
				k.note = k.tr.T("lookup.failed")
			default:
				k.found = &t
			}
			k.redraw()
		}
	})
}

// StartRefund refunds the amount typed (in major units, e.g. "5.00" or
// "€5.00") of the transaction found, to the card it was paid with.
func (k *Kiosk) StartRefund(amountText string) {
	t := k.found
	if t == nil || k.busy || t.NotSynced {
		return
	}
	amount, err := i18n.ParseAmount(amountText, k.opt.Currency)
	bad := ""
	switch {
	case err != nil:
		bad = k.amountFormat()
	case amount <= 0 || amount > t.Amount-t.Refunded:
		bad = k.tr.T("lookup.bad_amount")
	}
	if bad != "" {
		k.note = bad
		k.redraw()
		return
	}
	k.digits = fmt.Sprint(amount)
	id := t.ID
	k.startTap(func(ctx context.Context) (Result, error) {
		return k.opt.Payments.Refund(ctx, id, amount, k.prompt)
	})
	k.result.Kind = Refund
	k.redraw()
}

// StartVoid voids the transaction found.
func (k *Kiosk) StartVoid() {
	t := k.found
	if t == nil || k.busy || !t.Voidable || t.NotSynced {
		return
	}
	id := t.ID
	k.result, k.failure = Result{Kind: Void}, nil
	k.digits = fmt.Sprint(t.Amount)
	k.note = k.tr.T("common.loading")
	k.redraw()
	k.run(func(ctx context.Context) func() {
		res, err := k.opt.Payments.Void(ctx, id)
		return func() { k.finish(res, err) }
	})
}

// amountFormat says how to type an amount the kiosk could not read, with
// an example in the kiosk's currency.
func (k *Kiosk) amountFormat() string {
	return k.tr.T("common.amount_format", "Example", k.money(123450))
}

// OpenManager asks for the manager's PIN.
func (k *Kiosk) OpenManager() {
	if k.opt.Manager == nil || k.busy {
		return
	}
	k.pin, k.note = "", ""
	if k.pinLocked() {
		k.note = k.lockedNote()
	}
	k.show(ScreenPIN)
}

// pinLocked reports whether too many wrong PINs have shut the manager
// screen for now.
func (k *Kiosk) pinLocked() bool { return k.opt.Now().Before(k.pinLockedTo) }

func (k *Kiosk) lockedNote() string {
	return k.tr.T("pin.locked", "Time", k.pinLockedTo.Local().Format("15:04"))
}

func (k *Kiosk) pinScreen() fyne.CanvasObject {
	dots := strings.Repeat("* ", len(k.pin))
	if dots == "" {
		dots = " "
	}
	items := []fyne.CanvasObject{text(k.tr.T("pin.title"), 28, colForeground, true)}
	if k.opt.PINHint != "" {
		items = append(items, text(k.tr.T("pin.demo_hint", "PIN", k.opt.PINHint), 20, colForeground, false))
	}
	items = append(items, text(dots, 48, colForeground, true))
	if k.note != "" {
		items = append(items, para(k.note, theme.SizeNameSubHeadingText, widget.WarningImportance, true))
	}
	ok := k.button("pin.ok", fyne.KeyReturn, k.SubmitPIN)
	ok.Importance = widget.HighImportance
	return container.NewBorder(container.NewVBox(items...),
		container.NewGridWithColumns(2, touch(k.button("common.back", fyne.KeyEscape, k.NewSale), 0, 72), touch(ok, 0, 72)),
		nil, nil, k.keypad())
}

// SubmitPIN checks the PIN typed and opens the manager screen.
func (k *Kiosk) SubmitPIN() {
	if k.screen != ScreenPIN {
		return
	}
	pin := k.pin
	k.pin = ""
	if k.pinLocked() {
		k.note = k.lockedNote()
		k.redraw()
		return
	}
	if !k.opt.Manager.CheckPIN(pin) {
		k.pinFails++
		k.note = k.tr.T("pin.wrong_left", "Left", maxPINTries-k.pinFails)
		if k.pinFails >= maxPINTries {
			k.pinFails = 0
			k.pinLockedTo = k.opt.Now().Add(pinLockout)
			k.note = k.lockedNote()
		}
		k.redraw()
		return
	}
	k.pinFails = 0
	k.note, k.page = "", ""
	k.settings = k.opt.Manager.Settings()
	k.show(ScreenManager)
}

// ToggleLang switches between English and Chinese.
func (k *Kiosk) ToggleLang() {
	if k.Lang() == i18n.English {
		k.SetLang(i18n.Chinese)
	} else {
		k.SetLang(i18n.English)
	}
}
