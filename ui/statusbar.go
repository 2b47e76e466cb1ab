package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
)

// statusBar is the line at the top of every screen, and the offline
// banner below it.
type statusBar struct {
	k                     *Kiosk
	reader, ledger, batch *canvas.Text
	row                   *fyne.Container
	banner                *fyne.Container
	bannerText            *canvas.Text
}

func newStatusBar(k *Kiosk) *statusBar {
	b := &statusBar{k: k,
		reader: text("", 18, colForeground, false),
		ledger: text("", 18, colForeground, false),
		batch:  text("", 18, colForeground, false),
	}
	b.bannerText = text("", 22, colBannerText, true)
	b.row = container.NewHBox(b.reader, layout.NewSpacer(), b.ledger, layout.NewSpacer(), b.batch)
	b.banner = container.NewStack(canvas.NewRectangle(colBanner), container.NewPadded(b.bannerText))
	return b
}

// update shows the kiosk's latest status.
func (b *statusBar) update() {
	k, s := b.k, b.k.status
	switch {
	case k.opt.Status == nil:
		b.row.Hide()
		b.banner.Hide()
		return
	case s.ReaderConnected:
		b.reader.Text, b.reader.Color = k.tr.T("status.reader", "Name", s.Reader), colForeground
	default:
		b.reader.Text, b.reader.Color = k.tr.T("status.no_reader"), colBanner
	}
	switch {
	case k.statusErr != nil:
		b.ledger.Text, b.ledger.Color = k.tr.T("status.unknown"), colBanner
	case s.WorkOffline:
		b.ledger.Text, b.ledger.Color = k.tr.T("status.work_offline"), colBanner
	case s.LedgerOnline:
		b.ledger.Text, b.ledger.Color = k.tr.T("status.online"), colForeground
	default:
		b.ledger.Text, b.ledger.Color = k.tr.T("status.offline"), colBanner
	}
	b.batch.Text = k.tr.T("status.batch", "Number", s.Batch.Number, "Count", s.Batch.Count, "Amount", k.money(s.Batch.Amount))
	if k.statusErr == nil && (!s.LedgerOnline || s.WorkOffline) {
		b.bannerText.Text = k.tr.T("banner.offline", "Count", s.Queued, "Amount", k.money(s.QueuedAmount))
		b.banner.Show()
	} else {
		b.banner.Hide()
	}
	b.row.Show()
	b.row.Refresh()
	b.banner.Refresh()
}
