package loadtest

import (
	"context"
	"testing"
	"time"

	"tappos/ledger"
)

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
	for _, s := range stores {
		b.Run("store="+s.name, func(b *testing.B) {
			e := NewEnv(b, s.open(b, 1), 64, 64, ledger.MaxAmount/100)
			// Warm up connections and caches.
			if _, _, err := e.Bench(context.Background(), 640); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			perSecond, lat, err := e.Bench(context.Background(), max(b.N, 64))
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := e.Ledgers[0].Stats()
			b.Logf("%d authorizations: %.0f/s, p50 %v, p99 %v; %d requests in %d transactions",
				len(lat), perSecond, lat.Quantile(0.5), lat.Quantile(0.99), st.Ops, st.Batches)
			b.ReportMetric(perSecond, "ledger_auth_per_s{store="+s.name+"}")
			b.ReportMetric(float64(lat.Quantile(0.99))/float64(time.Millisecond), "ledger_auth_p99_ms{store="+s.name+"}")
		})
	}
}
