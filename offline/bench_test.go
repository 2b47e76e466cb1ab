package offline

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

var drainN = flag.Int("offline.drain-n", 100_000, "queued taps BenchmarkSyncDrain drains")

// BenchmarkEnqueue measures durable enqueues (limits checked, committed
// with synchronous=FULL) and the confirms that follow them, and reports
// the 99th percentile latency of each: a confirm's is the window in which
// a crash leaves a shown approval held.
func BenchmarkEnqueue(b *testing.B) {
	limits := DefaultLimits()
	limits.CumulativeCount, limits.CumulativeAmount, limits.SameCard = 0, 0, 0
	q, _ := openTest(b, newClock(), &limits)
	ctx := context.Background()
	taps := make([]Tap, 256)
	for i := range taps {
		taps[i] = tap("", testPANs[i%len(testPANs)], int64(100+i))
	}
	lat := make([]time.Duration, 0, b.N)
	conf := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		tp := taps[i%len(taps)]
		tp.TxnID = fmt.Sprintf("bench-%d", i)
		i++
		start := time.Now()
		if _, err := q.Enqueue(ctx, tp); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		start = time.Now()
		if err := q.Confirm(ctx, tp.TxnID); err != nil {
			b.Fatal(err)
		}
		conf = append(conf, time.Since(start))
	}
	p99 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[min(len(d)-1, len(d)*99/100)]) / float64(time.Millisecond)
	}
	b.ReportMetric(p99(lat), "offline_enqueue_p99_ms")
	b.ReportMetric(p99(conf), "offline_confirm_p99_ms")
}

// BenchmarkSyncDrain drains queued offline taps (real TCs of 64 cards)
// into the ledger's HTTP API on SQLite, in process over loopback, and
// reports the seconds the drain took. It drains once whatever b.N is.
func BenchmarkSyncDrain(b *testing.B) {
	n := *drainN
	r := newRealLedger(b, 64, 1_000_000_000)
	q, _ := openTest(b, newClock(), &Limits{})
	ctx := context.Background()

	// Fill the queue in a few transactions: the setup is not measured.
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		p, err := q.prepare(r.tap(b, r.env.Cards[i%len(r.env.Cards)], fmt.Sprintf("drain-%06d", i), int64(100+i%900)))
		if err == nil {
			_, _, err = q.insert(ctx, tx, p)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	// Confirmed, as the terminal does once it showed each approval.
	if _, err := tx.ExecContext(ctx, `UPDATE items SET state = 'queued' WHERE state = 'held'`); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	fw := r.forwarder()
	fw.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	tf := &timedForwarder{f: fw}
	s := &Syncer{Queue: q, Forwarder: tf, BatchSize: 2000, Rand: &countingRand{}}
	b.ResetTimer()
	start := time.Now()
	rep, err := s.Drain(ctx, 3)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil || rep.Remaining != 0 || rep.Answered != n {
		b.Fatalf("drain: %+v, %v", rep, err)
	}
	st := r.env.Ledger.Stats()
	b.Logf("%d items in %v (%.0f/s), %v of it waiting for the ledger; ledger: %d requests in %d transactions",
		n, elapsed, float64(n)/elapsed.Seconds(), tf.busy, st.Ops, st.Batches)
	b.ReportMetric(elapsed.Seconds(), fmt.Sprintf("sync_drain_s{n=%d}", n))
}

// timedForwarder adds up the time spent in Forward.
type timedForwarder struct {
	f    Forwarder
	busy time.Duration
}

func (t *timedForwarder) Forward(ctx context.Context, b []Outgoing) ([]Result, error) {
	start := time.Now()
	defer func() { t.busy += time.Since(start) }()
	return t.f.Forward(ctx, b)
}
