package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"tappos/ledger"
	"tappos/offline"
)

func init() {
	register(command{
		path:  []string{"queue", "status"},
		short: "offline queue: unsent count and amount, oldest item, last sync",
		run:   runQueueStatus,
	})
	register(command{
		path:  []string{"queue", "list"},
		short: "offline queue: list items (masked PANs)",
		run:   runQueueList,
	})
}

// defaultQueueDB is where the terminal keeps its offline queue.
const defaultQueueDB = "tappos-offline.db"

// defaultDisplayLog is where posctl tap logs what it showed, and where
// posctl sync reads it.
const defaultDisplayLog = "tappos-display.log"

const queueStatusUsage = `usage: posctl queue status [--queue FILE] [--json]

Shows what the offline queue holds: the unsent items (queued and sending)
with their count and amount per currency, the age of the oldest, the items
held (committed, approval not yet confirmed as shown) and canceled (never
charged: a sync cancels a held item whose APPROVED line is not in the
display log, once no tap is running or once it has been held past the
grace period), how many the ledger accepted, declined or booked as
overdraft, and the time and error of the last sync.

Example:
  posctl queue status --queue /var/lib/tappos/tappos-offline.db --json

Flags:
`

func runQueueStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl queue status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, queueStatusUsage); fs.PrintDefaults() }
	db := fs.String("queue", defaultQueueDB, "the offline queue (SQLite `FILE`)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := queueFlags(fs, args); done {
		return code
	}
	q, err := openQueueReadOnly(*db)
	if err != nil {
		fmt.Fprintf(stderr, "posctl queue status: %v\n", err)
		return 1
	}
	defer q.Close()
	st, err := q.Status(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "posctl queue status: %v\n", err)
		return 1
	}
	if *asJSON {
		return queueJSON(stdout, stderr, "queue status", st)
	}
	fmt.Fprintf(stdout, "unsent: %d (%d sending)\n", st.Unsent, st.Sending)
	for _, c := range st.ByCurrency {
		fmt.Fprintf(stdout, "  %s: %d items, %s\n", c.Currency, c.Count, queueAmount(c.Amount, c.Currency))
	}
	if !st.Oldest.IsZero() {
		fmt.Fprintf(stdout, "oldest unsent: %s (%s ago)\n", st.Oldest.UTC().Format(time.RFC3339), st.OldestAge.Truncate(time.Second))
	}
	fmt.Fprintf(stdout, "held: %d, canceled (approval never shown): %d\n", st.Held, st.Canceled)
	fmt.Fprintf(stdout, "answered: %d accepted, %d declined, %d booked as overdraft\n", st.Accepted, st.Declined, st.Overdraft)
	last := "never"
	if !st.LastSync.IsZero() {
		last = st.LastSync.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "last sync: %s\n", last)
	if st.LastError != "" {
		fmt.Fprintf(stdout, "last error: %s\n", st.LastError)
	}
	return 0
}

const queueListUsage = `usage: posctl queue list [--queue FILE] [--state STATES] [--after SEQ] [--limit N] [--json]

Lists the offline queue's items in order: sequence number, transaction id,
time, amount, masked PAN, state, and the ledger's reason or overdraft. Card
data is never shown beyond the masked PAN.

Example:
  posctl queue list --queue tappos-offline.db --state queued,sending --limit 20

Flags:
`

func runQueueList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl queue list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, queueListUsage); fs.PrintDefaults() }
	db := fs.String("queue", defaultQueueDB, "the offline queue (SQLite `FILE`)")
	states := fs.String("state", "", "comma-separated `states` to show: held, queued, sending, accepted, declined, booked_overdraft, canceled (default all)")
	after := fs.Int64("after", 0, "show items after this sequence `number`")
	limit := fs.Int("limit", 100, "show at most `n` items")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := queueFlags(fs, args); done {
		return code
	}
	opt := offline.ListOptions{After: *after, Limit: *limit}
	for s := range strings.SplitSeq(*states, ",") {
		switch st := offline.State(strings.TrimSpace(s)); st {
		case "":
		case offline.StateHeld, offline.StateQueued, offline.StateSending, offline.StateAccepted, offline.StateDeclined,
			offline.StateBookedOverdraft, offline.StateCanceled:
			opt.States = append(opt.States, st)
		default:
			fmt.Fprintf(stderr, "posctl queue list: unknown state %q\n", s)
			return 2
		}
	}
	q, err := openQueueReadOnly(*db)
	if err != nil {
		fmt.Fprintf(stderr, "posctl queue list: %v\n", err)
		return 1
	}
	defer q.Close()
	items, err := q.List(context.Background(), opt)
	if err != nil {
		fmt.Fprintf(stderr, "posctl queue list: %v\n", err)
		return 1
	}
	if *asJSON {
		if items == nil {
			items = []offline.Item{}
		}
		return queueJSON(stdout, stderr, "queue list", items)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTXN\tTIME\tAMOUNT\tCARD\tSTATE\tNOTE")
	for _, it := range items {
		note := it.Reason
		if it.Overdraft > 0 {
			note = "overdraft " + queueAmount(it.Overdraft, it.Currency)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Seq, it.TxnID, it.CreatedAt.UTC().Format(time.RFC3339),
			queueAmount(it.Amount, it.Currency), it.MaskedPAN, it.State, note)
	}
	tw.Flush()
	return 0
}

// queueFlags parses args; done is set when the command must return code.
func queueFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return 2, true
	}
	return 0, false
}

// openQueueReadOnly opens a queue for commands that read no sealed data,
// and so need no terminal key. They must not enqueue or sync.
func openQueueReadOnly(path string) (*offline.Queue, error) {
	// Opening creates a missing database; a typo must not look empty.
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return offline.Open(path, offline.Options{})
}

func queueJSON(stdout, stderr io.Writer, what string, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "posctl %s: %v\n", what, err)
		return 1
	}
	return 0
}

// queueAmount shows minor units in major units with the currency's
// exponent, e.g. 1250 EUR as "12.50 EUR".
func queueAmount(minor int64, currency string) string {
	c, ok := ledger.CurrencyByAlpha(currency)
	if !ok || c.Exponent == 0 {
		return fmt.Sprintf("%d %s", minor, currency)
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	p := int64(1)
	for range c.Exponent {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, minor/p, c.Exponent, minor%p, currency)
}
