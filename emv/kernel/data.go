package kernel

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"tappos/emv/dol"
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
	// now is the transaction's time (9A, 9F21), read once: certificate
	// and CA key expiry are judged against the transaction date.
	now time.Time
}

// Size hints for the data maps: a tap stores 17 terminal and 20 to 32
// card data objects, and a map grown one step at a time rehashes on the
// way. (A hint past 7/8 of a power of two doubles the map.)
const (
	termDataHint = 24
	cardDataHint = 48
)

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
	s.now = s.k.Now()
	now := s.now
	for _, d := range [...]struct {
		t tlv.Tag
		v []byte
	}{
		{0x9F02, bcd(uint64(s.tx.Amount), 6)},
		{0x9F03, bcd(uint64(s.tx.OtherAmount), 6)},
		{0x9C, []byte{s.tx.Type}},
		{0x9F37, un},
		{0x9A, bcd(uint64((now.Year()%100)*10000+int(now.Month())*100+now.Day()), 3)},
		{0x9F21, bcd(uint64(now.Hour()*10000+now.Minute()*100+now.Second()), 3)},
		{0x9F1A, bcd(uint64(c.Country), 2)},
		{0x5F2A, bcd(uint64(c.Currency.Numeric), 2)},
		{0x5F36, []byte{byte(c.Currency.Exponent)}},
		{0x9F35, bytes.Clone(c.TerminalType)},
		{0x9F33, bytes.Clone(c.Capabilities)},
		{0x9F40, bytes.Clone(c.AdditionalCapabilities)},
		{0x9F15, bcdString(c.MerchantCategory)},
		{0x9F16, []byte(fmt.Sprintf("%-15s", c.MerchantID))},
		{0x9F1C, []byte(c.TerminalID)},
	} {
		s.term[d.t] = d.v
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
// §5.4: missing objects are zeros, values are fitted by their format.
func (s *session) buildDOL(b []byte) ([]byte, error) {
	d, err := dol.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCardData, err)
	}
	// The data must fit a short APDU with its 83 template around it.
	if d.Len() > 252 {
		return nil, fmt.Errorf("%w: DOL asks for %d bytes", ErrCardData, d.Len())
	}
	return d.Build(s.value), nil
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

// currencyUnit returns one unit of the terminal's currency in minor
// units: 10 to the power of its exponent.
func (s *session) currencyUnit() int64 {
	u := int64(1)
	for range s.cfg.Currency.Exponent {
		u *= 10
	}
	return u
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
// absent, as digits; "" when neither parses or the two disagree (a card
// must not name two accounts).
func (s *session) panDigits() string {
	var t2 string
	if v := s.cardData[0x57]; len(v) > 0 {
		pan, _, ok := strings.Cut(fmt.Sprintf("%X", v), "D")
		if ok && isDigits(pan) {
			t2 = pan
		}
	}
	if v := s.cardData[0x5A]; len(v) > 0 {
		d := strings.TrimRight(strings.ToUpper(fmt.Sprintf("%X", v)), "F")
		if !isDigits(d) || (len(s.cardData[0x57]) > 0 && d != t2) {
			return ""
		}
		return d
	}
	return t2
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
