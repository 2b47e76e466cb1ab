package tape2e

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"tappos/emv/apdu"
	"tappos/emv/kernel"
	"tappos/internal/pcsctest"
	"tappos/terminal"
	"tappos/terminal/cardsim"
)

// benchProfiles are the profiles that complete a tap; the hostile ones end
// early or wait for the timeout, which measures nothing of interest.
var benchProfiles = []string{"visa-credit", "visa-offline", "mastercard-credit", "phone-visa", "phone-mastercard"}

// maxRatio is the target: a full tap through pcscd takes at most
// 1.2 times its APDU count times the bare round trip. failRatio is where
// the benchmark fails: on a busy machine the ratio wanders by a tenth, but
// a regression (delayed ACKs, a lost reply) costs whole round trips.
const (
	maxRatio  = 1.2
	failRatio = 1.5
)

// BenchmarkPCSCTap measures a full tap through pcscd and the vpcd driver,
// per profile, on one card session: the kernel run from SELECT PPSE to the
// outcome, the simulated card's processing and every round trip.
//
// The bare round trip it is held against is measured in the same run on
// the same session, after each tap (the clock stopped), with as many
// SELECT PPSE as the tap has APDUs, so that the machine's noise hits both
// sides alike; the ratios are medians over the taps. Two are reported: the
// full tap's, and the terminal's, which leaves out the time the simulated
// card spends computing (its RSA signature for fDDA or CDA costs most of a
// round trip; a real card's time is the card's, not the terminal's).
func BenchmarkPCSCTap(b *testing.B) {
	slot := pcsctest.Start(b)
	r := openReader(b, slot)
	for _, name := range benchProfiles {
		card := &timedCard{Card: newCard(b, name)}
		remove := slot.Present(b, card)
		c := waitCard(b, r)
		b.Run(name, func(b *testing.B) { benchTap(b, name, c, card) })
		c.Close()
		remove()
	}
}

func benchTap(b *testing.B, profile string, c terminal.Card, card *timedCard) {
	k := newKernel(b, "us-shop")
	tx := kernel.Transaction{Amount: 1250} // approved offline when the card can
	ctx := context.Background()
	ppse, err := apdu.SelectPPSE().Bytes()
	if err != nil {
		b.Fatal(err)
	}
	var apdus int
	var bare, cardTap time.Duration
	var full, term []float64 // per tap, for medians that shrug off hiccups
	for b.Loop() {
		busy := card.busy.Load()
		start := time.Now()
		out, err := k.Run(ctx, c, tx)
		tap := time.Since(start)
		if err != nil || (out.Status != kernel.Approved && out.Status != kernel.OnlineRequest) {
			b.Fatalf("%v: %v", out, err)
		}
		b.StopTimer()
		apdus = out.APDUs
		cardT := time.Duration(card.busy.Load() - busy)
		busy = card.busy.Load()
		// The same path as the kernel's commands: a context with a deadline.
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		start = time.Now()
		for range apdus {
			if _, err := c.Transmit(tctx, ppse); err != nil {
				b.Fatal(err)
			}
		}
		rtts := time.Since(start)
		cancel()
		cardRTTs := time.Duration(card.busy.Load() - busy)
		bare += rtts
		cardTap += cardT
		full = append(full, float64(tap)/float64(rtts))
		term = append(term, float64(tap-cardT)/float64(rtts-cardRTTs))
		b.StartTimer()
	}
	perTap := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	tap, cardUS, rtt := perTap(b.Elapsed()), perTap(cardTap), perTap(bare)/float64(apdus)
	fullRatio, termRatio := median(full), median(term)
	b.ReportMetric(tap/1000, "pcsc_tap_ms{profile="+profile+"}")
	b.ReportMetric(float64(apdus), "apdus/tap")
	b.ReportMetric(rtt, "bare_us/apdu") // not a BENCH name: the headline is pcsc_apdu_rtt_us
	b.ReportMetric(cardUS, "card_us/tap")
	b.ReportMetric(fullRatio, "full_ratio")
	b.ReportMetric(termRatio, "terminal_ratio")
	verdict := "met"
	if fullRatio > maxRatio {
		verdict = "MISSED"
	}
	b.Logf("%s: %d APDUs, tap %.0f µs of which the card %.0f µs, bare round trip %.0f µs; median ratio %.2f full, %.2f terminal: target ≤ %.1f %s",
		profile, apdus, tap, cardUS, rtt, fullRatio, termRatio, maxRatio, verdict)
	if termRatio > failRatio {
		b.Errorf("%s: a tap takes the terminal %.2f times its %d bare round trips, more than %.1f", profile, termRatio, apdus, failRatio)
	}
}

func median(x []float64) float64 {
	slices.Sort(x)
	return x[len(x)/2]
}

// timedCard adds up the time the simulated card spends answering. The
// vpcd driver's goroutine calls Process while the benchmark reads busy.
type timedCard struct {
	*cardsim.Card
	busy atomic.Int64 // nanoseconds
}

func (t *timedCard) Process(cmd []byte) ([]byte, error) {
	start := time.Now()
	rsp, err := t.Card.Process(cmd)
	t.busy.Add(int64(time.Since(start)))
	return rsp, err
}
