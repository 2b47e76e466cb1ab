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
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/lang"

	"tappos/emv/kernel"
	"tappos/offline"
	"tappos/terminal"
	"tappos/terminal/batch"
	"tappos/terminal/host"
	"tappos/terminal/memreader"
	"tappos/terminal/pcsc"
	"tappos/terminal/receipt"
	"tappos/terminal/sale"
	"tappos/ui"
	"tappos/ui/escpos"
	"tappos/ui/i18n"
)

// ledgerKeyEnv holds the terminal's ledger API key outside demo mode, so
// it stays out of the process list.
const ledgerKeyEnv = "TAPPOS_LEDGER_KEY"

// managerPINEnv holds the manager PIN, for the same reason.
const managerPINEnv = "TAPPOS_MANAGER_PIN"

// demoPIN is the manager PIN in demo mode when none is given.
const demoPIN = "1234"

// start is when the process began, for the first-frame benchmark.
var start = time.Now()

type options struct {
	demo         bool
	kiosk        bool
	config       string
	data         string
	lang         string
	pin          string
	printer      string
	screenshots  string
	ledger       string
	reader       string
	keyFile      string
	allowVirtual bool
	selftest     string
	bench        string
}

func main() {
	var o options
	flag.BoolVar(&o.demo, "demo", false, "embedded ledger, simulated cards and a simulate-tap panel")
	flag.BoolVar(&o.kiosk, "kiosk", false, "full screen")
	flag.StringVar(&o.config, "config", "testdata/terminal/cn-shop.json", "terminal configuration (emv/kernel)")
	flag.StringVar(&o.data, "data", "", "directory for the journal, the offline queue, the display log and receipts (default: a temporary directory)")
	flag.StringVar(&o.lang, "lang", "", "language: en or zh-Hans (default: the system's)")
	flag.StringVar(&o.pin, "pin", "", "manager PIN; visible in the process list, prefer $"+managerPINEnv+" (default in --demo: "+demoPIN+")")
	flag.StringVar(&o.printer, "printer", "", "ESC/POS printer device or file (default: receipts.escpos in the data directory)")
	flag.StringVar(&o.ledger, "ledger", "", "ledger URL, without --demo (API key in "+ledgerKeyEnv+")")
	flag.StringVar(&o.reader, "reader", "", "PC/SC reader name or part of it, without --demo (default: the first)")
	flag.StringVar(&o.keyFile, "terminal-key", "", "terminal key file for the offline queue, without --demo (default: $"+offline.KeyEnv+")")
	flag.BoolVar(&o.allowVirtual, "allow-virtual", false, "accept a vpcd virtual reader (card simulator), without --demo")
	flag.StringVar(&o.screenshots, "screenshots", "", "drive a demo day and write PNGs of the main screens to this directory, then exit")
	flag.StringVar(&o.selftest, "selftest", "", "drive one sale (approved or offline) through the window and exit 0 if it ends as expected")
	flag.StringVar(&o.bench, "bench", "", "measure (first-frame or tap) and print the figure, then exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: tappos --demo [--kiosk] [--lang zh-Hans]\n"+
			"       "+managerPINEnv+"=PIN "+ledgerKeyEnv+"=KEY tappos --data DIR --ledger URL [--reader NAME] [--terminal-key FILE] [--kiosk]\n\n"+
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
	if !o.demo && (o.screenshots != "" || o.selftest != "" || o.bench != "") {
		return errors.New("--screenshots, --selftest and --bench need --demo")
	}
	if !o.demo && (o.data == "" || o.ledger == "") {
		return errors.New("without --demo, give --data and --ledger (and the keys: see --help)")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pin, err := managerPIN(o.demo, o.pin, os.Getenv(managerPINEnv))
	if err != nil {
		return err
	}
	if o.pin != "" && !o.demo {
		logger.Warn("--pin shows the manager PIN in the process list; set " + managerPINEnv + " instead")
	}
	o.pin = pin
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
	// Settings the manager saved apply from the next start on: the
	// kernel and the offline queue take their limits when they open.
	settingsPath := filepath.Join(o.data, "settings.json")
	saved, err := loadSettings(settingsPath)
	if err != nil {
		return err
	}
	var limits *offline.Limits
	if saved != nil {
		if err := applySettings(cfg, saved); err != nil {
			return err
		}
		if saved.OfflineLimit > 0 {
			l := offline.DefaultLimits()
			l.PerTransaction = saved.OfflineLimit
			limits = &l
		}
		if o.lang == "" {
			o.lang = string(saved.Lang)
		}
		if o.reader == "" && !o.demo {
			o.reader = saved.Reader
		}
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
	var (
		reader    terminal.Reader
		mem       *memreader.Reader
		p         *till
		led       *embeddedLedger
		key       offline.Key
		ledgerKey = os.Getenv(ledgerKeyEnv)
	)
	if o.demo {
		if led, err = startLedger(ctx, o.data, cur.Alpha, logger); err != nil {
			return err
		}
		defer led.Close()
		o.ledger, ledgerKey = led.URL, led.Key
		if _, err := io.ReadFull(rand.Reader, key[:]); err != nil {
			return err
		}
		mem = memreader.New("Simulated reader")
		reader = mem
	} else {
		if key, err = offline.LoadKey(o.keyFile); err != nil {
			return err
		}
		if ledgerKey == "" {
			return fmt.Errorf("set %s to the terminal's ledger API key", ledgerKeyEnv)
		}
		// p is set before any sale waits for a card.
		lift := func(waiting bool) { p.lift(waiting) }
		if reader, err = pcsc.Open(pcsc.Options{Name: o.reader, AllowVirtual: o.allowVirtual, Lift: lift}); err != nil {
			return err
		}
	}
	defer reader.Close()

	journal, err := batch.Open(filepath.Join(o.data, "journal.db"), batch.Options{})
	if err != nil {
		return err
	}
	defer journal.Close()
	// The display log records what the screen showed; the queue's
	// recovery settles a crash's held taps by it.
	display, err := sale.OpenDisplayLog(filepath.Join(o.data, "display.log"))
	if err != nil {
		return err
	}
	defer display.Close()
	queue, err := offline.Open(filepath.Join(o.data, "offline.db"), offline.Options{Key: key, Limits: limits, Witness: display})
	if err != nil {
		return err
	}
	defer queue.Close()

	client := &host.Client{BaseURL: o.ledger, APIKey: ledgerKey}
	forwarder := &offline.HTTPForwarder{BaseURL: o.ledger, APIKey: ledgerKey}
	policy := offline.NewPolicy(offline.PolicyConfig{Timeout: 1500 * time.Millisecond, Health: forwarder})

	p = &till{host: client, policy: policy, queue: queue, reader: reader.Name(), pin: o.pin, log: logger,
		syncer: &offline.Syncer{Queue: queue, Forwarder: forwarder, Logger: logger}}
	if mem != nil {
		p.afterTap = mem.Remove // the simulated card leaves the field
	} else {
		p.readerUp = func() bool {
			names, err := pcsc.Readers()
			return err == nil && slices.Contains(names, reader.Name())
		}
	}
	p.t = &sale.Terminal{
		Kernel: &kernel.Kernel{Config: cfg, CAKeys: caKeys, Rand: rand.Reader, Now: time.Now},
		Reader: reader, Journal: journal, Host: client, Router: policy, Queue: queue, Currency: cur, Display: display,
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
	if limits != nil {
		p.settings.OfflineLimit = limits.PerTransaction
	}
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

	// Probe the ledger while it is down; catch up with it at start, and
	// send what it missed (the offline queue, pending reversals, refunds
	// and voids) whenever it answers.
	go policy.Watch(ctx, 2*time.Second, func() {})
	go p.forward(ctx, 2*time.Second, logger)

	if err := i18n.Register(); err != nil {
		return err
	}
	a := app.NewWithID("io.tappos.kiosk")
	w := a.NewWindow("tappos")
	w.Resize(fyne.NewSize(1024, 700))
	w.SetFullScreen(o.kiosk)

	var (
		k    *ui.Kiosk
		d    *demo
		side fyne.CanvasObject
	)
	if o.demo {
		d = newDemo(mem, led)
		side = d.panel(func() *ui.Kiosk { return k })
	}
	var pinHint string
	if o.demo && o.pin == demoPIN {
		pinHint = demoPIN // a demo's PIN is no secret: say it on screen
	}
	k = ui.New(w, ui.Options{
		Payments: p, Status: p, Manager: p, Printer: &escpos.Printer{Path: o.printer}, Sounder: newSounder(o.data),
		Currency: uiCur, Lang: l, Side: side, Timeout: 45 * time.Second, PINHint: pinHint,
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

// managerPIN picks the manager PIN: the flag's, else the environment's,
// else in demo mode demoPIN. Outside demo mode there is no default, and
// the PIN must be 4 to 12 digits, which is what the PIN keypad types.
func managerPIN(demo bool, flagPIN, envPIN string) (string, error) {
	pin := cmp.Or(flagPIN, envPIN)
	if pin == "" {
		if demo {
			return demoPIN, nil
		}
		return "", fmt.Errorf("set %s to the manager PIN (4 to 12 digits)", managerPINEnv)
	}
	if len(pin) < 4 || len(pin) > 12 || strings.Trim(pin, "0123456789") != "" {
		return "", fmt.Errorf("manager PIN: want 4 to 12 digits, got %d characters", len(pin))
	}
	return pin, nil
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

// loadSettings reads the settings the manager saved, or nil if there are
// none yet.
func loadSettings(path string) (*ui.Settings, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s ui.Settings
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &s, nil
}

// applySettings sets the manager's contactless and CVM limits on every
// application of the terminal configuration.
func applySettings(cfg *kernel.Config, s *ui.Settings) error {
	for i := range cfg.AIDs {
		if s.ContactlessLimit > 0 {
			cfg.AIDs[i].TransactionLimit = s.ContactlessLimit
		}
		if s.CVMLimit > 0 {
			cfg.AIDs[i].CVMRequiredLimit = s.CVMLimit
		}
	}
	if err := cfg.Check(); err != nil {
		return fmt.Errorf("saved settings: %w", err)
	}
	return nil
}
