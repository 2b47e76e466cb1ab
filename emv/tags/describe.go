package tags

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"tappos/emv/tlv"
)

// Tags with a bit-field decoder.
const (
	tagAIP        tlv.Tag = 0x82
	tagCVMList    tlv.Tag = 0x8E
	tagAFL        tlv.Tag = 0x94
	tagTVR        tlv.Tag = 0x95
	tagTSI        tlv.Tag = 0x9B
	tagIAD        tlv.Tag = 0x9F10
	tagCID        tlv.Tag = 0x9F27
	tagCVMResults tlv.Tag = 0x9F34
	tagTTQ        tlv.Tag = 0x9F66
	tagCTQ        tlv.Tag = 0x9F6C
)

// HasDecoder reports whether Describe knows how to decode the tag.
func HasDecoder(t tlv.Tag) bool {
	switch t {
	case tagAIP, tagCVMList, tagAFL, tagTVR, tagTSI, tagIAD, tagCID, tagCVMResults, tagTTQ, tagCTQ:
		return true
	}
	return false
}

// Describe turns a bit-field value into words: the meaning of every set
// bit, or of every coded field. It returns nil for tags without a decoder
// (see HasDecoder) and a single "malformed: ..." word when the value has
// the wrong length. Bits reserved for future use are named when set, so
// nothing set goes unreported.
//
// 9F66 and 9F6C are decoded as Visa's TTQ and CTQ, and 9F10 as a Visa IAD
// when its layout is one; Mastercard uses these tags for other data.
func Describe(t tlv.Tag, v []byte) []string {
	switch t {
	case tagAIP:
		return fixed(v, 2, aipBits, nil)
	case tagTVR:
		return fixed(v, 5, tvrBits, relayResistance)
	case tagTSI:
		return fixed(v, 2, tsiBits, nil)
	case tagTTQ:
		return fixed(v, 4, ttqBits, nil)
	case tagCTQ:
		return fixed(v, 2, ctqBits, nil)
	case tagCVMList:
		return describeCVMList(v)
	case tagAFL:
		return describeAFL(v)
	case tagCID:
		return describeCID(v)
	case tagCVMResults:
		return describeCVMResults(v)
	case tagIAD:
		return describeVisaIAD(v)
	}
	return nil
}

// Summary returns Describe's words on one line, "none" when a decodable
// value has nothing set, and "" for tags without a decoder.
func Summary(t tlv.Tag, v []byte) string {
	if !HasDecoder(t) {
		return ""
	}
	words := Describe(t, v)
	if len(words) == 0 {
		return "none"
	}
	return strings.Join(words, "; ")
}

func malformed(got, want int) []string {
	return []string{fmt.Sprintf("malformed: %d bytes, want %d", got, want)}
}

// fixed decodes a bit field of a fixed length from its table, then lets
// extra add the words for multi-bit fields.
func fixed(v []byte, l int, table []bitName, extra func([]byte) []string) []string {
	if len(v) != l {
		return malformed(len(v), l)
	}
	out := setBits(table, v)
	if extra != nil {
		out = append(out, extra(v)...)
	}
	return out
}

// relayResistance decodes TVR byte 5 bits 2-1, kernel 2's relay
// resistance outcome.
func relayResistance(v []byte) []string {
	switch v[4] & 0x03 {
	case 0x01:
		return []string{"Relay resistance not performed (kernel 2)"}
	case 0x02:
		return []string{"Relay resistance performed (kernel 2)"}
	case 0x03:
		return []string{"RFU relay resistance code 11 (kernel 2)"}
	}
	return nil
}

// ACName names an application cryptogram type from the two top bits of a
// CID or of a GENERATE AC reference control parameter.
func ACName(bits byte) string {
	switch bits & 0xC0 {
	case 0x00:
		return "AAC"
	case 0x40:
		return "TC"
	case 0x80:
		return "ARQC"
	}
	return "AAR (RFU)"
}

func describeCID(v []byte) []string {
	if len(v) != 1 {
		return malformed(len(v), 1)
	}
	c := v[0]
	out := []string{ACName(c)}
	if c&0x30 != 0 {
		out = append(out, fmt.Sprintf("Payment system-specific cryptogram bits %02b", c>>4&0x03))
	}
	if c&0x08 != 0 {
		out = append(out, "Advice required")
	}
	switch c & 0x07 {
	case 0:
	case 1:
		out = append(out, "Reason: service not allowed")
	case 2:
		out = append(out, "Reason: PIN Try Limit exceeded")
	case 3:
		out = append(out, "Reason: issuer authentication failed")
	default:
		out = append(out, fmt.Sprintf("Reason: RFU code %d", c&0x07))
	}
	return out
}

// CVMName names a CVM code (CV Rule byte 1 bits 6-1, EMV Book 3 Annex C3).
func CVMName(code byte) string {
	code &= 0x3F
	switch {
	case code == 0x00:
		return "Fail CVM processing"
	case code == 0x01:
		return "Plaintext PIN verification performed by ICC"
	case code == 0x02:
		return "Enciphered PIN verified online"
	case code == 0x03:
		return "Plaintext PIN verification performed by ICC and signature (paper)"
	case code == 0x04:
		return "Enciphered PIN verification performed by ICC"
	case code == 0x05:
		return "Enciphered PIN verification performed by ICC and signature (paper)"
	case code >= 0x06 && code <= 0x0F:
		return fmt.Sprintf("Biometric verification (code %02X)", code)
	case code == 0x1E:
		return "Signature (paper)"
	case code == 0x1F:
		return "No CVM required"
	case code == 0x3F:
		return "No CVM performed"
	case code >= 0x20 && code <= 0x2F:
		return fmt.Sprintf("Payment system-specific CVM (code %02X)", code)
	case code >= 0x30:
		return fmt.Sprintf("Issuer-specific CVM (code %02X)", code)
	}
	return fmt.Sprintf("RFU CVM (code %02X)", code)
}

var cvmConditions = [...]string{
	"Always",
	"If unattended cash",
	"If not unattended cash and not manual cash and not purchase with cashback",
	"If terminal supports the CVM",
	"If manual cash",
	"If purchase with cashback",
	"If transaction is in the application currency and is under X value",
	"If transaction is in the application currency and is over X value",
	"If transaction is in the application currency and is under Y value",
	"If transaction is in the application currency and is over Y value",
}

// CVMConditionName names a CV Rule condition code (EMV Book 3 Annex C3).
func CVMConditionName(c byte) string {
	switch {
	case int(c) < len(cvmConditions):
		return cvmConditions[c]
	case c >= 0x80:
		return fmt.Sprintf("Payment system-specific condition %02X", c)
	}
	return fmt.Sprintf("RFU condition %02X", c)
}

// describeCVMList decodes a CVM List (8E, EMV Book 3 §10.5): amounts X
// and Y, then one line per CV Rule.
func describeCVMList(v []byte) []string {
	if len(v) < 8 || len(v)%2 != 0 {
		return []string{fmt.Sprintf("malformed: %d bytes, want 8 plus 2 per CV rule", len(v))}
	}
	out := []string{
		fmt.Sprintf("Amount X: %d", binary.BigEndian.Uint32(v[0:4])),
		fmt.Sprintf("Amount Y: %d", binary.BigEndian.Uint32(v[4:8])),
	}
	for i := 8; i < len(v); i += 2 {
		rule := fmt.Sprintf("%s (condition: %s)", CVMName(v[i]), CVMConditionName(v[i+1]))
		if v[i]&0x40 != 0 {
			rule += "; if unsuccessful, the next rule"
		}
		out = append(out, rule)
	}
	return out
}

// describeAFL decodes an Application File Locator (94) entry by entry.
func describeAFL(v []byte) []string {
	entries, err := ParseAFL(v)
	if err != nil {
		return []string{"malformed: " + err.Error()}
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, fmt.Sprintf("SFI %d, records %d-%d, %d for offline data authentication", e.SFI, e.First, e.Last, e.ODA))
	}
	return out
}

func describeCVMResults(v []byte) []string {
	if len(v) != 3 {
		return malformed(len(v), 3)
	}
	out := []string{"CVM performed: " + CVMName(v[0])}
	if v[0]&0x40 != 0 {
		out = append(out, "Apply succeeding CV rule if this CVM is unsuccessful")
	}
	out = append(out, "Condition: "+CVMConditionName(v[1]))
	switch v[2] {
	case 0:
		out = append(out, "Result: unknown")
	case 1:
		out = append(out, "Result: failed")
	case 2:
		out = append(out, "Result: successful")
	default:
		out = append(out, fmt.Sprintf("Result: RFU code %02X", v[2]))
	}
	return out
}

// describeVisaIAD decodes a Visa Issuer Application Data (VIS / VCPS):
// formats 0, 1 and 3 start 06 DKI CVN 03 CVR(3); formats 2 and 4 are 32
// bytes, 1F CVN DKI CVR(5) IDD. The format is the CVN's high nibble.
func describeVisaIAD(v []byte) []string {
	switch {
	case len(v) >= 7 && v[0] == 0x06 && v[3] == 0x03:
		dki, cvn, cvr := v[1], v[2], v[4:7]
		out := []string{
			fmt.Sprintf("Visa IAD format %d", cvn>>4),
			fmt.Sprintf("CVN %d", cvn),
			fmt.Sprintf("DKI %02X", dki),
		}
		out = append(out, visaCVR(cvr, false)...)
		if len(v) > 7 {
			out = append(out, fmt.Sprintf("Issuer discretionary data: %d bytes", len(v)-7))
		}
		return out
	case len(v) == 32 && v[0] == 0x1F:
		cvn, dki, cvr := v[1], v[2], v[3:8]
		out := []string{
			fmt.Sprintf("Visa IAD format %d", cvn>>4),
			fmt.Sprintf("CVN '%02X'", cvn),
			fmt.Sprintf("DKI %02X", dki),
		}
		if cvr[0] != 0 {
			out = append(out, fmt.Sprintf("CDCVM verifying entity %X, type %X", cvr[0]>>4, cvr[0]&0x0F))
		}
		out = append(out, visaCVR(cvr[1:4], true)...)
		out = append(out, setBits(visaCVR5Bits, cvr[4:5])...)
		out = append(out, fmt.Sprintf("IDD option ID %X", v[8]&0x0F))
		return out
	}
	return []string{fmt.Sprintf("not a Visa IAD layout (%d bytes: %s...)", len(v), hex.EncodeToString(v[:min(len(v), 3)]))}
}

var acTypes2 = [...]string{"AAC", "TC", "Second GENERATE AC not requested", "RFU"}
var acTypes1 = [...]string{"AAC", "TC", "ARQC", "RFU"}

// visaCVR decodes the three CVR bytes common to all Visa IAD formats.
func visaCVR(cvr []byte, format2 bool) []string {
	out := []string{
		"CVR: second GENERATE AC: " + acTypes2[cvr[0]>>6],
		"CVR: first GENERATE AC or GPO: " + acTypes1[cvr[0]>>4&0x03],
	}
	for _, w := range setBits(visaCVRBits, cvr) {
		if format2 {
			// Byte 1 bits 3 and 2 mean something else in formats 2/4.
			switch w {
			case "Offline PIN verification performed":
				w = "CDCVM successfully performed"
			case "Offline PIN verification failed":
				w = "RFU (CVR byte 2 bit 2)"
			}
		}
		out = append(out, "CVR: "+w)
	}
	if s := cvr[2] >> 4; s != 0 {
		out = append(out, fmt.Sprintf("CVR: %d issuer script commands with secure messaging processed", s))
	}
	return out
}
