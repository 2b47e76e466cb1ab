package apdu

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The expected bytes are the terminal's commands in the recorded traces
// under testdata/traces (copied from ../shared/testvectors/emv/traces).
func TestConstructorsMatchTraces(t *testing.T) {
	getATC, err := GetData(0x9F36)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"select ppse", SelectPPSE(), "00A404000E325041592E5359532E444446303100"},
		{"select aid", Select(unhex(t, "A0000000031010")), "00A4040007A000000003101000"},
		{"gpo empty pdol", GetProcessingOptions(nil), "80A8000002830000"},
		{"gpo visa", GetProcessingOptions(unhex(t, "240040000000000002000840ABABABAB")),
			"80A80000128310240040000000000002000840ABABABAB00"},
		{"read record sfi 2", ReadRecord(2, 1), "00B2011400"},
		{"read record sfi 3", ReadRecord(3, 1), "00B2011C00"},
		{"read record sfi 4 rec 2", ReadRecord(4, 2), "00B2022400"},
		{"generate ac arqc cda", GenerateAC(ARQC, true, unhex(t, "00000000900000000000000000560000040001084020031600ABABABAB2200000000000000000000020300")),
			"80AE90002B00000000900000000000000000560000040001084020031600ABABABAB220000000000000000000002030000"},
		{"generate ac tc cda", GenerateAC(TC, true, unhex(t, "00000000010000000000103F0000000808DC868126")),
			"80AE50001500000000010000000000103F0000000808DC86812600"},
		{"generate ac aac", GenerateAC(AAC, false, []byte{1}), "80AE0000010100"},
		{"compute cryptographic checksum", ComputeCryptographicChecksum(unhex(t, "086800080000000000150009780056")),
			"802A8E800F08680008000000000015000978005600"},
		{"get data atc", getATC, "80CA9F3600"},
		{"internal authenticate", InternalAuthenticate(unhex(t, "ABABABAB")), "0088000004ABABABAB00"},
		{"get response", GetResponse(0x1C), "00C000001C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cmd.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Errorf("Bytes = %X\nwant    %X", got, want)
			}
		})
	}
	if _, err := GetData(0xDF8129); err == nil {
		t.Error("GET DATA of a three-byte tag: no error")
	}
}

func TestTracesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/traces/*.json")
	if len(files) == 0 {
		t.Skip("no traces in testdata/traces")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var trace struct {
				APDUs []struct{ Cmd, Resp string } `json:"apdus"`
			}
			if err := json.Unmarshal(raw, &trace); err != nil {
				t.Fatal(err)
			}
			for i, a := range trace.APDUs {
				cb := unhex(t, a.Cmd)
				c, err := ParseCommand(cb)
				if err != nil {
					t.Fatalf("apdu %d: %v", i, err)
				}
				again, err := c.Bytes()
				if err != nil || !bytes.Equal(again, cb) {
					t.Errorf("apdu %d: %s re-encoded as %X, %v", i, c.Name(), again, err)
				}
				r, err := ParseResponse(unhex(t, a.Resp))
				if err != nil || r.SW != SWSuccess {
					t.Errorf("apdu %d: response %v, %v", i, r.SW, err)
				}
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want Command
		err  error
	}{
		{"case 1", "00A40400", Command{CLA: 0, INS: 0xA4, P1: 4}, nil},
		{"case 2", "00B2011400", Command{INS: 0xB2, P1: 1, P2: 0x14, Le: 256}, nil},
		{"case 2 le", "00C000001C", Command{INS: 0xC0, Le: 0x1C}, nil},
		{"case 3", "0088000002ABCD", Command{INS: 0x88, Data: []byte{0xAB, 0xCD}}, nil},
		{"case 4", "0088000002ABCD00", Command{INS: 0x88, Data: []byte{0xAB, 0xCD}, Le: 256}, nil},
		{"too short", "00A404", Command{}, ErrTooShort},
		{"extended", "00A4040000000101", Command{}, ErrExtended},
		{"lc too big", "0088000005ABCD", Command{}, ErrBadLength},
		{"lc too small", "0088000001ABCDEF", Command{}, ErrBadLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCommand(unhex(t, tt.hex))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && !reflect.DeepEqual(c, tt.want) {
				t.Errorf("ParseCommand = %+v, want %+v", c, tt.want)
			}
		})
	}
}

func TestBytesErrors(t *testing.T) {
	if _, err := (Command{Data: make([]byte, 256)}).Bytes(); !errors.Is(err, ErrDataTooLong) {
		t.Errorf("long data: %v", err)
	}
	if _, err := (Command{Le: 257}).Bytes(); !errors.Is(err, ErrLeOutOfRange) {
		t.Errorf("Le 257: %v", err)
	}
}

func TestParseResponse(t *testing.T) {
	r, err := ParseResponse(unhex(t, "70009000"))
	if err != nil || !bytes.Equal(r.Data, []byte{0x70, 0}) || r.SW != SWSuccess {
		t.Errorf("ParseResponse = %+v, %v", r, err)
	}
	if !bytes.Equal(r.Bytes(), unhex(t, "70009000")) {
		t.Errorf("Bytes = %X", r.Bytes())
	}
	if _, err := ParseResponse([]byte{0x90}); !errors.Is(err, ErrTooShort) {
		t.Errorf("short: %v", err)
	}
}

func TestSWString(t *testing.T) {
	tests := []struct {
		sw   SW
		want string
	}{
		{0x9000, "9000 (success)"},
		{0x6A82, "6A82 (file or application not found)"},
		{0x6A83, "6A83 (record not found)"},
		{0x6283, "6283 (selected file invalidated)"},
		{0x6985, "6985 (conditions of use not satisfied)"},
		{0x6110, "6110 (16 response bytes available)"},
		{0x6100, "6100 (256 response bytes available)"},
		{0x6C1C, "6C1C (wrong Le, 28 bytes available)"},
		{0x63C2, "63C2 (verification failed, 2 tries left)"},
		{0x6D00, "6D00 (instruction code not supported)"},
		{0x6E00, "6E00 (class not supported)"},
		{0x1234, "1234 (unknown status)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.sw.String(); got != tt.want {
				t.Errorf("String = %q", got)
			}
		})
	}
}

// script is a Transceiver answering from a list and recording commands.
type script struct {
	answers []string
	sent    []string
	err     error
}

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.sent = append(s.sent, strings.ToUpper(hex.EncodeToString(cmd)))
	if s.err != nil {
		return nil, s.err
	}
	if len(s.answers) == 0 {
		return []byte{0x6F, 0x00}, nil
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return hex.DecodeString(a)
}

func TestTransmit(t *testing.T) {
	tests := []struct {
		name    string
		cmd     Command
		answers []string
		sent    []string
		data    string
		sw      SW
		err     bool
	}{
		{"plain", ReadRecord(1, 1), []string{"70009000"}, []string{"00B2010C00"}, "7000", SWSuccess, false},
		{"61xx chain", SelectPPSE(), []string{"6104", "6F0261026102", "00009000"},
			[]string{"00A404000E325041592E5359532E444446303100", "00C0000004", "00C0000002"}, "6F0261020000", SWSuccess, false},
		{"6Cxx resend", GetResponse(0), []string{"6C02", "AABB9000"},
			[]string{"00C00000", "00C0000002"}, "AABB", SWSuccess, false},
		{"6Cxx once only", ReadRecord(1, 1), []string{"6C10", "6C08"},
			[]string{"00B2010C00", "00B2010C10"}, "", 0x6C08, true},
		{"status error", ReadRecord(1, 3), []string{"6A83"}, []string{"00B2030C00"}, "", SWRecordNotFound, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{answers: tt.answers}
			r, err := Transmit(context.Background(), s, tt.cmd)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				var se *StatusError
				if !errors.As(err, &se) || se.SW != tt.sw || se.INS != tt.cmd.INS {
					t.Errorf("err = %v, want status %v", err, tt.sw)
				}
			}
			if !reflect.DeepEqual(s.sent, tt.sent) {
				t.Errorf("sent %q, want %q", s.sent, tt.sent)
			}
			if !bytes.Equal(r.Data, unhex(t, tt.data)) || r.SW != tt.sw {
				t.Errorf("response %X %v, want %s %v", r.Data, r.SW, tt.data, tt.sw)
			}
		})
	}
}

func TestTransmitBounded(t *testing.T) {
	s := &script{answers: make([]string, 100)}
	for i := range s.answers {
		s.answers[i] = "AA6101"
	}
	_, err := Transmit(context.Background(), s, SelectPPSE())
	if !errors.Is(err, ErrTooManyRounds) || len(s.sent) != MaxGetResponseRounds+1 {
		t.Errorf("err = %v after %d commands", err, len(s.sent))
	}
}

func TestTransmitTransportError(t *testing.T) {
	boom := errors.New("card removed")
	_, err := Transmit(context.Background(), &script{err: boom}, SelectPPSE())
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "SELECT") {
		t.Errorf("err = %v", err)
	}
	_, err = Transmit(context.Background(), &script{answers: []string{"90"}}, SelectPPSE())
	if !errors.Is(err, ErrTooShort) {
		t.Errorf("short response: %v", err)
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"00A404000E325041592E5359532E444446303100", "80A8000002830000", "00B2011400", "00A40400", "0088000002ABCD", "00A4040000"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			return
		}
		again, err := c.Bytes()
		if err != nil {
			t.Fatalf("parsed %X but cannot encode: %v", b, err)
		}
		// 00 and no Le both mean 256 only for Le; otherwise encoding is exact.
		if !bytes.Equal(again, b) {
			t.Fatalf("%X re-encoded as %X", b, again)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"9000", "6A82", "70009000", "61", ""} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			if len(b) >= 2 {
				t.Fatalf("rejected %X", b)
			}
			return
		}
		if !bytes.Equal(r.Bytes(), b) {
			t.Fatalf("%X re-encoded as %X", b, r.Bytes())
		}
		_ = r.SW.String()
	})
}

func TestACTypeString(t *testing.T) {
	for _, tt := range []struct {
		a    ACType
		want string
	}{{AAC, "AAC"}, {TC, "TC"}, {ARQC, "ARQC"}, {0xC0, "AAR (RFU)"}} {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.a.String(); got != tt.want {
				t.Errorf("ACType(%02X).String() = %q, want %q", byte(tt.a), got, tt.want)
			}
		})
	}
}
