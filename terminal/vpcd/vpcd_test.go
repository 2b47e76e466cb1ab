package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

var testATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

// frame encodes one vpcd message.
func frame(payload ...byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(payload))), payload...)
}

// testCard answers SELECT with 90 00 and counts resets; other commands
// return the error from fail, or 6D 00.
type testCard struct {
	resets int
	fail   error
}

func (c *testCard) ATR() []byte { return testATR }
func (c *testCard) Reset()      { c.resets++ }
func (c *testCard) Process(apdu []byte) ([]byte, error) {
	if apdu[1] == 0xA4 {
		return []byte{0x90, 0x00}, nil
	}
	if c.fail != nil {
		return nil, c.fail
	}
	return []byte{0x6D, 0x00}, nil
}

var selectPPSE = []byte{0x00, 0xA4, 0x04, 0x00, 0x0E, '2', 'P', 'A', 'Y', '.', 'S', 'Y', 'S', '.', 'D', 'D', 'F', '0', '1', 0x00}

func TestSessionFraming(t *testing.T) {
	tests := []struct {
		name       string
		in         [][]byte
		fail       error
		want       []byte
		wantResets int
		wantErr    error // nil: ErrDriverClosed at the end of input
		anyErr     bool
	}{
		{name: "get ATR", in: [][]byte{frame(ctrlGetATR)}, want: frame(testATR...)},
		{
			name:       "power cycle answers nothing",
			in:         [][]byte{frame(ctrlPowerOff), frame(ctrlPowerOn), frame(ctrlReset)},
			wantResets: 3,
		},
		{name: "APDU", in: [][]byte{frame(selectPPSE...)}, want: frame(0x90, 0x00)},
		{
			name: "APDU after ATR and power on",
			in:   [][]byte{frame(ctrlGetATR), frame(ctrlPowerOn), frame(0x80, 0xCA, 0x9F, 0x36, 0x00)},
			want: append(frame(testATR...), frame(0x6D, 0x00)...), wantResets: 1,
		},
		{name: "unknown control code", in: [][]byte{frame(0x03)}, anyErr: true},
		{name: "empty message", in: [][]byte{frame()}, anyErr: true},
		{name: "truncated length", in: [][]byte{{0x00}}, anyErr: true},
		{name: "truncated body", in: [][]byte{{0x00, 0x05, 0x00, 0xA4}}, wantErr: ErrDriverClosed},
		{name: "pulled", in: [][]byte{frame(0x80, 0xA8, 0x00, 0x00), frame(ctrlGetATR)}, fail: ErrPulled, wantErr: ErrPulled},
		{name: "silent until removal", in: [][]byte{frame(0x80, 0xA8, 0x00, 0x00), frame(ctrlGetATR)}, fail: ErrSilent},
		{name: "card error", in: [][]byte{frame(0x80, 0xA8, 0x00, 0x00)}, fail: io.ErrShortBuffer, wantErr: io.ErrShortBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &testCard{fail: tt.fail}
			var out bytes.Buffer
			s := &session{r: bytes.NewReader(bytes.Join(tt.in, nil)), w: &out, card: card}
			err := s.run()
			switch {
			case tt.anyErr:
				if err == nil || errors.Is(err, ErrDriverClosed) {
					t.Fatalf("run() = %v, want a protocol error", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("run() = %v, want %v", err, tt.wantErr)
				}
			default:
				if !errors.Is(err, ErrDriverClosed) {
					t.Fatalf("run() = %v, want ErrDriverClosed", err)
				}
			}
			if !bytes.Equal(out.Bytes(), tt.want) {
				t.Errorf("card wrote % X, want % X", out.Bytes(), tt.want)
			}
			if card.resets != tt.wantResets {
				t.Errorf("resets = %d, want %d", card.resets, tt.wantResets)
			}
		})
	}
}

func TestWriteRejectsUnframeable(t *testing.T) {
	for _, tt := range []struct {
		name string
		rsp  []byte
	}{
		{"empty", []byte{}},
		{"too long", make([]byte, maxMessage+1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			card := NewCard(testATR, func([]byte) ([]byte, error) { return tt.rsp, nil })
			var out bytes.Buffer
			s := &session{r: bytes.NewReader(frame(selectPPSE...)), w: &out, card: card}
			if err := s.run(); err == nil || errors.Is(err, ErrDriverClosed) {
				t.Fatalf("run() = %v, want an error", err)
			}
			if out.Len() != 0 {
				t.Errorf("card wrote %d bytes, want none", out.Len())
			}
		})
	}
}

// TestServeRemoval checks the ways a card leaves a connection: the context
// ends (even while silent), the card is pulled, or the driver hangs up.
func TestServeRemoval(t *testing.T) {
	tests := []struct {
		name    string
		fail    error
		cancel  bool
		hangUp  bool
		wantErr error
	}{
		{name: "context done while silent", fail: ErrSilent, cancel: true},
		{name: "pulled", fail: ErrPulled},
		{name: "driver hangs up", hangUp: true, wantErr: ErrDriverClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			driver, cardSide := net.Pipe()
			defer driver.Close()
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, cardSide, &testCard{fail: tt.fail}) }()

			if tt.hangUp {
				driver.Close()
			} else if _, err := driver.Write(frame(0x80, 0xA8, 0x00, 0x00)); err != nil {
				t.Fatal(err)
			}
			if tt.cancel {
				cancel()
			}
			select {
			case err := <-done:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Serve() = %v, want %v", err, tt.wantErr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return")
			}
			// The driver sees the card gone: EOF, no answer.
			if !tt.hangUp {
				if n, err := driver.Read(make([]byte, 8)); err == nil {
					t.Fatalf("driver read %d bytes after removal, want EOF", n)
				}
			}
		})
	}
}

// TestPresentTCP runs the protocol over a real TCP connection, where
// TCP_QUICKACK applies, and presents the card twice.
func TestPresentTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for i := range 2 {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- Present(ctx, ln.Addr().String(), &testCard{}) }()
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(append(frame(ctrlGetATR), frame(selectPPSE...)...)); err != nil {
			t.Fatal(err)
		}
		want := append(frame(testATR...), frame(0x90, 0x00)...)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(conn, got); err != nil {
			t.Fatalf("presentation %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("presentation %d: got % X, want % X", i, got, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("presentation %d: Present() = %v", i, err)
		}
		conn.Close()
	}
}

func FuzzSession(f *testing.F) {
	f.Add(frame(ctrlGetATR))
	f.Add(append(frame(ctrlPowerOn), frame(selectPPSE...)...))
	f.Add([]byte{0xFF, 0xFF, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		card := NewCard(testATR, func(apdu []byte) ([]byte, error) {
			switch apdu[len(apdu)-1] {
			case 0xEE:
				return nil, ErrSilent
			case 0xDD:
				return nil, ErrPulled
			}
			return apdu, nil
		})
		s := &session{r: bytes.NewReader(in), w: io.Discard, card: card}
		if err := s.run(); err == nil {
			t.Fatal("run() = nil at end of input")
		}
	})
}
