package oda

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestExpMod holds the four-limb Montgomery path to math/big, with edge
// values: zero, one, m−1, and exponents zero and one.
func TestExpMod(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randBelow := func(m *big.Int) *big.Int {
		b := make([]byte, 40)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return new(big.Int).Mod(new(big.Int).SetBytes(b), m)
	}
	for i := range 300 {
		// An odd 256-bit modulus; primality does not matter to the arithmetic.
		m := randBelow(new(big.Int).Lsh(big.NewInt(1), 256))
		m.SetBit(m, 255, 1).SetBit(m, 0, 1)
		xs := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(m, big.NewInt(1)), randBelow(m)}
		es := []*big.Int{big.NewInt(0), big.NewInt(1), randBelow(m), new(big.Int).Sub(m, big.NewInt(2))}
		for _, x := range xs {
			for _, e := range es {
				got, want := expMod(x, e, m), new(big.Int).Exp(x, e, m)
				if got.Cmp(want) != 0 {
					t.Fatalf("case %d: %x^%x mod %x = %x, want %x", i, x, e, m, got, want)
				}
			}
		}
	}
}
