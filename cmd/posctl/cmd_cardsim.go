package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"tappos/emv/trace"
	"tappos/terminal/cardsim"
	"tappos/terminal/vpcd"
)

func init() {
	register(command{
		path:  []string{"cardsim"},
		short: "present a simulated card or phone to the vpcd virtual reader",
		run:   runCardsim,
	})
}

const cardsimUsage = `usage: posctl cardsim --profile NAME|FILE | --replay TRACE.json [--vpcd HOST:PORT]
                       [--taps N | --once] [--atc N] [--linger D] [--idle D] [--gap D]

Connects to the vpcd driver of pcscd (vsmartcard's "Virtual PCD" reader) and
presents a simulated contactless card or phone, tap after tap, until
interrupted (SIGINT, SIGTERM) or --taps taps are done. A tap ends when the
card leaves the field: --linger after its final cryptogram, or --idle after
the terminal's last command when it stops early.

Profiles are read from testdata/cards/NAME.json (found from the working
directory upwards) or from a file: visa-credit, visa-offline,
mastercard-credit, phone-visa, phone-mastercard, and the hostile bad-tlv,
wrong-length, stuck and pulled. The card computes real cryptograms from the
profile's issuer master key and signs fDDA and CDA with its test keys.
With --replay the card answers from a recorded transaction instead.

The vpcd driver accepts cards from anyone who can reach its port: use it for
tests and demos only.

Example (one tap of the offline Visa card on the first virtual reader):
  posctl cardsim --profile visa-offline --once

Example (a phone, tapped until Ctrl-C, on the second virtual reader):
  posctl cardsim --profile phone-visa --vpcd 127.0.0.1:35964

Example (replay a recorded Visa transaction):
  posctl cardsim --replay testdata/traces/mock-visa-online.json --once

Flags:
`

func runCardsim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl cardsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, cardsimUsage)
		fs.PrintDefaults()
	}
	profile := fs.String("profile", "", "card profile `name` (testdata/cards) or JSON file")
	addr := fs.String("vpcd", cardsim.DefaultVPCD, "vpcd driver `address` (host:port)")
	replay := fs.String("replay", "", "answer from this recorded transaction (`TRACE.json`)")
	taps := fs.Int("taps", 0, "leave after `N` taps (0: run until interrupted)")
	once := fs.Bool("once", false, "leave after one tap (same as --taps 1)")
	atc := fs.Int("atc", -1, "application transaction counter `N` before the first tap (-1: the profile's)")
	var opt cardsim.Options
	fs.DurationVar(&opt.Linger, "linger", 200*time.Millisecond, "time in the field after the final cryptogram")
	fs.DurationVar(&opt.Idle, "idle", 3*time.Second, "time in the field after the terminal stops talking early")
	fs.DurationVar(&opt.Gap, "gap", time.Second, "time between taps")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "posctl cardsim: %s\n", msg)
		fs.Usage()
		return 2
	}
	switch {
	case fs.NArg() != 0:
		return usageErr("unexpected arguments")
	case *profile == "" && *replay == "":
		return usageErr("--profile or --replay is required")
	case *taps < 0:
		return usageErr("--taps must not be negative")
	case *atc > 0xFFFF:
		return usageErr("--atc must be at most 65535")
	}
	opt.Taps = *taps
	if *once {
		opt.Taps = 1
	}
	opt.Log = stdout

	card, what, err := cardsimCard(*profile, *replay, *atc)
	if err != nil {
		fmt.Fprintf(stderr, "posctl cardsim: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "cardsim: presenting %s on %s\n", what, *addr)
	n, err := cardsim.Run(ctx, *addr, card, opt)
	fmt.Fprintf(stdout, "cardsim: %d taps\n", n)
	if err != nil {
		fmt.Fprintf(stderr, "posctl cardsim: %v\n", err)
		return 1
	}
	return 0
}

// cardsimCard returns the card to present and how to name it in output:
// the recording when there is one, else the profile's card.
func cardsimCard(profile, replay string, atc int) (vpcd.Card, string, error) {
	if replay != "" {
		tr, err := cardsimTrace(replay)
		if err != nil {
			return nil, "", err
		}
		return cardsim.NewReplayCard(tr), "recording " + replay, nil
	}
	p, err := cardsim.LoadProfile(profile)
	if err != nil {
		return nil, "", err
	}
	if atc >= 0 {
		p.ATC = atc
	}
	card, err := cardsim.NewCard(p, nil)
	if err != nil {
		return nil, "", err
	}
	return card, fmt.Sprintf("%s (%s %s %s)", p.Name, p.Brand, p.Kind, p.MaskedPAN()), nil
}

func cardsimTrace(file string) (*trace.Trace, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return tr, nil
}
