package cardsim

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"tappos/emv/trace"
)

// driver plays the vpcd driver's side of the protocol for one connection.
type driver struct {
	t    *testing.T
	conn net.Conn
}

func (d driver) write(payload []byte) {
	d.t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	if _, err := d.conn.Write(append(frame, payload...)); err != nil {
		d.t.Fatal(err)
	}
}

// read returns the card's next message, or an error when the card left.
func (d driver) read() ([]byte, error) {
	d.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(d.conn, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(d.conn, msg)
	return msg, err
}

// transmit sends a command APDU and returns the answer.
func (d driver) transmit(apdu []byte) []byte {
	d.t.Helper()
	d.write(apdu)
	rsp, err := d.read()
	if err != nil {
		d.t.Fatalf("%X: %v", apdu[:4], err)
	}
	return rsp
}

// gone waits for the card to close the connection, within limit.
func (d driver) gone(limit time.Duration) time.Duration {
	d.t.Helper()
	start := time.Now()
	d.conn.SetReadDeadline(start.Add(limit))
	if _, err := d.conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		d.t.Fatalf("card still present after %v (%v)", limit, err)
	}
	return time.Since(start)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func (d driver) accept(l net.Listener) driver {
	d.t.Helper()
	conn, err := l.Accept()
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { conn.Close() })
	d.conn = conn
	d.write([]byte{0x01}) // power on
	d.write([]byte{0x04}) // get ATR
	if atr, err := d.read(); err != nil || len(atr) < 2 || atr[0] != 0x3B {
		d.t.Fatalf("ATR %X, %v", atr, err)
	}
	return d
}

type runResult struct {
	taps int
	err  error
}

func startRun(t *testing.T, ctx context.Context, addr string, card interface {
	ATR() []byte
	Process([]byte) ([]byte, error)
}, opt Options) <-chan runResult {
	done := make(chan runResult, 1)
	returned := make(chan struct{})
	go func() {
		n, err := Run(ctx, addr, card, opt)
		done <- runResult{n, err}
		close(returned)
	}()
	t.Cleanup(func() {
		select {
		case <-returned:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return")
		}
	})
	return done
}

var (
	selectPPSE = cmdAPDU("00A40400", ppseName)
	selectVisa = cmdAPDU("00A40400", []byte{0xA0, 0, 0, 0, 0x03, 0x10, 0x10})
	gpoVisa    = cmdAPDU("80A80000", append([]byte{0x83, 33, 0x36}, make([]byte, 32)...))
)

func TestRunTaps(t *testing.T) {
	l := listen(t)
	card := loadCard(t, "visa-credit")
	opt := Options{Taps: 2, Linger: 20 * time.Millisecond, Idle: time.Minute, Gap: 10 * time.Millisecond}
	done := startRun(t, context.Background(), l.Addr().String(), card, opt)
	for tap := 1; tap <= 2; tap++ {
		d := driver{t: t}.accept(l)
		for _, apdu := range [][]byte{selectPPSE, selectVisa, gpoVisa} {
			if rsp := d.transmit(apdu); rsp[len(rsp)-2] != 0x90 {
				t.Fatalf("tap %d: %X answered %X", tap, apdu[:4], rsp)
			}
		}
		d.gone(2 * time.Second)
	}
	r := <-done
	if r.err != nil || r.taps != 2 {
		t.Fatalf("Run = %d, %v; want 2 taps", r.taps, r.err)
	}
	if card.ATC() != 3 {
		t.Errorf("ATC %d after two taps from 1", card.ATC())
	}
}

func TestRunHostile(t *testing.T) {
	t.Run("stuck", func(t *testing.T) {
		l := listen(t)
		opt := Options{Taps: 1, Linger: time.Minute, Idle: 50 * time.Millisecond}
		done := startRun(t, context.Background(), l.Addr().String(), loadCard(t, "stuck"), opt)
		d := driver{t: t}.accept(l)
		d.transmit(selectPPSE)
		d.write(selectVisa)
		if rsp, err := d.read(); err == nil {
			t.Fatalf("stuck card answered %X", rsp)
		}
		if r := <-done; r.err != nil || r.taps != 1 {
			t.Fatalf("Run = %d, %v; want 1 tap", r.taps, r.err)
		}
	})
	t.Run("pulled", func(t *testing.T) {
		l := listen(t)
		opt := Options{Taps: 1, Linger: time.Minute, Idle: time.Minute}
		done := startRun(t, context.Background(), l.Addr().String(), loadCard(t, "pulled"), opt)
		d := driver{t: t}.accept(l)
		d.transmit(selectPPSE)
		d.transmit(cmdAPDU("00A40400", []byte{0xA0, 0, 0, 0, 0x04, 0x10, 0x10}))
		d.transmit(cmdAPDU("80A80000", []byte{0x83, 0x00}))
		d.write([]byte{0x00, 0xB2, 0x01, 0x0C, 0x00})
		d.gone(time.Second)
		if r := <-done; r.err != nil || r.taps != 1 {
			t.Fatalf("Run = %d, %v; want 1 tap", r.taps, r.err)
		}
	})
}

func TestRunCancel(t *testing.T) {
	l := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := startRun(t, ctx, l.Addr().String(), loadCard(t, "visa-credit"), Options{})
	d := driver{t: t}.accept(l)
	cancel()
	d.gone(time.Second)
	if r := <-done; r.err != nil || r.taps != 0 {
		t.Fatalf("Run = %d, %v; want 0 taps, nil", r.taps, r.err)
	}
}

func TestRunReplay(t *testing.T) {
	f, err := os.Open("../../testdata/traces/mock-visa-online.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t)
	opt := Options{Taps: 1, Linger: 10 * time.Millisecond, Idle: time.Minute}
	done := startRun(t, context.Background(), l.Addr().String(), NewReplayCard(tr), opt)
	d := driver{t: t}.accept(l)
	for _, ex := range tr.Exchanges {
		if rsp := d.transmit(ex.Command); string(rsp) != string(ex.Response) {
			t.Fatalf("%X answered %X, want %X", ex.Command[:4], rsp, ex.Response)
		}
	}
	d.gone(time.Second)
	if r := <-done; r.err != nil || r.taps != 1 {
		t.Fatalf("Run = %d, %v; want 1 tap", r.taps, r.err)
	}
}
