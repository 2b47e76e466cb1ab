package oda

import (
	"bytes"
	"crypto/sha1"
	"time"
)

// Fixed sizes of the recovered data (EMV Book 2 Tables 6, 14, 17, 21).
const (
	hashLen        = sha1.Size
	issuerCertHead = 15 // header .. exponent length
	iccCertHead    = 21
	hashAlgSHA1    = 0x01
	pkAlgRSA       = 0x01
)

// open recovers signed data and checks its frame: length, trailer BC,
// header 6A and format. step is the object's name, e.g. "issuer certificate".
func open(k *PublicKey, sig []byte, format byte, minLen int, step string) ([]byte, error) {
	if len(sig) == 0 {
		return nil, fail(step, ErrMissing)
	}
	if len(k.Modulus) < minLen {
		return nil, fail(step+" length", ErrBadKey)
	}
	rec, err := k.recover(sig)
	if err != nil {
		return nil, fail(step+" length", err)
	}
	if rec[len(rec)-1] != 0xBC {
		return nil, fail(step+" trailer", ErrTrailer)
	}
	if rec[0] != 0x6A {
		return nil, fail(step+" header", ErrHeader)
	}
	if rec[1] != format {
		return nil, fail(step+" format", ErrFormat)
	}
	return rec, nil
}

// checkHash compares the hash in the recovered data with SHA-1 over its
// signed part (format .. before the hash) followed by extra.
func checkHash(rec []byte, step string, extra ...[]byte) error {
	h := sha1.New()
	h.Write(rec[1 : len(rec)-1-hashLen])
	for _, b := range extra {
		h.Write(b)
	}
	var sum [hashLen]byte
	if !bytes.Equal(h.Sum(sum[:0]), rec[len(rec)-1-hashLen:len(rec)-1]) {
		return fail(step+" hash", ErrHashMismatch)
	}
	return nil
}

// certKind is what tells an issuer certificate (EMV Book 2 Table 6) from
// an ICC certificate (Table 14): format, where the fields after the
// certified identity sit, and how the identity is checked.
type certKind struct {
	name     string // "issuer" or "ICC"
	format   byte
	head     int // header .. exponent length; the last four are hash and key algorithms and lengths
	expiryAt int // offset of the MMYY expiration date
	// identity checks the certified issuer identifier or PAN against the
	// PAN read from the card, returning the failure's step and error.
	identity func(rec, pan []byte) error
}

var (
	issuerCert = certKind{"issuer", 0x02, issuerCertHead, 6, func(rec, pan []byte) error {
		if !issuerIDMatches(rec[2:6], pan) {
			return fail("issuer identifier", ErrIssuerIdentifier)
		}
		return nil
	}}
	iccCert = certKind{"ICC", 0x04, iccCertHead, 12, func(rec, pan []byte) error {
		if panDigits(rec[2:12]) != panDigits(pan) {
			return fail("ICC certificate PAN", ErrPANMismatch)
		}
		return nil
	}}
)

// RecoverIssuerKey recovers the issuer public key from its certificate 90,
// remainder 92 and exponent 9F32, signed by ca, with every check of EMV
// Book 2 §5.3 and §6.3. pan is the value of 5A; date the transaction date.
func RecoverIssuerKey(ca *PublicKey, cert, remainder, exponent, pan []byte, date time.Time) (*PublicKey, error) {
	return recoverKey(issuerCert, ca, cert, remainder, exponent, pan, nil, date)
}

// RecoverICCKey recovers the ICC public key from its certificate 9F46,
// remainder 9F48 and exponent 9F47, signed by the issuer key, with every
// check of EMV Book 2 §6.4. staticData is the static data to be
// authenticated (see StaticData); pan the value of 5A.
func RecoverICCKey(issuer *PublicKey, cert, remainder, exponent, pan, staticData []byte, date time.Time) (*PublicKey, error) {
	return recoverKey(iccCert, issuer, cert, remainder, exponent, pan, staticData, date)
}

// recoverKey runs the checks of a public key certificate in Book 2's
// order; signed is hashed after the remainder and exponent.
func recoverKey(kind certKind, signer *PublicKey, cert, remainder, exponent, pan, signed []byte, date time.Time) (*PublicKey, error) {
	step := kind.name + " certificate"
	rec, err := open(signer, cert, kind.format, kind.head+hashLen+1, step)
	if err != nil {
		return nil, err
	}
	hashAlg, pkAlg := rec[kind.head-4], rec[kind.head-3]
	keyLen, expLen := int(rec[kind.head-2]), int(rec[kind.head-1])
	if hashAlg != hashAlgSHA1 {
		return nil, fail(step+" hash algorithm", ErrHashAlgorithm)
	}
	field := rec[kind.head : len(rec)-1-hashLen]
	modulus, err := joinModulus(field, remainder, keyLen, kind.name+" public key remainder")
	if err != nil {
		return nil, err
	}
	if len(exponent) == 0 {
		return nil, fail(kind.name+" public key exponent", ErrMissing)
	}
	if expLen != len(exponent) {
		return nil, fail(kind.name+" public key exponent", ErrExponent)
	}
	if err := checkHash(rec, step, remainder, exponent, signed); err != nil {
		return nil, err
	}
	if len(pan) == 0 {
		return nil, fail("application PAN", ErrMissing)
	}
	if err := kind.identity(rec, pan); err != nil {
		return nil, err
	}
	if err := checkExpiry(rec[kind.expiryAt:kind.expiryAt+2], date); err != nil {
		return nil, fail(step+" expiry", err)
	}
	if pkAlg != pkAlgRSA {
		return nil, fail(step+" public key algorithm", ErrPKAlgorithm)
	}
	k, err := NewPublicKey(modulus, exponent)
	if err != nil {
		return nil, fail(kind.name+" public key", err)
	}
	return k, nil
}

// joinModulus returns the keyLen-byte modulus held in a certificate's key
// field, completed by the remainder when the field is too short for it.
func joinModulus(field, remainder []byte, keyLen int, step string) ([]byte, error) {
	if keyLen <= len(field) {
		return field[:keyLen], nil
	}
	if len(remainder) != keyLen-len(field) {
		return nil, fail(step, ErrRemainder)
	}
	m := make([]byte, 0, keyLen)
	return append(append(m, field...), remainder...), nil
}

// panDigits returns the digits of a compressed numeric PAN, up to the
// first F pad nibble. Only used for comparison; never printed.
func panDigits(b []byte) string {
	d := make([]byte, 0, 2*len(b))
	for _, c := range b {
		for _, n := range [2]byte{c >> 4, c & 0x0F} {
			if n == 0x0F {
				return string(d)
			}
			d = append(d, '0'+n)
		}
	}
	return string(d)
}

// issuerIDMatches checks the issuer identifier (3 to 8 leftmost PAN
// digits, padded with F) against the PAN.
func issuerIDMatches(id, pan []byte) bool {
	want := panDigits(id)
	if len(want) < 3 {
		return false
	}
	for i := len(want) + 1; i < 2*len(id); i++ { // the rest must be F padding
		if nibble(id, i) != 0x0F {
			return false
		}
	}
	got := panDigits(pan)
	return len(got) >= len(want) && got[:len(want)] == want
}

func nibble(b []byte, i int) byte {
	if i%2 == 0 {
		return b[i/2] >> 4
	}
	return b[i/2] & 0x0F
}

// checkExpiry checks a certificate expiration date, MMYY in BCD, against
// the transaction date: the certificate is valid through the last day of
// its month.
func checkExpiry(mmyy []byte, date time.Time) error {
	month, ok1 := bcd(mmyy[0])
	yy, ok2 := bcd(mmyy[1])
	if !ok1 || !ok2 || month < 1 || month > 12 {
		return ErrBadDate
	}
	year := 2000 + yy
	if yy >= 50 { // EMV Book 4: YY 50-99 are 1950-1999
		year = 1900 + yy
	}
	if year*12+month < date.Year()*12+int(date.Month()) {
		return ErrExpired
	}
	return nil
}

func bcd(b byte) (int, bool) {
	hi, lo := b>>4, b&0x0F
	if hi > 9 || lo > 9 {
		return 0, false
	}
	return int(hi)*10 + int(lo), true
}
