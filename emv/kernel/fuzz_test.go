package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"tappos/emv/trace"
)

// answers replays a fuzzed list of card responses, each prefixed by its
// 16-bit length; past the end the card is gone.
type answers struct{ b []byte }

func (a *answers) Transmit(context.Context, []byte) ([]byte, error) {
	if len(a.b) < 2 {
		return nil, errRemoved
	}
	n := int(binary.BigEndian.Uint16(a.b))
	a.b = a.b[2:]
	n = min(n, len(a.b))
	r := a.b[:n]
	a.b = a.b[n:]
	return r, nil
}

func encodeAnswers(tr *trace.Trace) []byte {
	var b []byte
	for _, e := range tr.Exchanges {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Response)))
		b = append(b, e.Response...)
	}
	return b
}

// FuzzKernel runs the kernel against cards answering anything: every run
// must end in an outcome, without panic, within the command budget.
func FuzzKernel(f *testing.F) {
	for _, name := range []string{"mock-visa-online", "mock-visa-offline", "mock-msc-online", "mock-msc-ms-mode"} {
		f.Add(encodeAnswers(loadTrace(f, name)))
	}
	k := testKernel(f, "us-shop")
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := k.Run(context.Background(), &answers{b: b}, Transaction{Amount: 1000})
		if out == nil {
			t.Fatal("nil outcome")
		}
		switch out.Status {
		case Approved, OnlineRequest, Declined, TryAgain, TryAnotherInterface, EndApplication:
		default:
			t.Fatalf("status %v", out.Status)
		}
		if out.Status == TryAgain && !errors.Is(err, ErrCommunication) && out.Reason != "see phone" {
			t.Errorf("Try Again without a communication error: %v", err)
		}
		_ = out.String()
	})
}

// FuzzReplay replays fuzzed trace files as posctl emv replay does: a
// damaged recording must give an error or an outcome, never a panic.
func FuzzReplay(f *testing.F) {
	for _, name := range []string{"mock-visa-online", "mock-visa-offline", "mock-msc-online", "mock-msc-offline", "mock-msc-ms-mode"} {
		b, err := os.ReadFile(tracePath(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	keys := testKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := trace.Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		k, tx, err := Replay(tr, keys)
		if err != nil {
			return
		}
		if out, _ := k.Run(context.Background(), trace.NewCard(tr), tx); out == nil {
			t.Fatal("nil outcome")
		}
	})
}
