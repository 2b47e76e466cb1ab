package oda

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// ErrSign reports signing input that cannot form a valid EMV signature.
var ErrSign = errors.New("oda: cannot sign")

// GenerateKey returns a new RSA key with public exponent 3 and a modulus of
// exactly bits bits, a multiple of 8, as EMV CAs, issuers and cards use.
func GenerateKey(random io.Reader, bits int) (*rsa.PrivateKey, error) {
	if bits%16 != 0 || bits < 512 || bits > 8*maxModulusLen {
		return nil, fmt.Errorf("%w: key size %d bits", ErrSign, bits)
	}
	one, three := big.NewInt(1), big.NewInt(3)
	prime := func() (*big.Int, error) {
		for {
			// rand.Prime sets the top two bits, so p·q has exactly bits bits.
			p, err := rand.Prime(random, bits/2)
			if err != nil {
				return nil, err
			}
			// gcd(3, p-1) = 1 so that 3 is invertible.
			if new(big.Int).Mod(p, three).Int64() == 2 {
				return p, nil
			}
		}
	}
	for {
		p, err := prime()
		if err != nil {
			return nil, err
		}
		q, err := prime()
		if err != nil {
			return nil, err
		}
		if p.Cmp(q) == 0 {
			continue
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		k := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 3},
			D:         new(big.Int).ModInverse(three, phi),
			Primes:    []*big.Int{p, q},
		}
		k.Precompute()
		if err := k.Validate(); err != nil {
			return nil, err
		}
		return k, nil
	}
}

// Certificate is a signed public key certificate with the data objects
// that travel with it: 90, 92, 9F32 for an issuer key, 9F46, 9F48, 9F47
// for an ICC key. Remainder is nil when the key fits in the certificate.
type Certificate struct {
	Cert, Remainder, Exponent []byte
}

// SignIssuerCert certifies the issuer key with the CA key (EMV Book 2
// Table 6). issuerID is the 4-byte issuer identifier (leftmost PAN digits,
// padded with F), expiry MMYY and serial 3 bytes, all as on the card.
func SignIssuerCert(ca *rsa.PrivateKey, issuer *rsa.PublicKey, issuerID, expiry, serial []byte) (*Certificate, error) {
	if len(issuerID) != 4 || len(expiry) != 2 || len(serial) != 3 {
		return nil, fmt.Errorf("%w: issuer identifier, expiry or serial of wrong size", ErrSign)
	}
	head := append([]byte{0x6A, 0x02}, issuerID...)
	head = append(append(head, expiry...), serial...)
	return signCert(ca, issuer, head, nil)
}

// SignICCCert certifies the ICC key with the issuer key over the static
// data to be authenticated (EMV Book 2 Table 14). pan is the value of 5A.
func SignICCCert(issuer *rsa.PrivateKey, icc *rsa.PublicKey, pan, expiry, serial, staticData []byte) (*Certificate, error) {
	if len(pan) == 0 || len(pan) > 10 || len(expiry) != 2 || len(serial) != 3 {
		return nil, fmt.Errorf("%w: PAN, expiry or serial of wrong size", ErrSign)
	}
	head := append([]byte{0x6A, 0x04}, pan...)
	for len(head) < 12 {
		head = append(head, 0xFF)
	}
	head = append(append(head, expiry...), serial...)
	return signCert(issuer, icc, head, staticData)
}

// signCert completes a certificate after its scheme-specific head: hash
// and public key algorithm indicators, key and exponent lengths, the key
// (or its leftmost bytes, padded with BB), the hash and the trailer.
func signCert(signer *rsa.PrivateKey, pub *rsa.PublicKey, head, extra []byte) (*Certificate, error) {
	size := signer.Size()
	modulus := pub.N.Bytes()
	exp := big.NewInt(int64(pub.E)).Bytes()
	if _, err := NewPublicKey(modulus, exp); err != nil {
		return nil, fmt.Errorf("%w: certified key: %v", ErrSign, err)
	}
	if len(modulus) > size {
		return nil, fmt.Errorf("%w: certified key longer than the signing key", ErrSign)
	}
	field := size - len(head) - 4 - hashLen - 1
	if field < 1 {
		return nil, fmt.Errorf("%w: signing key too short", ErrSign)
	}
	rec := make([]byte, 0, size)
	rec = append(rec, head...)
	rec = append(rec, hashAlgSHA1, pkAlgRSA, byte(len(modulus)), byte(len(exp)))
	c := &Certificate{Exponent: exp}
	if len(modulus) > field {
		rec = append(rec, modulus[:field]...)
		c.Remainder = modulus[field:]
	} else {
		rec = append(rec, modulus...)
		for len(rec) < len(head)+4+field {
			rec = append(rec, 0xBB)
		}
	}
	var err error
	c.Cert, err = sealWithHash(signer, rec, c.Remainder, c.Exponent, extra)
	return c, err
}

// sealWithHash appends SHA-1 over rec[1:] and the extra data, and the
// trailer BC, then signs.
func sealWithHash(k *rsa.PrivateKey, rec []byte, extra ...[]byte) ([]byte, error) {
	h := sha1.New()
	h.Write(rec[1:])
	for _, b := range extra {
		h.Write(b)
	}
	rec = h.Sum(rec)
	return signRaw(k, append(rec, 0xBC))
}

// signDynamic signs ICC dynamic data with the terminal dynamic data it
// covers (EMV Book 2 Table 17).
func signDynamic(icc *rsa.PrivateKey, dynamicData, terminalData []byte) ([]byte, error) {
	size := icc.Size()
	pad := size - 4 - len(dynamicData) - hashLen - 1
	if pad < 0 || len(dynamicData) > 0xFF {
		return nil, fmt.Errorf("%w: ICC dynamic data too long for the key", ErrSign)
	}
	rec := make([]byte, 0, size)
	rec = append(rec, 0x6A, 0x05, hashAlgSHA1, byte(len(dynamicData)))
	rec = append(rec, dynamicData...)
	for range pad {
		rec = append(rec, 0xBB)
	}
	return sealWithHash(icc, rec, terminalData)
}

func dynamicNumber(n []byte) ([]byte, error) {
	if len(n) < 2 || len(n) > 8 {
		return nil, fmt.Errorf("%w: ICC dynamic number must be 2 to 8 bytes", ErrSign)
	}
	return append([]byte{byte(len(n))}, n...), nil
}

// SignFDDA returns the Visa fDDA signed dynamic application data 9F4B over
// the terminal data of in (its SDAD field is ignored), with the card's
// dynamic number.
func SignFDDA(icc *rsa.PrivateKey, dynNumber []byte, in FDDAInput) ([]byte, error) {
	dd, err := dynamicNumber(dynNumber)
	if err != nil {
		return nil, err
	}
	td, err := in.terminalData()
	if err != nil {
		return nil, err
	}
	return signDynamic(icc, dd, td)
}

// SignCDA returns the CDA signed dynamic application data 9F4B for a
// GENERATE AC answer: the dynamic number, CID and application cryptogram,
// and the transaction data hash (see TransactionDataHash), signed with the
// terminal's unpredictable number.
func SignCDA(icc *rsa.PrivateKey, dynNumber []byte, cid byte, cryptogram, un []byte, txHash [hashLen]byte) ([]byte, error) {
	dd, err := dynamicNumber(dynNumber)
	if err != nil {
		return nil, err
	}
	if len(cryptogram) != 8 || len(un) != 4 {
		return nil, fmt.Errorf("%w: cryptogram or unpredictable number of wrong size", ErrSign)
	}
	dd = append(append(append(dd, cid), cryptogram...), txHash[:]...)
	return signDynamic(icc, dd, un)
}

// signRaw applies the private key to data of exactly the modulus length,
// using the CRT values when the key has them.
func signRaw(k *rsa.PrivateKey, m []byte) ([]byte, error) {
	if len(m) != k.Size() {
		return nil, fmt.Errorf("%w: data length %d, key length %d", ErrSign, len(m), k.Size())
	}
	x := new(big.Int).SetBytes(m)
	if x.Cmp(k.N) >= 0 {
		return nil, fmt.Errorf("%w: data not smaller than the modulus", ErrSign)
	}
	pc := k.Precomputed
	if len(k.Primes) != 2 || pc.Dp == nil || pc.Dq == nil || pc.Qinv == nil {
		return expMod(x, k.D, k.N).FillBytes(make([]byte, len(m))), nil
	}
	p, q := k.Primes[0], k.Primes[1]
	m1 := expMod(new(big.Int).Mod(x, p), pc.Dp, p)
	m2 := expMod(new(big.Int).Mod(x, q), pc.Dq, q)
	m1.Sub(m1, m2).Mul(m1, pc.Qinv).Mod(m1, p) // h = qInv·(m1−m2) mod p
	m1.Mul(m1, q).Add(m1, m2)
	return m1.FillBytes(make([]byte, len(m))), nil
}
