package main

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"tappos/terminal/cardsim"
	"tappos/terminal/memreader"
	"tappos/ui"
)

// demoCards are the simulate-tap panel's buttons: which simulated card
// or phone each one presents.
var demoCards = []struct{ label, profile string }{
	{"Tap Visa card", "visa-credit"},
	{"Tap Visa card (offline-capable)", "visa-offline"},
	{"Tap Mastercard", "mastercard-credit"},
	{"Tap phone (Visa)", "phone-visa"},
	{"Tap declined card (empty wallet)", "phone-mastercard"},
}

// demo is the simulate-tap panel: it presents simulated cards to the
// in-memory reader and switches the embedded ledger off and on.
type demo struct {
	reader *memreader.Reader
	led    *embeddedLedger

	down *widget.Check // the panel's ledger switch

	mu        sync.Mutex
	cards     map[string]*cardsim.Card
	presented time.Time // when the last card was presented
}

func newDemo(r *memreader.Reader, led *embeddedLedger) *demo {
	return &demo{reader: r, led: led, cards: make(map[string]*cardsim.Card)}
}

// present puts a simulated card in the field. Each profile keeps one
// card, so its transaction counter goes up tap after tap.
func (d *demo) present(profile string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.cards[profile]
	if c == nil {
		p, err := cardsim.LoadProfile(profile)
		if err != nil {
			return err
		}
		if c, err = cardsim.NewCard(p, rand.Reader); err != nil {
			return fmt.Errorf("card %s: %w", profile, err)
		}
		d.cards[profile] = c
	}
	d.presented = time.Now()
	d.reader.Present(c)
	return nil
}

func (d *demo) lastPresented() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.presented
}

// panel builds the demo's side panel; kiosk is called on the UI
// goroutine once the kiosk exists.
func (d *demo) panel(kiosk func() *ui.Kiosk) fyne.CanvasObject {
	items := []fyne.CanvasObject{widget.NewLabelWithStyle("Demo: simulate", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})}
	for _, c := range demoCards {
		profile := c.profile
		items = append(items, widget.NewButton(c.label, func() {
			// The reader is touched off the UI goroutine.
			go d.present(profile)
		}))
	}
	items = append(items, widget.NewButton("Remove card", func() { go d.reader.Remove() }))
	d.down = widget.NewCheck("Ledger down", func(on bool) {
		d.led.SetDown(on)
		if k := kiosk(); k != nil {
			k.RefreshStatus()
		}
	})
	items = append(items, d.down)
	return container.NewVBox(items...)
}
