// Package pcsctest runs tests through the real PC/SC stack: it starts pcscd
// with the vsmartcard vpcd driver if it is not running, hands each test one of
// the driver's virtual readers for its exclusive use, and presents simulated
// cards on it.
//
// go test runs the packages of a module in parallel processes, so a reader is
// reserved with flock(2) on a file in os.TempDir(), which serialises its use
// across processes as well as within one.
package pcsctest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"tappos/internal/needs"
	"tappos/terminal/vpcd"
)

// A Slot is one virtual reader of the vpcd driver.
type Slot struct {
	// Reader is the PC/SC reader name, e.g. "Virtual PCD 00 00".
	Reader string
	// Addr is the TCP address where the driver waits for a simulated
	// card, e.g. "127.0.0.1:35963".
	Addr string
}

// slots are the readers of Debian's /etc/reader.conf.d/vpcd: CHANNELID
// 0x8C7B (35963) is the first slot's port, the next slot listens on the
// next port, and pcscd names them after FRIENDLYNAME.
var slots = []Slot{
	{Reader: "Virtual PCD 00 00", Addr: "127.0.0.1:35963"},
	{Reader: "Virtual PCD 00 01", Addr: "127.0.0.1:35964"},
}

const (
	vpcdConfig = "/etc/reader.conf.d/vpcd"
	// stateTimeout bounds waiting for pcscd to notice a card come or go;
	// it polls the vpcd driver a few times a second.
	stateTimeout = 10 * time.Second
	// lockTimeout bounds waiting for another test to free a reader.
	lockTimeout = 10 * time.Minute
)

// Start makes sure pcscd is running with the vpcd virtual readers, starting
// it if need be, and reserves one reader for tb until its cleanup. The
// reader is empty on return.
//
// Without pcscd or the vpcd driver installed, Start fails the test when
// running as root (run make deps) and skips it, loudly, otherwise; likewise
// when pcscd is not running and only root could start it.
func Start(tb testing.TB) Slot {
	tb.Helper()
	ensurePCSCD(tb)
	slot := reserve(tb)
	if err := waitState(tb.Context(), slot.Reader, scard.StateEmpty); err != nil {
		tb.Fatalf("pcsctest: %s is not empty (a card left by another process?): %v", slot.Reader, err)
	}
	return slot
}

// ensurePCSCD returns once pcscd lists every virtual reader.
func ensurePCSCD(tb testing.TB) {
	tb.Helper()
	if readersReady() == nil {
		return
	}
	pcscd, err := exec.LookPath("pcscd")
	if err != nil {
		pcscd, err = exec.LookPath("/usr/sbin/pcscd")
	}
	_, cfgErr := os.Stat(vpcdConfig)
	switch {
	case err != nil || cfgErr != nil:
		needs.Missing(tb, "pcscd with the vpcd driver ("+vpcdConfig+")", errors.Join(err, cfgErr))
	case os.Geteuid() != 0:
		needs.SkipLoudly(tb, "pcscd is not running and only root can start it")
	}

	// Serialise starting: a second pcscd would find the first's pid file
	// and quit, but racing ones can both fail.
	unlock, err := flock(tb.Context(), filepath.Join(os.TempDir(), "tappos-pcscd-start.lock"), true)
	if err != nil {
		tb.Fatalf("pcsctest: %v", err)
	}
	defer unlock()
	if readersReady() == nil {
		return
	}
	// pcscd daemonises itself and stays: with --auto-exit it would leave
	// after a minute without clients and could be on its way out just as
	// the next test connects ("Access denied").
	out, err := exec.CommandContext(tb.Context(), pcscd).CombinedOutput()
	if err != nil {
		tb.Fatalf("pcsctest: starting pcscd: %v: %s", err, out)
	}
	deadline := time.Now().Add(stateTimeout)
	for {
		err := readersReady()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pcsctest: pcscd started but its virtual readers did not appear: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readersReady reports whether pcscd answers and lists every slot's reader.
func readersReady() error {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return fmt.Errorf("connecting to pcscd: %w", err)
	}
	defer ctx.Release()
	names, err := ctx.ListReaders()
	if err != nil {
		return fmt.Errorf("listing readers: %w", err)
	}
	for _, s := range slots {
		if !slices.Contains(names, s.Reader) {
			return fmt.Errorf("reader %q missing from %q", s.Reader, names)
		}
	}
	return nil
}

// reserve locks a free slot for tb, waiting for one if all are in use.
func reserve(tb testing.TB) Slot {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), lockTimeout)
	defer cancel()
	for {
		for _, s := range slots {
			port := s.Addr[strings.LastIndexByte(s.Addr, ':')+1:]
			unlock, err := flock(ctx, filepath.Join(os.TempDir(), "tappos-vpcd-"+port+".lock"), false)
			if errors.Is(err, errBusy) {
				continue
			}
			if err != nil {
				tb.Fatalf("pcsctest: %v", err)
			}
			tb.Cleanup(unlock)
			return s
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("pcsctest: no virtual reader freed up in %v", lockTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var errBusy = errors.New("lock busy")

// flock takes an exclusive lock on path, waiting for it if wait is set and
// returning errBusy otherwise. The lock is released when the returned
// function is called or the process exits.
func flock(ctx context.Context, path string, wait bool) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !wait {
			f.Close()
			return nil, errBusy
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Present connects card to the slot's driver port and returns once pcscd
// reports a card in the reader. The returned function removes the card and
// waits until pcscd sees the reader empty; it also runs at tb's cleanup, and
// running it again does nothing.
//
// Removing a card on purpose this way is clean; a card pulled by its own
// Process (vpcd.ErrPulled) still gets the same wait on removal.
func (s Slot) Present(tb testing.TB, card vpcd.Card) (remove func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- vpcd.Present(ctx, s.Addr, card) }()
	removed := false
	remove = func() {
		if removed {
			return
		}
		removed = true
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("pcsctest: card on %s: %v", s.Reader, err)
		}
		if err := waitState(context.Background(), s.Reader, scard.StateEmpty); err != nil {
			tb.Errorf("pcsctest: removing card from %s: %v", s.Reader, err)
		}
	}
	tb.Cleanup(remove)
	if err := waitState(tb.Context(), s.Reader, scard.StatePresent); err != nil {
		tb.Fatalf("pcsctest: presenting card on %s: %v", s.Reader, err)
	}
	return remove
}

// waitState waits until pcscd reports reader in state (StatePresent or
// StateEmpty).
func waitState(ctx context.Context, reader string, state scard.StateFlag) error {
	sc, err := scard.EstablishContext()
	if err != nil {
		return fmt.Errorf("connecting to pcscd: %w", err)
	}
	defer sc.Release()
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	for {
		err := sc.GetStatusChange(rs, 100*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return fmt.Errorf("watching reader: %w", err)
		}
		if err == nil {
			if rs[0].EventState&state != 0 {
				return nil
			}
			rs[0].CurrentState = rs[0].EventState &^ scard.StateChanged
		}
		if ctx.Err() != nil {
			return fmt.Errorf("reader state %#x, want %#x: %w", rs[0].EventState, state, ctx.Err())
		}
	}
}
