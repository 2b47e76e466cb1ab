// Package tags is a dictionary of the EMV data objects a contactless
// terminal meets — EMV Book 3 Annex A and the kernel-specific tags of Visa,
// Mastercard, American Express and UnionPay — and a set of decoders that
// turn bit-field data objects (TVR, TSI, AIP, TTQ, CTQ, CVM Results, CID,
// Visa IAD) into words.
package tags

import (
	"tappos/emv/tlv"
)

// Format is the EMV data element format of Book 3 section 4.3. It decides
// how a value is padded or truncated when a DOL asks for another length.
type Format uint8

// Data element formats.
const (
	FormatB   Format = iota + 1 // binary
	FormatN                     // numeric, BCD, right justified with leading zeros
	FormatCN                    // compressed numeric, left justified, padded with F
	FormatAN                    // alphanumeric
	FormatANS                   // alphanumeric and special characters
	FormatVar                   // template or kernel-dependent content
)

var formatNames = [...]string{"?", "b", "n", "cn", "an", "ans", "var"}

// String returns the format's EMV abbreviation ("b", "n", "cn", ...).
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "?"
}

// Source says which party provides a data object.
type Source uint8

// Sources of data objects; a tag may have more than one.
const (
	SourceICC Source = 1 << iota
	SourceTerminal
	SourceIssuer
)

// String returns the sources joined with "/", e.g. "ICC" or "terminal".
func (s Source) String() string {
	out := ""
	for _, p := range []struct {
		s    Source
		name string
	}{{SourceICC, "ICC"}, {SourceTerminal, "terminal"}, {SourceIssuer, "issuer"}} {
		if s&p.s != 0 {
			if out != "" {
				out += "/"
			}
			out += p.name
		}
	}
	if out == "" {
		return "?"
	}
	return out
}

// Info describes one tag.
type Info struct {
	Tag      tlv.Tag
	Name     string
	Format   Format
	Source   Source
	Template string // templates the object is usually found in, e.g. "70/77"
	Notes    string // kernel-specific meaning and other remarks
	// Sensitive marks card data (PAN, track data, cardholder name) that
	// must not appear in clear in logs or errors; see Redact.
	Sensitive bool
}

// Lookup returns what the dictionary knows about a tag.
func Lookup(t tlv.Tag) (Info, bool) {
	i, ok := dict[t]
	if ok {
		i.Tag = t
	}
	return i, ok
}

// Name returns the tag's name, or "Unknown tag" when the dictionary does
// not know it.
func Name(t tlv.Tag) string {
	if i, ok := dict[t]; ok {
		return i.Name
	}
	return "Unknown tag"
}

// FormatOf returns the tag's format, or FormatB for tags the dictionary
// does not know: binary is the format that changes nothing when padded
// with zeros or truncated on the right.
func FormatOf(t tlv.Tag) Format {
	if i, ok := dict[t]; ok && i.Format != FormatVar {
		return i.Format
	}
	return FormatB
}

// Shorthands that keep the dictionary readable.
const (
	b   = FormatB
	n   = FormatN
	cn  = FormatCN
	an  = FormatAN
	ans = FormatANS
	vr  = FormatVar

	icc  = SourceICC
	term = SourceTerminal
	iss  = SourceIssuer
)
