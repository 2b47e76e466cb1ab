package cryptogram

import "fmt"

// inputTags is the EMV Book 2 A1.2.1 recommended minimum set of data
// objects for the cryptogram input, in order, with their lengths.
var inputTags = []struct {
	tag uint32
	len int
}{
	{0x9F02, 6}, // Amount, Authorised
	{0x9F03, 6}, // Amount, Other
	{0x9F1A, 2}, // Terminal Country Code
	{0x95, 5},   // Terminal Verification Results
	{0x5F2A, 2}, // Transaction Currency Code
	{0x9A, 3},   // Transaction Date
	{0x9C, 1},   // Transaction Type
	{0x9F37, 4}, // Unpredictable Number
	{0x82, 2},   // Application Interchange Profile
	{0x9F36, 2}, // Application Transaction Counter
}

// InputData builds the cryptogram input (before padding) for scheme s from
// the values of EMV data objects; get returns a tag's value, or nil when the
// tag is absent. It is the EMV Book 2 A1.2.1 minimum set 9F02 9F03 9F1A 95
// 5F2A 9A 9C 9F37 82 9F36 followed by the scheme's part of the Issuer
// Application Data (9F10):
//
//   - VisaCVN10: the CVR, IAD bytes 4 to 7 (IAD format 0: length, DKI, CVN,
//     then the 4-byte CVR whose first byte is its length 03).
//   - VisaCVN18: the whole IAD.
//   - MastercardCVN16: the CVR, IAD bytes 3 to 8 (M/Chip 4: DKI, CVN, then
//     the 6-byte CVR).
//   - EMVCSK: the whole IAD.
//
// These match the pyemv library's CVN 10, 18 and 16 cryptograms. A missing
// tag gives an error wrapping ErrMissingTag and naming the tag; a value of
// the wrong length gives a *LengthError.
func InputData(s Scheme, get func(tag uint32) []byte) ([]byte, error) {
	if !s.valid() {
		return nil, ErrUnknownScheme
	}
	out := make([]byte, 0, 64)
	for _, t := range inputTags {
		v, err := tagValue(get, t.tag, t.len, t.len)
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	// IAD is at most 32 bytes (EMV Book 3 Annex A).
	var minIAD int
	switch s {
	case VisaCVN10:
		minIAD = 7
	case MastercardCVN16:
		minIAD = 8
	default:
		minIAD = 1
	}
	iad, err := tagValue(get, 0x9F10, minIAD, 32)
	if err != nil {
		return nil, err
	}
	switch s {
	case VisaCVN10:
		iad = iad[3:7]
	case MastercardCVN16:
		iad = iad[2:8]
	}
	return append(out, iad...), nil
}

func tagValue(get func(uint32) []byte, tag uint32, min, max int) ([]byte, error) {
	v := get(tag)
	if len(v) == 0 {
		return nil, fmt.Errorf("tag %X: %w", tag, ErrMissingTag)
	}
	if len(v) < min || len(v) > max {
		// Named only on error: formatting costs more than the check.
		return nil, checkLen(fmt.Sprintf("tag %X", tag), v, min, max)
	}
	return v, nil
}
