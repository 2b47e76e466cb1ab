package tags

import (
	"encoding/hex"
	"fmt"
	"strings"

	"tappos/emv/tlv"
)

// MaskPAN masks a PAN for display: the first six and last four digits stay,
// the rest become '*' (541333******0345). PANs too short to keep ten digits
// keep only the last four.
func MaskPAN(pan string) string {
	switch {
	case len(pan) >= 13:
		return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
	case len(pan) > 4:
		return strings.Repeat("*", len(pan)-4) + pan[len(pan)-4:]
	}
	return strings.Repeat("*", len(pan))
}

// Redact returns a printable form of a sensitive value (see
// Info.Sensitive) with the card data masked, and false for values that are
// not sensitive. A PAN keeps its first six and last four digits; track 2
// data keeps the masked PAN and the separator; a DS ID (PAN || PSN) is
// masked like a PAN; anything else is reduced to its length.
func Redact(t tlv.Tag, v []byte) (string, bool) {
	i, ok := dict[t]
	if !ok || !i.Sensitive {
		return "", false
	}
	switch t {
	case 0x5A:
		return MaskPAN(strings.TrimRight(strings.ToUpper(hex.EncodeToString(v)), "F")), true
	case 0x9F5E:
		// Kernel 2's DS ID is the PAN and PAN sequence number: masked as
		// one number it shows no more than six and four digits.
		return MaskPAN(strings.ToUpper(hex.EncodeToString(v))), true
	case 0x57, 0x9F6B:
		digits := strings.TrimRight(strings.ToUpper(hex.EncodeToString(v)), "F")
		pan, rest, found := strings.Cut(digits, "D")
		if !found {
			break
		}
		return MaskPAN(pan) + "D" + strings.Repeat("*", len(rest)), true
	}
	return fmt.Sprintf("(%d bytes withheld)", len(v)), true
}
