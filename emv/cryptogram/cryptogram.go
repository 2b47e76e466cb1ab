// Package cryptogram implements the EMV application cryptogram (ARQC, TC,
// AAC) and issuer authentication (ARPC) computations, the key derivations
// behind them and the ISO/IEC 9797-1 retail MAC they use.
//
// The same functions serve both ends: a card simulator derives its keys with
// DeriveSession and produces cryptograms with GenerateAC; an issuer host
// derives them from the issuer master key with Derive, checks them with
// VerifyAC and answers with ARPC1 or ARPC2. InputData builds the cryptogram
// input from EMV data objects so both ends agree on it.
//
// Only double-length (16-byte) DES keys are supported, as the four schemes
// define. Errors never contain card data.
package cryptogram

import (
	"crypto/subtle"
	"fmt"
	"slices"
)

// Scheme is a cryptogram version: it fixes the master key derivation, the
// session key, the padding of the cryptogram input and the ARPC key and
// methods.
type Scheme string

// The supported schemes.
const (
	// VisaCVN10: ICC master key option A, no session key, padding method 1,
	// ARPC method 1 with the ICC master key.
	VisaCVN10 Scheme = "visa-cvn10"
	// VisaCVN18: ICC master key option A (option B for PANs over 16
	// digits), common session key from the ATC, padding method 2, ARPC
	// method 2 with the session key.
	VisaCVN18 Scheme = "visa-cvn18"
	// MastercardCVN16 (M/Chip 4): ICC master key option A, Mastercard SKD
	// session key from ATC and UN, padding method 2, ARPC method 1 with the
	// ICC master key.
	MastercardCVN16 Scheme = "mc-cvn16"
	// EMVCSK: ICC master key option A, common session key from an explicit
	// diversification value R, padding method 2, ARPC method 1 or 2 with the
	// session key.
	EMVCSK Scheme = "emv-csk"
)

// Schemes lists the supported schemes.
func Schemes() []Scheme {
	return []Scheme{VisaCVN10, VisaCVN18, MastercardCVN16, EMVCSK}
}

// ParseScheme returns the scheme named name.
func ParseScheme(name string) (Scheme, error) {
	s := Scheme(name)
	if !s.valid() {
		return "", fmt.Errorf("%w %q", ErrUnknownScheme, name)
	}
	return s, nil
}

func (s Scheme) valid() bool { return slices.Contains(Schemes(), s) }

// padding returns the padding method of the cryptogram input.
func (s Scheme) padding() Padding {
	if s == VisaCVN10 {
		return PaddingMethod1
	}
	return PaddingMethod2
}

// acKey returns the key the scheme computes cryptograms with.
func (s Scheme) acKey(k Keys) (*key2, error) {
	if s == VisaCVN10 {
		return k.master()
	}
	return k.session()
}

func (k Keys) master() (*key2, error) {
	if err := checkLen("ICC master key", k.ICCMasterKey, 16, 16); err != nil {
		return nil, err
	}
	return cipherOf(k.ICCMasterKey, k.mk), nil
}

func (k Keys) session() (*key2, error) {
	if err := checkLen("session key", k.SessionKey, 16, 16); err != nil {
		return nil, err
	}
	return cipherOf(k.SessionKey, k.sk), nil
}

// arpcKey returns the key for ARPC method (1 or 2), or ErrUnsupportedMethod.
func (s Scheme) arpcKey(k Keys, method int) (*key2, error) {
	switch {
	case s == VisaCVN10 && method == 1, s == MastercardCVN16 && method == 1:
		return k.master()
	case s == VisaCVN18 && method == 2, s == EMVCSK:
		return k.session()
	case !s.valid():
		return nil, ErrUnknownScheme
	}
	return nil, fmt.Errorf("%s, method %d: %w", s, method, ErrUnsupportedMethod)
}

// GenerateAC returns the 8-byte application cryptogram (ARQC, TC or AAC)
// over data, the transaction data before padding (see InputData). The
// scheme picks the key from k and the padding.
func GenerateAC(s Scheme, k Keys, data []byte) ([]byte, error) {
	if !s.valid() {
		return nil, ErrUnknownScheme
	}
	key, err := s.acKey(k)
	if err != nil {
		return nil, err
	}
	return key.mac(data, s.padding()), nil
}

// VerifyAC checks the application cryptogram ac over data in constant time
// and returns ErrCryptogramMismatch if it is wrong.
func VerifyAC(s Scheme, k Keys, data, ac []byte) error {
	want, err := GenerateAC(s, k, data)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want, ac) != 1 {
		return ErrCryptogramMismatch
	}
	return nil
}

// ARPC1 returns the 8-byte ARPC of EMV Book 2 8.2.1 (method 1):
// 3DES(key)[ARQC xor (ARC || 00..00)], for the 8-byte ARQC and the 2-byte
// authorisation response code arc.
func ARPC1(s Scheme, k Keys, arqc, arc []byte) ([]byte, error) {
	key, err := s.arpcKey(k, 1)
	if err != nil {
		return nil, err
	}
	if err := checkLen("ARQC", arqc, 8, 8); err != nil {
		return nil, err
	}
	if err := checkLen("ARC", arc, 2, 2); err != nil {
		return nil, err
	}
	in := make([]byte, blockSize)
	copy(in, arc)
	subtle.XORBytes(in, in, arqc)
	return key.ecb(in), nil
}

// ARPC2 returns the 4-byte ARPC of EMV Book 2 8.2.2 (method 2): the retail
// MAC, padding method 2, of ARQC (8 bytes) || CSU (4 bytes) || proprietary
// authentication data (0 to 8 bytes), truncated to 4 bytes.
func ARPC2(s Scheme, k Keys, arqc, csu, propAuth []byte) ([]byte, error) {
	key, err := s.arpcKey(k, 2)
	if err != nil {
		return nil, err
	}
	if err := checkLen("ARQC", arqc, 8, 8); err != nil {
		return nil, err
	}
	if err := checkLen("CSU", csu, 4, 4); err != nil {
		return nil, err
	}
	if err := checkLen("proprietary authentication data", propAuth, 0, 8); err != nil {
		return nil, err
	}
	in := slices.Concat(arqc, csu, propAuth)
	return key.mac(in, PaddingMethod2)[:4], nil
}
