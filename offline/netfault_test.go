package offline

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// faultProxy is a TCP proxy that, connection by connection, passes bytes
// through, delays them, cuts the request, resets the connection, or
// swallows the answer after the server has acted on the request.
type faultProxy struct {
	ln      net.Listener
	backend string

	mu     sync.Mutex
	rnd    *rand.Rand
	counts map[string]int
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newFaultProxy(t testing.TB, backend string, seed uint64) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, backend: backend, rnd: rand.New(rand.NewPCG(seed, 1)), counts: map[string]int{}, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// pick chooses a connection's fate.
func (p *faultProxy) pick() (fault string, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	faults := []string{"pass", "pass", "pass", "delay", "cut request", "reset", "lose answer", "reset after request"}
	fault = faults[p.rnd.IntN(len(faults))]
	p.counts[fault]++
	return fault, time.Duration(p.rnd.IntN(30)) * time.Millisecond
}

func (p *faultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c.(*net.TCPConn))
		}()
	}
}

func reset(c *net.TCPConn) {
	c.SetLinger(0) // close with RST
	c.Close()
}

// track registers c for closing at cleanup, and forgets it when done.
func (p *faultProxy) track(c net.Conn) (done func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = true
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.conns, c)
		c.Close()
	}
}

func (p *faultProxy) handle(client *net.TCPConn) {
	defer p.track(client)()
	s, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	server := s.(*net.TCPConn)
	defer p.track(server)()
	fault, delay := p.pick()
	buf := make([]byte, 32<<10)
	switch fault {
	case "cut request":
		n, _ := client.Read(buf)
		server.Write(buf[:n/2])
		return
	case "reset":
		client.Read(buf)
		reset(client)
		return
	case "lose answer", "reset after request":
		// Forward the request, let the server answer, drop the answer:
		// the ledger has booked, the terminal does not know.
		n, err := client.Read(buf)
		if err != nil {
			return
		}
		server.Write(buf[:n])
		server.SetReadDeadline(time.Now().Add(2 * time.Second))
		server.Read(buf)
		if fault == "reset after request" {
			reset(client)
		}
		return
	case "delay":
		time.Sleep(delay)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(server, client)
		server.CloseWrite()
		close(done)
	}()
	io.Copy(client, server)
	client.CloseWrite()
	<-done
}

// TestSyncNetworkFaults drains the queue into the real ledger (its HTTP
// API on SQLite) through the fault proxy, one
// connection per request so that each request meets its own fault: every
// item must end accepted, and each booked exactly once.
func TestSyncNetworkFaults(t *testing.T) {
	q, _ := openTest(t, newClock(), &Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newRealLedger(t, 8, 1_000_000)
	ids := txnIDs("n", 150)
	for i, id := range ids {
		mustEnqueue(t, q, r.tap(t, r.env.Cards[i%len(r.env.Cards)], id, int64(1+i)))
	}
	p := newFaultProxy(t, r.srv.Listener.Addr().String(), 7)
	fw := &HTTPForwarder{BaseURL: "http://" + p.addr(), APIKey: r.key, Concurrency: 6,
		Client: &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	s := &Syncer{Queue: q, Forwarder: fw, BatchSize: 20, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Rand: &countingRand{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rep, err := s.Drain(ctx, 0)
	fw.Client.CloseIdleConnections()
	if err != nil {
		t.Fatalf("drain: %v (%+v)", err, rep)
	}
	items, _ := q.List(ctx, ListOptions{Limit: 1000})
	for _, it := range items {
		if it.State != StateAccepted {
			t.Errorf("%s ended %s %s", it.TxnID, it.State, it.Reason)
		}
	}
	r.checkBooked(t, q)
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Logf("faults %v; %d batch failures, %d sends for %d items", p.counts, rep.Failures, rep.Sent, len(ids))
	for _, fault := range []string{"cut request", "reset", "lose answer", "reset after request", "delay"} {
		if p.counts[fault] == 0 {
			t.Errorf("fault %q never happened", fault)
		}
	}
}
