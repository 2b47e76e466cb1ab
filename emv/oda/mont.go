package oda

import (
	"math/big"
	"math/bits"
)

// expMod returns x^e mod m for 0 ≤ x < m and odd m. A 512-bit ICC key, the
// size the simulated cards sign with on every offline tap, has 256-bit CRT
// halves: for those it uses four-limb Montgomery arithmetic in registers,
// over twice as fast as math/big, whose general loops cost more than the
// arithmetic at that size. It is not constant-time: only simulated cards
// sign, with published test keys.
func expMod(x, e, m *big.Int) *big.Int {
	if bits.UintSize != 64 || len(m.Bits()) != 4 || m.Bit(0) == 0 {
		return new(big.Int).Exp(x, e, m)
	}
	return newMont4(m).exp(x, e)
}

// limbs4 is a 256-bit number, least significant limb first.
type limbs4 [4]uint64

func toLimbs4(x *big.Int) (r limbs4) {
	for i, w := range x.Bits() {
		r[i] = uint64(w)
	}
	return r
}

// mont4 is Montgomery arithmetic (R = 2^256) modulo an odd 256-bit m.
type mont4 struct {
	m    limbs4
	minv uint64 // −m⁻¹ mod 2^64
	r2   limbs4 // R² mod m, to enter the Montgomery domain
}

func newMont4(m *big.Int) *mont4 {
	c := &mont4{m: toLimbs4(m)}
	// Newton's iteration doubles the correct low bits of m⁻¹ each step;
	// m·m ≡ 1 mod 8 gives three to start from.
	inv := c.m[0]
	for range 5 {
		inv *= 2 - c.m[0]*inv
	}
	c.minv = -inv
	r2 := new(big.Int).Lsh(big.NewInt(1), 512)
	c.r2 = toLimbs4(r2.Mod(r2, m))
	return c
}

// madd returns t + a·b + c as hi, lo; it cannot overflow 128 bits.
func madd(t, a, b, c uint64) (hi, lo uint64) {
	hi, lo = bits.Mul64(a, b)
	var carry uint64
	lo, carry = bits.Add64(lo, t, 0)
	hi += carry
	lo, carry = bits.Add64(lo, c, 0)
	return hi + carry, lo
}

// mul returns a·b·R⁻¹ mod m for a, b < m (CIOS: each limb of a is
// multiplied in and one limb reduced away in the same pass).
func (c *mont4) mul(a, b *limbs4) limbs4 {
	var t [5]uint64
	for i := range 4 {
		// t += a[i]·b
		var k, carry uint64
		k, t[0] = madd(t[0], a[i], b[0], 0)
		k, t[1] = madd(t[1], a[i], b[1], k)
		k, t[2] = madd(t[2], a[i], b[2], k)
		k, t[3] = madd(t[3], a[i], b[3], k)
		var t5 uint64
		t[4], t5 = bits.Add64(t[4], k, 0)
		// t = (t + q·m) / 2^64, with q making the low limb zero
		q := t[0] * c.minv
		k, _ = madd(t[0], q, c.m[0], 0)
		k, t[0] = madd(t[1], q, c.m[1], k)
		k, t[1] = madd(t[2], q, c.m[2], k)
		k, t[2] = madd(t[3], q, c.m[3], k)
		t[3], carry = bits.Add64(t[4], k, 0)
		t[4] = t5 + carry
	}
	// t < 2m: subtract m once if that does not go below zero.
	var r limbs4
	var borrow uint64
	r[0], borrow = bits.Sub64(t[0], c.m[0], 0)
	r[1], borrow = bits.Sub64(t[1], c.m[1], borrow)
	r[2], borrow = bits.Sub64(t[2], c.m[2], borrow)
	r[3], borrow = bits.Sub64(t[3], c.m[3], borrow)
	if _, borrow = bits.Sub64(t[4], 0, borrow); borrow != 0 {
		return limbs4(t[:4])
	}
	return r
}

// exp returns x^e mod m for 0 ≤ x < m, four exponent bits at a time.
func (c *mont4) exp(x, e *big.Int) *big.Int {
	xr := toLimbs4(x)
	var tab [16]limbs4 // x^i·R mod m
	one := limbs4{1}
	tab[0] = c.mul(&one, &c.r2)
	tab[1] = c.mul(&xr, &c.r2)
	for i := 2; i < len(tab); i++ {
		tab[i] = c.mul(&tab[i-1], &tab[1])
	}
	acc := tab[0]
	started := false
	ew := e.Bits()
	for i := len(ew) - 1; i >= 0; i-- {
		w := uint64(ew[i])
		for j := 60; j >= 0; j -= 4 {
			d := (w >> uint(j)) & 15
			if !started {
				// Squaring R (one) changes nothing: begin at the first
				// nonzero window.
				if d == 0 {
					continue
				}
				acc, started = tab[d], true
				continue
			}
			acc = c.mul(&acc, &acc)
			acc = c.mul(&acc, &acc)
			acc = c.mul(&acc, &acc)
			acc = c.mul(&acc, &acc)
			if d != 0 {
				acc = c.mul(&acc, &tab[d])
			}
		}
	}
	acc = c.mul(&acc, &one) // leave the Montgomery domain
	ws := make([]big.Word, 4)
	for i := range ws {
		ws[i] = big.Word(acc[i])
	}
	return new(big.Int).SetBits(ws)
}
