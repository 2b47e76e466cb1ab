package cardsim

import (
	"context"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"tappos/emv/kernel"
	"tappos/internal/pcsctest"
	"tappos/terminal/pcsc"
)

// TestRunThroughPCSC presents a card with Run to a virtual reader of the
// real pcscd and taps it twice with the kernel: Run's tap cycle (leave the
// field after the transaction, come back) as a terminal sees it.
func TestRunThroughPCSC(t *testing.T) {
	if testing.Short() {
		t.Skip("needs pcscd")
	}
	slot := pcsctest.Start(t)
	r, err := pcsc.Open(pcsc.Options{Name: slot.Reader, AllowVirtual: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	card := loadCard(t, "mastercard-credit")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := startRun(t, ctx, slot.Addr, card, Options{Taps: 2, Linger: 50 * time.Millisecond, Gap: 50 * time.Millisecond})
	k := testKernel(t)
	for tap := 1; tap <= 2; tap++ {
		c, err := r.WaitCard(ctx)
		if err != nil {
			t.Fatalf("tap %d: waiting for the card: %v", tap, err)
		}
		out, err := k.Run(ctx, c, kernel.Transaction{Amount: 1250})
		c.Close()
		if err != nil || out.Status != kernel.Approved {
			t.Fatalf("tap %d: %v (%v)", tap, out, err)
		}
		// Wait for the card to leave, as a terminal does before the
		// next sale, so the next WaitCard sees the next tap.
		waitEmpty(t, slot.Reader)
	}
	if r := <-done; r.err != nil || r.taps != 2 {
		t.Fatalf("Run = %d, %v; want 2 taps", r.taps, r.err)
	}
}

// waitEmpty waits until pcscd reports the reader empty.
func waitEmpty(t *testing.T, reader string) {
	t.Helper()
	sc, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Release()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := sc.GetStatusChange(rs, time.Second); err != nil && err != scard.ErrTimeout {
			t.Fatal(err)
		}
		if rs[0].EventState&scard.StateEmpty != 0 {
			return
		}
		rs[0].CurrentState = rs[0].EventState &^ scard.StateChanged
	}
	t.Fatal("the card did not leave the reader")
}
