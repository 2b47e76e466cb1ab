package oda

import (
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// loadTestCAKeys loads the payment schemes' published test CA keys.
func loadTestCAKeys(t testing.TB) *CAKeyStore {
	t.Helper()
	return loadCAKeyFile(t, "../../testdata/capk/capk-test.json")
}

// loadCAKeyFile loads a CA key file.
func loadCAKeyFile(t testing.TB, path string) *CAKeyStore {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ks, err := LoadCAKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestLoadCAKeys(t *testing.T) {
	ks := loadTestCAKeys(t)
	tests := []struct {
		rid    string
		index  byte
		bits   int
		expiry string
		err    error
	}{
		{"A000000003", 0x92, 1408, "1217", nil},
		{"A0000000031010", 0x92, 1408, "1217", nil}, // an AID works too
		{"A000000004", 0xEF, 1984, "", nil},         // no expiry listed
		{"A000000004", 0xF8, 0, "", ErrCAKeyNotFound},
		{"A000000003", 0x99, 0, "", ErrCAKeyCheckValue}, // wrong check value
		{"A000000004", 0xAD, 0, "", ErrCAKeyCheckValue}, // no check value
		{"F105000003", 0x92, 0, "", ErrCAKeyCheckValue},
		{"A0000000", 0x92, 0, "", ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.rid+"/"+string("0123456789ABCDEF"[tt.index>>4])+string("0123456789ABCDEF"[tt.index&15]), func(t *testing.T) {
			k, err := ks.Key(unhex(tt.rid), tt.index)
			if tt.err != nil {
				checkStep(t, err, "CA public key", tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Bits() != tt.bits || k.Expiry != tt.expiry || k.Index != tt.index {
				t.Errorf("got %d bits, expiry %q, index %02X", k.Bits(), k.Expiry, k.Index)
			}
		})
	}
}

// TestCAKeyExpired checks what Expired adds to checkExpiry (tested in
// cert_test.go): the listed MMYY digits, and keys listed without one.
func TestCAKeyExpired(t *testing.T) {
	k := &CAKey{Expiry: "1230"}
	if last := time.Date(2030, 12, 31, 23, 59, 0, 0, time.UTC); k.Expired(last) {
		t.Error("a 12/30 key expired on 31 December 2030")
	}
	if next := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC); !k.Expired(next) {
		t.Error("a 12/30 key still valid on 1 January 2031")
	}
	if (&CAKey{}).Expired(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("a key listed without expiry expired")
	}
}

// TestCardKey checks the lookup a kernel makes before it asks for CDA: a
// key the terminal may not use gives the reason, expired ones only when
// the store does not accept them.
func TestCardKey(t *testing.T) {
	date := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	mastercard := unhex("A0000000041010")
	tests := []struct {
		name          string
		nilStore      bool
		index         []byte
		acceptExpired bool
		step          string
		err           error
	}{
		{name: "usable", index: []byte{0xEF}},
		{name: "index missing", index: nil, step: "CA public key index", err: ErrMissing},
		{name: "index of two bytes", index: []byte{0xEF, 0x00}, step: "CA public key index", err: ErrMissing},
		{name: "not listed", index: []byte{0xF8}, step: "CA public key", err: ErrCAKeyNotFound},
		{name: "check value wrong", index: []byte{0xAD}, step: "CA public key", err: ErrCAKeyCheckValue},
		{name: "expired", index: []byte{0xFA}, step: "CA public key", err: ErrCAKeyExpired},
		{name: "expired, test environment accepts it", index: []byte{0xFA}, acceptExpired: true},
		{name: "no store", nilStore: true, index: []byte{0xEF}, step: "CA public key", err: ErrCAKeyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := loadTestCAKeys(t)
			ks.AcceptExpired = tt.acceptExpired
			if tt.nilStore {
				ks = nil
			}
			k, err := ks.CardKey(&Card{AID: mastercard, CAIndex: tt.index}, date)
			if tt.err != nil {
				checkStep(t, err, tt.step, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Index != tt.index[0] {
				t.Errorf("got the key of index %02X, want %02X", k.Index, tt.index[0])
			}
		})
	}
}

func TestLoadCAKeysMalformed(t *testing.T) {
	const key = `"modulus":"C696034213D7D8546984579D1D0F0EA519CFF8DEFFC429354CF3A871A6F7183F1228DA5C7470C055387100CB935A712C4E2864DF5D64BA93FE7E63E71F25B1E5F5298575EBE1C63AA617706917911DC2A75AC28B251C7EF40F2365912490B939BCA2124A30A28F54402C34AECA331AB67E1E79B285DD5771B5D9FF79EA630B75","exponent":"03","sha1":"D34A6A776011C7E7CE3AEC5F03AD2F8CFC5503CC","hash_alg":1,"pk_alg":1`
	tests := []struct {
		name, json string
		want       string
	}{
		{"not JSON", `{`, "decoding CA keys"},
		{"object, not list", `{}`, "decoding CA keys"},
		{"unknown field", `[{"rid":"A000000003","index":"01","colour":"red",` + key + `}]`, "decoding CA keys"},
		{"short RID", `[{"rid":"A0000000","index":"01",` + key + `}]`, "rid"},
		{"bad index", `[{"rid":"A000000003","index":"0101",` + key + `}]`, "index"},
		{"bad expiry", `[{"rid":"A000000003","index":"01","expiry":"1330",` + key + `}]`, "expiry"},
		{"bad modulus hex", `[{"rid":"A000000003","index":"01","modulus":"XY","exponent":"03"}]`, "modulus"},
		{"even modulus", `[{"rid":"A000000003","index":"01","modulus":"C6","exponent":"03"}]`, ErrBadKey.Error()},
		{"exponent 5", `[{"rid":"A000000003","index":"01","modulus":"C7","exponent":"05"}]`, ErrExponent.Error()},
		{"duplicate", `[{"rid":"A000000003","index":"01",` + key + `},{"rid":"A000000003","index":"01",` + key + `}]`, "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadCAKeys(strings.NewReader(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestStaticData(t *testing.T) {
	rec := unhex("70045A021234")
	tests := []struct {
		name    string
		records []Record
		tagList []byte
		aip     []byte
		want    []byte
		err     error
	}{
		{"SFI 1-10: template value", []Record{{1, rec}, {10, rec}}, nil, nil, unhex("5A0212345A021234"), nil},
		{"SFI 11-30: whole record", []Record{{11, rec}}, nil, nil, rec, nil},
		{"AIP appended", []Record{{2, rec}}, []byte{0x82}, []byte{0x59, 0x80}, unhex("5A0212345980"), nil},
		{"no records", nil, nil, nil, nil, nil},
		{"not template 70", []Record{{2, unhex("77045A021234")}}, nil, nil, nil, ErrRecord},
		{"trailing bytes", []Record{{2, unhex("70045A02123400")}}, nil, nil, nil, ErrRecord},
		{"truncated", []Record{{2, unhex("70055A021234")}}, nil, nil, nil, ErrRecord},
		{"empty record", []Record{{2, nil}}, nil, nil, nil, ErrRecord},
		{"tag list other than 82", []Record{{2, rec}}, []byte{0x82, 0x94}, []byte{0x59, 0x80}, nil, ErrTagList},
		{"tag list without AIP", []Record{{2, rec}}, []byte{0x82}, nil, nil, ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StaticData(tt.records, tt.tagList, tt.aip)
			if tt.err != nil {
				checkStep(t, err, "static data", tt.err)
				return
			}
			if err != nil || string(got) != string(tt.want) {
				t.Fatalf("got %X, %v; want %X", got, err, tt.want)
			}
		})
	}
}

func TestMethodString(t *testing.T) {
	for m, want := range map[Method]string{MethodNone: "none", MethodSDA: "SDA", MethodDDA: "DDA", MethodFDDA: "fDDA", MethodCDA: "CDA"} {
		if m.String() != want {
			t.Errorf("%d: %q, want %q", m, m.String(), want)
		}
	}
	if !errors.Is(&Error{Step: "x", Err: ErrExpired}, ErrExpired) {
		t.Error("Error does not unwrap")
	}
}
