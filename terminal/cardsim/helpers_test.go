package cardsim

import (
	"path/filepath"
	"testing"
)

// loadCard returns the card of the named profile in testdata/cards, with a
// fixed source of card randomness.
func loadCard(t testing.TB, name string) *Card {
	t.Helper()
	p, err := LoadProfile(filepath.Join(cardsDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCard(p, &counterRand{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// counterRand is a deterministic io.Reader: 00 01 02 ... FF 00 ...
type counterRand struct{ n byte }

func (r *counterRand) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = r.n
		r.n++
	}
	return len(b), nil
}
