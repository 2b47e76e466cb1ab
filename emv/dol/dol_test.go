package dol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"tappos/emv/tlv"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want DOL
		len  int
	}{
		{"empty", "", nil, 0},
		{"visa pdol", "9F66049F02065F2A029F3704",
			DOL{{0x9F66, 4}, {0x9F02, 6}, {0x5F2A, 2}, {0x9F37, 4}}, 16},
		{"mastercard pdol", "9F5C08", DOL{{0x9F5C, 8}}, 8},
		{"one byte tags", "9505" + "9A03" + "9C01", DOL{{0x95, 5}, {0x9A, 3}, {0x9C, 1}}, 9},
		{"three byte tag", "DF812906", DOL{{0xDF8129, 6}}, 6},
		{"long form length", "9F4B8180", DOL{{0x9F4B, 128}}, 128},
		{"zero length", "9F0200", DOL{{0x9F02, 0}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(unhex(t, tt.hex))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d, tt.want) || d.Len() != tt.len {
				t.Errorf("Parse = %v (len %d), want %v (len %d)", d, d.Len(), tt.want, tt.len)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		hex    string
		offset int
		err    error
	}{
		{"tag cut", "9F0206" + "9F", 3, ErrTruncated},
		{"length missing", "9F02", 2, ErrTruncated},
		{"long length cut", "9F0281", 2, ErrTruncated},
		{"indefinite length", "9F0280", 2, ErrBadLength},
		{"too long", "9F02820100", 2, ErrBadLength},
		{"tag too long", "DFFFFFFF0101", 0, tlv.ErrTagTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(unhex(t, tt.hex))
			var de *Error
			if !errors.As(err, &de) || de.Offset != tt.offset || !errors.Is(err, tt.err) {
				t.Fatalf("Parse error = %v, want offset %d, %v", err, tt.offset, tt.err)
			}
		})
	}
}

func source(m map[tlv.Tag]string) func(tlv.Tag) ([]byte, bool) {
	return func(t tlv.Tag) ([]byte, bool) {
		s, ok := m[t]
		if !ok {
			return nil, false
		}
		b, _ := hex.DecodeString(s)
		return b, true
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name   string
		dol    string
		values map[tlv.Tag]string
		want   string
	}{
		{"visa trace gpo", "9F66049F02065F2A029F3704", map[tlv.Tag]string{
			0x9F66: "24004000", 0x9F02: "000000000200", 0x5F2A: "0840", 0x9F37: "ABABABAB"},
			"24004000" + "000000000200" + "0840" + "ABABABAB"},
		{"n padded left", "9F0206", map[tlv.Tag]string{0x9F02: "0100"}, "000000000100"},
		{"n truncated left", "9F0204", map[tlv.Tag]string{0x9F02: "000000012345"}, "00012345"},
		{"cn padded with F", "5A0A", map[tlv.Tag]string{0x5A: "5413330089601034"}, "5413330089601034FFFF"},
		{"cn truncated right", "5A04", map[tlv.Tag]string{0x5A: "5413330089601034"}, "54133300"},
		{"b padded right", "9F3708", map[tlv.Tag]string{0x9F37: "ABABABAB"}, "ABABABAB00000000"},
		{"b truncated right", "9F3702", map[tlv.Tag]string{0x9F37: "ABABABAB"}, "ABAB"},
		{"an padded right", "9F1C0A", map[tlv.Tag]string{0x9F1C: "3132333435363738"}, "31323334353637380000"},
		{"absent", "9F3704" + "9A03", map[tlv.Tag]string{0x9A: "190819"}, "00000000" + "190819"},
		{"constructed", "7004" + "9C01", map[tlv.Tag]string{0x70: "01020304", 0x9C: "00"}, "00000000" + "00"},
		{"unknown tag is binary", "DF7F03", map[tlv.Tag]string{0xDF7F: "01"}, "010000"},
		{"zero length", "9F0200", map[tlv.Tag]string{0x9F02: "000000000100"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(unhex(t, tt.dol))
			if err != nil {
				t.Fatal(err)
			}
			got := d.Build(source(tt.values))
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Errorf("Build = %X, want %X", got, want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	d, _ := Parse(unhex(t, "9F02069F03069F1A02"+"9F0206"))
	data := unhex(t, "000000000200"+"000000000000"+"0840"+"999999999999")
	m, err := d.Split(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m[0x9F02], unhex(t, "000000000200")) || !bytes.Equal(m[0x9F1A], unhex(t, "0840")) || len(m) != 3 {
		t.Errorf("Split = %X", m)
	}
	if _, err := d.Split(data[1:]); !errors.Is(err, ErrDataLength) {
		t.Errorf("short data: %v", err)
	}
}

func TestHasAndString(t *testing.T) {
	d, _ := Parse(unhex(t, "9F66049F0206"))
	if !d.Has(0x9F66) || d.Has(0x9F37) {
		t.Error("Has")
	}
	if s := d.String(); s != "9F66(4) 9F02(6)" {
		t.Errorf("String = %q", s)
	}
}

func FuzzParseDOL(f *testing.F) {
	for _, s := range []string{"9F66049F02065F2A029F3704", "9F5C08", "8C", "9F0281FF", "DF812906", "7004", "5A0A9F0280"} {
		f.Add(unhex(f, s), []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, b, value []byte) {
		d, err := Parse(b)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(b) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		data := d.Build(func(tlv.Tag) ([]byte, bool) { return value, len(value)%2 == 0 })
		if len(data) != d.Len() {
			t.Fatalf("built %d bytes, DOL declares %d", len(data), d.Len())
		}
		if _, err := d.Split(data); err != nil {
			t.Fatal(err)
		}
	})
}
