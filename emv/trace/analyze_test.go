package trace

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tappos/emv/oda"
	"tappos/emv/tlv"
)

func loadKeys(t testing.TB) *oda.CAKeyStore {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "capk", "capk-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ks, err := oda.LoadCAKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	ks.AcceptExpired = true // the recordings used expired test keys
	return ks
}

func TestAnalyze(t *testing.T) {
	keys := loadKeys(t)
	type keyBits struct{ issuer, icc int }
	tests := []struct {
		file       string
		kernel     int
		method     string
		ok         bool
		cid        string
		cryptogram string
		bits       keyBits
		dn         string // ICC dynamic number
		errStep    string
	}{
		{"mock-visa-online.json", 3, "none", false, "80 (ARQC)", "", keyBits{}, "", "no offline data authentication"},
		{"mock-visa-offline.json", 3, "fDDA", true, "40 (TC)", "20261203C3227D26", keyBits{1152, 896}, "0015", ""},
		{"mock-msc-online.json", 2, "CDA", true, "80 (ARQC)", "675B759BB5350F8C", keyBits{896, 768}, "B39C5522F9D77FAD", ""},
		{"mock-msc-offline.json", 2, "CDA", true, "40 (TC)", "49C27A9F8E4BF538", keyBits{1152, 1024}, "AB803A04B0BCA313", ""},
		// The card's CA key index F8 is in no published test key list.
		{"mock-msc-offline-2.json", 2, "CDA", false, "", "", keyBits{}, "", "CA public key"},
		{"mock-msc-ms-mode.json", 2, "none", false, "", "", keyBits{}, "", "no offline data authentication"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			rep, err := Analyze(load(t, tt.file), keys)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Kernel != tt.kernel || rep.ODA.Method != tt.method || rep.ODA.OK != tt.ok {
				t.Errorf("kernel %d method %s ok %v, want %d %s %v (%s)",
					rep.Kernel, rep.ODA.Method, rep.ODA.OK, tt.kernel, tt.method, tt.ok, rep.ODA.Error)
			}
			if tt.cid != "" && rep.CID != tt.cid {
				t.Errorf("cid %q, want %q", rep.CID, tt.cid)
			}
			if tt.cryptogram != "" && rep.Cryptogram != tt.cryptogram {
				t.Errorf("cryptogram %s, want %s", rep.Cryptogram, tt.cryptogram)
			}
			if !strings.Contains(rep.ODA.Error, tt.errStep) {
				t.Errorf("oda error %q, want it to name %q", rep.ODA.Error, tt.errStep)
			}
			if got := (keyBits{rep.ODA.IssuerKeyBits, rep.ODA.ICCKeyBits}); got != tt.bits || rep.ODA.ICCDynamicNumber != tt.dn {
				t.Errorf("key bits %v, dynamic number %q; want %v, %q", got, rep.ODA.ICCDynamicNumber, tt.bits, tt.dn)
			}
			if cda := tt.method == "CDA" && tt.ok; cda != (rep.ODA.TransactionDataHashOK != nil && *rep.ODA.TransactionDataHashOK) {
				t.Errorf("transaction data hash ok %v, want %v", rep.ODA.TransactionDataHashOK, cda)
			}
			if strings.Count(rep.PAN, "*") < 6 {
				t.Errorf("PAN %q not masked", rep.PAN)
			}
		})
	}
}

// TestAnalyzeTampered flips every byte of every signed record and of the
// GENERATE AC answer (or the GPO answer for fDDA): ODA must fail and name
// the failing step.
func TestAnalyzeTampered(t *testing.T) {
	keys := loadKeys(t)
	for _, file := range []string{"mock-visa-offline.json", "mock-msc-online.json", "mock-msc-offline.json"} {
		t.Run(strings.TrimSuffix(file, ".json"), func(t *testing.T) {
			tr := load(t, file)
			signed := signedAnswers(t, tr, keys)
			steps := map[string]int{}
			for _, resp := range signed {
				for i := range len(resp) - 2 {
					resp[i] ^= 0x01
					rep, err := Analyze(tr, keys)
					resp[i] ^= 0x01
					if err != nil {
						t.Fatalf("byte %d: %v", i, err)
					}
					if rep.ODA.OK || rep.ODA.Error == "" {
						t.Fatalf("flipping byte %d of an answer left ODA ok", i)
					}
					steps[strings.SplitN(rep.ODA.Error, ":", 3)[1]]++
				}
			}
			t.Logf("failing steps: %v", steps)
		})
	}
}

// signedAnswers returns the answers that carry signed data: the records
// the AFL flags for ODA or that hold certificates, and the answer that
// carries the dynamic signature.
func signedAnswers(t *testing.T, tr *Trace, keys *oda.CAKeyStore) [][]byte {
	t.Helper()
	r, err := tr.pick()
	if err != nil {
		t.Fatal(err)
	}
	card, err := r.card()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range tr.Exchanges {
		switch e.Command[1] {
		case 0xB2:
			l, err := tlv.Decode(e.Response[:len(e.Response)-2])
			if err != nil {
				t.Fatal(err)
			}
			signed := bytes.Contains(card.StaticData, l[0].Value)
			for _, tag := range []tlv.Tag{0x8F, 0x90, 0x92, 0x9F32, 0x9F46, 0x9F47, 0x9F48} {
				if _, ok := l.Find(tag); ok {
					signed = true
				}
			}
			if signed {
				out = append(out, e.Response)
			}
		case 0xAE:
			out = append(out, e.Response)
		case 0xA8:
			if r.method() == oda.MethodFDDA {
				// Only the SDAD's bytes are signed in a qVSDC GPO answer.
				sdad := r.gpo.Value(0x9F4B)
				i := bytes.Index(e.Response, sdad)
				out = append(out, e.Response[i:i+len(sdad)+2])
			}
		}
	}
	return out
}

func TestAnalyzeNotATransaction(t *testing.T) {
	selectAID := []byte{0x00, 0xA4, 0x04, 0x00, 0x02, 0xA0, 0x00}
	tests := []struct {
		name      string
		exchanges []Exchange
	}{
		{"no application", []Exchange{{Command: []byte{0x00, 0xA4, 0x04, 0x00}, Response: []byte{0x6A, 0x82}}}},
		{"short command", []Exchange{{Command: selectAID, Response: []byte{0x90, 0x00}}, {Command: []byte{0x80, 0xA8}, Response: []byte{0x90, 0x00}}}},
		{"short response", []Exchange{{Command: selectAID, Response: []byte{0x90}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Analyze(&Trace{Exchanges: tt.exchanges}, nil); !errors.Is(err, ErrFormat) {
				t.Errorf("err = %v, want ErrFormat", err)
			}
		})
	}
}

func TestPickPDOLData(t *testing.T) {
	long := bytes.Repeat([]byte{0xA5}, 130)
	tests := []struct {
		name string
		gpo  []byte // command data
		want []byte
	}{
		{"short", tlv.Build(0x83, []byte{1, 2, 3}), []byte{1, 2, 3}},
		{"empty", tlv.Build(0x83, nil), []byte{}},
		{"long form length", tlv.Build(0x83, long), long},
		{"not a command template", tlv.Build(0x84, []byte{1}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gpo := append([]byte{0x80, 0xA8, 0x00, 0x00, byte(len(tt.gpo))}, tt.gpo...)
			tr := &Trace{Exchanges: []Exchange{
				{Command: []byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0, 0, 0, 0x04, 0x10, 0x10, 0x00}, Response: []byte{0x90, 0x00}},
				{Command: append(gpo, 0x00), Response: []byte{0x80, 0x02, 0x19, 0x80, 0x90, 0x00}},
			}}
			r, err := tr.pick()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.pdolData, tt.want) || (tt.want == nil) != (r.pdolData == nil) {
				t.Errorf("PDOL data = %X, want %X", r.pdolData, tt.want)
			}
		})
	}
}

// TestAnalyzeSecondGenerateAC checks that a second GENERATE AC, whose
// CDA would also cover CDOL2 data, does not replace the first.
func TestAnalyzeSecondGenerateAC(t *testing.T) {
	tr := load(t, "mock-msc-online.json")
	first, ok := tr.Find([]byte{0x80, 0xAE})
	if !ok {
		t.Fatal("no GENERATE AC")
	}
	second := Exchange{Command: append([]byte{0x80, 0xAE, 0x50, 0x00, 0x02, 0x30, 0x30}, 0x00), Response: first.Response}
	tr.Exchanges = append(tr.Exchanges, second)
	rep, err := Analyze(tr, loadKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.ODA.OK || rep.ODA.Method != "CDA" {
		t.Errorf("oda = %+v, want CDA ok", rep.ODA)
	}
}

// BenchmarkCDAVerify is the full CDA check of the Mastercard online trace,
// recovering the issuer and ICC keys every time.
func BenchmarkCDAVerify(b *testing.B) {
	keys := loadKeys(b)
	tr := load(b, "mock-msc-online.json")
	r, err := tr.pick()
	if err != nil {
		b.Fatal(err)
	}
	card, err := r.card()
	if err != nil {
		b.Fatal(err)
	}
	date, err := tr.DateTime()
	if err != nil {
		b.Fatal(err)
	}
	in := oda.CDAInput{UnpredictableNumber: tr.UnpredictableNumber, PDOLData: r.pdolData, CDOL1Data: r.cdol1, Response: r.genAC}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := oda.VerifyCDA(keys, card, date, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N), "emv_cda_verify_us")
}
