package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"tappos/terminal/pcsc"
)

func init() {
	register(command{
		path:  []string{"pcsc", "readers"},
		short: "list the PC/SC readers pcscd knows",
		run:   runPCSCReaders,
	})
	register(command{
		path:  []string{"pcsc", "ping"},
		short: "wait for a card on a PC/SC reader and time a SELECT PPSE",
		run:   runPCSCPing,
	})
}

const pcscReadersUsage = `usage: posctl pcsc readers

Lists the PC/SC readers pcscd knows, one a line, marking the vpcd virtual
readers that only demo and test mode accept.

Example:
  posctl pcsc readers
`

func runPCSCReaders(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl pcsc readers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, pcscReadersUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	names, err := pcsc.Readers()
	if err != nil {
		fmt.Fprintf(stderr, "posctl pcsc readers: %v\n", err)
		return 1
	}
	for _, n := range names {
		if pcsc.IsVirtual(n) {
			fmt.Fprintf(stdout, "%s\t(virtual: demo and tests only)\n", n)
		} else {
			fmt.Fprintln(stdout, n)
		}
	}
	return 0
}

const pcscPingUsage = `usage: posctl pcsc ping [--reader NAME] [--allow-virtual] [--wait DURATION]

Waits for a card on the reader (the first one by default), then sends
SELECT PPSE (2PAY.SYS.DDF01) and prints the ATR, the status word, the
response length and the round trip. No card data is printed.

Example (the first virtual reader, with posctl cardsim presenting a card):
  posctl pcsc ping --reader "Virtual PCD 00 00" --allow-virtual

Flags:
`

// pingSelectPPSE is SELECT by name of the contactless directory, 2PAY.SYS.DDF01.
var pingSelectPPSE = []byte{0x00, 0xA4, 0x04, 0x00, 0x0E, '2', 'P', 'A', 'Y', '.', 'S', 'Y', 'S', '.', 'D', 'D', 'F', '0', '1', 0x00}

func runPCSCPing(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl pcsc ping", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, pcscPingUsage)
		fs.PrintDefaults()
	}
	name := fs.String("reader", "", "reader `NAME`, or a unique part of it (default: the first)")
	allowVirtual := fs.Bool("allow-virtual", false, "accept a vpcd virtual reader (demo and tests only)")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for a card")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}

	r, err := pcsc.Open(pcsc.Options{Name: *name, AllowVirtual: *allowVirtual})
	if err != nil {
		fmt.Fprintf(stderr, "posctl pcsc ping: %v\n", err)
		return 1
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()
	fmt.Fprintf(stderr, "waiting for a card on %s\n", r.Name())
	card, err := r.WaitCard(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "posctl pcsc ping: %v\n", err)
		return 1
	}
	defer card.Close()

	start := time.Now()
	rsp, err := card.Transmit(ctx, pingSelectPPSE)
	rtt := time.Since(start)
	if err != nil {
		fmt.Fprintf(stderr, "posctl pcsc ping: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "reader: %s\natr: %X\n", r.Name(), card.ATR())
	if len(rsp) >= 2 {
		fmt.Fprintf(stdout, "sw: %X\n", rsp[len(rsp)-2:])
	}
	fmt.Fprintf(stdout, "response_bytes: %d\nrtt_us: %d\n", len(rsp), rtt.Microseconds())
	return 0
}
