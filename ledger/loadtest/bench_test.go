package loadtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/ledgertest"
)

// minBenchAuths is the least number of authorizations a round of
// BenchmarkLedgerAuth sends.
const minBenchAuths = 20_000

// BenchmarkLedgerAuth measures purchase authorizations with ARQC
// verification from 64 concurrent terminals over loopback HTTP, each
// approval committed durably before its answer.
func BenchmarkLedgerAuth(b *testing.B) {
	stores := []struct {
		name string
		open func(testing.TB, int) []ledger.Store
	}{
		{"sqlite", sqliteStores},
		{"postgres", pgStores},
	}
	// As ledgerd serves.
	defer debug.SetGCPercent(debug.SetGCPercent(api.GCPercent))
	for _, s := range stores {
		b.Run("store="+s.name, func(b *testing.B) {
			e := NewEnv(b, s.open(b, 1), 64, 64, ledger.MaxAmount/100)
			// Warm up connections and caches.
			if _, _, err := e.Bench(context.Background(), 640); err != nil {
				b.Fatal(err)
			}
			// A round long enough for the stores' steady state: their
			// commits and checkpoints, a warm cache. With a plain b.N,
			// the last round of a 1 s benchtime was a few hundred
			// authorizations on PostgreSQL, most of them on a cold one.
			run, err := e.PrepareBench(max(b.N, minBenchAuths))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0 := cpuTime()
			perSecond, lat, err := run.Run(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime() - cpu0
			b.StopTimer()
			st := e.Ledgers[0].Stats()
			b.Logf("%d authorizations: %.0f/s, p50 %v, p99 %v; %d requests in %d transactions",
				len(lat), perSecond, lat.Quantile(0.5), lat.Quantile(0.99), st.Ops, st.Batches)
			b.ReportMetric(perSecond, "ledger_auth_per_s{store="+s.name+"}")
			b.ReportMetric(float64(lat.Quantile(0.99))/float64(time.Millisecond), "ledger_auth_p99_ms{store="+s.name+"}")
			// The CPU this process spent per authorization, load generator
			// included (not the database server's): the figure that does
			// not depend on what else the machine runs.
			b.ReportMetric(float64(cpu/time.Microsecond)/float64(len(lat)), "ledger_auth_cpu_us{store="+s.name+"}")
		})
	}
}

// BenchmarkLedgerOfflineBatch measures the offline sync's path: offline
// approvals (TCs) booked through POST /v1/authorizations/batch, 500 items
// a batch, 4 batches in flight.
func BenchmarkLedgerOfflineBatch(b *testing.B) {
	e := NewEnv(b, sqliteStores(b, 1), 64, 64, ledger.MaxAmount/100)
	n := max(b.N, 500)
	items := make([]api.BatchItem, n)
	for i := range items {
		c := i % len(e.Cards)
		key := fmt.Sprintf("o%d", i)
		emv, err := e.Cards[c].Tap(100, 978, ledgertest.Options{CID: 0x40, UN: [4]byte{byte(i >> 8), byte(i)}})
		if err != nil {
			b.Fatal(err)
		}
		items[i] = api.BatchItem{IdempotencyKey: key, AuthorizationRequest: api.AuthorizationRequest{Kind: ledger.AuthOffline,
			TerminalTxnID: key, Amount: 100, Currency: "EUR", EMV: hex.EncodeToString(emv)}}
	}
	cl := e.client(0, 0)
	batches := make(chan []api.BatchItem, n/500+1)
	for i := 0; i < n; i += 500 {
		batches <- items[i:min(i+500, n)]
	}
	close(batches)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				res, err := cl.AuthorizeBatch(context.Background(), batch[0].IdempotencyKey, batch)
				if err == nil {
					for _, r := range res {
						if r.Result == nil || r.Result.Outcome != ledger.OutcomeApproved {
							err = fmt.Errorf("item: %+v %+v", r, r.Error)
							break
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "ledger_offline_batch_per_s{store=sqlite}")
}

// cpuTime returns the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
