package tape2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"tappos/emv/kernel"
	"tappos/internal/pcsctest"
	"tappos/terminal"
	"tappos/terminal/cardsim"
	"tappos/terminal/pcsc"
)

// testDate is the transaction date: the profiles' certificates and cards
// are valid then.
var testDate = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newKernel returns a kernel for a shop of testdata/terminal with its CA
// keys, a fixed date and deterministic unpredictable numbers.
func newKernel(tb testing.TB, shop string) *kernel.Kernel {
	tb.Helper()
	cfg, err := kernel.LoadConfig(filepath.Join("..", "..", "testdata", "terminal", shop+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := cfg.CAKeys()
	if err != nil {
		tb.Fatal(err)
	}
	return &kernel.Kernel{Config: cfg, CAKeys: keys, Rand: &counterRand{},
		Now: func() time.Time { return testDate }}
}

// newCard returns the card application of a profile of testdata/cards.
func newCard(tb testing.TB, profile string) *cardsim.Card {
	tb.Helper()
	p, err := cardsim.LoadProfile(filepath.Join("..", "..", "testdata", "cards", profile+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := cardsim.NewCard(p, &counterRand{n: 0x80})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// openReader opens the slot's virtual reader, as demo and test mode may.
func openReader(tb testing.TB, slot pcsctest.Slot) *pcsc.Reader {
	tb.Helper()
	r, err := pcsc.Open(pcsc.Options{Name: slot.Reader, AllowVirtual: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// waitCard returns the session with the card pcsctest presented.
func waitCard(tb testing.TB, r terminal.Reader) terminal.Card {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	defer cancel()
	c, err := r.WaitCard(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// counterRand is a deterministic io.Reader: n, n+1, n+2 ...
type counterRand struct{ n byte }

func (r *counterRand) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = r.n
		r.n++
	}
	return len(b), nil
}
