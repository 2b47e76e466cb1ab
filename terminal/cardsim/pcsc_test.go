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

// TestRunThroughPCSC presents cards with Run to a virtual reader of the
// real pcscd and taps them with the kernel: Run's tap cycle (leave the
// field after the transaction, come back) as a terminal sees it, and the
// hostile cards' silence and removal through the real driver.
func TestRunThroughPCSC(t *testing.T) {
	if testing.Short() {
		t.Skip("needs pcscd")
	}
	tests := []struct {
		profile string
		taps    int
		want    kernel.Status
	}{
		{"mastercard-credit", 2, kernel.Approved},
		{"stuck", 1, kernel.TryAgain},
		{"pulled", 1, kernel.TryAgain},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			slot := pcsctest.Start(t)
			r, err := pcsc.Open(pcsc.Options{Name: slot.Reader, AllowVirtual: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			opt := Options{Taps: tt.taps, Linger: 50 * time.Millisecond, Idle: 500 * time.Millisecond, Gap: 50 * time.Millisecond}
			done := startRun(t, ctx, slot.Addr, loadCard(t, tt.profile), opt)
			k := testKernel(t)
			k.Config.TimeoutMS = 300
			for tap := 1; tap <= tt.taps; tap++ {
				c, err := r.WaitCard(ctx)
				if err != nil {
					t.Fatalf("tap %d: waiting for the card: %v", tap, err)
				}
				out, err := k.Run(ctx, c, kernel.Transaction{Amount: 1250})
				c.Close()
				if out.Status != tt.want {
					t.Fatalf("tap %d: %v (%v), want %v", tap, out, err, tt.want)
				}
				// Wait for the card to leave, as a terminal does before
				// the next sale, so the next WaitCard sees the next tap.
				waitEmpty(t, slot.Reader)
			}
			if r := <-done; r.err != nil || r.taps != tt.taps {
				t.Fatalf("Run = %d, %v; want %d taps", r.taps, r.err, tt.taps)
			}
		})
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
