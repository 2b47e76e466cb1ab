package ledger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"tappos/emv/tlv"
)

// Tokenizer turns PANs into tokens: HMAC-SHA256 under a server secret, so
// that a stolen database does not give the PANs back.
type Tokenizer struct {
	secret []byte
}

// NewTokenizer returns a Tokenizer keyed by secret, which must be at least
// 32 bytes long.
func NewTokenizer(secret []byte) (*Tokenizer, error) {
	if len(secret) < 32 {
		return nil, errors.New("token secret shorter than 32 bytes")
	}
	return &Tokenizer{secret: append([]byte(nil), secret...)}, nil
}

// Token returns the token of a credential value of a kind (a PAN for
// cards, a phone number for phones).
func (t *Tokenizer) Token(kind, value string) string {
	m := hmac.New(sha256.New, t.secret)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// EMV tags the ledger reads.
const (
	tagPAN     = 0x5A
	tagTrack2  = 0x57
	tagPSN     = 0x5F34
	tagAC      = 0x9F26
	tagCID     = 0x9F27
	tagATC     = 0x9F36
	tagAmount  = 0x9F02
	tagTxnCurr = 0x5F2A
)

// Cryptogram types in the top bits of the CID (9F27).
const (
	cidAAC  = 0x00
	cidTC   = 0x40
	cidARQC = 0x80
)

// ErrBadEMVData reports EMV data the ledger cannot use. Its messages never
// contain card data.
var ErrBadEMVData = errors.New("bad EMV data")

// cardData is what the ledger reads from a terminal's EMV data.
type cardData struct {
	tags   tlv.List
	pan    string // digits; never logged or stored
	psn    byte
	atc    int
	cid    byte
	amount int64
	curr   uint16
}

// parseCardData decodes and checks the EMV data of an authorization.
func parseCardData(emv []byte) (*cardData, error) {
	l, err := tlv.Decode(emv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEMVData, err)
	}
	d := &cardData{tags: l}
	if v := l.Value(tagPAN); v != nil {
		d.pan = bcdDigits(v)
	} else if v := l.Value(tagTrack2); v != nil {
		d.pan, _, _ = strings.Cut(bcdDigits(v), "D")
	}
	if len(d.pan) < 12 || len(d.pan) > 19 || strings.Trim(d.pan, "0123456789") != "" {
		return nil, fmt.Errorf("%w: missing or malformed PAN", ErrBadEMVData)
	}
	if v := l.Value(tagPSN); len(v) == 1 {
		d.psn = v[0]
	}
	atc := l.Value(tagATC)
	if len(atc) != 2 {
		return nil, fmt.Errorf("%w: ATC (9F36) missing or not 2 bytes", ErrBadEMVData)
	}
	d.atc = int(atc[0])<<8 | int(atc[1])
	if len(l.Value(tagAC)) != 8 {
		return nil, fmt.Errorf("%w: cryptogram (9F26) missing or not 8 bytes", ErrBadEMVData)
	}
	cid := l.Value(tagCID)
	if len(cid) != 1 {
		return nil, fmt.Errorf("%w: CID (9F27) missing", ErrBadEMVData)
	}
	d.cid = cid[0] & 0xC0
	amt, ok := bcdNumber(l.Value(tagAmount), 6)
	if !ok {
		return nil, fmt.Errorf("%w: amount (9F02) missing or not BCD", ErrBadEMVData)
	}
	d.amount = amt
	cur, ok := bcdNumber(l.Value(tagTxnCurr), 2)
	if !ok {
		return nil, fmt.Errorf("%w: currency (5F2A) missing or not BCD", ErrBadEMVData)
	}
	d.curr = uint16(cur)
	return d, nil
}

// get returns the value of an EMV tag, for the cryptogram input.
func (d *cardData) get(tag uint32) []byte { return d.tags.Value(tlv.Tag(tag)) }

// bcdDigits returns the nibbles of b as digits up to the first F pad,
// with a field separator shown as "D".
func bcdDigits(b []byte) string {
	const hexdig = "0123456789ABCDEF"
	var s strings.Builder
	for _, c := range b {
		for _, n := range []byte{c >> 4, c & 0x0F} {
			if n == 0x0F {
				return s.String()
			}
			s.WriteByte(hexdig[n])
		}
	}
	return s.String()
}

// bcdNumber decodes an n-byte BCD number.
func bcdNumber(b []byte, n int) (int64, bool) {
	if len(b) != n {
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
