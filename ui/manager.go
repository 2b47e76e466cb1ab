package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tappos/ui/i18n"
)

func (k *Kiosk) managerScreen() fyne.CanvasObject {
	menu := []fyne.CanvasObject{
		touch(k.button("manager.x_report", fyne.KeyF1, func() { k.OpenPage(PageXReport) }), 240, 64),
		touch(k.button("manager.batch", fyne.KeyF2, func() { k.OpenPage(PageBatch) }), 240, 64),
		touch(k.button("manager.queue", fyne.KeyF3, func() { k.OpenPage(PageQueue) }), 240, 64),
		touch(k.button("manager.sync", fyne.KeyF4, func() { k.OpenPage(PageSync) }), 240, 64),
		touch(k.button("manager.settings", fyne.KeyF6, func() { k.OpenPage(PageSettings) }), 240, 64),
	}
	offline := widget.NewCheck(k.tr.T("manager.work_offline")+"  [F5]", nil)
	offline.SetChecked(k.status.WorkOffline)
	offline.OnChanged = k.SetWorkOffline
	k.keys[fyne.KeyF5] = func() { offline.SetChecked(!offline.Checked) }
	menu = append(menu, touch(offline, 240, 64),
		touch(k.button("manager.exit", fyne.KeyEscape, k.NewSale), 240, 64))

	var page fyne.CanvasObject
	switch k.page {
	case PageXReport:
		page = k.reportPage(k.tr.T("manager.x_report"), k.xreport)
	case PageBatch:
		page = k.batchPage()
	case PageQueue:
		page = k.queuePage()
	case PageSync:
		page = k.syncPage()
	case PageSettings:
		page = k.settingsPage()
	default:
		page = container.NewCenter(text(k.tr.T("manager.title"), 32, colForeground, true))
	}
	if k.note != "" {
		page = container.NewBorder(nil, para(k.note, theme.SizeNameSubHeadingText, widget.WarningImportance, true), nil, nil, page)
	}
	return container.NewBorder(nil, nil, container.NewVBox(menu...), nil, page)
}

// OpenPage shows a manager page, fetching its data in the background.
func (k *Kiosk) OpenPage(p Page) {
	if k.screen != ScreenManager || k.busy {
		return
	}
	k.page, k.note = p, ""
	k.recon, k.syncRes, k.confirmClose = nil, nil, false
	m := k.opt.Manager
	var load func(ctx context.Context) func()
	switch p {
	case PageXReport:
		load = func(ctx context.Context) func() {
			lines, err := m.XReport(ctx)
			return func() { k.xreport = lines; k.loaded(err) }
		}
	case PageQueue:
		load = func(ctx context.Context) func() {
			q, err := m.Queue(ctx)
			return func() { k.queue = q; k.loaded(err) }
		}
	case PageSettings:
		k.settings = m.Settings()
	}
	if load == nil {
		k.redraw()
		return
	}
	k.note = k.tr.T("common.loading")
	k.redraw()
	k.run(load)
}

func (k *Kiosk) loaded(err error) {
	k.note = ""
	if err != nil {
		k.note = k.tr.T("manager.failed")
	}
	k.redraw()
}

func (k *Kiosk) reportPage(title string, lines []string) fyne.CanvasObject {
	body := widget.NewLabel(strings.Join(lines, "\n"))
	body.TextStyle.Monospace = true
	return container.NewBorder(text(title, 28, colForeground, true), nil, nil, nil, container.NewScroll(body))
}

func (k *Kiosk) batchPage() fyne.CanvasObject {
	r := k.recon
	if r == nil {
		b := k.status.Batch
		items := []fyne.CanvasObject{
			text(k.tr.T("batch.title", "Number", b.Number), 28, colForeground, true),
			text(k.tr.T("batch.summary", "Count", b.Count, "Amount", k.money(b.Amount)), 24, colForeground, false),
		}
		switch {
		case !k.canClose():
			items = append(items, para(k.tr.T("batch.empty"), theme.SizeNameSubHeadingText, widget.MediumImportance, false))
		case k.confirmClose:
			yes := k.button("batch.confirm_yes", fyne.KeyReturn, k.CloseBatch)
			yes.Importance = widget.DangerImportance
			items = append(items,
				para(k.tr.T("batch.confirm", "Number", b.Number), theme.SizeNameSubHeadingText, widget.WarningImportance, true),
				touch(yes, 0, 72), touch(k.button("common.back", fyne.KeyEscape, k.cancelClose), 0, 72))
		default:
			closeBtn := k.button("batch.close_now", fyne.KeyReturn, k.AskCloseBatch)
			closeBtn.Importance = widget.DangerImportance
			items = append(items, touch(closeBtn, 0, 72))
		}
		return container.NewVBox(items...)
	}
	head, col := k.tr.T("batch.balanced"), colApproved
	if !r.Balanced {
		head, col = k.tr.T("batch.not_balanced"), colDeclined
	}
	banner := container.NewStack(canvas.NewRectangle(col), text(head, 36, colForeground, true))
	grid := container.NewGridWithColumns(3,
		widget.NewLabel(""), widget.NewLabel(k.tr.T("batch.terminal")), widget.NewLabel(k.tr.T("batch.host")),
		widget.NewLabel(k.tr.T("batch.count")), widget.NewLabel(fmt.Sprint(r.TerminalCount)), widget.NewLabel(fmt.Sprint(r.HostCount)),
		widget.NewLabel(k.tr.T("batch.total")), widget.NewLabel(k.money(r.TerminalTotal)), widget.NewLabel(k.money(r.HostTotal)),
	)
	items := []fyne.CanvasObject{banner, grid}
	matched := 0
	for _, l := range r.Lines {
		if l.Match == Matched {
			matched++
			continue
		}
		diff := widget.NewLabel(k.tr.T("recon."+string(l.Match),
			"ID", l.TxnID, "Terminal", k.money(l.Terminal), "Host", k.money(l.Host)))
		diff.Wrapping = fyne.TextWrapWord
		items = append(items, diff)
	}
	items = append(items, widget.NewLabel(k.tr.T("recon.matched_count", "Count", matched)))
	if len(r.Report) > 0 {
		rep := widget.NewLabel(strings.Join(r.Report, "\n"))
		rep.TextStyle.Monospace = true
		// The Z report is wider than the page: it scrolls sideways on its
		// own, so the banner and the totals keep the page's width.
		items = append(items, container.NewHScroll(rep))
	}
	return container.NewBorder(text(k.tr.T("batch.closed", "Number", r.Batch), 28, colForeground, true), nil, nil, nil,
		container.NewVScroll(container.NewVBox(items...)))
}

// canClose reports whether the batch on show may be closed: not an
// empty one, and not the one just closed while the status catches up.
func (k *Kiosk) canClose() bool {
	b := k.status.Batch
	return b.Count > 0 && b.Number != k.closedBatch
}

// AskCloseBatch asks the manager to confirm closing the batch, with its
// totals on screen: a close cannot be undone.
func (k *Kiosk) AskCloseBatch() {
	if k.screen != ScreenManager || k.page != PageBatch || k.busy || k.recon != nil || !k.canClose() {
		return
	}
	k.confirmClose = true
	k.redraw()
}

func (k *Kiosk) cancelClose() {
	k.confirmClose = false
	k.redraw()
}

// CloseBatch closes the batch, once the manager has confirmed it, and
// shows its reconciliation.
func (k *Kiosk) CloseBatch() {
	if k.screen != ScreenManager || k.page != PageBatch || k.busy || k.recon != nil || !k.confirmClose || !k.canClose() {
		return
	}
	k.confirmClose = false
	k.note = k.tr.T("common.loading")
	k.redraw()
	k.run(func(ctx context.Context) func() {
		r, err := k.opt.Manager.CloseBatch(ctx)
		return func() {
			if err == nil {
				k.recon = &r
				k.closedBatch = r.Batch
			}
			k.loaded(err)
			k.RefreshStatus()
		}
	})
}

func (k *Kiosk) queuePage() fyne.CanvasObject {
	items := []fyne.CanvasObject{}
	var total int64
	for _, q := range k.queue {
		total += q.Amount
		items = append(items, widget.NewLabel(fmt.Sprintf("%s   %s   %s   %s   %s",
			q.Queued.Format("15:04"), q.TxnID, q.PAN, k.money(q.Amount), k.tr.T("queue.state_"+q.State))))
	}
	if len(items) == 0 {
		items = append(items, widget.NewLabel(k.tr.T("queue.empty")))
	}
	return container.NewBorder(
		container.NewVBox(text(k.tr.T("manager.queue"), 28, colForeground, true),
			text(k.tr.T("queue.summary", "Count", len(k.queue), "Amount", k.money(total)), 22, colForeground, false)),
		nil, nil, nil, container.NewScroll(container.NewVBox(items...)))
}

func (k *Kiosk) syncPage() fyne.CanvasObject {
	items := []fyne.CanvasObject{text(k.tr.T("manager.sync"), 28, colForeground, true)}
	if r := k.syncRes; r != nil {
		items = append(items, text(k.tr.T("sync.result", "Sent", r.Sent, "Declined", r.Declined, "Left", r.Left), 24, colForeground, false))
	} else {
		b := k.button("sync.start", fyne.KeyReturn, k.SyncNow)
		b.Importance = widget.HighImportance
		items = append(items, text(k.tr.T("sync.queued", "Count", k.status.Queued, "Amount", k.money(k.status.QueuedAmount)), 24, colForeground, false),
			touch(b, 0, 72))
	}
	return container.NewVBox(items...)
}

// SyncNow sends the offline queue to the ledger now.
func (k *Kiosk) SyncNow() {
	if k.screen != ScreenManager || k.page != PageSync || k.busy {
		return
	}
	k.note = k.tr.T("common.loading")
	k.redraw()
	k.run(func(ctx context.Context) func() {
		r, err := k.opt.Manager.SyncNow(ctx)
		return func() {
			if err == nil {
				k.syncRes = &r
			}
			k.loaded(err)
			k.RefreshStatus()
		}
	})
}

// SetWorkOffline switches offline working on or off.
func (k *Kiosk) SetWorkOffline(on bool) {
	if k.opt.Manager == nil || k.status.WorkOffline == on {
		return
	}
	k.status.WorkOffline = on
	k.bar.update()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), k.opt.Timeout)
		err := k.opt.Manager.SetWorkOffline(ctx, on)
		cancel()
		k.opt.Do(func() {
			if err != nil {
				k.status.WorkOffline = !on
				k.note = k.tr.T("manager.failed")
				k.redraw()
			}
			k.RefreshStatus()
		})
	}()
}

func (k *Kiosk) settingsPage() fyne.CanvasObject {
	s := k.settings
	reader := widget.NewSelect(s.Readers, nil)
	reader.SetSelected(s.Reader)
	limit := func(v int64) *entry {
		e := k.newEntry("")
		e.SetText(k.money(v))
		return e
	}
	cl, cvm, off := limit(s.ContactlessLimit), limit(s.CVMLimit), limit(s.OfflineLimit)
	var names []string
	for _, l := range i18n.Langs {
		names = append(names, l.Name())
	}
	langSel := widget.NewSelect(names, nil)
	langSel.SetSelected(s.Lang.Name())
	save := k.button("settings.save", fyne.KeyReturn, func() {
		k.SaveSettings(reader.Selected, cl.Text, cvm.Text, off.Text, langSel.Selected)
	})
	save.Importance = widget.HighImportance
	row := func(id string, o fyne.CanvasObject) fyne.CanvasObject {
		return container.NewGridWithColumns(2, widget.NewLabel(k.tr.T(id)), touch(o, 0, 56))
	}
	return container.NewVBox(
		text(k.tr.T("manager.settings"), 28, colForeground, true),
		row("settings.reader", reader),
		row("settings.contactless_limit", cl),
		row("settings.cvm_limit", cvm),
		row("settings.offline_limit", off),
		row("settings.language", langSel),
		touch(save, 0, 72))
}

// SaveSettings checks and saves the settings typed on the settings page.
// Amounts are in major units; lang is a language's own name.
func (k *Kiosk) SaveSettings(reader, contactless, cvm, offline, lang string) {
	if k.busy {
		return
	}
	s := k.settings
	s.Reader = reader
	for _, f := range []struct {
		in  string
		out *int64
	}{{contactless, &s.ContactlessLimit}, {cvm, &s.CVMLimit}, {offline, &s.OfflineLimit}} {
		v, err := i18n.ParseAmount(f.in, k.opt.Currency)
		if err != nil {
			k.note = k.tr.T("settings.bad_amount") + " " + k.amountFormat()
			k.redraw()
			return
		}
		*f.out = v
	}
	for _, l := range i18n.Langs {
		if l.Name() == lang {
			s.Lang = l
		}
	}
	k.note = k.tr.T("common.loading")
	k.redraw()
	k.run(func(ctx context.Context) func() {
		err := k.opt.Manager.SaveSettings(ctx, s)
		return func() {
			if err != nil {
				k.note = k.tr.T("manager.failed")
				k.redraw()
				return
			}
			k.settings = s
			k.note = k.tr.T("settings.saved")
			if s.Lang != "" && s.Lang != k.Lang() {
				k.SetLang(s.Lang)
				return
			}
			k.redraw()
		}
	})
}
