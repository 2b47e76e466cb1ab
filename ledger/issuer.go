package ledger

import (
	"errors"
	"fmt"
	"strings"

	"tappos/emv/cryptogram"
)

// An IssuerKey is the issuer master key for the cards whose PAN starts
// with Prefix, and the cryptogram scheme they use.
type IssuerKey struct {
	Prefix string // "541333"
	Scheme string // visa-cvn10, visa-cvn18, mc-cvn16, emv-csk
	IMK    []byte // 16 bytes

	mk *cryptogram.IssuerMasterKey // IMK made ready by New
}

// ready checks the key and makes its IMK ready for derivations.
func (k *IssuerKey) ready() error {
	if _, err := cryptogram.ParseScheme(k.Scheme); err != nil {
		return err
	}
	mk, err := cryptogram.NewIssuerMasterKey(k.IMK)
	if err != nil {
		return err
	}
	k.mk = mk
	return nil
}

// ErrBadCryptogram is returned by a [Cryptograms] whose check fails.
var ErrBadCryptogram = errors.New("application cryptogram does not verify")

// Cryptograms checks application cryptograms and makes response
// cryptograms. [EMVCryptograms] is the real one.
type Cryptograms interface {
	// VerifyAC checks the application cryptogram (9F26) of a card under
	// its issuer master key, reading the cryptogram input with get. It
	// returns ErrBadCryptogram (possibly wrapped) if it does not match,
	// and otherwise a function making the response cryptogram for an
	// authorization response code.
	VerifyAC(scheme string, imk *cryptogram.IssuerMasterKey, pan string, psn byte, get func(tag uint32) []byte) (arpc func(arc [2]byte) ([]byte, error), err error)
}

// EMVCryptograms implements [Cryptograms] with tappos/emv/cryptogram.
//
// The session key of emv-csk is EMV's common session key, diversified
// with R = ATC || 00 00 00 00 00 00 (cryptogram.ATCDiversifier). ARPCs
// are method 1 over the ARC, except for visa-cvn18, which only defines
// method 2: there the ARC picks the card status update (approved:
// 00 80 00 00, otherwise 00 00 00 00).
type EMVCryptograms struct{}

// VerifyAC implements [Cryptograms].
func (EMVCryptograms) VerifyAC(scheme string, imk *cryptogram.IssuerMasterKey, pan string, psn byte, get func(tag uint32) []byte) (func([2]byte) ([]byte, error), error) {
	s, err := cryptogram.ParseScheme(scheme)
	if err != nil {
		return nil, err
	}
	atc, un := get(tagATC), get(0x9F37)
	var r []byte
	if s == cryptogram.EMVCSK {
		if len(atc) != 2 {
			return nil, fmt.Errorf("%w: ATC missing for emv-csk", ErrBadEMVData)
		}
		r = cryptogram.ATCDiversifier(atc)
	}
	const hexDigits = "0123456789ABCDEF"
	keys, err := imk.Derive(s, pan, string([]byte{hexDigits[psn>>4], hexDigits[psn&15]}), atc, un, r)
	if err != nil {
		return nil, fmt.Errorf("deriving card keys: %w", err)
	}
	data, err := cryptogram.InputData(s, get)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCryptogram, err)
	}
	ac := get(tagAC)
	if err := cryptogram.VerifyAC(s, keys, data, ac); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCryptogram, err)
	}
	return func(arc [2]byte) ([]byte, error) {
		if s == cryptogram.VisaCVN18 {
			csu := []byte{0, 0, 0, 0}
			if arc == [2]byte{'0', '0'} {
				csu[1] = 0x80
			}
			return cryptogram.ARPC2(s, keys, ac, csu, nil)
		}
		return cryptogram.ARPC1(s, keys, ac, arc[:])
	}, nil
}

// issuerFor returns the key with the longest prefix of pan.
func issuerFor(keys []IssuerKey, pan string) (IssuerKey, bool) {
	var best IssuerKey
	found := false
	for _, k := range keys {
		if strings.HasPrefix(pan, k.Prefix) && (!found || len(k.Prefix) > len(best.Prefix)) {
			best, found = k, true
		}
	}
	return best, found
}
