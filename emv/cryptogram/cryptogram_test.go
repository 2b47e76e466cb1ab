package cryptogram

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// Unless noted, the vectors below come from the pyemv library,
// github.com/knovichikhin/pyemv, whose *_hsm.py tests were checked against
// a payment HSM. Each case names the file and test (or docstring) it
// reproduces.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func hexUp(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// kcv2 returns the 2-byte check value pyemv's tests print.
func kcv2(t *testing.T, key []byte) string {
	t.Helper()
	k, err := KCV(key)
	if err != nil {
		t.Fatalf("KCV: %v", err)
	}
	return hexUp(k[:2])
}

func TestRetailMAC(t *testing.T) {
	// pyemv tests/test_mac.py, test_mac_iso9797_3.
	key := unhex(t, "AAAAAAAAAAAAAAAA BBBBBBBBBBBBBBBB")
	tests := []struct {
		name string
		pad  Padding
		want string
	}{
		{"method1", PaddingMethod1, "78DA3D3DEB48FD4D"},
		{"method2", PaddingMethod2, "2BC2D9EDE0CF31F6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RetailMAC(key, []byte("hello world"), tt.pad)
			if err != nil {
				t.Fatal(err)
			}
			if hexUp(got) != tt.want {
				t.Errorf("MAC = %X, want %s", got, tt.want)
			}
		})
	}
	t.Run("short key", func(t *testing.T) {
		_, err := RetailMAC(key[:8], nil, PaddingMethod2)
		var le *LengthError
		if !errors.As(err, &le) {
			t.Errorf("err = %v, want *LengthError", err)
		}
	})
}

func TestPad(t *testing.T) {
	// pyemv tests/test_mac.py, test_pad_iso9797_1 and test_pad_iso9797_2.
	f := func(n int) string { return strings.Repeat("46", n) }
	tests := []struct {
		name string
		in   string
		pad  Padding
		want string
	}{
		{"m1 empty", "", PaddingMethod1, "0000000000000000"},
		{"m1 3", f(3), PaddingMethod1, f(3) + "0000000000"},
		{"m1 8", f(8), PaddingMethod1, f(8)},
		{"m1 9", f(9), PaddingMethod1, f(9) + "00000000000000"},
		{"m2 empty", "", PaddingMethod2, "8000000000000000"},
		{"m2 7", f(7), PaddingMethod2, f(7) + "80"},
		{"m2 8", f(8), PaddingMethod2, f(8) + "8000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			got := Pad(in, tt.pad)
			if hexUp(got) != strings.ToUpper(tt.want) {
				t.Errorf("Pad = %X, want %s", got, tt.want)
			}
			if len(in) > 0 && &got[0] == &in[0] {
				t.Error("Pad aliases its input")
			}
		})
	}
}

func TestKCV(t *testing.T) {
	// pyemv tests/test_kd_hsm.py: the issuer master key's check digits 08D7.
	got, err := KCV(unhex(t, "0123456789ABCDEFFEDCBA9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || hexUp(got[:2]) != "08D7" {
		t.Errorf("KCV = %X, want 08D7xx", got)
	}
	if _, err := KCV(make([]byte, 15)); err == nil {
		t.Error("KCV of a 15-byte key: no error")
	}
}

const imk = "0123456789ABCDEFFEDCBA9876543210"

func TestMasterKey(t *testing.T) {
	tests := []struct {
		name     string // source
		optionB  bool
		pan, psn string
		wantKey  string // full key, when published
		wantKCV  string // 2-byte check digits
	}{
		// pyemv pyemv/kd.py, derive_icc_mk_a docstring.
		{name: "A kd.py docstring", pan: "12345678901234567", psn: "01",
			wantKey: "73AD54688CEF2934B0979857E3C719F1"},
		// pyemv tests/test_kd_hsm.py, test_derive_icc_mk_a_psn.
		{name: "A test_derive_icc_mk_a_psn", pan: "12345678901234567", psn: "45", wantKCV: "FF08"},
		// pyemv tests/test_ac_hsm.py, test_generate_ac_emv_arpc1.
		{name: "A test_generate_ac_emv_arpc1", pan: "9901234567890123", psn: "45", wantKCV: "1DA5"},
		// pyemv tests/test_cvn_hsm.py, test_visa_cvn10 (PSN 00).
		{name: "A test_visa_cvn10", pan: "1234567890123456", psn: "00", wantKCV: "BAB0"},
		{name: "A absent PSN is 00", pan: "1234567890123456", psn: "", wantKCV: "BAB0"},
		{name: "A F-padded PAN", pan: "1234567890123456FFF", psn: "0", wantKCV: "BAB0"},
		// pyemv pyemv/kd.py, derive_icc_mk_b docstring.
		{name: "B kd.py docstring", optionB: true, pan: "12345678901234567", psn: "01",
			wantKey: "AD406D7F6D7570916D75E5DCAB8CF737"},
		// pyemv tests/test_kd_hsm.py, test_derive_icc_mk_b_pan17_psn,
		// test_derive_icc_mk_b_pan17_no_psn, test_derive_icc_mk_b_pan18 and
		// test_derive_icc_mk_b_sha_pad (digest short of digits).
		{name: "B test_derive_icc_mk_b_pan17_psn", optionB: true, pan: "12345678901234567", psn: "45", wantKCV: "0BAF"},
		{name: "B test_derive_icc_mk_b_pan17_no_psn", optionB: true, pan: "12345678901234567", wantKCV: "4626"},
		{name: "B test_derive_icc_mk_b_pan18", optionB: true, pan: "123456789012345679", psn: "00", wantKCV: "C2F3"},
		{name: "B test_derive_icc_mk_b_sha_pad", optionB: true, pan: "000000000000000005", psn: "23", wantKCV: "DD73"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			digits, err := panDigits(tt.pan, tt.psn)
			if err != nil {
				t.Fatal(err)
			}
			var mk []byte
			if tt.optionB {
				mk = masterKeyB(newKey2(unhex(t, imk)), digits)
			} else {
				mk = masterKeyA(newKey2(unhex(t, imk)), digits)
			}
			if tt.wantKey != "" && hexUp(mk) != tt.wantKey {
				t.Errorf("MK = %X, want %s", mk, tt.wantKey)
			}
			if tt.wantKCV != "" && kcv2(t, mk) != tt.wantKCV {
				t.Errorf("MK check digits = %s, want %s", kcv2(t, mk), tt.wantKCV)
			}
		})
	}
}

func TestSessionKeys(t *testing.T) {
	tests := []struct {
		name        string
		mk, r       string
		wantKey     string
		wantKCV     string
		fromIMK     bool // mk is an issuer master key to derive with option A
		pan, psn    string
		atc, un     string
		mastercardR bool
	}{
		// pyemv pyemv/kd.py, derive_common_sk docstring.
		{name: "common kd.py docstring", mk: imk, r: "001C000000000000",
			wantKey: "E9FB384AF807B940FEDCEA613461B0C4"},
		// pyemv tests/test_kd_hsm.py, test_derive_common_sk.
		{name: "common test_derive_common_sk", mk: imk, fromIMK: true,
			pan: "12345678901234567", psn: "45", r: "1234567890123456", wantKCV: "DF82"},
		// pyemv tests/test_kd_hsm.py, test_derive_icc_mk_a_no_psn.
		{name: "common test_derive_icc_mk_a_no_psn", mk: imk, fromIMK: true,
			pan: "12345678901234567", r: "1234567890123456", wantKCV: "3F4F"},
		// pyemv tests/test_cvn_hsm.py, test_mastercard_cvn16 and
		// test_interac_cvn133: Mastercard SKD session key, check digits 2FD5.
		{name: "mastercard SKD test_mastercard_cvn16", mk: imk, fromIMK: true,
			pan: "1234567890123456", psn: "00", atc: "001C", un: "ABCDEF12",
			mastercardR: true, wantKCV: "2FD5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := unhex(t, tt.mk)
			if tt.fromIMK {
				digits, err := panDigits(tt.pan, tt.psn)
				if err != nil {
					t.Fatal(err)
				}
				mk = masterKeyA(newKey2(mk), digits)
			}
			var k Keys
			var err error
			if tt.mastercardR {
				k, err = DeriveSession(MastercardCVN16, mk, unhex(t, tt.atc), unhex(t, tt.un), nil)
			} else {
				k, err = DeriveSession(EMVCSK, mk, nil, nil, unhex(t, tt.r))
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantKey != "" && hexUp(k.SessionKey) != tt.wantKey {
				t.Errorf("SK = %X, want %s", k.SessionKey, tt.wantKey)
			}
			if tt.wantKCV != "" && kcv2(t, k.SessionKey) != tt.wantKCV {
				t.Errorf("SK check digits = %s, want %s", kcv2(t, k.SessionKey), tt.wantKCV)
			}
		})
	}
}

// tags maps EMV tags to values for InputData.
type tags map[uint32][]byte

func (m tags) get(tag uint32) []byte { return m[tag] }

// pyemvTags returns the transaction data of pyemv's tests/test_cvn_hsm.py
// Visa tests (test_visa_cvn10, test_visa_cvn18) with the given IAD.
func visaTags(t testing.TB, iad string) tags {
	return tags{
		0x9F02: unhex(t, "000000004000"),
		0x9F03: unhex(t, "000000000000"),
		0x9F1A: unhex(t, "0124"),
		0x95:   unhex(t, "8000048000"),
		0x5F2A: unhex(t, "0124"),
		0x9A:   unhex(t, "191105"),
		0x9C:   unhex(t, "01"),
		0x9F37: unhex(t, "52BF4585"),
		0x82:   unhex(t, "1800"),
		0x9F36: unhex(t, "001C"),
		0x9F10: unhex(t, iad),
	}
}

// mastercardTags returns the transaction data of pyemv's
// test_mastercard_cvn16.
func mastercardTags(t testing.TB) tags {
	return tags{
		0x9F02: unhex(t, "000000009999"),
		0x9F03: unhex(t, "000000000000"),
		0x9F1A: unhex(t, "0124"),
		0x95:   unhex(t, "8000000000"),
		0x5F2A: unhex(t, "0124"),
		0x9A:   unhex(t, "209906"),
		0x9C:   unhex(t, "00"),
		0x9F37: unhex(t, "ABCDEF12"),
		0x82:   unhex(t, "1800"),
		0x9F36: unhex(t, "001C"),
		0x9F10: unhex(t, "0110A00003220000000000000000000000FF"),
	}
}

// schemeVector is a full issuer-side vector: derive keys, build or take the
// cryptogram input, check the ARQC and compute the ARPC.
type schemeVector struct {
	name            string
	scheme          Scheme
	imk, pan, psn   string
	atc, un, r      string
	tags            tags   // cryptogram input from tags, or
	data            string // the input given directly
	wantMKKCV       string
	wantSKKCV       string // "" when the scheme has no session key
	wantARQC        string
	arc             string // ARPC method 1
	csu, prop       string // ARPC method 2
	wantARPC        string
	wantUnsupported bool
}

func schemeVectors(t testing.TB) []schemeVector {
	const pyemvIMK = "0123456789ABCDEFFEDCBA9876543210"
	return []schemeVector{
		// pyemv tests/test_cvn_hsm.py, test_visa_cvn10.
		{name: "visa-cvn10 test_visa_cvn10", scheme: VisaCVN10, imk: pyemvIMK,
			pan: "1234567890123456", psn: "00", tags: visaTags(t, "06010A03A06010"),
			wantMKKCV: "BAB0", wantARQC: "29CCA15AE665FA2E",
			arc: "3030", wantARPC: "28993816AFAE4AEB"},
		// pyemv tests/test_cvn_hsm.py, test_visa_cvn18.
		{name: "visa-cvn18 test_visa_cvn18", scheme: VisaCVN18, imk: pyemvIMK,
			pan: "1234567890123456", psn: "00", atc: "001C", tags: visaTags(t, "06011203A0B800"),
			wantMKKCV: "BAB0", wantSKKCV: "22C8", wantARQC: "7A788EA6B8A3E733",
			csu: "00000000", wantARPC: "9AF514C1"},
		// pyemv pyemv/cvn.py, module docstring (VisaCVN18 example).
		{name: "visa-cvn18 cvn.py docstring", scheme: VisaCVN18,
			imk: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pan: "1234567890123456", psn: "00", atc: "0FFF",
			data:     "000000009999 000000000000 0840 8000048000 0840 991231 01 52BF4585 1800 0FFF 06011203A0B800",
			wantARQC: "769577B5ABE9FE62", csu: "00000000", wantARPC: "76503F48"},
		// pyemv tests/test_cvn_hsm.py (later revision), test_mastercard_cvn16.
		{name: "mc-cvn16 test_mastercard_cvn16", scheme: MastercardCVN16, imk: pyemvIMK,
			pan: "1234567890123456", psn: "00", atc: "001C", un: "ABCDEF12", tags: mastercardTags(t),
			wantMKKCV: "BAB0", wantSKKCV: "2FD5", wantARQC: "24CCF3DEE3158C70",
			arc: "0010", wantARPC: "73F6BBF389A6586C"},
		// pyemv tests/test_kd_hsm.py, test_derive_common_sk.
		{name: "emv-csk test_derive_common_sk", scheme: EMVCSK, imk: pyemvIMK,
			pan: "12345678901234567", psn: "45", r: "1234567890123456",
			data: "0123456789ABCDEF0123456789ABCDEF", wantMKKCV: "FF08", wantSKKCV: "DF82",
			wantARQC: "19C1FBC83EBDC0D5", arc: "0000", wantARPC: "C3620580668E5B65"},
		// pyemv tests/test_ac_hsm.py, test_generate_arpc2.
		{name: "emv-csk test_generate_arpc2", scheme: EMVCSK, imk: pyemvIMK,
			pan: "9901234567890123", psn: "45", r: "1234567890123456",
			data: "0123456789ABCDEF0123456789ABCDEF", wantMKKCV: "1DA5", wantSKKCV: "0995",
			wantARQC: "4B46013359B7A58B", csu: "00000000", prop: "1234567890ABCDEF", wantARPC: "4962B76C"},
		// pyemv tests/test_ac_hsm.py, test_generate_arpc2_no_prop_auth_data.
		{name: "emv-csk test_generate_arpc2_no_prop_auth_data", scheme: EMVCSK, imk: pyemvIMK,
			pan: "9901234567890123", psn: "45", r: "1234567890123456",
			data: "0123456789ABCDEF0123456789ABCDEF", wantARQC: "4B46013359B7A58B",
			csu: "00000000", wantARPC: "7DFB1188"},
		// Scheme rules: Visa CVN 18 answers with method 2 only, Visa CVN 10
		// and M/Chip 4 with method 1 only.
		{name: "visa-cvn18 refuses ARPC method 1", scheme: VisaCVN18, imk: pyemvIMK,
			pan: "1234567890123456", atc: "001C", tags: visaTags(t, "06011203A0B800"),
			wantARQC: "7A788EA6B8A3E733", arc: "0000", wantUnsupported: true},
		{name: "mc-cvn16 refuses ARPC method 2", scheme: MastercardCVN16, imk: pyemvIMK,
			pan: "1234567890123456", atc: "001C", un: "ABCDEF12", tags: mastercardTags(t),
			wantARQC: "24CCF3DEE3158C70", csu: "00000000", wantUnsupported: true},
	}
}

func TestSchemes(t *testing.T) {
	for _, tt := range schemeVectors(t) {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Derive(tt.scheme, unhex(t, tt.imk), tt.pan, tt.psn,
				unhex(t, tt.atc), unhex(t, tt.un), unhex(t, tt.r))
			if err != nil {
				t.Fatalf("Derive: %v", err)
			}
			if tt.wantMKKCV != "" && kcv2(t, k.ICCMasterKey) != tt.wantMKKCV {
				t.Errorf("ICC MK check digits = %s, want %s", kcv2(t, k.ICCMasterKey), tt.wantMKKCV)
			}
			if (k.SessionKey != nil) != (tt.scheme != VisaCVN10) {
				t.Errorf("session key = %X for %s", k.SessionKey, tt.scheme)
			}
			if tt.wantSKKCV != "" && kcv2(t, k.SessionKey) != tt.wantSKKCV {
				t.Errorf("SK check digits = %s, want %s", kcv2(t, k.SessionKey), tt.wantSKKCV)
			}

			data := unhex(t, tt.data)
			if tt.tags != nil {
				if data, err = InputData(tt.scheme, tt.tags.get); err != nil {
					t.Fatalf("InputData: %v", err)
				}
			}
			arqc, err := GenerateAC(tt.scheme, k, data)
			if err != nil {
				t.Fatalf("GenerateAC: %v", err)
			}
			if hexUp(arqc) != tt.wantARQC {
				t.Errorf("ARQC = %X, want %s", arqc, tt.wantARQC)
			}
			if err := VerifyAC(tt.scheme, k, data, unhex(t, tt.wantARQC)); err != nil {
				t.Errorf("VerifyAC: %v", err)
			}
			bad := bytes.Clone(arqc)
			bad[7] ^= 1
			if err := VerifyAC(tt.scheme, k, data, bad); !errors.Is(err, ErrCryptogramMismatch) {
				t.Errorf("VerifyAC(altered) = %v, want ErrCryptogramMismatch", err)
			}

			var arpc []byte
			if tt.arc != "" {
				arpc, err = ARPC1(tt.scheme, k, arqc, unhex(t, tt.arc))
			} else {
				arpc, err = ARPC2(tt.scheme, k, arqc, unhex(t, tt.csu), unhex(t, tt.prop))
			}
			if tt.wantUnsupported {
				if !errors.Is(err, ErrUnsupportedMethod) {
					t.Errorf("ARPC err = %v, want ErrUnsupportedMethod", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ARPC: %v", err)
			}
			if hexUp(arpc) != tt.wantARPC {
				t.Errorf("ARPC = %X, want %s", arpc, tt.wantARPC)
			}
		})
	}
}

// TestCardSide checks that a card holding only its ICC master key produces
// the cryptogram the issuer verifies.
func TestCardSide(t *testing.T) {
	for _, tt := range schemeVectors(t) {
		t.Run(tt.name, func(t *testing.T) {
			issuer, err := Derive(tt.scheme, unhex(t, tt.imk), tt.pan, tt.psn,
				unhex(t, tt.atc), unhex(t, tt.un), unhex(t, tt.r))
			if err != nil {
				t.Fatal(err)
			}
			card, err := DeriveSession(tt.scheme, issuer.ICCMasterKey,
				unhex(t, tt.atc), unhex(t, tt.un), unhex(t, tt.r))
			if err != nil {
				t.Fatal(err)
			}
			data := []byte("transaction data")
			ac, err := GenerateAC(tt.scheme, card, data)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyAC(tt.scheme, issuer, data, ac); err != nil {
				t.Errorf("VerifyAC: %v", err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	key := unhex(t, imk)
	atc, un, r := unhex(t, "001C"), unhex(t, "ABCDEF12"), unhex(t, "1234567890123456")
	const pan = "5413330000000345"
	tests := []struct {
		name    string
		call    func() error
		wantIs  error
		wantLen bool
	}{
		{"unknown scheme", func() error {
			_, err := Derive("visa-cvn99", key, pan, "", atc, un, r)
			return err
		}, ErrUnknownScheme, false},
		{"parse unknown scheme", func() error { _, err := ParseScheme("x"); return err }, ErrUnknownScheme, false},
		{"short IMK", func() error {
			_, err := Derive(EMVCSK, key[:8], pan, "", nil, nil, r)
			return err
		}, nil, true},
		{"short IMK made ready", func() error {
			_, err := NewIssuerMasterKey(key[:15])
			return err
		}, nil, true},
		{"PAN with letters", func() error {
			_, err := Derive(EMVCSK, key, "54133300000A0345", "", nil, nil, r)
			return err
		}, ErrPAN, false},
		{"PAN too long", func() error {
			_, err := Derive(EMVCSK, key, pan+pan, "", nil, nil, r)
			return err
		}, ErrPAN, false},
		{"PAN too short", func() error {
			_, err := Derive(EMVCSK, key, "5413", "", nil, nil, r)
			return err
		}, ErrPAN, false},
		{"PSN three digits", func() error {
			_, err := Derive(EMVCSK, key, pan, "001", nil, nil, r)
			return err
		}, ErrPSN, false},
		{"PSN not digits", func() error {
			_, err := Derive(EMVCSK, key, pan, "0x", nil, nil, r)
			return err
		}, ErrPSN, false},
		{"cvn18 without ATC", func() error {
			_, err := Derive(VisaCVN18, key, pan, "", nil, nil, nil)
			return err
		}, nil, true},
		{"mc-cvn16 short UN", func() error {
			_, err := Derive(MastercardCVN16, key, pan, "", atc, un[:3], nil)
			return err
		}, nil, true},
		{"emv-csk short R", func() error {
			_, err := Derive(EMVCSK, key, pan, "", nil, nil, r[:7])
			return err
		}, nil, true},
		{"GenerateAC without session key", func() error {
			_, err := GenerateAC(VisaCVN18, Keys{ICCMasterKey: key}, nil)
			return err
		}, nil, true},
		{"VerifyAC short cryptogram", func() error {
			return VerifyAC(EMVCSK, Keys{SessionKey: key}, nil, []byte{1, 2, 3})
		}, ErrCryptogramMismatch, false},
		{"ARPC1 short ARQC", func() error {
			_, err := ARPC1(EMVCSK, Keys{SessionKey: key}, r[:7], []byte{0, 0})
			return err
		}, nil, true},
		{"ARPC1 long ARC", func() error {
			_, err := ARPC1(EMVCSK, Keys{SessionKey: key}, r, []byte{0, 0, 0})
			return err
		}, nil, true},
		{"ARPC2 long proprietary data", func() error {
			_, err := ARPC2(EMVCSK, Keys{SessionKey: key}, r, un, make([]byte, 9))
			return err
		}, nil, true},
		{"ARPC2 unknown scheme", func() error {
			_, err := ARPC2("", Keys{SessionKey: key}, r, un, nil)
			return err
		}, ErrUnknownScheme, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want %v", err, tt.wantIs)
			}
			var le *LengthError
			if tt.wantLen && !errors.As(err, &le) {
				t.Errorf("err = %v, want *LengthError", err)
			}
			if strings.Contains(err.Error(), "541333") {
				t.Errorf("error %q leaks the PAN", err)
			}
		})
	}
}

func TestInputData(t *testing.T) {
	const minSet = "000000004000 000000000000 0124 8000048000 0124 191105 01 52BF4585 1800 001C"
	without := func(tag uint32) tags {
		m := visaTags(t, "06010A03A06010")
		delete(m, tag)
		return m
	}
	with := func(tag uint32, v string) tags {
		m := visaTags(t, "06010A03A06010")
		m[tag] = unhex(t, v)
		return m
	}
	tests := []struct {
		name    string
		scheme  Scheme
		tags    tags
		want    string
		wantErr string // substring of the error
	}{
		{"visa-cvn10 CVR", VisaCVN10, visaTags(t, "06010A03A06010"), minSet + "03A06010", ""},
		{"visa-cvn18 whole IAD", VisaCVN18, visaTags(t, "06011203A0B800"), minSet + "06011203A0B800", ""},
		{"emv-csk whole IAD", EMVCSK, visaTags(t, "0102"), minSet + "0102", ""},
		{"mc-cvn16 CVR", MastercardCVN16, mastercardTags(t),
			"000000009999 000000000000 0124 8000000000 0124 209906 00 ABCDEF12 1800 001C A00003220000", ""},
		{"missing 9F37", VisaCVN10, without(0x9F37), "", "tag 9F37: missing required tag"},
		{"missing 95", VisaCVN10, without(0x95), "", "tag 95: missing required tag"},
		{"missing IAD", EMVCSK, without(0x9F10), "", "tag 9F10: missing required tag"},
		{"short amount", VisaCVN10, with(0x9F02, "4000"), "", "tag 9F02 is 2 bytes, want 6"},
		{"IAD too short for CVR", VisaCVN10, with(0x9F10, "06010A03A060"), "", "tag 9F10 is 6 bytes, want 7 to 32"},
		{"mc IAD too short", MastercardCVN16, with(0x9F10, "0110A000032200"), "", "tag 9F10 is 7 bytes, want 8 to 32"},
		{"unknown scheme", "nope", visaTags(t, "00"), "", "unknown cryptogram scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InputData(tt.scheme, tt.tags.get)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "missing") && !errors.Is(err, ErrMissingTag) {
					t.Errorf("err = %v, want ErrMissingTag", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Errorf("InputData = %X, want %X", got, want)
			}
		})
	}
}

func TestParseScheme(t *testing.T) {
	for _, s := range Schemes() {
		t.Run(string(s), func(t *testing.T) {
			got, err := ParseScheme(string(s))
			if err != nil || got != s {
				t.Errorf("ParseScheme(%q) = %q, %v", s, got, err)
			}
		})
	}
}

func TestOddParity(t *testing.T) {
	k := []byte{0x00, 0x01, 0x02, 0x03, 0xFE, 0xFF}
	setOddParity(k)
	want := []byte{0x01, 0x01, 0x02, 0x02, 0xFE, 0xFE}
	if !bytes.Equal(k, want) {
		t.Errorf("setOddParity = %X, want %X", k, want)
	}
}

// TestDeriveMasterKeyOption checks that Derive uses option B for Visa CVN 18
// PANs over 16 digits, and option A otherwise.
func TestDeriveMasterKeyOption(t *testing.T) {
	tests := []struct {
		name    string
		scheme  Scheme
		wantKCV string
	}{
		// pyemv tests/test_kd_hsm.py, test_derive_icc_mk_b_pan17_psn.
		{"visa-cvn18 option B", VisaCVN18, "0BAF"},
		// pyemv tests/test_kd_hsm.py, test_derive_icc_mk_a_psn.
		{"emv-csk option A", EMVCSK, "FF08"},
		{"mc-cvn16 option A", MastercardCVN16, "FF08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Derive(tt.scheme, unhex(t, imk), "12345678901234567", "45",
				unhex(t, "001C"), unhex(t, "ABCDEF12"), unhex(t, "1234567890123456"))
			if err != nil {
				t.Fatal(err)
			}
			if got := kcv2(t, k.ICCMasterKey); got != tt.wantKCV {
				t.Errorf("ICC MK check digits = %s, want %s", got, tt.wantKCV)
			}
		})
	}
}
