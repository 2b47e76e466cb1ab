package offline

import (
	"errors"
	"strings"

	"tappos/emv/tlv"
)

// ErrBadEMVData reports EMV data the queue cannot use. Its messages never
// contain card data.
var ErrBadEMVData = errors.New("bad EMV data")

// EMV tags the queue reads.
const (
	tagPAN    tlv.Tag = 0x5A
	tagTrack2 tlv.Tag = 0x57
	tagAmount tlv.Tag = 0x9F02
)

// cardPAN returns the PAN of the EMV data, from 5A or else from track 2
// equivalent data (57), and the amount authorised (9F02) if present.
func cardPAN(emv []byte) (pan string, amount int64, hasAmount bool, err error) {
	l, err := tlv.Decode(emv)
	if err != nil {
		return "", 0, false, fmtBad("not BER-TLV")
	}
	if v := l.Value(tagPAN); v != nil {
		pan = bcdDigits(v)
	} else if v := l.Value(tagTrack2); v != nil {
		pan, _, _ = strings.Cut(bcdDigits(v), "D")
	}
	if len(pan) < 12 || len(pan) > 19 || strings.Trim(pan, "0123456789") != "" {
		return "", 0, false, fmtBad("missing or malformed PAN")
	}
	if v := l.Value(tagAmount); v != nil {
		amount, ok := bcdNumber(v)
		if !ok {
			return "", 0, false, fmtBad("amount (9F02) not 6 BCD bytes")
		}
		return pan, amount, true, nil
	}
	return pan, 0, false, nil
}

func fmtBad(what string) error { return &badEMVError{what} }

type badEMVError struct{ what string }

func (e *badEMVError) Error() string { return ErrBadEMVData.Error() + ": " + e.what }
func (e *badEMVError) Unwrap() error { return ErrBadEMVData }

// bcdDigits returns the nibbles of b as digits up to the first F pad, with
// a field separator shown as "D".
func bcdDigits(b []byte) string {
	const hexdig = "0123456789ABCDEF"
	var s strings.Builder
	for _, c := range b {
		for _, n := range [2]byte{c >> 4, c & 0x0F} {
			if n == 0x0F {
				return s.String()
			}
			s.WriteByte(hexdig[n])
		}
	}
	return s.String()
}

// bcdNumber decodes the 6-byte BCD of an EMV amount.
func bcdNumber(b []byte) (int64, bool) {
	if len(b) != 6 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		hi, lo := c>>4, c&0x0F
		if hi > 9 || lo > 9 {
			return 0, false
		}
		v = v*100 + int64(hi)*10 + int64(lo)
	}
	return v, true
}
