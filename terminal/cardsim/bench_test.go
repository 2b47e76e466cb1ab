package cardsim

import (
	"bytes"
	"context"
	"testing"

	"tappos/emv/kernel"
	"tappos/emv/trace"
)

var benchProfiles = []string{"visa-credit", "visa-offline", "mastercard-credit", "phone-visa", "phone-mastercard"}

// BenchmarkKernelTap measures the kernel's share of a tap in memory, per
// profile: the simulated card's answers are recorded once and replayed, so
// the card's own work (its RSA signature above all) does not count. The
// amount is one the card approves offline when it can.
func BenchmarkKernelTap(b *testing.B) {
	for _, name := range benchProfiles {
		b.Run(name, func(b *testing.B) {
			k := testKernel(b)
			k.Rand = constRand(0x5A) // the same commands every tap, for the replay
			tx := kernel.Transaction{Amount: 1250}
			rec := &recorder{card: loadCard(b, name)}
			if out, err := k.Run(context.Background(), rec, tx); err != nil {
				b.Fatalf("%v: %v", out, err)
			}
			card := trace.NewCard(&trace.Trace{Exchanges: rec.ex, NotFound: []byte{0x6A, 0x82}})
			benchTap(b, k, card, tx)
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "kernel_tap_us{profile="+name+"}")
		})
	}
	// The hostile cards do no signing, so they run live, reset before
	// each tap as a card is when it comes back to the field. The stuck
	// card is left out: its tap lasts the kernel's timeout.
	for _, name := range []string{"bad-tlv", "wrong-length", "pulled"} {
		b.Run(name, func(b *testing.B) {
			k := testKernel(b)
			card := loadCard(b, name)
			ctx := context.Background()
			for b.Loop() {
				card.Reset()
				out, err := k.Run(ctx, card, kernel.Transaction{Amount: 1250})
				if err == nil || (out.Status != kernel.EndApplication && out.Status != kernel.TryAgain) {
					b.Fatalf("%v: %v", out, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "kernel_tap_us{profile="+name+"}")
		})
	}
}

// BenchmarkCardsimTap measures a whole tap in memory, kernel and live
// simulated card together.
func BenchmarkCardsimTap(b *testing.B) {
	for _, name := range benchProfiles {
		b.Run(name, func(b *testing.B) {
			benchTap(b, testKernel(b), loadCard(b, name), kernel.Transaction{Amount: 1250})
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "cardsim_tap_us{profile="+name+"}")
		})
	}
}

func benchTap(b *testing.B, k *kernel.Kernel, card kernel.Transceiver, tx kernel.Transaction) {
	ctx := context.Background()
	for b.Loop() {
		out, err := k.Run(ctx, card, tx)
		if err != nil || (out.Status != kernel.Approved && out.Status != kernel.OnlineRequest) {
			b.Fatalf("%v: %v", out, err)
		}
	}
}

// recorder records a card's answers.
type recorder struct {
	card *Card
	ex   []trace.Exchange
}

func (r *recorder) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	rsp, err := r.card.Transmit(ctx, cmd)
	if err == nil {
		r.ex = append(r.ex, trace.Exchange{Command: bytes.Clone(cmd), Response: bytes.Clone(rsp)})
	}
	return rsp, err
}

// constRand reads as an endless run of one byte.
type constRand byte

func (c constRand) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(c)
	}
	return len(b), nil
}
