package main

import (
	"errors"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"time"

	"fyne.io/fyne/v2"

	"tappos/emv/kernel"
	"tappos/ui"
	"tappos/ui/i18n"
)

// script drives the real window from its own goroutine, the way a
// cashier would, for the screenshots, the self-tests and the
// benchmarks. Every kiosk call goes through fyne.DoAndWait.
type script struct {
	o options
	w fyne.Window
	k *ui.Kiosk
	d *demo
	p *till
}

func newScript(o options, w fyne.Window, k *ui.Kiosk, d *demo, p *till) *script {
	if o.screenshots == "" && o.selftest == "" && o.bench == "" {
		return nil
	}
	return &script{o: o, w: w, k: k, d: d, p: p}
}

func (s *script) run() error {
	switch {
	case s.o.bench == "first-frame":
		s.capture("")
		fmt.Printf("FIRST_FRAME %.1f\n", float64(time.Since(start).Microseconds())/1000)
		return nil
	case s.o.bench == "tap":
		return s.benchTap()
	case s.o.selftest != "":
		return s.selftest(s.o.selftest)
	case s.o.screenshots != "":
		return s.screenshots(s.o.screenshots)
	}
	return fmt.Errorf("unknown --bench %q", s.o.bench)
}

// do runs f on the UI goroutine and waits.
func (s *script) do(f func()) { fyne.DoAndWait(f) }

// wait polls the kiosk until cond holds.
func (s *script) wait(what string, cond func() bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		s.do(func() { ok = cond() })
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			var sc ui.Screen
			s.do(func() { sc = s.k.Screen() })
			return fmt.Errorf("timed out waiting for %s (screen %s)", what, sc)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeBatch waits for the offline queue to drain, then closes the batch
// from the manager's screen and waits for its reconciliation.
func (s *script) closeBatch() error {
	if err := s.wait("the queue to drain", func() bool {
		s.k.RefreshStatus()
		return s.k.StatusInfo().Queued == 0
	}); err != nil {
		return err
	}
	s.do(func() {
		s.k.OpenManager()
		for _, d := range []byte(s.o.pin) {
			s.k.Digit(d)
		}
		s.k.SubmitPIN()
		s.k.OpenPage(ui.PageBatch)
		s.k.AskCloseBatch()
		s.k.CloseBatch()
	})
	return s.wait("the reconciliation", func() bool { return !s.k.Busy() && s.k.Reconciliation() != nil })
}

func (s *script) screen(want ui.Screen) error {
	return s.wait("screen "+string(want), func() bool { return s.k.Screen() == want })
}

// capture waits until the window has drawn, then, unless name is "",
// writes what the X server shows as name.png.
func (s *script) capture(name string) error {
	s.do(func() { s.w.Canvas().Capture() }) // a GL round trip after the frame
	if name == "" {
		return nil
	}
	shot, err := grabWindow(s.w.Title())
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(s.o.screenshots, name+".png"))
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	return errors.Join(enc.Encode(f, paletted(shot)), f.Close())
}

// paletted maps a screenshot onto 256 colours (the kiosk's flat colours
// and grey ramps), which keeps the committed PNGs around a third of
// their true-colour size.
func paletted(src image.Image) *image.Paletted {
	dst := image.NewPaletted(src.Bounds(), palette.Plan9)
	draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
	return dst
}

// sale types an amount, presses Charge, presents a card and waits for
// the outcome screen.
func (s *script) sale(digits, profile string, before func() error) error {
	s.do(func() {
		s.k.NewSale()
		for i := range len(digits) {
			s.k.Digit(digits[i])
		}
		s.k.Charge()
	})
	if err := s.screen(ui.ScreenTap); err != nil {
		return err
	}
	if before != nil {
		if err := before(); err != nil {
			return err
		}
	}
	if err := s.d.present(profile); err != nil {
		return err
	}
	return s.wait("an outcome", func() bool {
		sc := s.k.Screen()
		return sc == ui.ScreenApproved || sc == ui.ScreenDeclined
	})
}

// ledger switches the embedded ledger and waits for the status bar.
func (s *script) ledger(up bool) error {
	s.do(func() { s.d.down.SetChecked(!up) })
	return s.wait("ledger online="+fmt.Sprint(up), func() bool {
		s.k.RefreshStatus()
		return s.k.StatusInfo().LedgerOnline == up
	})
}

func (s *script) selftest(name string) error {
	switch name {
	case "approved":
		if err := s.sale("1250", "visa-credit", nil); err != nil {
			return err
		}
		var r ui.Result
		s.do(func() { r = s.k.Result() })
		if !r.Approved || r.Offline || s.k.Screen() != ui.ScreenApproved {
			return fmt.Errorf("sale ended %+v, want approved online", r.Reason)
		}
	case "offline":
		if err := s.ledger(false); err != nil {
			return err
		}
		if err := s.sale("2500", "visa-offline", nil); err != nil {
			return err
		}
		var r ui.Result
		s.do(func() { r = s.k.Result() })
		if !r.Approved || !r.Offline {
			return fmt.Errorf("sale ended approved=%t offline=%t reason %q, want approved offline", r.Approved, r.Offline, r.Reason)
		}
		if err := s.wait("the offline banner with one queued payment", func() bool {
			s.k.RefreshStatus()
			st := s.k.StatusInfo()
			return !st.LedgerOnline && st.Queued == 1 && st.QueuedAmount == 2500
		}); err != nil {
			return err
		}
	case "tryagain":
		// A card pulled away mid-tap: the kiosk asks again, and the next
		// card pays.
		s.do(func() {
			for _, d := range []byte("1250") {
				s.k.Digit(d)
			}
			s.k.Charge()
		})
		if err := s.screen(ui.ScreenTap); err != nil {
			return err
		}
		if err := s.d.present("pulled"); err != nil {
			return err
		}
		if err := s.wait("present card again", func() bool {
			return s.k.Screen() == ui.ScreenTap && s.k.Message() == kernel.MsgPresentCardAgain
		}); err != nil {
			return err
		}
		if err := s.d.present("visa-credit"); err != nil {
			return err
		}
		if err := s.screen(ui.ScreenApproved); err != nil {
			return err
		}
	case "batch":
		// An online sale, an offline one while the ledger is down, the
		// ledger back, the queue forwarded, and a balanced batch close.
		if err := s.sale("1250", "visa-credit", nil); err != nil {
			return err
		}
		if err := s.ledger(false); err != nil {
			return err
		}
		if err := s.sale("2500", "visa-offline", nil); err != nil {
			return err
		}
		if err := s.ledger(true); err != nil {
			return err
		}
		s.do(s.k.NewSale)
		if err := s.closeBatch(); err != nil {
			return err
		}
		var r ui.Reconciliation
		s.do(func() { r = *s.k.Reconciliation() })
		if !r.Balanced || r.TerminalCount != 2 || r.TerminalTotal != 3750 || r.HostTotal != 3750 {
			return fmt.Errorf("reconciliation %+v, want balanced 2 for 3750", r)
		}
	case "refund":
		// Refund part of one sale and void another, found by lookup.
		var ids []string
		for range 2 {
			if err := s.sale("4000", "visa-credit", nil); err != nil {
				return err
			}
			var r ui.Result
			s.do(func() { r = s.k.Result() })
			if !r.Approved {
				return fmt.Errorf("sale declined: %s", r.Reason)
			}
			ids = append(ids, r.TxnID)
		}
		for i, step := range []func(){
			func() { s.k.StartRefund("15.00") },
			func() { s.k.StartVoid() },
		} {
			s.do(func() { s.k.NewSale(); s.k.OpenLookup(); s.k.Lookup(ids[i]) })
			if err := s.wait("the lookup", func() bool { return !s.k.Busy() && s.k.Screen() == ui.ScreenLookup }); err != nil {
				return err
			}
			s.do(step)
			if err := s.wait("the outcome", func() bool { return s.k.Screen() == ui.ScreenApproved || s.k.Screen() == ui.ScreenDeclined }); err != nil {
				return err
			}
			var r ui.Result
			s.do(func() { r = s.k.Result() })
			want := []struct {
				kind   ui.Kind
				amount int64
			}{{ui.Refund, 1500}, {ui.Void, 4000}}[i]
			if !r.Approved || r.Kind != want.kind || r.Amount != want.amount {
				return fmt.Errorf("%s of %s: approved=%t kind=%s amount=%d reason %q", want.kind, ids[i], r.Approved, r.Kind, r.Amount, r.Reason)
			}
		}
	default:
		return fmt.Errorf("unknown self-test %q", name)
	}
	fmt.Printf("SELFTEST %s OK\n", name)
	return nil
}

// benchTap measures card presented → outcome screen over a few online
// sales, and how much of it comes after the sale flow returned.
func (s *script) benchTap() error {
	var total, overhead []float64
	for range 5 {
		if err := s.sale("1250", "visa-credit", nil); err != nil {
			return err
		}
		s.capture("") // the outcome frame is drawn
		drawn := time.Now()
		total = append(total, ms(drawn.Sub(s.d.lastPresented())))
		overhead = append(overhead, ms(drawn.Sub(s.p.lastSaleDone())))
	}
	slices.Sort(total)
	slices.Sort(overhead)
	fmt.Printf("TAP %.1f %.1f\n", total[len(total)/2], overhead[len(overhead)/2])
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// screenshots drives a short shop day and captures the main screens.
func (s *script) screenshots(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"amount", func() error {
			s.do(func() {
				for _, d := range []byte("1250") {
					s.k.Digit(d)
				}
			})
			return nil
		}},
		{"tap", func() error {
			s.do(s.k.Charge)
			return s.screen(ui.ScreenTap)
		}},
		{"approved", func() error {
			if err := s.d.present("visa-credit"); err != nil {
				return err
			}
			return s.screen(ui.ScreenApproved)
		}},
		{"receipt", func() error {
			s.do(s.k.ShowReceipt)
			return s.screen(ui.ScreenReceipt)
		}},
		{"declined", func() error { return s.sale("35000", "phone-mastercard", nil) }},
		{"offline-approved", func() error {
			if err := s.ledger(false); err != nil {
				return err
			}
			return s.sale("2500", "visa-offline", nil)
		}},
		{"offline-banner", func() error {
			s.do(s.k.NewSale)
			return s.wait("queued payment in the banner", func() bool {
				s.k.RefreshStatus()
				return s.k.StatusInfo().Queued > 0
			})
		}},
		{"manager-batch", func() error {
			if err := s.ledger(true); err != nil {
				return err
			}
			return s.closeBatch()
		}},
		{"chinese-amount", func() error {
			s.do(func() {
				s.k.NewSale()
				s.k.SetLang(i18n.Chinese)
				for _, d := range []byte("8800") {
					s.k.Digit(d)
				}
			})
			return nil
		}},
		{"chinese-approved", func() error { return s.sale("8800", "phone-visa", nil) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return fmt.Errorf("screenshot %s: %w", st.name, err)
		}
		time.Sleep(150 * time.Millisecond) // let the status bar catch up
		if err := s.capture(st.name); err != nil {
			return fmt.Errorf("screenshot %s: %w", st.name, err)
		}
		fmt.Println("wrote", filepath.Join(dir, st.name+".png"))
	}
	return nil
}
