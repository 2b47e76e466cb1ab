package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// latencyBuckets are the upper bounds, in seconds, of the request
// latency histogram.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// metrics counts requests by route and status, in the Prometheus text
// format written by hand.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]int64 // route, status
	hist     map[string]*histogram
}

type histogram struct {
	counts []int64 // per bucket, not cumulative
	sum    float64
	n      int64
}

func newMetrics() *metrics {
	return &metrics{requests: make(map[[2]string]int64), hist: make(map[string]*histogram)}
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, fmt.Sprint(status)}]++
	h := m.hist[route]
	if h == nil {
		h = &histogram{counts: make([]int64, len(latencyBuckets))}
		m.hist[route] = h
	}
	sec := d.Seconds()
	if i, _ := slices.BinarySearch(latencyBuckets, sec); i < len(latencyBuckets) {
		h.counts[i]++
	}
	h.sum += sec
	h.n++
}

func label(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	m := s.metrics
	m.mu.Lock()
	b.WriteString("# HELP ledger_http_requests_total HTTP requests by route and status.\n# TYPE ledger_http_requests_total counter\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(&b, "ledger_http_requests_total{route=\"%s\",status=\"%s\"} %d\n", label(k[0]), k[1], m.requests[k])
	}
	b.WriteString("# HELP ledger_http_request_duration_seconds HTTP request latency by route.\n# TYPE ledger_http_request_duration_seconds histogram\n")
	routes := make([]string, 0, len(m.hist))
	for r := range m.hist {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, rt := range routes {
		h := m.hist[rt]
		var cum int64
		for i, ub := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "ledger_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %d\n", label(rt), ub, cum)
		}
		fmt.Fprintf(&b, "ledger_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %d\n", label(rt), h.n)
		fmt.Fprintf(&b, "ledger_http_request_duration_seconds_sum{route=\"%s\"} %g\n", label(rt), h.sum)
		fmt.Fprintf(&b, "ledger_http_request_duration_seconds_count{route=\"%s\"} %d\n", label(rt), h.n)
	}
	m.mu.Unlock()
	st := s.l.Stats()
	fmt.Fprintf(&b, "# HELP ledger_batches_total Database transactions committed by the writer.\n# TYPE ledger_batches_total counter\nledger_batches_total %d\n", st.Batches)
	fmt.Fprintf(&b, "# HELP ledger_batched_requests_total Requests in those transactions.\n# TYPE ledger_batched_requests_total counter\nledger_batched_requests_total %d\n", st.Ops)
	fmt.Fprintf(&b, "# HELP ledger_batch_retries_total Transactions retried after a conflict.\n# TYPE ledger_batch_retries_total counter\nledger_batch_retries_total %d\n", st.Retries)
	fmt.Fprintf(&b, "# HELP ledger_batch_seconds_total Time spent in writer transactions.\n# TYPE ledger_batch_seconds_total counter\nledger_batch_seconds_total %g\n", st.CommitTime.Seconds())
	fmt.Fprintf(&b, "# HELP ledger_authorizations_total Authorizations by outcome and reason.\n# TYPE ledger_authorizations_total counter\n")
	fmt.Fprintf(&b, "ledger_authorizations_total{outcome=\"approved\",reason=\"\"} %d\n", st.Approved)
	reasons := make([]string, 0, len(st.Declined))
	for r := range st.Declined {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, "ledger_authorizations_total{outcome=\"declined\",reason=\"%s\"} %d\n", label(r), st.Declined[r])
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.Write([]byte(b.String()))
}
