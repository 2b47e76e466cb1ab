package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"tappos/offline"
	"tappos/terminal/sale"
)

func init() {
	register(command{
		path:  []string{"sync"},
		short: "forward the offline queue to the ledger now",
		run:   runSync,
	})
}

const syncUsage = `usage: posctl sync --ledger URL --key KEY [--queue FILE] [--terminal-key FILE]
                  [--display-log FILE] [--batch N] [--timeout D] [--max-failures N] [--json]

Forwards the offline queue's unsent items to the ledger now, in batches,
each with its transaction id as idempotency key, retrying with backoff, and
records the ledger's answers (accepted, declined, booked_overdraft) in the
queue. Items another sync left half-sent are sent again; the ledger books
each once. Exits 0 when the queue is empty, 1 otherwise.

Taps a crash left held (committed, not confirmed) are settled first by the
display log posctl tap wrote (--display-log): one whose APPROVED line is
there was shown, and is queued and sent; one whose line is not is canceled
("approval never shown"). A held tap is settled only once no posctl tap is
between its commit and its confirm (they lock the display log), or once it
is older than a minute. The display log must exist when a tap is held.

The terminal key opens the sealed card data: --terminal-key names a file of
mode 0600 (32 bytes or 64 hex digits), or $TAPPOS_TERMINAL_KEY holds it.

Example:
  posctl sync --ledger http://127.0.0.1:8080 --key "$TAPPOS_LEDGER_KEY" \
    --queue tappos-offline.db --display-log tappos-display.log --terminal-key /etc/tappos/terminal.key

Flags:
`

func runSync(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, syncUsage); fs.PrintDefaults() }
	path := fs.String("queue", defaultQueueDB, "the offline queue (SQLite `FILE`)")
	displayLog := fs.String("display-log", defaultDisplayLog, "the display log posctl tap wrote (`FILE`), read to settle held taps")
	keyFile := fs.String("terminal-key", "", "terminal key `FILE` sealing the offline queue (default: $"+offline.KeyEnv+")")
	ledgerURL := fs.String("ledger", os.Getenv("TAPPOS_LEDGER"), "ledger base `URL` (default: $TAPPOS_LEDGER)")
	apiKey := fs.String("key", os.Getenv("TAPPOS_LEDGER_KEY"), "the terminal's ledger API `KEY` (default: $TAPPOS_LEDGER_KEY)")
	batch := fs.Int("batch", 2000, "items per sync batch (sent as requests of 500)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this `duration`")
	maxFailures := fs.Int("max-failures", 5, "give up after this many failed batches in a row")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := queueFlags(fs, args); done {
		return code
	}
	if *ledgerURL == "" {
		fmt.Fprintln(stderr, "posctl sync: --ledger is required")
		return 2
	}
	if _, err := os.Stat(*path); err != nil {
		fmt.Fprintf(stderr, "posctl sync: %v\n", err)
		return 1
	}
	key, err := offline.LoadKey(*keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "posctl sync: %v\n", err)
		return 1
	}
	q, err := offline.Open(*path, offline.Options{Key: key, Witness: sale.DisplayWitness(*displayLog)})
	if err != nil {
		fmt.Fprintf(stderr, "posctl sync: %v\n", err)
		return 1
	}
	defer q.Close()
	s := &offline.Syncer{
		Queue:     q,
		Forwarder: &offline.HTTPForwarder{BaseURL: *ledgerURL, APIKey: *apiKey, Timeout: 10 * time.Second},
		BatchSize: *batch,
		Logger:    slog.New(slog.NewTextHandler(stderr, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rep, err := s.Drain(ctx, *maxFailures)
	st, serr := q.Status(context.Background())
	if serr != nil {
		fmt.Fprintf(stderr, "posctl sync: %v\n", serr)
		return 1
	}
	if *asJSON {
		out := struct {
			Sent     int            `json:"sent"`
			Answered int            `json:"answered"`
			Failures int            `json:"failures"`
			Error    string         `json:"error,omitempty"`
			Status   offline.Status `json:"status"`
		}{rep.Sent, rep.Answered, rep.Failures, "", st}
		if err != nil {
			out.Error = err.Error()
		}
		if code := queueJSON(stdout, stderr, "sync", out); code != 0 {
			return code
		}
	} else {
		fmt.Fprintf(stdout, "sent %d, answered %d, %d failed batches; queue: %d unsent, %d accepted, %d declined, %d booked as overdraft\n",
			rep.Sent, rep.Answered, rep.Failures, st.Unsent, st.Accepted, st.Declined, st.Overdraft)
	}
	if err != nil {
		fmt.Fprintf(stderr, "posctl sync: %v\n", err)
		return 1
	}
	return 0
}
