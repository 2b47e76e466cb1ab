package cryptogram

import (
	"crypto/cipher"
	"crypto/des"
)

// Padding is an ISO/IEC 9797-1 padding method.
type Padding int

const (
	// PaddingMethod1 appends zero bytes up to a multiple of 8 bytes, adding
	// nothing to data that is already aligned (one zero block for empty
	// data). Visa CVN 10 cryptograms use it.
	PaddingMethod1 Padding = 1
	// PaddingMethod2 appends 0x80 then zero bytes up to a multiple of 8
	// bytes; it always adds at least one byte. EMV Book 2 A1.2 uses it.
	PaddingMethod2 Padding = 2
)

const blockSize = des.BlockSize

// Pad returns a copy of data padded with method m to a multiple of 8 bytes.
// An unknown method is treated as method 2, the EMV default.
func Pad(data []byte, m Padding) []byte {
	n := len(data)
	out := make([]byte, n, n+blockSize)
	copy(out, data)
	switch {
	case m != PaddingMethod1:
		out = append(out, 0x80)
	case n == 0:
		// ISO/IEC 9797-1 pads empty data to one block.
		out = append(out, 0)
	}
	for len(out)%blockSize != 0 {
		out = append(out, 0)
	}
	return out
}

// RetailMAC computes the 8-byte ISO/IEC 9797-1 MAC algorithm 3 (the "retail
// MAC") of data padded with method m, under the 16-byte key KL||KR: single
// DES CBC with KL, then the last block decrypted with KR and encrypted with
// KL.
func RetailMAC(key, data []byte, m Padding) ([]byte, error) {
	if err := checkLen("MAC key", key, 16, 16); err != nil {
		return nil, err
	}
	return newKey2(key).mac(data, m), nil
}

// A key2 is a double-length DES key KL || KR with the key schedules of
// its halves, made once: two-key triple DES (encrypt KL, decrypt KR,
// encrypt KL) and the retail MAC both use them. Making a schedule costs
// more than encrypting a block with it.
type key2 struct {
	raw  [16]byte
	l, r cipher.Block
}

// newKey2 makes the schedules of a 16-byte key.
func newKey2(key []byte) *key2 {
	k := &key2{raw: [16]byte(key)}
	k.l, _ = des.NewCipher(key[:8]) // cannot fail: 8 bytes
	k.r, _ = des.NewCipher(key[8:16])
	return k
}

// is reports whether k is the schedule of key.
func (k *key2) is(key []byte) bool { return k != nil && len(key) == 16 && k.raw == [16]byte(key) }

// encrypt encrypts one block with two-key triple DES.
func (k *key2) encrypt(dst, src []byte) {
	k.l.Encrypt(dst, src)
	k.r.Decrypt(dst, dst)
	k.l.Encrypt(dst, dst)
}

// ecb encrypts src, a multiple of 8 bytes, with triple DES in ECB mode.
func (k *key2) ecb(src []byte) []byte {
	dst := make([]byte, len(src))
	for i := 0; i+blockSize <= len(src); i += blockSize {
		k.encrypt(dst[i:i+blockSize], src[i:i+blockSize])
	}
	return dst
}

// mac computes the retail MAC of data padded with method m.
func (k *key2) mac(data []byte, m Padding) []byte {
	padded := Pad(data, m)
	h := make([]byte, blockSize)
	for i := 0; i < len(padded); i += blockSize {
		for j := range blockSize {
			h[j] ^= padded[i+j]
		}
		k.l.Encrypt(h, h)
	}
	k.r.Decrypt(h, h)
	k.l.Encrypt(h, h)
	return h
}

// encryptECB encrypts src, a multiple of 8 bytes, with the 16-byte key in
// ECB mode.
func encryptECB(key, src []byte) []byte { return newKey2(key).ecb(src) }

// KCV returns the 3-byte key check value of a 16-byte double-length DES
// key: the first 3 bytes of its triple DES encryption of 8 zero bytes.
func KCV(key []byte) ([]byte, error) {
	if err := checkLen("key", key, 16, 16); err != nil {
		return nil, err
	}
	out := encryptECB(key, make([]byte, blockSize))
	return out[:3], nil
}

// setOddParity sets the low bit of each byte of k so the byte has odd
// parity, as DES keys conventionally do.
func setOddParity(k []byte) {
	for i, b := range k {
		b &^= 1
		p := b ^ b>>4
		p ^= p >> 2
		p ^= p >> 1
		if p&1 == 0 {
			b |= 1
		}
		k[i] = b
	}
}
