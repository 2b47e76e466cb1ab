// Package tlv decodes and encodes the BER-TLV data objects that EMV cards
// and terminals exchange (EMV Book 3 Annex B, ISO/IEC 8825-1 subset).
//
// Decoding is strict: every length is checked against the bytes that are
// really there, nesting is bounded, and any violation is reported as an
// *Error carrying the offset of the offending byte. Padding bytes 00 and FF
// between objects are skipped, as EMV Book 3 Annex B allows. ParseHex reads
// the hex dumps that tools and people pass around.
package tlv

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// MaxDepth bounds the nesting of constructed objects, so that a hostile
// card cannot make the decoder recurse without limit.
const MaxDepth = 16

// maxLengthBytes is the longest long-form length accepted (up to 2^24-1):
// no EMV object comes close, and it keeps lengths within int on any platform.
const maxLengthBytes = 3

// Sentinel errors, wrapped in *Error by the decoder.
var (
	ErrTruncated     = errors.New("truncated")
	ErrTagTooLong    = errors.New("tag longer than 4 bytes")
	ErrBadLength     = errors.New("invalid length encoding")
	ErrLengthOverrun = errors.New("length exceeds available data")
	ErrTooDeep       = errors.New("constructed objects nested too deeply")
)

// ErrHex is returned by ParseHex for text that is not hex.
var ErrHex = errors.New("invalid hex")

// Error is a decoding failure at a byte offset of the input.
type Error struct {
	Offset int   // offset into the outermost buffer
	Tag    Tag   // tag being decoded, 0 if the tag itself failed
	Err    error // one of the sentinel errors
}

func (e *Error) Error() string {
	if e.Tag != 0 {
		return fmt.Sprintf("tlv: offset %d: tag %s: %v", e.Offset, e.Tag, e.Err)
	}
	return fmt.Sprintf("tlv: offset %d: %v", e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Tag is a BER tag as its big-endian byte value, e.g. 0x9F02 or 0xDF8129.
type Tag uint32

// String returns the tag in upper-case hex, e.g. "9F02".
func (t Tag) String() string {
	return strings.ToUpper(hex.EncodeToString(t.Bytes()))
}

// Bytes returns the encoded tag.
func (t Tag) Bytes() []byte {
	switch {
	case t > 0xFFFFFF:
		return []byte{byte(t >> 24), byte(t >> 16), byte(t >> 8), byte(t)}
	case t > 0xFFFF:
		return []byte{byte(t >> 16), byte(t >> 8), byte(t)}
	case t > 0xFF:
		return []byte{byte(t >> 8), byte(t)}
	}
	return []byte{byte(t)}
}

// first returns the tag's first byte, which carries class and form.
func (t Tag) first() byte {
	b := t.Bytes()
	return b[0]
}

// Constructed reports whether the tag's form bit marks a template.
func (t Tag) Constructed() bool { return t.first()&0x20 != 0 }

// Class returns the tag's class bits (0x00 universal, 0x40 application,
// 0x80 context-specific, 0xC0 private).
func (t Tag) Class() byte { return t.first() & 0xC0 }

// TLV is one data object. For a constructed tag, Children holds the
// decoded contents and Value the raw encoding of those contents.
type TLV struct {
	Tag      Tag
	Value    []byte
	Children List
}

// List is a sequence of data objects in the order they were found.
type List []TLV

// ParseTag reads one tag from the start of b and returns it with its size.
func ParseTag(b []byte) (Tag, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	t := Tag(b[0])
	n := 1
	if b[0]&0x1F == 0x1F {
		for {
			if n >= len(b) {
				return 0, 0, ErrTruncated
			}
			if n >= 4 {
				return 0, 0, ErrTagTooLong
			}
			t = t<<8 | Tag(b[n])
			n++
			if b[n-1]&0x80 == 0 {
				break
			}
		}
	}
	return t, n, nil
}

// ParseLength reads one BER length from the start of b and returns it with
// the size of its encoding.
func ParseLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	if b[0] < 0x80 {
		return int(b[0]), 1, nil
	}
	k := int(b[0] & 0x7F)
	if k == 0 || k > maxLengthBytes {
		return 0, 0, ErrBadLength // indefinite form is not used in EMV
	}
	if len(b) < 1+k {
		return 0, 0, ErrTruncated
	}
	l := 0
	for _, c := range b[1 : 1+k] {
		l = l<<8 | int(c)
	}
	return l, 1 + k, nil
}

// Decode decodes every object in b, recursing into constructed templates.
// The returned values alias b.
func Decode(b []byte) (List, error) {
	return decode(b, 0, 0)
}

func decode(b []byte, base, depth int) (List, error) {
	if depth > MaxDepth {
		return nil, &Error{Offset: base, Err: ErrTooDeep}
	}
	var out List
	if n := count(b); n > 0 {
		out = make(List, 0, n)
	}
	for i := skipPadding(b, 0); i < len(b); i = skipPadding(b, i) {
		tag, start, end, err := header(b, i)
		if err != nil {
			err.Offset += base
			return nil, err
		}
		obj := TLV{Tag: tag, Value: b[start:end:end]}
		if tag.Constructed() {
			var err error
			if obj.Children, err = decode(obj.Value, base+start, depth+1); err != nil {
				return nil, err
			}
		}
		out = append(out, obj)
		i = end
	}
	return out, nil
}

// count returns how many objects b holds at its top level, up to the first
// malformed one, so that decode allocates its List once.
func count(b []byte) int {
	n := 0
	for i := skipPadding(b, 0); i < len(b); i = skipPadding(b, i) {
		_, _, end, err := header(b, i)
		if err != nil {
			break
		}
		n++
		i = end
	}
	return n
}

// skipPadding returns the offset of the first byte at or after i that is
// not 00 or FF padding (allowed before, between and after objects).
func skipPadding(b []byte, i int) int {
	for i < len(b) && (b[i] == 0x00 || b[i] == 0xFF) {
		i++
	}
	return i
}

// header parses the tag and length of the object at b[i:] and returns the
// tag and the bounds of its value in b. An error's offset is into b.
func header(b []byte, i int) (tag Tag, start, end int, _ *Error) {
	tag, n, err := ParseTag(b[i:])
	if err != nil {
		return 0, 0, 0, &Error{Offset: i, Err: err}
	}
	l, m, err := ParseLength(b[i+n:])
	if err != nil {
		return 0, 0, 0, &Error{Offset: i + n, Tag: tag, Err: err}
	}
	start = i + n + m
	if l > len(b)-start {
		return 0, 0, 0, &Error{Offset: i + n, Tag: tag, Err: ErrLengthOverrun}
	}
	return tag, start, start + l, nil
}

// ParseHex decodes a hex dump as people write and paste them: upper or
// lower case, with any white space between the digits. Errors name the
// offending digit's position, never the data.
func ParseHex(s string) ([]byte, error) {
	out := make([]byte, 0, len(s)/2)
	var hi byte
	n := 0 // hex digits read
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		v, ok := hexValue(r)
		if !ok {
			return nil, fmt.Errorf("%w: %q at digit %d", ErrHex, r, n)
		}
		if n%2 == 0 {
			hi = v << 4
		} else {
			out = append(out, hi|v)
		}
		n++
	}
	if n%2 != 0 {
		return nil, fmt.Errorf("%w: odd number of digits (%d)", ErrHex, n)
	}
	return out, nil
}

func hexValue(r rune) (byte, bool) {
	switch {
	case '0' <= r && r <= '9':
		return byte(r - '0'), true
	case 'a' <= r && r <= 'f':
		return byte(r - 'a' + 10), true
	case 'A' <= r && r <= 'F':
		return byte(r - 'A' + 10), true
	}
	return 0, false
}

// AppendLength appends the BER encoding of length l to dst.
func AppendLength(dst []byte, l int) []byte {
	switch {
	case l < 0x80:
		return append(dst, byte(l))
	case l <= 0xFF:
		return append(dst, 0x81, byte(l))
	case l <= 0xFFFF:
		return append(dst, 0x82, byte(l>>8), byte(l))
	}
	return append(dst, 0x83, byte(l>>16), byte(l>>8), byte(l))
}

// Append appends the encoding of one primitive object to dst.
func Append(dst []byte, tag Tag, value []byte) []byte {
	dst = append(dst, tag.Bytes()...)
	dst = AppendLength(dst, len(value))
	return append(dst, value...)
}

// Build returns the encoding of one primitive object.
func Build(tag Tag, value []byte) []byte { return Append(nil, tag, value) }

// Encode returns the encoding of the list. A constructed object with
// Children is encoded from its children; otherwise from Value.
func (l List) Encode() []byte {
	var out []byte
	for _, o := range l {
		out = o.AppendTo(out)
	}
	return out
}

// AppendTo appends the encoding of the object to dst.
func (o TLV) AppendTo(dst []byte) []byte {
	if o.Tag.Constructed() && o.Children != nil {
		return Append(dst, o.Tag, o.Children.Encode())
	}
	return Append(dst, o.Tag, o.Value)
}

// Find returns the first object with the tag, searching depth first
// through constructed templates.
func (l List) Find(tag Tag) (TLV, bool) {
	for _, o := range l {
		if o.Tag == tag {
			return o, true
		}
		if f, ok := o.Children.Find(tag); ok {
			return f, true
		}
	}
	return TLV{}, false
}

// Value returns the value of the first object with the tag, or nil.
func (l List) Value(tag Tag) []byte {
	o, _ := l.Find(tag)
	return o.Value
}

// Walk calls fn for every object, parents before children, with its depth.
func (l List) Walk(fn func(o TLV, depth int)) {
	l.walk(fn, 0)
}

func (l List) walk(fn func(TLV, int), depth int) {
	for _, o := range l {
		fn(o, depth)
		o.Children.walk(fn, depth+1)
	}
}
