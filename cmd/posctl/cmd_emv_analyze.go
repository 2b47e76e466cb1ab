package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"tappos/emv/kernel"
	"tappos/emv/trace"
)

func init() {
	register(command{
		path:  []string{"emv", "analyze"},
		short: "analyse a recorded transaction and check its offline data authentication",
		run:   runEmvAnalyze,
	})
}

// acceptExpiredUsage documents the trace tools' --accept-expired-ca-keys.
const acceptExpiredUsage = "use CA keys past their expiry, as the schemes' test keys in the recorded traces are"

const emvAnalyzeUsage = `usage: posctl emv analyze --capk FILE [--accept-expired-ca-keys] [--json] TRACE.json

Reads a recorded contactless transaction (the JSON format of testdata/traces)
and reports the application, kernel, masked PAN, expiry, cryptogram and the
offline data authentication (SDA, DDA, fDDA or CDA) checked under the CA
public keys in FILE. For CDA the cryptogram is the one recovered from the
card's signature. A failed check sets ok to false and names the step. A CA
key past its expiry at the recorded date fails the check unless
--accept-expired-ca-keys is given.

Example:
  posctl emv analyze --accept-expired-ca-keys --capk testdata/capk/capk-test.json testdata/traces/mock-msc-online.json
`

func runEmvAnalyze(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl emv analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	capk := fs.String("capk", "", "CA public key file (JSON)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	acceptExpired := fs.Bool("accept-expired-ca-keys", false, acceptExpiredUsage)
	fs.Usage = func() {
		fmt.Fprint(stderr, emvAnalyzeUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *capk == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	keys, err := kernel.LoadCAKeyFiles(*capk)
	if err != nil {
		fmt.Fprintf(stderr, "posctl emv analyze: %v\n", err)
		return 1
	}
	keys.AcceptExpired = *acceptExpired
	tr, err := readTrace(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "posctl emv analyze: %v\n", err)
		return 1
	}
	rep, err := trace.Analyze(tr, keys)
	if err != nil {
		fmt.Fprintf(stderr, "posctl emv analyze: %v\n", err)
		return 1
	}
	if *asJSON {
		return queueJSON(stdout, stderr, "emv analyze", rep)
	}
	fmt.Fprintf(stdout, "aid:        %s\nkernel:     %d\npan:        %s\nexpiry:     %s\n", rep.AID, rep.Kernel, rep.PAN, rep.Expiry)
	fmt.Fprintf(stdout, "cid:        %s\ncryptogram: %s\natc:        %s\n", rep.CID, rep.Cryptogram, rep.ATC)
	o := rep.ODA
	fmt.Fprintf(stdout, "oda:\n  method:             %s\n  ok:                 %t\n", o.Method, o.OK)
	if o.IssuerKeyBits != 0 {
		fmt.Fprintf(stdout, "  issuer_key_bits:    %d\n", o.IssuerKeyBits)
	}
	if o.ICCKeyBits != 0 {
		fmt.Fprintf(stdout, "  icc_key_bits:       %d\n", o.ICCKeyBits)
	}
	if o.ICCDynamicNumber != "" {
		fmt.Fprintf(stdout, "  icc_dynamic_number: %s\n", o.ICCDynamicNumber)
	}
	if o.TransactionDataHashOK != nil {
		fmt.Fprintf(stdout, "  transaction_data_hash_ok: %t\n", *o.TransactionDataHashOK)
	}
	if o.Error != "" {
		fmt.Fprintf(stdout, "  error:              %s\n", o.Error)
	}
	return 0
}

// readTrace reads a recorded transaction file.
func readTrace(path string) (*trace.Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return tr, nil
}
