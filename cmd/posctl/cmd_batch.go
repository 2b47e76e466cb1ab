package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

func init() {
	register(command{path: []string{"batch", "close"}, short: "reconcile the batch with the ledger and close it", run: runBatchClose})
}

const batchCloseUsage = `usage: posctl batch close --ledger URL --key KEY [--force] [--csv] [--journal FILE] [--config FILE]

Asks the ledger for its items of the terminal's batch (a dry run), and prints
the reconciliation with the open batch: matched items, items missing on the
ledger, items missing on the terminal, and amount mismatches. Only a balanced
batch is closed, on the ledger (per currency, with the terminal's totals) and
then in the journal with its Z report printed, unless --force is given: then
both close as they are. Exit status: 0 balanced and closed, 3 not balanced,
1 error, 2 usage.

Pending reversals, refunds and voids are sent first, and the ledger's ids of
synced offline sales are read from the offline queue (give --terminal-key or
set $TAPPOS_TERMINAL_KEY; run posctl sync before to upload offline sales).

Example:
  posctl batch close --ledger http://127.0.0.1:8080 --key $TAPPOS_LEDGER_KEY

Flags:
`

func runBatchClose(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("posctl batch close", batchCloseUsage, stderr)
	pf := addPosFlags(fs)
	force := fs.Bool("force", false, "close the batch even when it does not balance")
	asCSV := fs.Bool("csv", false, "print the Z report as CSV")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the ledger")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *pf.ledger == "" {
		fmt.Fprintln(stderr, "posctl batch close: --ledger is required")
		return 2
	}
	p, err := openPosQueue(pf, true, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "posctl batch close: %v\n", err)
		return 1
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	p.catchUp(ctx, stderr)
	reconcile := p.term.Journal.Reconcile
	if *force {
		reconcile = p.term.Journal.ForceReconcile
	}
	rec, err := reconcile(ctx, p.cfg.TerminalID, p.client)
	if err != nil {
		fmt.Fprintf(stderr, "posctl batch close: %v\n", err)
		return 1
	}
	rec.WriteText(stdout)
	if !rec.Balanced() && !*force {
		fmt.Fprintln(stdout, "\nbatch left open: fix the differences and close again, or close with --force")
		return 3
	}
	z, err := p.term.Journal.CloseBatch(ctx, p.term.Header)
	if err != nil {
		fmt.Fprintf(stderr, "posctl batch close: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout)
	if code := writeReport(z, *asCSV, stdout, stderr); code != 0 {
		return code
	}
	if !rec.Balanced() {
		return 3
	}
	return 0
}
