package tags

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"tappos/emv/tlv"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		tag    tlv.Tag
		want   string
		format Format
		source Source
		secret bool
	}{
		{"pan", 0x5A, "Application Primary Account Number (PAN)", FormatCN, SourceICC, true},
		{"amount", 0x9F02, "Amount, Authorised (Numeric)", FormatN, SourceTerminal, false},
		{"ttq", 0x9F66, "Terminal Transaction Qualifiers (TTQ) (Visa) / PUNATC (Track2) (Mastercard)", FormatB, SourceICC | SourceTerminal, false},
		{"kernel2 outcome", 0xDF8129, "Outcome Parameter Set (Mastercard)", FormatB, SourceTerminal, false},
		{"template", 0x77, "Response Message Template Format 2", FormatVar, SourceICC, false},
		{"visa vis", 0x9F57, "Issuer Country Code (Visa)", FormatN, SourceICC, false},
		{"iin extended", 0x9F0C, "Issuer Identification Number Extended (IINE)", FormatN, SourceICC, false},
		{"ds id", 0x9F5E, "DS ID (Mastercard)", FormatB, SourceICC, true},
		{"unionpay", 0xDF69, "SM Algorithm Supported Indicator (UnionPay)", FormatB, SourceICC | SourceTerminal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, ok := Lookup(tt.tag)
			if !ok {
				t.Fatalf("Lookup(%s) not found", tt.tag)
			}
			if i.Tag != tt.tag || i.Name != tt.want || i.Format != tt.format || i.Source != tt.source || i.Sensitive != tt.secret {
				t.Errorf("Lookup(%s) = %+v", tt.tag, i)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if _, ok := Lookup(0xDF7F); ok {
			t.Error("found an unknown tag")
		}
		if Name(0xDF7F) != "Unknown tag" || FormatOf(0xDF7F) != FormatB {
			t.Error("unknown tag defaults wrong")
		}
	})
}

func TestDictionaryWellFormed(t *testing.T) {
	for tag, i := range dict {
		if i.Name == "" || i.Format < FormatB || i.Format > FormatVar || i.Source == 0 {
			t.Errorf("%s: incomplete entry %+v", tag, i)
		}
		if tag.Constructed() != (i.Format == FormatVar) && tag != 0x5F53 && tag != 0x5F54 {
			t.Errorf("%s: constructed=%v but format %s", tag, tag.Constructed(), i.Format)
		}
	}
}

func TestBitTablesInRange(t *testing.T) {
	for name, tc := range map[string]struct {
		table []bitName
		l     int
	}{
		"tvr": {tvrBits, 5}, "tsi": {tsiBits, 2}, "aip": {aipBits, 2}, "ttq": {ttqBits, 4},
		"ctq": {ctqBits, 2}, "cvr": {visaCVRBits, 3}, "cvr5": {visaCVR5Bits, 1},
	} {
		t.Run(name, func(t *testing.T) {
			seen := map[Bit]bool{}
			for _, e := range tc.table {
				if e.bit.Byte() < 0 || e.bit.Byte() >= tc.l || e.bit.Mask() == 0 || e.bit.Mask()&(e.bit.Mask()-1) != 0 {
					t.Errorf("%q: bad bit %04X", e.name, uint16(e.bit))
				}
				if seen[e.bit] {
					t.Errorf("%q: bit %04X listed twice", e.name, uint16(e.bit))
				}
				seen[e.bit] = true
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		tag  tlv.Tag
		hex  string
		want []string
	}{
		{"aip visa", 0x82, "2000", []string{"DDA supported"}},
		{"aip mastercard", 0x82, "5980", []string{
			"SDA supported", "Cardholder verification is supported",
			"Terminal risk management is to be performed", "CDA supported", "EMV mode is supported (kernel 2)"}},
		{"cvm list", 0x8E, "000000000000271042031E031F00", []string{
			"Amount X: 0", "Amount Y: 10000",
			"Enciphered PIN verified online (condition: If terminal supports the CVM); if unsuccessful, the next rule",
			"Signature (paper) (condition: If terminal supports the CVM)",
			"No CVM required (condition: Always)"}},
		{"cvm list amounts only", 0x8E, "0000000000000000", []string{"Amount X: 0", "Amount Y: 0"}},
		{"cvm list odd rule", 0x8E, "00000000000000001F", []string{"malformed: 9 bytes, want 8 plus 2 per CV rule"}},
		{"afl", 0x94, "0801010010010201", []string{
			"SFI 1, records 1-1, 0 for offline data authentication",
			"SFI 2, records 1-2, 1 for offline data authentication"}},
		{"afl bad", 0x94, "08020100", []string{"malformed: malformed application file locator: entry 0"}},
		{"tvr clean", 0x95, "0000000000", nil},
		{"tvr", 0x95, "8000048002", []string{
			"Offline data authentication was not performed", "Online PIN entered",
			"Transaction exceeds floor limit", "Relay resistance performed (kernel 2)"}},
		{"tvr short", 0x95, "0000", []string{"malformed: 2 bytes, want 5"}},
		{"tsi", 0x9B, "E800", []string{
			"Offline data authentication was performed", "Cardholder verification was performed",
			"Card risk management was performed", "Terminal risk management was performed"}},
		{"ttq visa trace", 0x9F66, "24004000", []string{
			"EMV mode supported", "Online PIN supported", "Consumer device CVM supported"}},
		{"ttq mastercard punatc", 0x9F66, "0E70", []string{"malformed: 2 bytes, want 4"}},
		{"ctq", 0x9F6C, "0080", []string{"Consumer device CVM performed"}},
		{"cid arqc", 0x9F27, "80", []string{"ARQC"}},
		{"cid tc", 0x9F27, "40", []string{"TC"}},
		{"cid aac advice", 0x9F27, "0A", []string{"AAC", "Advice required", "Reason: PIN Try Limit exceeded"}},
		{"cvm results no cvm", 0x9F34, "1F0302", []string{
			"CVM performed: No CVM required", "Condition: If terminal supports the CVM", "Result: successful"}},
		{"cvm results online pin", 0x9F34, "420300", []string{
			"CVM performed: Enciphered PIN verified online", "Apply succeeding CV rule if this CVM is unsuccessful",
			"Condition: If terminal supports the CVM", "Result: unknown"}},
		{"cvm results none", 0x9F34, "3F0000", []string{
			"CVM performed: No CVM performed", "Condition: Always", "Result: unknown"}},
		{"visa iad cvn17 offline", 0x9F10, "06011103900000", []string{
			"Visa IAD format 1", "CVN 17", "DKI 01",
			"CVR: second GENERATE AC: Second GENERATE AC not requested", "CVR: first GENERATE AC or GPO: TC"}},
		{"visa iad cvn10 with idd", 0x9F10, "06010A03A4B8020F0000000000000000000000000000", []string{
			"Visa IAD format 0", "CVN 10", "DKI 01",
			"CVR: second GENERATE AC: Second GENERATE AC not requested", "CVR: first GENERATE AC or GPO: ARQC",
			"CVR: Offline PIN verification performed",
			"CVR: Last online transaction not completed", "CVR: Exceeded velocity checking counters",
			"CVR: New card", "CVR: Issuer authentication failure on last online transaction",
			"CVR: Offline dynamic data authentication performed",
			"Issuer discretionary data: 15 bytes"}},
		{"visa iad format 2", 0x9F10, "1F220100A000000200" + strings.Repeat("00", 23), []string{
			"Visa IAD format 2", "CVN '22'", "DKI 01",
			"CVR: second GENERATE AC: Second GENERATE AC not requested", "CVR: first GENERATE AC or GPO: ARQC",
			"CDCVM successfully performed", "IDD option ID 0"}},
		{"mastercard iad", 0x9F10, "0110A00003220000000000000000000000FF", []string{
			"not a Visa IAD layout (18 bytes: 0110a0...)"}},
		{"no decoder", 0x9F02, "000000000100", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Describe(tt.tag, unhex(t, tt.hex))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Describe(%s, %s) =\n%q\nwant\n%q", tt.tag, tt.hex, got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name string
		tag  tlv.Tag
		hex  string
		want string
	}{
		{"nothing set", 0x95, "0000000000", "none"},
		{"words", 0x82, "2000", "DDA supported"},
		{"joined", 0x9F27, "88", "ARQC; Advice required"},
		{"no decoder", 0x5F2A, "0840", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summary(tt.tag, unhex(t, tt.hex)); got != tt.want {
				t.Errorf("Summary = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDescribeNeverPanics(t *testing.T) {
	for _, tag := range []tlv.Tag{0x82, 0x8E, 0x94, 0x95, 0x9B, 0x9F10, 0x9F27, 0x9F34, 0x9F66, 0x9F6C} {
		for l := 0; l < 40; l++ {
			v := make([]byte, l)
			for i := range v {
				v[i] = 0xFF
			}
			if l > 0 {
				v[0] = 0x06
			}
			if l > 3 {
				v[3] = 0x03
			}
			_ = Describe(tag, v)
			if l > 0 {
				v[0] = 0x1F
				_ = Describe(tag, v)
			}
		}
	}
}

func TestTVRAndBits(t *testing.T) {
	var tvr TVR
	tvr.Set(TVRCDAFailed)
	tvr.Set(TVRRelayResistanceTimeLimits)
	if !tvr.Has(TVRCDAFailed) || tvr.Has(TVRDDAFailed) || tvr != (TVR{0x04, 0, 0, 0, 0x04}) {
		t.Errorf("TVR = % X", tvr)
	}
	var tsi TSI
	tsi.Set(TSIOfflineDataAuthPerformed)
	if tsi != (TSI{0x80, 0}) || !tsi.Has(TSIOfflineDataAuthPerformed) {
		t.Errorf("TSI = % X", tsi)
	}
	short := []byte{0xFF}
	CTQConsumerDeviceCVMPerformed.SetIn(short) // out of range: ignored
	if CTQConsumerDeviceCVMPerformed.In(short) || !CTQOnlinePINRequired.In(short) {
		t.Error("In/SetIn out of range")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		tag  tlv.Tag
		hex  string
		want string
		ok   bool
	}{
		{"pan", 0x5A, "5413330089601034", "541333******1034", true},
		{"pan padded", 0x5A, "4761739001010010FF", "476173******0010", true},
		{"track2", 0x57, "4761739001010010D191220111438825820220", "476173******0010D" + strings.Repeat("*", 21), true},
		{"track2 padded", 0x57, "5413330089601034D2512201909750000F", "541333******1034D" + strings.Repeat("*", 16), true},
		{"name", 0x5F20, "56495341", "(4 bytes withheld)", true},
		{"DS ID", 0x9F5E, "541333900000151301", "541333********1301", true},
		{"not sensitive", 0x9F02, "000000000100", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Redact(tt.tag, unhex(t, tt.hex))
			if got != tt.want || ok != tt.ok {
				t.Errorf("Redact = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMaskPAN(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"5413330089600345", "541333******0345"},
		{"4761739001010010", "476173******0010"},
		{"1234567890123456789", "123456*********6789"},
		{"476173900101001", "476173*****1001"},
		{"1234567890123", "123456***0123"},
		{"123456789012", "********9012"},
		{"123456789", "*****6789"},
		{"123", "***"},
		{"", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := MaskPAN(tt.in); got != tt.want {
				t.Errorf("MaskPAN(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	if FormatCN.String() != "cn" || Format(99).String() != "?" {
		t.Error("Format.String")
	}
	if (SourceICC|SourceTerminal).String() != "ICC/terminal" || Source(0).String() != "?" {
		t.Error("Source.String")
	}
}
