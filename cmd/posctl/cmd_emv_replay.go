package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"tappos/emv/kernel"
	"tappos/emv/oda"
	"tappos/emv/trace"
)

func init() {
	register(command{
		path:  []string{"emv", "replay"},
		short: "run the contactless kernel against a recorded card",
		run:   runEmvReplay,
	})
}

const emvReplayUsage = `usage: posctl emv replay [--capk FILE]... [--accept-expired-ca-keys] [--json] TRACE.json

Runs the contactless kernel (entry point, kernel 2 or 3) in memory against
the card answers recorded in TRACE.json (the format of testdata/traces),
with the recording's unpredictable number, date, time, amount and currency,
and prints the outcome. The terminal configuration is derived from the
recorded commands (country, terminal type, capabilities, TTQ, limits), so
the kernel's commands match the recording byte for byte. Offline data
authentication uses the CA public keys of every --capk file; a key past its
expiry at the recorded date fails it, as in a live terminal, unless
--accept-expired-ca-keys is given. A Mastercard recording made with CDA
whose key is missing or expired then ends at GENERATE AC: the kernel asks
without CDA, which the recorded card was never asked.

Example:
  posctl emv replay --accept-expired-ca-keys --capk testdata/capk/capk-test.json testdata/traces/mock-msc-online.json
`

// fileList collects a repeatable flag.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(s string) error { *f = append(*f, s); return nil }

func runEmvReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl emv replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var capk fileList
	fs.Var(&capk, "capk", "CA public key `FILE` (JSON); repeat for several")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	acceptExpired := fs.Bool("accept-expired-ca-keys", false, acceptExpiredUsage)
	fs.Usage = func() {
		fmt.Fprint(stderr, emvReplayUsage)
		fs.PrintDefaults()
	}
	// Flags may follow the trace name too.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "posctl emv replay: give one TRACE.json")
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "posctl emv replay: %v\n", err)
		return 1
	}
	var keys *oda.CAKeyStore
	if len(capk) > 0 {
		var err error
		if keys, err = kernel.LoadCAKeyFiles(capk...); err != nil {
			return fail(err)
		}
		keys.AcceptExpired = *acceptExpired
	}
	tr, err := readTrace(files[0])
	if err != nil {
		return fail(err)
	}
	k, tx, err := kernel.Replay(tr, keys)
	if err != nil {
		return fail(err)
	}
	out, runErr := k.Run(context.Background(), trace.NewCard(tr), tx)
	if *asJSON {
		b, err := json.Marshal(out)
		if err != nil {
			return fail(err)
		}
		if runErr != nil {
			// The error joins the outcome's own object, after its fields.
			e, _ := json.Marshal(runErr.Error())
			b = append(append(b[:len(b)-1], `,"error":`...), e...)
			b = append(b, '}')
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, b, "", "  "); err != nil {
			return fail(err)
		}
		buf.WriteByte('\n')
		stdout.Write(buf.Bytes())
		return 0
	}
	printOutcome(stdout, out, runErr)
	return 0
}

// printOutcome writes an outcome as "key: value" lines, without card data.
func printOutcome(w io.Writer, o *kernel.Outcome, err error) {
	line := func(k string, v any) { fmt.Fprintf(w, "%-16s %v\n", k+":", v) }
	line("outcome", o.Status)
	if o.Kernel != 0 {
		line("kernel", o.Kernel)
		line("aid", fmt.Sprintf("%X", o.AID))
		line("label", o.Label)
	}
	if o.PAN != "" {
		line("pan", o.PAN)
		line("expiry", o.Expiry)
	}
	if o.ATC != nil {
		line("cvm", o.CVM)
		line("cryptogram_type", o.CryptogramType)
		if o.Cryptogram != nil {
			line("cryptogram", fmt.Sprintf("%X", o.Cryptogram))
		}
		line("atc", fmt.Sprintf("%X", o.ATC))
	}
	oda := o.ODA.Method.String()
	if o.ODA.Method != 0 {
		oda += fmt.Sprintf(" ok=%t", o.ODA.OK)
		if o.ODA.Err != nil {
			oda += " (" + o.ODA.Err.Error() + ")"
		}
	}
	line("oda", oda)
	line("tvr", fmt.Sprintf("%X", o.TVR))
	line("tsi", fmt.Sprintf("%X", o.TSI))
	line("apdus", o.APDUs)
	msgs := make([]string, len(o.Messages))
	for i, m := range o.Messages {
		msgs[i] = string(m)
	}
	line("messages", strings.Join(msgs, "; "))
	if o.Reason != "" {
		line("reason", o.Reason)
	}
	if err != nil {
		line("error", err)
	}
}
