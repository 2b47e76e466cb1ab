package sale

import (
	"context"
	"path/filepath"
	"testing"

	"tappos/offline"
	"tappos/terminal/batch"
)

// BenchmarkSale measures a whole sale in memory, card to durable journal
// record: the kernel, the ledger over loopback HTTP (online) or the
// offline queue (offline), and the journal's synchronous commits.
func BenchmarkSale(b *testing.B) {
	for _, bm := range []struct {
		path, card string
		amount     int64
		want       batch.Status
	}{
		{"online", "visa-credit", 1250, batch.Approved},
		{"offline", "visa-offline", 1250, batch.OfflineApproved},
	} {
		b.Run(bm.path, func(b *testing.B) {
			r := newRig(b, nil)
			var key offline.Key
			q, err := offline.Open(filepath.Join(b.TempDir(), "bench.db"), offline.Options{Key: key, Limits: &offline.Limits{}})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			r.t.Queue, r.t.Event = q, nil
			ctx := context.Background()
			for b.Loop() {
				// A tap each sale: a card left in the field does not pay
				// for the next one.
				r.reader.Present(r.cards[bm.card])
				res, err := r.t.Sale(ctx, bm.amount)
				if err != nil || res.Record.Status != bm.want {
					b.Fatalf("sale: %v", err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "sale_tap_us{path="+bm.path+"}")
		})
	}
}
