package memreader

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"tappos/terminal"
	"tappos/terminal/vpcd"
)

var atr = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

var _ terminal.Reader = (*Reader)(nil)

// scriptCard answers the i-th APDU with rsp[i], or the error err[i].
type scriptCard struct {
	rsp    [][]byte
	err    []error
	n      int
	resets int
}

func (c *scriptCard) ATR() []byte { return atr }
func (c *scriptCard) Reset()      { c.resets++ }
func (c *scriptCard) Process([]byte) ([]byte, error) {
	i := c.n
	c.n++
	return c.rsp[i], c.err[i]
}

func TestTransmit(t *testing.T) {
	ok := []byte{0x90, 0x00}
	tests := []struct {
		name    string
		rsp     [][]byte
		err     []error
		cancel  bool // cancel the context of the last Transmit
		want    [][]byte
		wantErr []error // the error of the last Transmit, and of one more
	}{
		{name: "answers", rsp: [][]byte{ok, {0x6A, 0x82}}, err: []error{nil, nil}, want: [][]byte{ok, {0x6A, 0x82}}},
		{
			name: "pulled after one", rsp: [][]byte{ok, nil}, err: []error{nil, vpcd.ErrPulled},
			want: [][]byte{ok}, wantErr: []error{terminal.ErrCardRemoved, terminal.ErrCardRemoved},
		},
		{
			name: "silent", rsp: [][]byte{nil}, err: []error{vpcd.ErrSilent}, cancel: true,
			wantErr: []error{terminal.ErrTimeout, terminal.ErrTimeout},
		},
		{
			name: "simulator failure", rsp: [][]byte{nil}, err: []error{errors.New("boom")},
			wantErr: []error{terminal.ErrCardRemoved, terminal.ErrCardRemoved},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New("mem")
			card := &scriptCard{rsp: tt.rsp, err: tt.err}
			r.Present(card)
			c, err := r.WaitCard(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if !bytes.Equal(c.ATR(), atr) || card.resets != 1 {
				t.Errorf("ATR % X, resets %d; want % X, 1", c.ATR(), card.resets, atr)
			}
			for i, want := range tt.want {
				got, err := c.Transmit(t.Context(), []byte{0x00, 0xA4, 0x04, 0x00})
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("APDU %d: % X, %v; want % X", i, got, err, want)
				}
			}
			if tt.wantErr == nil {
				return
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancel {
				time.AfterFunc(10*time.Millisecond, cancel)
			}
			defer cancel()
			for _, wantErr := range tt.wantErr {
				if _, err := c.Transmit(ctx, []byte{0x80, 0xA8, 0x00, 0x00}); !errors.Is(err, wantErr) {
					t.Fatalf("Transmit() = %v, want %v", err, wantErr)
				}
			}
		})
	}
}

func TestRemoval(t *testing.T) {
	t.Run("between APDUs", func(t *testing.T) {
		r := New("mem")
		r.Present(vpcd.NewCard(atr, func([]byte) ([]byte, error) { return []byte{0x90, 0x00}, nil }))
		c, err := r.WaitCard(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r.Remove()
		if _, err := c.Transmit(t.Context(), []byte{0x00, 0xB2, 0x01, 0x0C, 0x00}); !errors.Is(err, terminal.ErrCardRemoved) {
			t.Fatalf("Transmit() = %v, want ErrCardRemoved", err)
		}
	})
	t.Run("while silent", func(t *testing.T) {
		r := New("mem")
		r.Present(vpcd.NewCard(atr, func([]byte) ([]byte, error) { return nil, vpcd.ErrSilent }))
		c, err := r.WaitCard(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(10*time.Millisecond, r.Remove)
		if _, err := c.Transmit(t.Context(), []byte{0x80, 0xAE, 0x80, 0x00}); !errors.Is(err, terminal.ErrCardRemoved) {
			t.Fatalf("Transmit() = %v, want ErrCardRemoved", err)
		}
	})
	t.Run("re-presented card is a new session", func(t *testing.T) {
		r := New("mem")
		card := vpcd.NewCard(atr, func([]byte) ([]byte, error) { return []byte{0x90, 0x00}, nil })
		r.Present(card)
		old, err := r.WaitCard(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r.Remove()
		r.Present(card)
		if _, err := old.Transmit(t.Context(), []byte{0x00, 0xA4, 0x04, 0x00}); !errors.Is(err, terminal.ErrCardRemoved) {
			t.Fatalf("old session: Transmit() = %v, want ErrCardRemoved", err)
		}
		c, err := r.WaitCard(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Transmit(t.Context(), []byte{0x00, 0xA4, 0x04, 0x00}); err != nil {
			t.Fatalf("new session: %v", err)
		}
	})
}

func TestWaitCard(t *testing.T) {
	t.Run("card arrives", func(t *testing.T) {
		r := New("mem")
		time.AfterFunc(10*time.Millisecond, func() {
			r.Present(vpcd.NewCard(atr, func([]byte) ([]byte, error) { return nil, nil }))
		})
		if _, err := r.WaitCard(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("card left in the field", func(t *testing.T) {
		r := New("mem")
		r.Present(vpcd.NewCard(atr, func([]byte) ([]byte, error) { return nil, nil }))
		c, err := r.WaitCard(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := r.WaitCard(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("second WaitCard() = %v, want DeadlineExceeded: the card was not presented again", err)
		}
		time.AfterFunc(10*time.Millisecond, func() {
			r.Remove()
			r.Present(vpcd.NewCard(atr, func([]byte) ([]byte, error) { return nil, nil }))
		})
		if _, err := r.WaitCard(t.Context()); err != nil {
			t.Fatalf("WaitCard() after presenting again = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(10*time.Millisecond, cancel)
		if _, err := New("mem").WaitCard(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitCard() = %v, want context.Canceled", err)
		}
	})
	t.Run("reader closed", func(t *testing.T) {
		r := New("mem")
		time.AfterFunc(10*time.Millisecond, func() { r.Close() })
		if _, err := r.WaitCard(t.Context()); !errors.Is(err, terminal.ErrReaderGone) {
			t.Fatalf("WaitCard() = %v, want ErrReaderGone", err)
		}
	})
}
