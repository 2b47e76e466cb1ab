package oda

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tappos/emv/tlv"
)

// This file is the minimal glue to replay a recorded trace (see
// testdata/SOURCE.md) into the verifier: it picks the data objects, the
// AFL records and the command data out of the APDU exchange.

type traceFile struct {
	Randoms string `json:"randoms"`
	Date    string `json:"date"`
	TxReq   string `json:"transaction-req"`
	APDUs   []struct {
		Cmd  string `json:"cmd"`
		Resp string `json:"resp"`
	} `json:"apdus"`
}

type exchange struct{ cmd, resp []byte } // resp without SW1SW2

// trace is a parsed recorded transaction.
type trace struct {
	un, amount, currency []byte
	date                 time.Time
	aid, pdolData        []byte
	gpo                  []byte            // GPO response data
	records              map[[2]int][]byte // {SFI, record} → response data
	cdol1Data, genAC     []byte
}

func loadTrace(t testing.TB, name string) *trace {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f traceFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	tr := &trace{records: make(map[[2]int][]byte)}
	tr.un = mustHex(t, f.Randoms)
	tr.date, err = time.Parse("060102", f.Date)
	if err != nil {
		t.Fatal(err)
	}
	req, err := tlv.Decode(mustHex(t, f.TxReq))
	if err != nil {
		t.Fatal(err)
	}
	tr.amount, tr.currency = req.Value(0x9F02), req.Value(0x5F2A)
	for _, a := range f.APDUs {
		cmd, resp := mustHex(t, a.Cmd), mustHex(t, a.Resp)
		if len(cmd) < 4 || len(resp) < 2 {
			t.Fatalf("short APDU %s / %s", a.Cmd, a.Resp)
		}
		resp = resp[:len(resp)-2]
		var data []byte
		if len(cmd) > 5 {
			data = cmd[5 : 5+int(cmd[4])]
		}
		switch ins := cmd[1]; {
		case ins == 0xA4 && !strings.HasPrefix(string(data), "2PAY"):
			tr.aid = data
		case ins == 0xA8:
			tr.pdolData = data[2:] // skip 83 L
			tr.gpo = resp
		case ins == 0xB2:
			tr.records[[2]int{int(cmd[3] >> 3), int(cmd[2])}] = resp
		case ins == 0xAE:
			tr.cdol1Data, tr.genAC = data, resp
		}
	}
	return tr
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// card gathers the ODA data objects from the GPO answer and the records.
// Like a kernel, it rejects records that are not a single template 70.
func (tr *trace) card() (*Card, *tlv.List, error) {
	gpo, err := tlv.Decode(tr.gpo)
	if err != nil {
		return nil, nil, err
	}
	var aip, afl []byte
	if len(gpo) == 1 && gpo[0].Tag == 0x80 && len(gpo[0].Value) >= 2 {
		aip, afl = gpo[0].Value[:2], gpo[0].Value[2:]
	} else {
		aip, afl = gpo.Value(0x82), gpo.Value(0x94)
	}
	all := append(tlv.List(nil), gpo...)
	for k, r := range tr.records {
		l, err := tlv.Decode(r)
		if err != nil {
			return nil, nil, err
		}
		if len(l) != 1 || l[0].Tag != 0x70 {
			return nil, nil, fmt.Errorf("record %v not in template 70", k)
		}
		all = append(all, l...)
	}
	var oda []Record
	for i := 0; i+4 <= len(afl); i += 4 {
		sfi := int(afl[i] >> 3)
		for rec := int(afl[i+1]); rec < int(afl[i+1])+int(afl[i+3]); rec++ {
			r, ok := tr.records[[2]int{sfi, rec}]
			if !ok {
				return nil, nil, fmt.Errorf("ODA record %d of SFI %d not in trace", rec, sfi)
			}
			oda = append(oda, Record{SFI: sfi, Data: r})
		}
	}
	static, err := StaticData(oda, all.Value(0x9F4A), aip)
	if err != nil {
		return nil, nil, err
	}
	return &Card{
		AID:             tr.aid,
		CAIndex:         all.Value(0x8F),
		PAN:             all.Value(0x5A),
		IssuerCert:      all.Value(0x90),
		IssuerRemainder: all.Value(0x92),
		IssuerExponent:  all.Value(0x9F32),
		ICCCert:         all.Value(0x9F46),
		ICCRemainder:    all.Value(0x9F48),
		ICCExponent:     all.Value(0x9F47),
		SSAD:            all.Value(0x93),
		StaticData:      static,
	}, &all, nil
}

// verify runs the ODA method the trace calls for: CDA when there is a
// GENERATE AC, fDDA when the GPO answer carries an SDAD.
func (tr *trace) verify(keys *CAKeyStore) (Result, error) {
	c, all, err := tr.card()
	if err != nil {
		return Result{}, errGlue{err}
	}
	if tr.genAC != nil {
		return VerifyCDA(keys, c, tr.date, CDAInput{
			UnpredictableNumber: tr.un,
			PDOLData:            tr.pdolData,
			CDOL1Data:           tr.cdol1Data,
			Response:            tr.genAC,
		})
	}
	return VerifyFDDA(keys, c, tr.date, FDDAInput{
		SDAD:                all.Value(0x9F4B),
		UnpredictableNumber: tr.un,
		Amount:              tr.amount,
		Currency:            tr.currency,
		CardAuthData:        all.Value(0x9F69),
	})
}

// errGlue marks input the test glue, like a kernel, rejects before ODA.
type errGlue struct{ error }

func loadTestCAKeys(t testing.TB) *CAKeyStore {
	t.Helper()
	f, err := os.Open("../../testdata/capk/capk-test.json")
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

func TestTraces(t *testing.T) {
	keys := loadTestCAKeys(t)
	tests := []struct {
		file     string
		want     Result
		wantStep string // for a trace whose ODA cannot succeed
		wantErr  error
	}{
		{file: "mock-visa-offline.json", want: Result{Method: MethodFDDA, IssuerKeyBits: 1152, ICCKeyBits: 896,
			ICCDynamicNumber: []byte{0x00, 0x15}}},
		{file: "mock-msc-online.json", want: Result{Method: MethodCDA, IssuerKeyBits: 896, ICCKeyBits: 768,
			ICCDynamicNumber: unhex("B39C5522F9D77FAD"), CID: 0x80, Cryptogram: unhex("675B759BB5350F8C"),
			TransactionDataHashOK: true}},
		{file: "mock-msc-offline.json", want: Result{Method: MethodCDA, IssuerKeyBits: 1152, ICCKeyBits: 1024,
			ICCDynamicNumber: unhex("AB803A04B0BCA313"), CID: 0x40, Cryptogram: unhex("49C27A9F8E4BF538"),
			TransactionDataHashOK: true}},
		// The card's CA key index F8 is in no published test key list
		// (neither capk-test.json nor the source project's configuration).
		{file: "mock-msc-offline-2.json", want: Result{Method: MethodCDA},
			wantStep: "CA public key", wantErr: ErrCAKeyNotFound},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			tr := loadTrace(t, tt.file)
			res, err := tr.verify(keys)
			if tt.wantErr != nil {
				var oe *Error
				if !errors.As(err, &oe) || oe.Step != tt.wantStep || !errors.Is(err, tt.wantErr) {
					t.Fatalf("verify: %v, want step %q: %v", err, tt.wantStep, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !reflect.DeepEqual(res, tt.want) {
				t.Errorf("result\n%+v\nwant\n%+v", res, tt.want)
			}
		})
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestTracesTampered flips each byte of every signed record and of the
// GENERATE AC answer (or, for fDDA, of the SDAD) and expects a failure
// naming the step.
func TestTracesTampered(t *testing.T) {
	keys := loadTestCAKeys(t)
	// Certificates, their exponents and remainders, and fDDA's 9F69.
	signedTags := []tlv.Tag{0x8F, 0x90, 0x92, 0x9F32, 0x9F46, 0x9F47, 0x9F48, 0x9F69}
	for _, file := range []string{"mock-visa-offline.json", "mock-msc-online.json", "mock-msc-offline.json"} {
		t.Run(strings.TrimSuffix(file, ".json"), func(t *testing.T) {
			tr := loadTrace(t, file)
			c, _, err := tr.card()
			if err != nil {
				t.Fatal(err)
			}
			var targets [][]byte
			for _, r := range tr.records {
				l, _ := tlv.Decode(r)
				if bytes.Contains(c.StaticData, l[0].Value) {
					targets = append(targets, r) // flagged for ODA
					continue
				}
				for _, tag := range signedTags {
					if _, ok := l.Find(tag); ok {
						targets = append(targets, r)
						break
					}
				}
			}
			if tr.genAC != nil {
				targets = append(targets, tr.genAC)
			} else {
				l, _ := tlv.Decode(tr.gpo)
				targets = append(targets, l.Value(0x9F4B))
			}
			steps := make(map[string]int)
			glue := 0
			for _, b := range targets {
				for i := range b {
					b[i] ^= 0x01
					_, err := tr.verify(keys)
					b[i] ^= 0x01
					var g errGlue
					var oe *Error
					switch {
					case errors.As(err, &g):
						glue++
					case errors.As(err, &oe) && oe.Step != "":
						steps[oe.Step]++
					default:
						t.Fatalf("flipping byte %d of %X...: got %v, want *oda.Error", i, b[:4], err)
					}
				}
			}
			t.Logf("failures by step: %v; rejected before ODA: %d", steps, glue)
		})
	}
}
