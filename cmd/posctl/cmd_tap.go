package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"tappos/emv/kernel"
	"tappos/offline"
	"tappos/terminal"
	"tappos/terminal/batch"
	"tappos/terminal/host"
	"tappos/terminal/pcsc"
	"tappos/terminal/receipt"
	"tappos/terminal/sale"
)

func init() {
	register(command{path: []string{"tap"}, short: "take one payment on a card reader", run: runTap})
}

// modeEnv set to "demo" or "test" admits virtual readers without
// --allow-virtual: the demo and the tests run on vpcd.
const modeEnv = "TAPPOS_MODE"

// openReader opens the card reader; tests replace it with an in-memory one.
var openReader = func(name string, allowVirtual bool) (terminal.Reader, error) {
	return pcsc.Open(pcsc.Options{Name: name, AllowVirtual: allowVirtual})
}

// clock, time zone and entropy of the terminal commands; tests replace
// them.
var (
	posNow            = time.Now
	posLoc            = time.Local
	posRand io.Reader = rand.Reader
)

// posFlags are the flags the terminal commands share.
type posFlags struct {
	config      *string
	journal     *string
	queue       *string
	termKey     *string
	ledger      *string
	key         *string
	merchant    *string
	receiptBase *string
	// currency overrides the configuration's currency; nil (commands
	// that take no new sale) keeps it.
	currency *string
	// limits are the offline risk limits; nil (commands that approve
	// nothing) means the defaults.
	limits *limitFlags
}

// errUsage marks an error in the flags (exit status 2).
var errUsage = errors.New("usage")

// limitFlags are the offline risk limits of posctl tap, as given.
type limitFlags struct {
	perTxn, total   *string // amounts in the sale's currency; "" means the default
	count, sameCard *int
	oldest          *time.Duration
}

func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	d := offline.DefaultLimits()
	return &limitFlags{
		perTxn:   fs.String("offline-limit", "", "largest offline `AMOUNT`; 0 for no limit (default: 50.00 in a currency with cents)"),
		total:    fs.String("offline-max-amount", "", "largest unsent offline `AMOUNT` per currency; 0 for no limit (default: 500.00)"),
		count:    fs.Int("offline-max-count", d.CumulativeCount, "most unsent offline taps (`N`); 0 for no limit"),
		oldest:   fs.Duration("offline-max-age", d.OldestAge, "no offline approval while an unsent tap is older than `D`; 0 for no limit"),
		sameCard: fs.Int("offline-same-card", d.SameCard, "most unsent offline taps of one card (`N`); 0 for no limit"),
	}
}

// parse returns the limits, amounts in minor units of cur.
func (f *limitFlags) parse(cur receipt.Currency) (offline.Limits, error) {
	l := offline.DefaultLimits()
	l.CumulativeCount, l.OldestAge, l.SameCard = *f.count, *f.oldest, *f.sameCard
	if l.CumulativeCount < 0 || l.OldestAge < 0 || l.SameCard < 0 {
		return l, fmt.Errorf("%w: offline limits must not be negative", errUsage)
	}
	for _, a := range []struct {
		flag string
		s    string
		v    *int64
	}{{"--offline-limit", *f.perTxn, &l.PerTransaction}, {"--offline-max-amount", *f.total, &l.CumulativeAmount}} {
		if a.s == "" {
			continue
		}
		v, err := cur.ParseAmount(a.s)
		if err != nil {
			return l, fmt.Errorf("%w: %s: %w", errUsage, a.flag, err)
		}
		*a.v = v
	}
	return l, nil
}

func addPosFlags(fs *flag.FlagSet) *posFlags {
	return &posFlags{
		config:      fs.String("config", "testdata/terminal/cn-shop.json", "terminal configuration `FILE`"),
		journal:     fs.String("journal", "tappos-journal.db", "the terminal's transaction journal (SQLite `FILE`)"),
		queue:       fs.String("queue", "tappos-offline.db", "the offline queue (SQLite `FILE`)"),
		termKey:     fs.String("terminal-key", "", "terminal key `FILE` sealing the offline queue (default: $"+offline.KeyEnv+")"),
		ledger:      fs.String("ledger", os.Getenv("TAPPOS_LEDGER"), "ledger base `URL` (default: $TAPPOS_LEDGER)"),
		key:         fs.String("key", os.Getenv("TAPPOS_LEDGER_KEY"), "the terminal's ledger API `KEY` (default: $TAPPOS_LEDGER_KEY)"),
		merchant:    fs.String("merchant", "", "merchant `NAME` on receipts and reports (default: the configuration's name)"),
		receiptBase: fs.String("receipt-url", "https://receipts.tappos.example", "base `URL` of e-receipt links"),
	}
}

// pos is an opened terminal: configuration, journal, queue, ledger.
type pos struct {
	cfg    *kernel.Config
	term   *sale.Terminal
	client *host.Client // nil without --ledger
	queue  *offline.Queue
	closer []func() error
}

func (p *pos) Close() {
	for i := len(p.closer) - 1; i >= 0; i-- {
		p.closer[i]()
	}
}

// openPos opens what the flags name. needQueue opens the offline queue
// (it needs the terminal key); online adds the ledger when --ledger is set.
func openPos(f *posFlags, needQueue, online bool) (*pos, error) {
	cfg, err := kernel.LoadConfig(*f.config)
	if err != nil {
		return nil, err
	}
	cur, err := receipt.LookupCurrency(cfg.Currency.Alpha)
	if err != nil {
		cur = receipt.Currency{Numeric: cfg.Currency.Numeric, Alpha: cfg.Currency.Alpha, Exponent: cfg.Currency.Exponent}
	}
	// Before the limits are parsed: their amounts are in the sale's
	// currency, whose exponent may differ from the configuration's.
	if f.currency != nil && *f.currency != "" {
		if cur, err = receipt.LookupCurrency(*f.currency); err != nil {
			return nil, fmt.Errorf("%w: --currency: %w", errUsage, err)
		}
		// The card sees the transaction currency in 5F2A.
		cfg.Currency = kernel.Currency{Numeric: cur.Numeric, Alpha: cur.Alpha, Exponent: cur.Exponent}
	}
	p := &pos{cfg: cfg}
	j, err := batch.Open(*f.journal, batch.Options{Now: posNow, Location: posLoc})
	if err != nil {
		return nil, err
	}
	p.closer = append(p.closer, j.Close)
	merchant := *f.merchant
	if merchant == "" {
		merchant = cfg.Name
	}
	p.term = &sale.Terminal{
		Journal: j, Currency: cur, Now: posNow,
		Header: batch.Header{Merchant: merchant, MerchantID: cfg.MerchantID, TerminalID: cfg.TerminalID},
		NewID:  sale.NewIDs(cfg.TerminalID, posNow, posRand),
	}
	if needQueue {
		k, err := offline.LoadKey(*f.termKey)
		if err != nil {
			p.Close()
			return nil, err
		}
		opt := offline.Options{Key: k, Now: posNow}
		if f.limits != nil {
			l, err := f.limits.parse(cur)
			if err != nil {
				p.Close()
				return nil, err
			}
			opt.Limits = &l
		}
		q, err := offline.Open(*f.queue, opt)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.queue, p.term.Queue = q, q
		p.closer = append(p.closer, q.Close)
		m := hmac.New(sha256.New, k[:])
		m.Write([]byte("tappos e-receipt link key"))
		p.term.Linker = &receipt.Linker{Base: *f.receiptBase, Key: m.Sum(nil)}
	}
	if online && *f.ledger != "" {
		p.client = &host.Client{BaseURL: *f.ledger, APIKey: *f.key}
		p.term.Host = p.client
	}
	return p, nil
}

// catchUp brings the journal up to date with the ledger: pending
// reversals, refunds and voids are sent, and the ledger's ids for synced
// offline sales are copied in. Failures are reported, not fatal.
func (p *pos) catchUp(ctx context.Context, stderr io.Writer) {
	if p.client == nil {
		return
	}
	n, err := p.term.CatchUp(ctx, p.queue)
	if n > 0 {
		fmt.Fprintf(stderr, "resolved %d pending requests\n", n)
	}
	if err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
}

// openPosQueue opens the terminal with its offline queue when the terminal
// key is available, and without it (saying so) when it is not.
func openPosQueue(f *posFlags, online bool, stderr io.Writer) (*pos, error) {
	p, err := openPos(f, true, online)
	if errors.Is(err, offline.ErrNoKey) {
		fmt.Fprintf(stderr, "warning: offline queue not read: %v\n", err)
		return openPos(f, false, online)
	}
	return p, err
}

// parseFlags parses, handling --help (exit 0) and usage errors (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2, false
	}
	return 0, true
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

const tapUsage = `usage: posctl tap --amount AMOUNT [--currency CODE] [--reader NAME] [--allow-virtual]
                 [--ledger URL --key KEY] [--offline-only] [--json] [--events] [--receipt]
                 [--display-log FILE]
                 [--offline-limit AMOUNT] [--offline-max-amount AMOUNT] [--offline-max-count N]
                 [--offline-max-age D] [--offline-same-card N] [--config FILE]

Takes one contactless payment: waits for a card on the PC/SC reader, runs the
kernel, authorizes online with the ledger (or decides offline through the
offline rules), records the result in the journal and prints it. An online
request whose answer does not come is reversed automatically.

An offline approval needs the card's TC with ODA passed and must be within
the offline limits (--offline-*; amounts in the sale's currency, --currency
or the configuration's; 0 turns a limit off); a decline names the limit that
refused it.

Each step of the sale is appended to the display log (--display-log), one
line "KIND TXN_ID", with " AMOUNT CODE" on PRESENT_CARD, APPROVED and
DECLINED: the terminal's electronic journal of what its screen showed, and
what the screen shows from. --events prints the same steps on stdout, as
they happen, before the report (kinds: PRESENT_CARD, PROCESSING,
REMOVE_CARD, OFFLINE, AUTHORISING, APPROVED, DECLINED, FAILED).

An offline approval is committed to the offline queue held, then its
APPROVED line is written to the display log and synced to disk, then it is
printed, then the queue confirms it. It is charged if and only if its line
is in the display log: a process killed in between leaves it held, and
posctl sync, reading the same display log, queues it if the line is there
and cancels it if not. One killed after the confirm, before the journal,
comes back into the journal once synced, as "recovered from the offline
queue", where it can be refunded.

Prints outcome (the kernel's), result (the sale's: APPROVED, OFFLINE_APPROVED,
DECLINED, REVERSED), kernel, aid, masked pan, cvm, cryptogram_type,
cryptogram, oda, apdus, elapsed_ms, and the approval code or decline reason.
Exit status: 0 approved, 3 declined, 1 no decision or error, 2 usage.

Virtual (vpcd) readers are refused unless --allow-virtual is given or
$TAPPOS_MODE is "demo" or "test".

Example:
  posctl tap --amount 12.50 --ledger http://127.0.0.1:8080 --key $TAPPOS_LEDGER_KEY --json \
      --config testdata/terminal/cn-shop.json

Example (offline only, at most 5 unsent taps of a card, steps as they happen):
  posctl tap --amount 8.00 --offline-only --offline-same-card 5 --events \
      --display-log /var/lib/tappos/display.log

Flags:
`

// tapReport is what tap prints; it holds no card data but the masked PAN.
type tapReport struct {
	TxnID          string `json:"txn_id"`
	Outcome        string `json:"outcome"`
	Result         string `json:"result"`
	Kernel         int    `json:"kernel"`
	AID            string `json:"aid"`
	Label          string `json:"label,omitempty"`
	PAN            string `json:"pan"`
	CVM            string `json:"cvm"`
	CryptogramType string `json:"cryptogram_type"`
	Cryptogram     string `json:"cryptogram"`
	ATC            string `json:"atc,omitempty"`
	ODA            struct {
		Method string `json:"method"`
		OK     bool   `json:"ok"`
	} `json:"oda"`
	TVR             string `json:"tvr"`
	TSI             string `json:"tsi"`
	APDUs           int    `json:"apdus"`
	ElapsedMS       int64  `json:"elapsed_ms"`
	Amount          string `json:"amount"`
	Currency        string `json:"currency"`
	Offline         bool   `json:"offline"`
	ApprovalCode    string `json:"approval_code,omitempty"`
	DeclineReason   string `json:"decline_reason,omitempty"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	IssuerAuth      string `json:"issuer_auth,omitempty"`
	Receipt         string `json:"receipt_link,omitempty"`
	Error           string `json:"error,omitempty"`
}

func runTap(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("posctl tap", tapUsage, stderr)
	pf := addPosFlags(fs)
	amountS := fs.String("amount", "", "the `AMOUNT` to pay, e.g. 12.50")
	pf.currency = fs.String("currency", "", "ISO 4217 `CODE`, numeric (156) or alphabetic (CNY); default: the configuration's")
	readerName := fs.String("reader", "", "reader `NAME`, or a unique part of it (default: the first)")
	allowVirtual := fs.Bool("allow-virtual", false, "accept a vpcd virtual reader (demo and tests only)")
	offlineOnly := fs.Bool("offline-only", false, "do not contact the ledger: offline decisions only")
	asJSON := fs.Bool("json", false, "print JSON")
	events := fs.Bool("events", false, "print each step of the sale as a line \"KIND TXN_ID\" as it happens")
	displayLog := fs.String("display-log", defaultDisplayLog, "the display log `FILE`, appended to: what the screen showed; posctl sync reads it")
	pf.limits = addLimitFlags(fs)
	printReceipt := fs.Bool("receipt", false, "print the receipt too")
	qrFile := fs.String("qr", "", "write the e-receipt link's QR code to `FILE` (PNG)")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for a card")
	onlineTimeout := fs.Duration("online-timeout", 1500*time.Millisecond, "how long to wait for the ledger's answer")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *amountS == "" {
		fmt.Fprintln(stderr, "posctl tap: --amount is required")
		fs.Usage()
		return 2
	}
	// Without the terminal key there is no offline queue: offline
	// approvals are then declined, online ones still work.
	p, err := openPosQueue(pf, !*offlineOnly, stderr)
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "posctl tap: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "posctl tap: %v\n", err)
		return 1
	}
	defer p.Close()
	amount, err := p.term.Currency.ParseAmount(*amountS)
	if err != nil {
		fmt.Fprintf(stderr, "posctl tap: %v\n", err)
		return 2
	}
	keys, err := p.cfg.CAKeys()
	if err != nil {
		fmt.Fprintf(stderr, "posctl tap: %v\n", err)
		return 1
	}
	mode := os.Getenv(modeEnv)
	r, err := openReader(*readerName, *allowVirtual || mode == "demo" || mode == "test")
	if err != nil {
		fmt.Fprintf(stderr, "posctl tap: %v\n", err)
		return 1
	}
	defer r.Close()
	p.term.Reader = r
	d, err := sale.OpenDisplayLog(*displayLog)
	if err != nil {
		fmt.Fprintf(stderr, "posctl tap: %v\n", err)
		return 1
	}
	defer d.Close()
	p.term.Display = d
	p.term.Kernel = &kernel.Kernel{Config: p.cfg, CAKeys: keys, Rand: posRand, Now: posNow}
	p.term.CardTimeout = *wait
	if p.client != nil {
		p.term.Router = offline.NewPolicy(offline.PolicyConfig{Timeout: *onlineTimeout, Health: p.client, Now: posNow})
	}
	p.term.Event = func(e sale.Event) {
		if *events {
			// An echo of the display log, after it: one write(2),
			// unbuffered, out before the sale goes on.
			fmt.Fprintf(stdout, "%s %s\n", strings.ToUpper(string(e.Kind)), e.TxnID)
		}
		if e.Kind == sale.PresentCard {
			fmt.Fprintf(stderr, "%s: %s on %s\n", e.Message, e.Currency.Format(e.Amount), r.Name())
		}
	}

	ctx := context.Background()
	p.catchUp(ctx, stderr)
	start := time.Now()
	res, err := p.term.Sale(ctx, amount)
	rep := tapReport{Amount: p.term.Currency.Decimal(amount), Currency: p.term.Currency.Alpha}
	if res != nil && res.Outcome != nil {
		o := res.Outcome
		rep.Outcome, rep.Kernel, rep.AID, rep.Label, rep.PAN = o.Status.String(), o.Kernel, fmt.Sprintf("%X", o.AID), o.Label, o.PAN
		rep.CVM, rep.Cryptogram, rep.ATC, rep.APDUs = o.CVM.String(), fmt.Sprintf("%X", o.Cryptogram), fmt.Sprintf("%X", o.ATC), o.APDUs
		if o.Cryptogram != nil {
			rep.CryptogramType = o.CryptogramType.String()
		}
		rep.ODA.Method, rep.ODA.OK = o.ODA.Method.String(), o.ODA.OK
		rep.TVR, rep.TSI = fmt.Sprintf("%X", o.TVR), fmt.Sprintf("%X", o.TSI)
	}
	rep.ElapsedMS = time.Since(start).Milliseconds()
	code := 1
	if err != nil {
		rep.Error = err.Error()
	} else {
		rec := res.Record
		rep.TxnID, rep.Result, rep.Offline = rec.TxnID, strings.ToUpper(string(rec.Status)), rec.Offline
		rep.TVR, rep.TSI, rep.AuthorizationID, rep.IssuerAuth = rec.TVR, rec.TSI, rec.AuthorizationID, rec.IssuerAuth
		rep.Receipt = res.Receipt.Link
		if res.Approved() {
			rep.ApprovalCode, code = rec.ApprovalCode, 0
		} else {
			rep.DeclineReason, code = rec.Reason, 3
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		writeTapText(stdout, rep)
	}
	if *printReceipt && res != nil && res.Receipt != nil {
		fmt.Fprintln(stdout)
		res.Receipt.WriteText(stdout)
	}
	if *qrFile != "" && res != nil && res.Receipt != nil && res.Receipt.Link != "" {
		if err := writeQR(*qrFile, res.Receipt.Link); err != nil {
			fmt.Fprintf(stderr, "posctl tap: %v\n", err)
			return 1
		}
	}
	return code
}

func writeTapText(w io.Writer, r tapReport) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	line("txn_id", r.TxnID)
	line("outcome", r.Outcome)
	line("result", r.Result)
	if r.Kernel != 0 {
		line("kernel", fmt.Sprint(r.Kernel))
	}
	line("aid", r.AID)
	line("pan", r.PAN)
	line("cvm", r.CVM)
	line("cryptogram_type", r.CryptogramType)
	line("cryptogram", r.Cryptogram)
	if r.ODA.Method != "" {
		line("oda", fmt.Sprintf("%s ok=%t", r.ODA.Method, r.ODA.OK))
	}
	line("tvr", r.TVR)
	line("tsi", r.TSI)
	fmt.Fprintf(w, "apdus: %d\nelapsed_ms: %d\n", r.APDUs, r.ElapsedMS)
	line("amount", r.Currency+" "+r.Amount)
	line("approval_code", r.ApprovalCode)
	line("decline_reason", r.DeclineReason)
	line("receipt_link", r.Receipt)
	line("error", r.Error)
}

// writeQR writes the QR code of link as a PNG file.
func writeQR(path, link string) error {
	return qrcode.WriteFile(link, qrcode.Medium, 256, path)
}
