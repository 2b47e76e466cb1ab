package tlv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(t *testing.T, l List)
	}{
		{"primitive", "9F02 06 000000001000", func(t *testing.T, l List) {
			if len(l) != 1 || l[0].Tag != 0x9F02 || hex.EncodeToString(l[0].Value) != "000000001000" {
				t.Errorf("got %+v", l)
			}
		}},
		{"three-byte tag", "DF8129 01 30", func(t *testing.T, l List) {
			if l[0].Tag != 0xDF8129 || l[0].Tag.String() != "DF8129" {
				t.Errorf("tag %s", l[0].Tag)
			}
		}},
		{"long form 81", "70 81 03 5A 01 99", func(t *testing.T, l List) {
			if v := l.Value(0x5A); !bytes.Equal(v, []byte{0x99}) {
				t.Errorf("5A = %x", v)
			}
		}},
		{"long form 82", "70 82 0003 5A 01 99", func(t *testing.T, l List) {
			if len(l[0].Children) != 1 {
				t.Errorf("children %d", len(l[0].Children))
			}
		}},
		{"nested templates", "6F 0C 84 02 A0 00 A5 06 BF0C 03 61 01 00", func(t *testing.T, l List) {
			if _, ok := l.Find(0x61); !ok {
				t.Error("61 not found")
			}
		}},
		{"padding between objects", "00 5A 01 11 FF FF 00 5F34 01 01 00", func(t *testing.T, l List) {
			if len(l) != 2 || l[1].Tag != 0x5F34 {
				t.Errorf("got %+v", l)
			}
		}},
		{"empty value", "9F4D 00", func(t *testing.T, l List) {
			if len(l) != 1 || len(l[0].Value) != 0 {
				t.Errorf("got %+v", l)
			}
		}},
		{"empty input", "", func(t *testing.T, l List) {
			if len(l) != 0 {
				t.Errorf("got %+v", l)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Decode(mustHex(t, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			tc.want(t, l)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	var bomb []byte // 70 81 nn (70 81 nn (...)), one level deeper than allowed
	for range MaxDepth + 2 {
		bomb = append([]byte{0x70, 0x81, byte(len(bomb))}, bomb...)
	}
	tests := []struct {
		name   string
		in     []byte
		want   error
		offset int
	}{
		{"truncated tag", mustHex(t, "9F"), ErrTruncated, 0},
		{"tag too long", mustHex(t, "9F 81 82 83 84 01 00"), ErrTagTooLong, 0},
		{"missing length", mustHex(t, "5A"), ErrTruncated, 1},
		{"length overrun", mustHex(t, "5A 05 11 22"), ErrLengthOverrun, 1},
		{"hostile long length", mustHex(t, "5A 84 7FFFFFFF 00"), ErrBadLength, 1},
		{"indefinite length", mustHex(t, "70 80 5A 01 00 00 00"), ErrBadLength, 1},
		{"truncated long length", mustHex(t, "5A 82 01"), ErrTruncated, 1},
		{"child overrun", mustHex(t, "70 04 5A 05 11 22"), ErrLengthOverrun, 3},
		{"second object truncated", mustHex(t, "5A 01 11 5F"), ErrTruncated, 3},
		{"nesting bomb", bomb, ErrTooDeep, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("err %T is not *Error", err)
			}
			if tc.offset >= 0 && te.Offset != tc.offset {
				t.Errorf("offset = %d, want %d", te.Offset, tc.offset)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	in := mustHex(t, "6F 1A 84 0E 325041592E5359532E4444463031 A5 08 BF0C 05 61 03 4F 01 A0")
	l, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Encode(); !bytes.Equal(got, in) {
		t.Errorf("encode = %X, want %X", got, in)
	}
}

func TestAppendLength(t *testing.T) {
	for _, l := range []int{0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 20} {
		b := AppendLength(nil, l)
		got, n, err := ParseLength(b)
		if err != nil || got != l || n != len(b) {
			t.Errorf("length %d: got %d, %d, %v", l, got, n, err)
		}
	}
}

func TestWalk(t *testing.T) {
	l, err := Decode(mustHex(t, "70 06 A5 04 5A 02 1234 9F36 02 0001"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	l.Walk(func(o TLV, depth int) { got = append(got, strings.Repeat(" ", depth)+o.Tag.String()) })
	if want := "70| A5|  5A|9F36"; strings.Join(got, "|") != want {
		t.Errorf("walk = %q, want %q", strings.Join(got, "|"), want)
	}
}

// FuzzDecode checks that decoding never panics and that whatever decodes
// re-encodes to bytes that decode to the same tree.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"9F02060000000010005F2A020840",
		"6F23840E325041592E5359532E4444463031A511BF0C0E610C4F07A00000000410108701019000",
		"70819357115413330089601034D2512201909750000F",
		"0000FF5A0111",
		"708200035A0199",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Decode(b)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset > len(b) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		enc := l.Encode()
		l2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %X: %v", enc, err)
		}
		if enc2 := l2.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip differs: %X vs %X", enc, enc2)
		}
	})
}

func BenchmarkDecodeRecord(b *testing.B) {
	// A 300-byte READ RECORD template: 70 81 xx with a signed certificate.
	body := Append(nil, 0x8F, []byte{0x05})
	body = Append(body, 0x9F32, []byte{0x03})
	body = Append(body, 0x92, bytes.Repeat([]byte{0x5A}, 36))
	body = Append(body, 0x57, bytes.Repeat([]byte{0x12}, 19))
	body = Append(body, 0x5F24, []byte{0x25, 0x12, 0x31})
	body = Append(body, 0x90, bytes.Repeat([]byte{0xA5}, 300-3-len(body)-4))
	rec := Append(nil, 0x70, body)
	if len(rec) != 300 {
		b.Fatalf("record is %d bytes", len(rec))
	}
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "emv_tlv_decode_ns")
}

func TestParseHex(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // hex, or "" with err
		err  string
	}{
		{"plain", "9F2701", "9f2701", ""},
		{"spaces, tabs and newlines", " 9F27 01\t80\n9f36 02 0052 ", "9f270180" + "9f3602" + "0052", ""},
		{"lower case", "abcdef", "abcdef", ""},
		{"empty", "", "", ""},
		{"odd digits", "9F2", "", "odd number of digits (3)"},
		{"odd digits split by space", "9F 2", "", "odd number of digits (3)"},
		{"not hex", "9F2G01", "", `'G' at digit 3`},
		{"0x prefix", "0x9F", "", `'x' at digit 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHex(tc.in)
			if tc.err != "" {
				if !errors.Is(err, ErrHex) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrHex with %q", err, tc.err)
				}
				return
			}
			if err != nil || hex.EncodeToString(got) != tc.want {
				t.Fatalf("ParseHex(%q) = %x, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}
