package kernel

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"tappos/emv/tags"
	"tappos/emv/tlv"
)

// session is the state of one tap.
type session struct {
	k        *Kernel
	cfg      *Config
	card     Transceiver
	tx       Transaction
	out      *Outcome
	term     map[tlv.Tag][]byte // terminal data objects
	cardData map[tlv.Tag][]byte // data objects the card returned
	tvr      tags.TVR
	tsi      tags.TSI
}

// setTerminalData fills the terminal data objects every kernel may ask
// for in a DOL.
func (s *session) setTerminalData() error {
	c := s.cfg
	un := make([]byte, 4)
	if s.k.Rand == nil || s.k.Now == nil {
		return fmt.Errorf("%w: kernel needs Rand and Now", ErrConfig)
	}
	if _, err := io.ReadFull(s.k.Rand, un); err != nil {
		return fmt.Errorf("reading unpredictable number: %w", err)
	}
	now := s.k.Now()
	set := map[tlv.Tag][]byte{
		0x9F02: bcd(uint64(s.tx.Amount), 6),
		0x9F03: bcd(uint64(s.tx.OtherAmount), 6),
		0x9C:   {s.tx.Type},
		0x9F37: un,
		0x9A:   bcd(uint64((now.Year()%100)*10000+int(now.Month())*100+now.Day()), 3),
		0x9F21: bcd(uint64(now.Hour()*10000+now.Minute()*100+now.Second()), 3),
		0x9F1A: bcd(uint64(c.Country), 2),
		0x5F2A: bcd(uint64(c.Currency.Numeric), 2),
		0x5F36: {byte(c.Currency.Exponent)},
		0x9F35: bytes.Clone(c.TerminalType),
		0x9F33: bytes.Clone(c.Capabilities),
		0x9F40: bytes.Clone(c.AdditionalCapabilities),
		0x9F15: bcdString(c.MerchantCategory),
		0x9F16: []byte(fmt.Sprintf("%-15s", c.MerchantID)),
		0x9F1C: []byte(c.TerminalID),
	}
	for t, v := range set {
		s.term[t] = v
	}
	return nil
}

// value returns a data object for a DOL or a check: terminal data first,
// then the card's. The TVR and TSI are current.
func (s *session) value(t tlv.Tag) ([]byte, bool) {
	switch t {
	case 0x95:
		return bytes.Clone(s.tvr[:]), true
	case 0x9B:
		return bytes.Clone(s.tsi[:]), true
	}
	if v, ok := s.term[t]; ok {
		return v, true
	}
	v, ok := s.cardData[t]
	return v, ok
}

// buildDOL returns the data a DOL (PDOL, CDOL1) asks for, EMV Book 3
// §5.4: missing objects are zeros, numeric values are padded or cut on
// the left, others on the right, constructed objects are zeros.
func (s *session) buildDOL(dol []byte) ([]byte, error) {
	var out []byte
	for i := 0; i < len(dol); {
		tag, n, err := tlv.ParseTag(dol[i:])
		if err != nil {
			return nil, fmt.Errorf("%w: DOL entry at %d: %v", ErrCardData, i, err)
		}
		i += n
		if i >= len(dol) {
			return nil, fmt.Errorf("%w: DOL entry for %s has no length", ErrCardData, tag)
		}
		l := int(dol[i])
		i++
		if l&0x80 != 0 {
			return nil, fmt.Errorf("%w: DOL length for %s not one byte", ErrCardData, tag)
		}
		v, ok := s.value(tag)
		if !ok || tag.Constructed() {
			out = append(out, make([]byte, l)...)
			continue
		}
		out = append(out, fit(tag, v, l)...)
	}
	if len(out) > 252 {
		return nil, fmt.Errorf("%w: DOL asks for %d bytes", ErrCardData, len(out))
	}
	return out, nil
}

// fit pads or truncates a value to a DOL length by its format.
func fit(tag tlv.Tag, v []byte, l int) []byte {
	f := tags.FormatOf(tag)
	if len(v) == l {
		return v
	}
	if f == tags.FormatN {
		if len(v) > l {
			return v[len(v)-l:]
		}
		return append(make([]byte, l-len(v)), v...)
	}
	if len(v) > l {
		return v[:l]
	}
	pad := byte(0x00)
	if f == tags.FormatCN {
		pad = 0xFF
	}
	return append(bytes.Clone(v), bytes.Repeat([]byte{pad}, l-len(v))...)
}

// dolHas reports whether a DOL lists a tag.
func dolHas(dol []byte, want tlv.Tag) bool {
	for i := 0; i < len(dol); {
		tag, n, err := tlv.ParseTag(dol[i:])
		if err != nil || i+n >= len(dol) {
			return false
		}
		if tag == want {
			return true
		}
		i += n + 1
	}
	return false
}

// storeCard records the primitive objects of a card response. An object
// the card already sent with another value is an error: a card must not
// contradict itself (Book C-2 treats redundant objects as an error).
func (s *session) storeCard(l tlv.List) error {
	var err error
	l.Walk(func(o tlv.TLV, _ int) {
		if err != nil || o.Tag.Constructed() {
			return
		}
		if old, ok := s.cardData[o.Tag]; ok && !bytes.Equal(old, o.Value) {
			err = fmt.Errorf("%w: %s sent twice with different values", ErrCardData, o.Tag)
			return
		}
		s.cardData[o.Tag] = o.Value
	})
	return err
}

// template decodes a response that must be one template with the tag.
func template(data []byte, want tlv.Tag, what string) (tlv.List, error) {
	l, err := tlv.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", what, ErrCardData, err)
	}
	if len(l) != 1 || l[0].Tag != want {
		return nil, fmt.Errorf("%s: %w: not a template %s", what, ErrCardData, want)
	}
	return l, nil
}

// bcd encodes n as BCD in size bytes, keeping the low digits.
func bcd(n uint64, size int) []byte {
	b := make([]byte, size)
	for i := size - 1; i >= 0; i-- {
		b[i] = byte(n%10) | byte(n/10%10)<<4
		n /= 100
	}
	return b
}

// bcdString encodes a string of an even number of digits as BCD.
func bcdString(digits string) []byte {
	b := make([]byte, len(digits)/2)
	for i := range b {
		b[i] = (digits[2*i]-'0')<<4 | (digits[2*i+1] - '0')
	}
	return b
}

// panDigits returns the PAN from 5A, or from track 2 (57) when 5A is
// absent, as digits; "" when neither parses.
func (s *session) panDigits() string {
	if v := s.cardData[0x5A]; len(v) > 0 {
		d := strings.TrimRight(strings.ToUpper(fmt.Sprintf("%X", v)), "F")
		if isDigits(d) {
			return d
		}
		return ""
	}
	if v := s.cardData[0x57]; len(v) > 0 {
		pan, _, ok := strings.Cut(fmt.Sprintf("%X", v), "D")
		if ok && isDigits(pan) {
			return pan
		}
	}
	return ""
}

// expiry returns YYMM from 5F24, or from track 2.
func (s *session) expiry() string {
	if v := s.cardData[0x5F24]; len(v) == 3 {
		return fmt.Sprintf("%X", v[:2])
	}
	if v := s.cardData[0x57]; len(v) > 0 {
		_, rest, ok := strings.Cut(fmt.Sprintf("%X", v), "D")
		if ok && len(rest) >= 4 && isDigits(rest[:4]) {
			return rest[:4]
		}
	}
	return ""
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
