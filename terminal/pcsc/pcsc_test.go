package pcsc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"tappos/internal/pcsctest"
	"tappos/terminal"
	"tappos/terminal/vpcd"
)

func TestPick(t *testing.T) {
	const (
		acr  = "ACS ACR122U PICC Interface 00 00"
		idt  = "Identiv uTrust 3700 F CL Reader [uTrust 3700 F CL Reader] 00 00"
		vpd0 = "Virtual PCD 00 00"
		vpd1 = "Virtual PCD 00 01"
	)
	tests := []struct {
		name    string
		names   []string
		opts    Options
		want    string
		wantErr error
	}{
		{name: "first", names: []string{acr, idt}, want: acr},
		{name: "first skips virtual", names: []string{vpd0, vpd1, idt}, want: idt},
		{name: "first virtual allowed", names: []string{vpd0, idt}, opts: Options{AllowVirtual: true}, want: vpd0},
		{name: "only virtual", names: []string{vpd0, vpd1}, wantErr: terminal.ErrVirtualReader},
		{name: "exact", names: []string{acr, idt}, opts: Options{Name: idt}, want: idt},
		{name: "unique part", names: []string{acr, idt}, opts: Options{Name: "ACR122"}, want: acr},
		{name: "ambiguous part", names: []string{vpd0, vpd1}, opts: Options{Name: "Virtual", AllowVirtual: true}, wantErr: terminal.ErrNoReader},
		{name: "virtual by name", names: []string{acr, vpd1}, opts: Options{Name: vpd1}, wantErr: terminal.ErrVirtualReader},
		{name: "virtual by name allowed", names: []string{acr, vpd1}, opts: Options{Name: vpd1, AllowVirtual: true}, want: vpd1},
		{name: "no such name", names: []string{acr}, opts: Options{Name: "Gemalto"}, wantErr: terminal.ErrNoReader},
		{name: "no readers", wantErr: terminal.ErrNoReader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pick(tt.names, tt.opts)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("pick() = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

var (
	testATR    = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}
	selectPPSE = []byte{0x00, 0xA4, 0x04, 0x00, 0x0E, '2', 'P', 'A', 'Y', '.', 'S', 'Y', 'S', '.', 'D', 'D', 'F', '0', '1', 0x00}
	gpo        = []byte{0x80, 0xA8, 0x00, 0x00, 0x02, 0x83, 0x00, 0x00}
)

// echoCard answers every APDU with the APDU itself and 90 00.
func echoCard() vpcd.Card {
	return vpcd.NewCard(testATR, func(apdu []byte) ([]byte, error) {
		return append(bytes.Clone(apdu), 0x90, 0x00), nil
	})
}

// hostileCard answers ok APDUs, then fails with err.
func hostileCard(ok int, err error) vpcd.Card {
	var n atomic.Int32
	return vpcd.NewCard(testATR, func(apdu []byte) ([]byte, error) {
		if int(n.Add(1)) > ok {
			return nil, err
		}
		return []byte{0x90, 0x00}, nil
	})
}

// open opens the test's virtual reader.
func open(t testing.TB, slot pcsctest.Slot) *Reader {
	t.Helper()
	r, err := Open(Options{Name: slot.Reader, AllowVirtual: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func waitCard(t testing.TB, r *Reader) terminal.Card {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := r.WaitCard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEcho(t *testing.T) {
	slot := pcsctest.Start(t)
	r := open(t, slot)
	slot.Present(t, echoCard())
	c := waitCard(t, r)
	if !bytes.Equal(c.ATR(), testATR) {
		t.Errorf("ATR = % X, want % X", c.ATR(), testATR)
	}
	for _, apdu := range [][]byte{selectPPSE, gpo} {
		got, err := c.Transmit(t.Context(), apdu)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(bytes.Clone(apdu), 0x90, 0x00); !bytes.Equal(got, want) {
			t.Errorf("Transmit(% X) = % X, want % X", apdu, got, want)
		}
	}
}

func TestCardRemoved(t *testing.T) {
	slot := pcsctest.Start(t)
	r := open(t, slot)

	t.Run("pulled mid-exchange", func(t *testing.T) {
		slot.Present(t, hostileCard(1, vpcd.ErrPulled))
		c := waitCard(t, r)
		if _, err := c.Transmit(t.Context(), selectPPSE); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := c.Transmit(t.Context(), gpo); !errors.Is(err, terminal.ErrCardRemoved) {
				t.Fatalf("Transmit() = %v, want ErrCardRemoved", err)
			}
		}
	})
	t.Run("removed between APDUs", func(t *testing.T) {
		remove := slot.Present(t, echoCard())
		c := waitCard(t, r)
		if _, err := c.Transmit(t.Context(), selectPPSE); err != nil {
			t.Fatal(err)
		}
		remove()
		if _, err := c.Transmit(t.Context(), gpo); !errors.Is(err, terminal.ErrCardRemoved) {
			t.Fatalf("Transmit() = %v, want ErrCardRemoved", err)
		}
	})
	t.Run("presented again", func(t *testing.T) {
		slot.Present(t, echoCard())
		c := waitCard(t, r)
		if _, err := c.Transmit(t.Context(), selectPPSE); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStuckCard(t *testing.T) {
	slot := pcsctest.Start(t)
	r := open(t, slot)
	slot.Present(t, hostileCard(1, vpcd.ErrSilent))
	c := waitCard(t, r)
	if _, err := c.Transmit(t.Context(), selectPPSE); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Transmit(ctx, gpo)
	if !errors.Is(err, terminal.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Transmit() = %v, want ErrTimeout and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Transmit took %v past a 100ms deadline", d)
	}
	if _, err := c.Transmit(t.Context(), gpo); !errors.Is(err, terminal.ErrTimeout) {
		t.Errorf("Transmit() after a timeout = %v, want ErrTimeout", err)
	}
	// Close must not wait for the silent card.
	start = time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestWaitCardCancel(t *testing.T) {
	slot := pcsctest.Start(t)
	r := open(t, slot)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := r.WaitCard(ctx)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it block in SCardGetStatusChange
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitCard() = %v, want context.Canceled", err)
		}
	case <-time.After(2 * pollInterval):
		t.Fatal("WaitCard did not return promptly after cancellation")
	}
}

func TestOpenRefusesVirtual(t *testing.T) {
	slot := pcsctest.Start(t)
	_, err := Open(Options{Name: slot.Reader})
	if !errors.Is(err, terminal.ErrVirtualReader) {
		t.Fatalf("Open(%q) = %v, want ErrVirtualReader", slot.Reader, err)
	}
	if _, err := Open(Options{Name: "no such reader"}); !errors.Is(err, terminal.ErrNoReader) {
		t.Fatalf("Open(no such reader) = %v, want ErrNoReader", err)
	}
}

// BenchmarkPCSCRoundTrip measures a bare APDU round trip through pcscd and
// the vpcd driver to a simulated card.
func BenchmarkPCSCRoundTrip(b *testing.B) {
	benchRoundTrip(b, "pcsc_apdu_rtt_us", func(ctx context.Context, addr string, card vpcd.Card) error {
		return vpcd.Present(ctx, addr, card)
	})
}

// BenchmarkPCSCRoundTripNoQuickAck is the same without TCP_QUICKACK, to show
// what delayed ACKs cost: Serve only sets it on a *net.TCPConn.
func BenchmarkPCSCRoundTripNoQuickAck(b *testing.B) {
	benchRoundTrip(b, "pcsc_apdu_rtt_us{quickack=off}", func(ctx context.Context, addr string, card vpcd.Card) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return vpcd.Serve(ctx, struct{ net.Conn }{conn}, card)
	})
}

func benchRoundTrip(b *testing.B, metric string, present func(context.Context, string, vpcd.Card) error) {
	slot := pcsctest.Start(b)
	r := open(b, slot)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- present(ctx, slot.Addr, echoCard()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	c := waitCard(b, r)
	defer c.Close()
	for b.Loop() {
		if _, err := c.Transmit(b.Context(), selectPPSE); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), metric)
}

// TestWaitCardFreshPresentation: a card left on the reader after one sale is
// not handed to the next; lifted and presented again, it is.
func TestWaitCardFreshPresentation(t *testing.T) {
	slot := pcsctest.Start(t)
	lifts := make(chan bool, 10)
	r, err := Open(Options{Name: slot.Reader, AllowVirtual: true, Lift: func(waiting bool) { lifts <- waiting }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	wantLifts := func(t *testing.T, want ...bool) {
		t.Helper()
		var got []bool
		for len(lifts) > 0 {
			got = append(got, <-lifts)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Lift calls %v, want %v", got, want)
		}
	}
	outer := t
	remove := slot.Present(t, echoCard())
	c := waitCard(t, r)
	c.Close()

	t.Run("left in the field", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*pollInterval)
		defer cancel()
		c, err := r.WaitCard(ctx)
		if err == nil {
			c.Close()
			t.Fatal("WaitCard() returned the card left from the previous sale")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitCard() = %v, want DeadlineExceeded", err)
		}
		wantLifts(t, true)
	})
	t.Run("presented again", func(t *testing.T) {
		remove()
		remove = slot.Present(outer, echoCard()) // stays for the next subtest
		c := waitCard(t, r)
		if _, err := c.Transmit(t.Context(), selectPPSE); err != nil {
			t.Fatal(err)
		}
		wantLifts(t) // this wait began with the field empty
	})
	t.Run("lifted and presented while waiting", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, err := r.WaitCard(ctx)
			if err == nil {
				c.Close()
			}
			errc <- err
		}()
		time.Sleep(2 * pollInterval) // WaitCard sees the old card first
		remove()
		slot.Present(t, echoCard())
		if err := <-errc; err != nil {
			t.Fatalf("WaitCard() = %v, want the new card", err)
		}
		wantLifts(t, true, false)
	})
}
