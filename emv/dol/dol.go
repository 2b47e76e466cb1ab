// Package dol parses EMV Data Object Lists (PDOL, CDOL1/2, DDOL, TDOL,
// UDOL) and builds the data they ask for, with the padding and truncation
// rules of EMV Book 3 section 5.4.
package dol

import (
	"errors"
	"fmt"
	"strings"

	"tappos/emv/tags"
	"tappos/emv/tlv"
)

// MaxEntryLen is the largest length a DOL entry may ask for. EMV codes DOL
// lengths on one byte; the bound also keeps a hostile card from asking the
// terminal to build megabytes.
const MaxEntryLen = 255

// Sentinel errors, wrapped in *Error by Parse.
var (
	ErrTruncated = errors.New("truncated entry")
	ErrBadLength = errors.New("invalid entry length")
)

// ErrDataLength is returned by Split when the data is not exactly as long
// as the DOL asks for.
var ErrDataLength = errors.New("dol: data length does not match the DOL")

// Error is a parse failure at a byte offset of the DOL.
type Error struct {
	Offset int
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("dol: offset %d: %v", e.Offset, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Entry is one tag and the length the card asks for.
type Entry struct {
	Tag tlv.Tag
	Len int
}

// DOL is a parsed Data Object List, in the card's order.
type DOL []Entry

// Parse parses a DOL: a concatenation of tags and lengths, no values.
func Parse(b []byte) (DOL, error) {
	var d DOL
	for i := 0; i < len(b); {
		tag, n, err := tlv.ParseTag(b[i:])
		if err != nil {
			if errors.Is(err, tlv.ErrTruncated) {
				err = ErrTruncated
			}
			return nil, &Error{Offset: i, Err: err}
		}
		i += n
		l, n, err := tlv.ParseLength(b[i:])
		switch {
		case errors.Is(err, tlv.ErrTruncated):
			return nil, &Error{Offset: i, Err: ErrTruncated}
		case err != nil || l > MaxEntryLen:
			return nil, &Error{Offset: i, Err: ErrBadLength}
		}
		i += n
		d = append(d, Entry{Tag: tag, Len: l})
	}
	return d, nil
}

// Len returns the length of the data the DOL asks for.
func (d DOL) Len() int {
	total := 0
	for _, e := range d {
		total += e.Len
	}
	return total
}

// Has reports whether the DOL asks for the tag.
func (d DOL) Has(t tlv.Tag) bool {
	for _, e := range d {
		if e.Tag == t {
			return true
		}
	}
	return false
}

// String lists the entries as tag(length), e.g. "9F66(4) 9F02(6)".
func (d DOL) String() string {
	parts := make([]string, len(d))
	for i, e := range d {
		parts[i] = fmt.Sprintf("%s(%d)", e.Tag, e.Len)
	}
	return strings.Join(parts, " ")
}

// Build concatenates the values get returns for each entry, fitted to the
// entry's length by EMV Book 3 section 5.4, using the tag's format from
// package tags:
//   - a longer value is truncated: format n keeps its rightmost bytes,
//     every other format its leftmost;
//   - a shorter value is padded: n with leading zeros, cn with trailing
//     FF, every other format with trailing zeros;
//   - an absent value, or a constructed tag, gives zeros.
//
// The result is always d.Len() bytes long.
func (d DOL) Build(get func(tlv.Tag) ([]byte, bool)) []byte {
	out := make([]byte, 0, d.Len())
	for _, e := range d {
		out = appendFitted(out, e, get)
	}
	return out
}

func appendFitted(out []byte, e Entry, get func(tlv.Tag) ([]byte, bool)) []byte {
	start := len(out)
	out = append(out, make([]byte, e.Len)...)
	field := out[start:]
	if e.Tag.Constructed() {
		return out
	}
	v, ok := get(e.Tag)
	if !ok {
		return out
	}
	switch f := tags.FormatOf(e.Tag); {
	case f == tags.FormatN && len(v) >= e.Len:
		copy(field, v[len(v)-e.Len:])
	case f == tags.FormatN:
		copy(field[e.Len-len(v):], v)
	default:
		c := copy(field, v)
		if f == tags.FormatCN {
			for i := c; i < len(field); i++ {
				field[i] = 0xFF
			}
		}
	}
	return out
}

// Split cuts data built from the DOL back into its values. When a tag
// appears more than once, the first occurrence wins.
func (d DOL) Split(data []byte) (map[tlv.Tag][]byte, error) {
	if len(data) != d.Len() {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrDataLength, len(data), d.Len())
	}
	out := make(map[tlv.Tag][]byte, len(d))
	off := 0
	for _, e := range d {
		if _, dup := out[e.Tag]; !dup {
			out[e.Tag] = data[off : off+e.Len : off+e.Len]
		}
		off += e.Len
	}
	return out, nil
}
