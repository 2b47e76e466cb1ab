package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// vpcdDriver plays the driver's side of the vpcd protocol on conn.
type vpcdDriver struct {
	t    *testing.T
	conn net.Conn
}

func (d vpcdDriver) transmit(msg []byte) []byte {
	d.t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := d.conn.Write(append(frame, msg...)); err != nil {
		d.t.Fatal(err)
	}
	d.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(d.conn, hdr[:]); err != nil {
		d.t.Fatal(err)
	}
	rsp := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(d.conn, rsp); err != nil {
		d.t.Fatal(err)
	}
	return rsp
}

func TestCardsimOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := runCardsim([]string{"--profile", "phone-mastercard", "--vpcd", l.Addr().String(),
			"--once", "--linger", "10ms", "--atc", "41"}, &out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d := vpcdDriver{t, conn}
	if atr := d.transmit([]byte{0x04}); atr[0] != 0x3B {
		t.Fatalf("ATR %X", atr)
	}
	d.transmit([]byte("\x00\xA4\x04\x00\x07\xA0\x00\x00\x00\x04\x10\x10\x00"))
	gpo := d.transmit([]byte{0x80, 0xA8, 0x00, 0x00, 0x02, 0x83, 0x00, 0x00})
	if !bytes.HasSuffix(gpo, []byte{0x90, 0x00}) {
		t.Fatalf("GPO answered %X", gpo)
	}
	cdol := make([]byte, 33)
	rsp := d.transmit(append(append([]byte{0x80, 0xAE, 0x80, 0x00, 33}, cdol...), 0x00))
	if !bytes.Contains(rsp, []byte{0x9F, 0x36, 0x02, 0x00, 42}) {
		t.Errorf("GENERATE AC answer %X lacks ATC 42", rsp)
	}
	select {
	case r := <-done:
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "541333******9112") || !strings.Contains(r.stdout, "1 taps") {
			t.Errorf("output:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout+r.stderr, "5413330089019112") {
			t.Errorf("output shows the full PAN:\n%s", r.stdout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cardsim did not leave after one tap")
	}
}

func TestCardsimErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no profile", nil, 2, "--profile or --replay is required"},
		{"unknown profile", []string{"--profile", "no-such-card"}, 1, "no-such-card.json"},
		{"bad replay", []string{"--replay", "no-such-trace.json"}, 1, "no-such-trace.json"},
		{"extra argument", []string{"--profile", "visa-credit", "now"}, 2, "unexpected arguments"},
		{"negative taps", []string{"--profile", "visa-credit", "--taps", "-1"}, 2, "--taps"},
		{"no driver", []string{"--profile", "visa-credit", "--vpcd", "256.0.0.1:1"}, 1, "vpcd driver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runCardsim(tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errb.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
