package ui

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tappos/emv/kernel"
	"tappos/ui/i18n"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// harness is a kiosk in a headless window with fakes behind it. UI
// updates from the fakes' goroutines queue up in do and run on the test
// goroutine when the test drains them, as fyne.Do would on the real
// UI goroutine.
type harness struct {
	t       *testing.T
	w       fyne.Window
	k       *Kiosk
	do      chan func()
	pay     *fakePayments
	status  *fakeStatus
	mgr     *fakeManager
	printer *fakePrinter
	sound   *fakeSounder
	now     time.Time // the kiosk's clock; tests move it
}

func newHarness(t *testing.T, lang i18n.Lang) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	// The test theme lacks a bold monospace font; start from the default.
	a.Settings().SetTheme(theme.DefaultTheme())
	h := &harness{t: t, do: make(chan func(), 64), pay: newFakePayments(),
		status: &fakeStatus{st: StatusInfo{Reader: "ACS ACR1252 PICC", ReaderConnected: true, LedgerOnline: true,
			Batch: BatchTotals{Number: 7, Count: 3, Amount: 4050}}},
		mgr: &fakeManager{
			settings: Settings{Reader: "ACS ACR1252 PICC", Readers: []string{"ACS ACR1252 PICC", "Virtual PCD 00 00"},
				ContactlessLimit: 10000, CVMLimit: 5000, OfflineLimit: 2500, Lang: lang},
			recon: Reconciliation{Batch: 7, Balanced: true, TerminalCount: 3, TerminalTotal: 4050, HostCount: 3, HostTotal: 4050,
				Lines: []ReconLine{{Matched, "T0001", 2500, 2500}, {Matched, "T0002", 2050, 2050}, {Matched, "T0003", -500, -500}}},
		},
		printer: &fakePrinter{}, sound: &fakeSounder{},
		now: time.Date(2026, 11, 26, 15, 42, 0, 0, time.UTC),
	}
	h.w = test.NewTempWindow(t, nil)
	h.w.Resize(fyne.NewSize(1024, 768))
	h.k = New(h.w, Options{Payments: h.pay, Status: h.status, Manager: h.mgr, Printer: h.printer, Sounder: h.sound,
		Currency: eur, Lang: lang, Do: func(f func()) { h.do <- f },
		Now: func() time.Time { return h.now }})
	t.Cleanup(h.k.Close)
	h.k.RefreshStatus()
	h.settle()
	return h
}

// until runs queued UI updates until cond holds, failing after a while.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case f := <-h.do:
			f()
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s (screen %s)", what, h.k.Screen())
		}
	}
}

// settle runs the UI updates queued so far and those that follow
// within a short quiet period.
func (h *harness) settle() {
	for {
		select {
		case f := <-h.do:
			f()
		case <-time.After(30 * time.Millisecond):
			return
		}
	}
}

// call waits for the kiosk to ask the fake for a card payment.
func (h *harness) call() *payCall {
	h.t.Helper()
	select {
	case c := <-h.pay.calls:
		return c
	case <-time.After(5 * time.Second):
		h.t.Fatal("no payment started")
		return nil
	}
}

// answer completes a payment and waits for the screen it leads to.
func (h *harness) answer(c *payCall, res Result, err error, want Screen) {
	h.t.Helper()
	c.reply <- payReply{res, err}
	h.until("screen "+string(want), func() bool { return h.k.Screen() == want })
}

// prompt sends a reader message and waits for it to show.
func (h *harness) prompt(c *payCall, m kernel.Message, msgID string) {
	h.t.Helper()
	c.prompt(m)
	want := h.k.tr.T(msgID)
	h.until("message "+msgID, func() bool { return h.hasText(want) })
}

func (h *harness) objects() []fyne.CanvasObject {
	return test.LaidOutObjects(h.w.Canvas().Content())
}

// hasText reports whether some visible text on the window contains s.
func (h *harness) hasText(s string) bool {
	for _, o := range h.objects() {
		if !o.Visible() {
			continue
		}
		switch o := o.(type) {
		case *canvas.Text:
			if strings.Contains(o.Text, s) {
				return true
			}
		case *widget.Label:
			if strings.Contains(o.Text, s) {
				return true
			}
		}
	}
	return false
}

func (h *harness) mustText(s string) {
	h.t.Helper()
	if !h.hasText(s) {
		h.t.Errorf("screen %s: no text %q", h.k.Screen(), s)
	}
}

// button finds the button whose label starts with the translation of id.
func (h *harness) button(id string) *widget.Button {
	h.t.Helper()
	label := h.k.tr.T(id)
	for _, o := range h.objects() {
		if b, ok := o.(*widget.Button); ok && b.Visible() && (b.Text == label || strings.HasPrefix(b.Text, label+"  [")) {
			return b
		}
	}
	h.t.Fatalf("screen %s: no button %q", h.k.Screen(), label)
	return nil
}

func (h *harness) tap(id string) {
	h.t.Helper()
	test.Tap(h.button(id))
}

// key presses a special key on the window.
func (h *harness) key(name fyne.KeyName) {
	if f := h.w.Canvas().Focused(); f != nil {
		f.TypedKey(&fyne.KeyEvent{Name: name})
		return
	}
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: name})
}

// golden compares the window's markup with testdata/<name>.xml.
func (h *harness) golden(name string) {
	h.t.Helper()
	// The focused entry's cursor blinks by the wall clock: render
	// without focus so the markup is the same on every run.
	c := h.w.Canvas()
	if f := c.Focused(); f != nil {
		c.Unfocus()
		defer c.Focus(f)
	}
	got := test.RenderToMarkup(c)
	path := filepath.Join("testdata", name+".xml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		failed := filepath.Join(os.TempDir(), "tappos-ui-failed", name+".xml")
		if err := os.MkdirAll(filepath.Dir(failed), 0o755); err == nil {
			os.WriteFile(failed, []byte(got), 0o644)
		}
		h.t.Errorf("%s differs from the rendering (written to %s); run go test ./ui -update and review the diff", path, failed)
	}
}

// maxContentWidth keeps a screen within a 1024-pixel window next to the
// demo's 320-pixel panel, in either language.
const maxContentWidth = 700

// checkTouchTargets fails for any control smaller than a fingertip, and
// for a screen too wide for the window.
func (h *harness) checkTouchTargets() {
	h.t.Helper()
	if w := h.w.Canvas().Content().MinSize().Width; w > maxContentWidth {
		h.t.Errorf("screen %s needs %.0f px, more than %d", h.k.Screen(), w, maxContentWidth)
	}
	for _, o := range h.objects() {
		switch o.(type) {
		case *widget.Button, *widget.Check, *widget.Select, *entry:
			if !o.Visible() {
				continue
			}
			if s := o.Size(); s.Width < minTouch || s.Height < minTouch {
				h.t.Errorf("screen %s: %T %v smaller than %d px", h.k.Screen(), o, s, minTouch)
			}
		}
	}
}

// typeKeys types characters the way the window delivers them: to the
// focused widget if there is one, else to the canvas's handler.
func (h *harness) typeKeys(s string) {
	if f := h.w.Canvas().Focused(); f != nil {
		test.Type(f, s)
		return
	}
	test.TypeOnCanvas(h.w.Canvas(), s)
}
