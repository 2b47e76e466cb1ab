package cryptogram

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// Keys holds the card keys for one transaction.
type Keys struct {
	// ICCMasterKey is the 16-byte card master key for application
	// cryptograms (MK_AC), derived from the issuer master key.
	ICCMasterKey []byte
	// SessionKey is the 16-byte AC session key for the transaction; nil
	// for schemes that use the ICC master key directly (Visa CVN 10).
	SessionKey []byte

	// mk and sk are the key schedules DeriveSession made for the keys
	// above: the ARPC reuses the master key's.
	mk, sk *key2
}

// cipherOf returns the schedule of key: cached if it is still the key it
// was made for.
func cipherOf(key []byte, cached *key2) *key2 {
	if cached.is(key) {
		return cached
	}
	return newKey2(key)
}

// Derive derives the card keys for one transaction from the issuer master
// key imk (16 bytes), as the issuer host does. pan is the PAN's decimal
// digits (trailing 'F' padding from tag 5A is ignored); psn is the PAN
// sequence number (tag 5F34) as 1 or 2 digits, or "" when the card has none.
// atc, un and r are used as the scheme requires (see DeriveSession).
func Derive(s Scheme, imk []byte, pan, psn string, atc, un, r []byte) (Keys, error) {
	if !s.valid() {
		return Keys{}, ErrUnknownScheme
	}
	m, err := NewIssuerMasterKey(imk)
	if err != nil {
		return Keys{}, err
	}
	return m.Derive(s, pan, psn, atc, un, r)
}

// An IssuerMasterKey is an issuer master key with its key schedule made
// once: an issuer host derives the keys of every card of a range from
// it, and making a schedule costs more than the derivation.
type IssuerMasterKey struct{ k *key2 }

// NewIssuerMasterKey checks that imk is 16 bytes and makes its schedule.
func NewIssuerMasterKey(imk []byte) (*IssuerMasterKey, error) {
	if err := checkLen("issuer master key", imk, 16, 16); err != nil {
		return nil, err
	}
	return &IssuerMasterKey{newKey2(imk)}, nil
}

// Derive derives the card keys for one transaction, as the function
// [Derive] does with this key.
func (m *IssuerMasterKey) Derive(s Scheme, pan, psn string, atc, un, r []byte) (Keys, error) {
	if !s.valid() {
		return Keys{}, ErrUnknownScheme
	}
	digits, err := panDigits(pan, psn)
	if err != nil {
		return Keys{}, err
	}
	var mk []byte
	if s == VisaCVN18 && len(digits) > 18 {
		mk = masterKeyB(m.k, digits)
	} else {
		mk = masterKeyA(m.k, digits)
	}
	return DeriveSession(s, mk, atc, un, r)
}

// ATCDiversifier returns R = ATC || 00 00 00 00 00 00, the diversification
// value EMV Book 2 (section 8.1.2, Annex A1.3) gives the common session key
// of the application cryptogram: the ATC alone, unlike Mastercard's SKD,
// which adds the unpredictable number.
func ATCDiversifier(atc []byte) []byte {
	r := make([]byte, 8)
	copy(r, atc)
	return r
}

// DeriveSession derives the keys for one transaction from a card's 16-byte
// ICC master key, as a card personalised with that key does. The scheme
// decides the session key:
//
//   - VisaCVN10: none; atc, un and r are ignored.
//   - VisaCVN18: EMV common session key with R = ATC || 00 00 00 00 00 00;
//     atc is 2 bytes.
//   - MastercardCVN16: Mastercard SKD, the common session key with
//     R = ATC || 00 00 || UN; atc is 2 bytes and un 4 bytes.
//   - EMVCSK: EMV common session key with the explicit 8-byte
//     diversification value r.
func DeriveSession(s Scheme, iccMK, atc, un, r []byte) (Keys, error) {
	if !s.valid() {
		return Keys{}, ErrUnknownScheme
	}
	if err := checkLen("ICC master key", iccMK, 16, 16); err != nil {
		return Keys{}, err
	}
	k := Keys{ICCMasterKey: append([]byte(nil), iccMK...), mk: newKey2(iccMK)}
	var div []byte
	switch s {
	case VisaCVN10:
		return k, nil
	case VisaCVN18:
		if err := checkLen("ATC", atc, 2, 2); err != nil {
			return Keys{}, err
		}
		div = ATCDiversifier(atc)
	case MastercardCVN16:
		if err := checkLen("ATC", atc, 2, 2); err != nil {
			return Keys{}, err
		}
		if err := checkLen("unpredictable number", un, 4, 4); err != nil {
			return Keys{}, err
		}
		div = make([]byte, 8)
		copy(div, atc)
		copy(div[4:], un)
	case EMVCSK:
		if err := checkLen("diversification value R", r, 8, 8); err != nil {
			return Keys{}, err
		}
		div = r
	}
	k.SessionKey = commonSessionKey(k.mk, div)
	k.sk = newKey2(k.SessionKey)
	return k, nil
}

// panDigits checks pan and psn and returns the decimal digits PAN || PSN,
// with a missing PSN taken as 00.
func panDigits(pan, psn string) (string, error) {
	pan = strings.TrimRight(pan, "Ff")
	if len(pan) < 8 || len(pan) > 19 || !isDigits(pan) {
		return "", ErrPAN
	}
	switch {
	case psn == "":
		psn = "00"
	case len(psn) == 1:
		psn = "0" + psn
	}
	if len(psn) != 2 || !isDigits(psn) {
		return "", ErrPSN
	}
	return pan + psn, nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// masterKeyA derives the ICC master key with EMV Book 2 A1.4.1 option A:
// Y is the rightmost 16 digits of PAN || PSN (left-padded with zeros), and
// MK = 3DES(IMK)[Y] || 3DES(IMK)[Y xor FF..FF], with odd parity.
func masterKeyA(imk *key2, digits string) []byte {
	if len(digits) < 16 {
		digits = strings.Repeat("0", 16-len(digits)) + digits
	}
	return masterKeyFromY(imk, digits[len(digits)-16:])
}

// masterKeyB derives the ICC master key with EMV Book 2 A1.4.2 option B,
// meant for PANs longer than 16 digits: Y is 16 digits decimalised from the
// SHA-1 of PAN || PSN (packed BCD, left-padded to whole bytes).
func masterKeyB(imk *key2, digits string) []byte {
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	packed, _ := hex.DecodeString(digits) // digits are checked decimal
	sum := sha1.Sum(packed)
	h := hex.EncodeToString(sum[:])
	y := make([]byte, 0, 16)
	for i := 0; i < len(h) && len(y) < 16; i++ {
		if h[i] <= '9' {
			y = append(y, h[i])
		}
	}
	// Not enough decimal digits: decimalise the letters a..f to 0..5, in
	// order.
	for i := 0; i < len(h) && len(y) < 16; i++ {
		if h[i] >= 'a' {
			y = append(y, h[i]-'a'+'0')
		}
	}
	return masterKeyFromY(imk, string(y))
}

func masterKeyFromY(imk *key2, y string) []byte {
	in := make([]byte, 16)
	hex.Decode(in[:8], []byte(y)) // y is 16 decimal digits: cannot fail
	for i := range 8 {
		in[8+i] = ^in[i]
	}
	mk := imk.ecb(in)
	setOddParity(mk)
	return mk
}

// commonSessionKey derives a session key with the EMV Book 2 A1.3.1 common
// session key derivation: SK = 3DES(MK)[R with byte 3 = F0] ||
// 3DES(MK)[R with byte 3 = 0F], with odd parity.
func commonSessionKey(mk *key2, r []byte) []byte {
	in := make([]byte, 16)
	copy(in, r)
	copy(in[8:], r)
	in[2], in[10] = 0xF0, 0x0F
	sk := mk.ecb(in)
	setOddParity(sk)
	return sk
}
