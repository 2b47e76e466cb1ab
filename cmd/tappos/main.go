// Command tappos is the kiosk: the cashier's and manager's screens of
// package ui, wired to the sale flow (terminal/sale), the offline queue
// and a ledger.
//
//	tappos --demo            # embedded ledger, simulated cards, "simulate tap" panel
//	tappos --demo --kiosk    # the same, full screen
//
// In demo mode everything runs in one process: a ledger on a loopback
// port with a SQLite file, an in-memory card reader and the card
// simulator's cards and phones. The --screenshots and --selftest
// options drive the real window for `make screenshots` and the tests.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/lang"

	"tappos/emv/kernel"
	"tappos/offline"
	"tappos/terminal/batch"
	"tappos/terminal/host"
	"tappos/terminal/memreader"
	"tappos/terminal/receipt"
	"tappos/terminal/sale"
	"tappos/ui"
	"tappos/ui/escpos"
	"tappos/ui/i18n"
)

// start is when the process began, for the first-frame benchmark.
var start = time.Now()

type options struct {
	demo        bool
	kiosk       bool
	config      string
	data        string
	lang        string
	pin         string
	printer     string
	screenshots string
	selftest    string
	bench       string
}

func main() {
	var o options
	flag.BoolVar(&o.demo, "demo", false, "embedded ledger, simulated cards and a simulate-tap panel")
	flag.BoolVar(&o.kiosk, "kiosk", false, "full screen")
	flag.StringVar(&o.config, "config", "testdata/terminal/cn-shop.json", "terminal configuration (emv/kernel)")
	flag.StringVar(&o.data, "data", "", "directory for the journal, the offline queue and receipts (default: a temporary directory)")
	flag.StringVar(&o.lang, "lang", "", "language: en or zh-Hans (default: the system's)")
	flag.StringVar(&o.pin, "pin", "1234", "manager PIN")
	flag.StringVar(&o.printer, "printer", "", "ESC/POS printer device or file (default: receipts.escpos in the data directory)")
	flag.StringVar(&o.screenshots, "screenshots", "", "drive a demo day and write PNGs of the main screens to this directory, then exit")
	flag.StringVar(&o.selftest, "selftest", "", "drive one sale (approved or offline) through the window and exit 0 if it ends as expected")
	flag.StringVar(&o.bench, "bench", "", "measure (first-frame or tap) and print the figure, then exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: tappos --demo [--kiosk] [--lang zh-Hans]\n\n"+
			"Example: tappos --demo --lang zh-Hans   # try a sale with the simulate-tap panel\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "tappos:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if !o.demo {
		// Real readers and a remote ledger need the terminal key,
		// reader selection and the ledger's URL: not wired yet.
		return errors.New("only --demo is available yet (real PC/SC readers and a remote ledger are not wired)")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if o.data == "" {
		dir, err := os.MkdirTemp("", "tappos-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.data = dir
	}
	cfg, err := kernel.LoadConfig(findUp(o.config))
	if err != nil {
		return err
	}
	caKeys, err := cfg.CAKeys()
	if err != nil {
		return err
	}
	cur, err := receipt.LookupCurrency(cfg.Currency.Alpha)
	if err != nil {
		return err
	}
	uiCur, err := i18n.CurrencyByNumeric(cur.Numeric)
	if err != nil {
		return err
	}
	led, err := startLedger(ctx, o.data, cur.Alpha, logger)
	if err != nil {
		return err
	}
	defer led.Close()

	journal, err := batch.Open(filepath.Join(o.data, "journal.db"), batch.Options{})
	if err != nil {
		return err
	}
	defer journal.Close()
	var key offline.Key
	if _, err := io.ReadFull(rand.Reader, key[:]); err != nil {
		return err
	}
	queue, err := offline.Open(filepath.Join(o.data, "offline.db"), offline.Options{Key: key})
	if err != nil {
		return err
	}
	defer queue.Close()

	client := &host.Client{BaseURL: led.URL, APIKey: led.Key}
	forwarder := &offline.HTTPForwarder{BaseURL: led.URL, APIKey: led.Key}
	policy := offline.NewPolicy(offline.PolicyConfig{Timeout: 1500 * time.Millisecond, Health: forwarder})
	reader := memreader.New("Simulated reader")
	defer reader.Close()

	p := &till{host: client, policy: policy, queue: queue, reader: reader.Name(), pin: o.pin,
		syncer:   &offline.Syncer{Queue: queue, Forwarder: forwarder, Logger: logger},
		afterTap: reader.Remove}
	p.t = &sale.Terminal{
		Kernel: &kernel.Kernel{Config: cfg, CAKeys: caKeys, Rand: rand.Reader, Now: time.Now},
		Reader: reader, Journal: journal, Host: client, Router: policy, Queue: queue, Currency: cur,
		Header: batch.Header{Merchant: "Demo Café", MerchantID: cfg.MerchantID, TerminalID: cfg.TerminalID},
		Linker: &receipt.Linker{Base: "https://r.tappos.example", Key: key[:]},
		NewID:  sale.NewIDs(cfg.TerminalID, time.Now, rand.Reader),
		Event:  p.event,
	}
	l := i18n.Match(string(lang.SystemLocale()))
	if o.lang != "" {
		l = i18n.Match(o.lang)
	}
	p.settings = ui.Settings{Reader: reader.Name(), Readers: []string{reader.Name()}, Lang: l}
	for _, a := range cfg.AIDs {
		p.settings.ContactlessLimit = max(p.settings.ContactlessLimit, a.TransactionLimit)
		p.settings.CVMLimit = max(p.settings.CVMLimit, a.CVMRequiredLimit)
	}
	p.settings.OfflineLimit = offline.DefaultLimits().PerTransaction
	settingsPath := filepath.Join(o.data, "settings.json")
	p.saveFile = func(s ui.Settings) error {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(settingsPath, b, 0o600)
	}
	if o.printer == "" {
		o.printer = filepath.Join(o.data, "receipts.escpos")
	}

	// Probe the ledger while it is down, and forward the offline queue
	// whenever it answers.
	go policy.Watch(ctx, 2*time.Second, func() {})
	go p.forward(ctx, 2*time.Second, logger)

	if err := i18n.Register(); err != nil {
		return err
	}
	a := app.NewWithID("io.tappos.kiosk")
	w := a.NewWindow("tappos")
	w.Resize(fyne.NewSize(1024, 700))
	w.SetFullScreen(o.kiosk)

	d := newDemo(reader, led)
	var k *ui.Kiosk
	k = ui.New(w, ui.Options{
		Payments: p, Status: p, Manager: p, Printer: &escpos.Printer{Path: o.printer}, Sounder: newSounder(o.data),
		Currency: uiCur, Lang: l, Side: d.panel(func() *ui.Kiosk { return k }),
		Timeout: 45 * time.Second,
	})
	defer k.Close()

	// Keep the status bar fresh.
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			fyne.Do(k.RefreshStatus)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()

	var scriptErr error
	if s := newScript(o, w, k, d, p); s != nil {
		a.Lifecycle().SetOnStarted(func() {
			go func() {
				scriptErr = s.run()
				fyne.Do(a.Quit)
			}()
		})
	}
	w.ShowAndRun()
	return scriptErr
}

// findUp resolves a relative path against the working directory or its
// nearest parent that has it, so the default configuration is found
// from anywhere in the repository.
func findUp(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	dir, err := os.Getwd()
	if err != nil {
		return path
	}
	for {
		p := filepath.Join(dir, path)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return path
		}
		dir = parent
	}
}
