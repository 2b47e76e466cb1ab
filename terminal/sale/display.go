package sale

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"tappos/offline"
)

// A DisplayLog is the terminal's electronic journal of its display: each
// event of a sale is appended as one line "KIND TXN_ID[ AMOUNT CURRENCY]"
// (one write(2), O_APPEND) before anything shows it, and outcome lines
// are synced to disk first. It is the record of what the shopper saw, so
// the offline queue's recovery settles held items by it ([DisplayWitness]).
// Its methods are safe for concurrent use, and several processes may
// append to one file.
type DisplayLog struct {
	f *os.File

	mu    sync.Mutex
	holds int // taps between the queue's commit and its confirm
}

// OpenDisplayLog opens the display log at path for appending, creating it
// if need be.
func OpenDisplayLog(path string) (*DisplayLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening display log: %w", err)
	}
	// Recovery refuses a missing log, so a new one's name must be on
	// disk before a line in it counts.
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening display log: %w", err)
	}
	return &DisplayLog{f: f}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Close closes the log.
func (d *DisplayLog) Close() error { return d.f.Close() }

// write appends the line of e, synced to disk for an outcome.
func (d *DisplayLog) write(e Event) error {
	line := strings.ToUpper(string(e.Kind)) + " " + e.TxnID
	if e.Amount != 0 && e.Currency.Alpha != "" {
		line += " " + e.Currency.Decimal(e.Amount) + " " + e.Currency.Alpha
	}
	if _, err := d.f.WriteString(line + "\n"); err != nil {
		return fmt.Errorf("writing display log: %w", err)
	}
	if e.Kind == Approved || e.Kind == Declined {
		if err := d.f.Sync(); err != nil {
			return fmt.Errorf("syncing display log: %w", err)
		}
	}
	return nil
}

// hold marks a tap between the queue's commit and its confirm, with a
// shared lock on the file, until release: while any tap holds it, the
// queue's recovery leaves young held items alone. The kernel drops the
// lock of a killed process.
func (d *DisplayLog) hold() (release func(), err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.holds == 0 {
		if err := flock(d.f, syscall.LOCK_SH); err != nil {
			return nil, fmt.Errorf("locking display log: %w", err)
		}
	}
	d.holds++
	return sync.OnceFunc(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.holds--; d.holds == 0 {
			flock(d.f, syscall.LOCK_UN)
		}
	}), nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// Shown implements [offline.Witness] over the log's file.
func (d *DisplayLog) Shown(ctx context.Context, txnIDs []string) (map[string]bool, bool, error) {
	return DisplayWitness(d.f.Name()).Shown(ctx, txnIDs)
}

// DisplayWitness is the display log at path as the offline queue's
// recovery reads it: an offline approval was shown if its APPROVED line is
// in the log. The log must exist: a wrong path must not pass for "nothing
// was shown".
func DisplayWitness(path string) offline.Witness { return witness(path) }

type witness string

func (w witness) Shown(ctx context.Context, txnIDs []string) (map[string]bool, bool, error) {
	f, err := os.Open(string(w))
	if err != nil {
		return nil, false, fmt.Errorf("reading display log: %w", err)
	}
	defer f.Close()
	// Taps hold a shared lock from the queue's commit to its confirm: if
	// none does, every held item's tap is over and its line, if any, is
	// written. Taken only to look, not kept.
	settled := true
	switch err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); {
	case errors.Is(err, syscall.EWOULDBLOCK):
		settled = false
	case err != nil:
		return nil, false, fmt.Errorf("locking display log: %w", err)
	default:
		flock(f, syscall.LOCK_UN)
	}
	want := make(map[string]bool, len(txnIDs))
	for _, id := range txnIDs {
		want[id] = true
	}
	shown := map[string]bool{}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break // a last line without its newline is not written yet
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading display log: %w", err)
		}
		if kind, rest, ok := strings.Cut(line, " "); ok && kind == "APPROVED" {
			id, _, _ := strings.Cut(strings.TrimSuffix(rest, "\n"), " ")
			if want[id] {
				shown[id] = true
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
	}
	return shown, settled, nil
}
