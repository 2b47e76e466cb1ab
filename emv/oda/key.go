package oda

import (
	"bytes"
	"math/big"
	"sync"
)

// maxModulusLen is the largest RSA modulus EMV allows, 1984 bits.
const maxModulusLen = 248

// PublicKey is an EMV RSA public key: a modulus whose length in bytes is
// the length of everything it signs, and an exponent of 3 or 2^16+1.
type PublicKey struct {
	Modulus  []byte // big-endian, leading byte non-zero
	Exponent []byte // 01 00 01 or 03, as the card or CA file encodes it
	n        *big.Int
	e        *big.Int
	memo     *recoverMemo // CA keys only: see recoverMemo
}

// A recoverMemo remembers what a CA key recovered from the issuer
// certificates it signed. The cards of one issuer carry the same
// certificate, so a terminal opens it once rather than on every tap; the
// checks that depend on the card (identifier, expiry, hash with the
// remainder and exponent) still run each time.
type recoverMemo struct {
	mu sync.Mutex
	m  map[string][]byte // by signature
}

// memoMax bounds a CA key's memo: past it, the memo starts again empty.
const memoMax = 256

func (m *recoverMemo) get(sig []byte) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.m[string(sig)]
	return bytes.Clone(rec), ok
}

func (m *recoverMemo) put(sig, rec []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= memoMax {
		m.m = make(map[string][]byte)
	}
	m.m[string(sig)] = bytes.Clone(rec)
}

// NewPublicKey checks and returns the key with the given modulus and
// exponent. The slices are copied.
func NewPublicKey(modulus, exponent []byte) (*PublicKey, error) {
	e, err := parseExponent(exponent)
	if err != nil {
		return nil, err
	}
	if len(modulus) == 0 || len(modulus) > maxModulusLen || modulus[0] == 0 || modulus[len(modulus)-1]&1 == 0 {
		return nil, ErrBadKey
	}
	return &PublicKey{
		Modulus:  append([]byte(nil), modulus...),
		Exponent: append([]byte(nil), exponent...),
		n:        new(big.Int).SetBytes(modulus),
		e:        big.NewInt(int64(e)),
	}, nil
}

// parseExponent accepts the two exponents EMV Book 2 allows, 3 and
// 2^16+1, in one to three bytes.
func parseExponent(b []byte) (int, error) {
	if len(b) == 0 || len(b) > 3 {
		return 0, ErrExponent
	}
	e := 0
	for _, c := range b {
		e = e<<8 | int(c)
	}
	if e != 3 && e != 0x10001 {
		return 0, ErrExponent
	}
	return e, nil
}

// Bits returns the key length in bits, as schemes quote it (8 × the
// modulus length in bytes).
func (k *PublicKey) Bits() int { return 8 * len(k.Modulus) }

// recover applies the public key to a signature of exactly the modulus
// length and returns the recovered data, of the same length.
func (k *PublicKey) recover(sig []byte) ([]byte, error) {
	if len(sig) != len(k.Modulus) {
		return nil, ErrLength
	}
	if k.memo != nil {
		if rec, ok := k.memo.get(sig); ok {
			return rec, nil
		}
	}
	c := new(big.Int).SetBytes(sig)
	if c.Cmp(k.n) >= 0 {
		return nil, ErrOutOfRange
	}
	c.Exp(c, k.e, k.n)
	rec := c.FillBytes(make([]byte, len(sig)))
	if k.memo != nil {
		k.memo.put(sig, rec)
	}
	return rec, nil
}
