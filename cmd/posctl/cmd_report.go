package main

import (
	"context"
	"fmt"
	"io"

	"tappos/terminal/batch"
)

func init() {
	register(command{path: []string{"report", "x"}, short: "X report: the open batch, changes nothing", run: runReportX})
	register(command{path: []string{"report", "z"}, short: "Z report: close the batch (numbered, immutable)", run: runReportZ})
}

const reportXUsage = `usage: posctl report x [--csv] [--journal FILE] [--config FILE]

Prints the X report: totals per type and currency and every transaction of
the open batch. It changes nothing; print it as often as you like.

Example:
  posctl report x --journal tappos-journal.db --csv > x.csv

Flags:
`

const reportZUsage = `usage: posctl report z [--csv] [--batch N] [--journal FILE] [--config FILE]

Closes the open batch and prints its Z report, numbered by the batch. The
report is stored with the batch and never changes; --batch N prints the
stored report of a closed batch again. To reconcile with the ledger before
closing, use posctl batch close.

Example:
  posctl report z --journal tappos-journal.db
  posctl report z --batch 3 --csv

Flags:
`

func runReportX(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("posctl report x", reportXUsage, stderr)
	pf := addPosFlags(fs)
	asCSV := fs.Bool("csv", false, "print CSV")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	p, err := openPos(pf, false, false)
	if err != nil {
		fmt.Fprintf(stderr, "posctl report x: %v\n", err)
		return 1
	}
	defer p.Close()
	x, err := p.term.Journal.X(context.Background(), p.term.Header)
	if err != nil {
		fmt.Fprintf(stderr, "posctl report x: %v\n", err)
		return 1
	}
	return writeReport(x, *asCSV, stdout, stderr)
}

func runReportZ(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("posctl report z", reportZUsage, stderr)
	pf := addPosFlags(fs)
	asCSV := fs.Bool("csv", false, "print CSV")
	no := fs.Int("batch", 0, "print the stored Z report of closed batch `N` instead of closing")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	p, err := openPos(pf, false, false)
	if err != nil {
		fmt.Fprintf(stderr, "posctl report z: %v\n", err)
		return 1
	}
	defer p.Close()
	ctx := context.Background()
	if *no > 0 {
		text, csv, err := p.term.Journal.StoredZ(ctx, *no)
		if err != nil {
			fmt.Fprintf(stderr, "posctl report z: %v\n", err)
			return 1
		}
		if *asCSV {
			io.WriteString(stdout, csv)
		} else {
			io.WriteString(stdout, text)
		}
		return 0
	}
	z, err := p.term.Journal.CloseBatch(ctx, p.term.Header)
	if err != nil {
		fmt.Fprintf(stderr, "posctl report z: %v\n", err)
		return 1
	}
	return writeReport(z, *asCSV, stdout, stderr)
}

func writeReport(r *batch.Report, asCSV bool, stdout, stderr io.Writer) int {
	var err error
	if asCSV {
		err = r.WriteCSV(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "posctl report: %v\n", err)
		return 1
	}
	return 0
}
