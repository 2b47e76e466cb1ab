package cardsim

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"tappos/emv/cryptogram"
	"tappos/emv/dol"
	"tappos/emv/oda"
	"tappos/emv/tlv"
	"tappos/terminal"
	"tappos/terminal/vpcd"
)

// term is a minimal terminal for driving a card APDU by APDU.
type term struct {
	t    *testing.T
	card *Card
	// data holds the terminal's data objects, for DOLs, and collects
	// what the card returned.
	data map[tlv.Tag][]byte
}

func newTerm(t *testing.T, card *Card, amount string, currency string, ttq string) *term {
	return &term{t: t, card: card, data: map[tlv.Tag][]byte{
		0x9F66: unhex(t, ttq),
		0x9F02: unhex(t, amount),
		0x9F03: unhex(t, "000000000000"),
		0x9F1A: unhex(t, "0"+currency),
		0x95:   unhex(t, "0000000000"),
		0x5F2A: unhex(t, "0"+currency),
		0x9A:   unhex(t, "261126"),
		0x9C:   {0x00},
		0x9F37: unhex(t, "1A2B3C4D"),
		0x9F35: {0x22},
		0x9F34: unhex(t, "3F0000"),
	}}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send transmits apdu (hex) and returns the response data and status word.
func (tm *term) send(apdu []byte) ([]byte, uint16) {
	tm.t.Helper()
	rsp, err := tm.card.Process(apdu)
	if err != nil {
		tm.t.Fatalf("Process(%X): %v", apdu, err)
	}
	if len(rsp) < 2 {
		tm.t.Fatalf("Process(%X): %d-byte answer", apdu, len(rsp))
	}
	n := len(rsp) - 2
	return rsp[:n], uint16(rsp[n])<<8 | uint16(rsp[n+1])
}

// ok transmits apdu, wants 9000 and decodes the answer, keeping its
// primitive objects in tm.data.
func (tm *term) ok(apdu []byte) tlv.List {
	tm.t.Helper()
	data, sw := tm.send(apdu)
	if sw != 0x9000 {
		tm.t.Fatalf("%X: SW %04X", apdu[:4], sw)
	}
	l, err := tlv.Decode(data)
	if err != nil {
		tm.t.Fatalf("%X: answer does not decode: %v", apdu[:4], err)
	}
	l.Walk(func(o tlv.TLV, _ int) {
		if !o.Tag.Constructed() {
			tm.data[o.Tag] = o.Value
		}
	})
	return l
}

func (tm *term) get(tag tlv.Tag) ([]byte, bool) { v, ok := tm.data[tag]; return v, ok }

func cmdAPDU(head string, data []byte) []byte {
	b, _ := hex.DecodeString(head)
	b = append(b, byte(len(data)))
	b = append(b, data...)
	return append(b, 0x00)
}

// selectAndGPO selects the PPSE and the card's AID and sends GET
// PROCESSING OPTIONS, returning the PDOL data.
func (tm *term) selectAndGPO() []byte {
	tm.t.Helper()
	tm.ok(cmdAPDU("00A40400", ppseName))
	fci := tm.ok(cmdAPDU("00A40400", tm.data[0x4F]))
	pdol, err := dol.Parse(fci.Value(0x9F38))
	if err != nil {
		tm.t.Fatal(err)
	}
	pdolData := pdol.Build(tm.get)
	tm.ok(cmdAPDU("80A80000", tlv.Build(0x83, pdolData)))
	return pdolData
}

// readRecords reads every record of the AFL and returns those flagged
// for offline data authentication.
func (tm *term) readRecords() []oda.Record {
	tm.t.Helper()
	afl := tm.data[0x94]
	var signed []oda.Record
	for i := 0; i+4 <= len(afl); i += 4 {
		sfi, first, last, nODA := afl[i]>>3, afl[i+1], afl[i+2], afl[i+3]
		for r := first; r <= last; r++ {
			apdu := []byte{0x00, 0xB2, r, sfi<<3 | 4, 0x00}
			data, _ := tm.send(apdu)
			tm.ok(apdu)
			if r-first < nODA {
				signed = append(signed, oda.Record{SFI: int(sfi), Data: data})
			}
		}
	}
	return signed
}

// verifyAC checks the cryptogram as the issuer does: keys from the IMK,
// input from the transaction's data objects.
func (tm *term) verifyAC(ac []byte) {
	tm.t.Helper()
	p := tm.card.p
	s := cryptogram.Scheme(p.Scheme)
	keys, err := cryptogram.Derive(s, unhex(tm.t, p.IMK), p.PAN, p.PSN, tm.data[0x9F36], tm.data[0x9F37], nil)
	if err != nil {
		tm.t.Fatal(err)
	}
	in, err := cryptogram.InputData(s, func(tag uint32) []byte { return tm.data[tlv.Tag(tag)] })
	if err != nil {
		tm.t.Fatal(err)
	}
	if err := cryptogram.VerifyAC(s, keys, in, ac); err != nil {
		tm.t.Errorf("cryptogram: %v", err)
	}
}

func (tm *term) odaCard(records []oda.Record) *oda.Card {
	tm.t.Helper()
	sd, err := oda.StaticData(records, tm.data[0x9F4A], tm.data[0x82])
	if err != nil {
		tm.t.Fatal(err)
	}
	return &oda.Card{
		AID: tm.data[0x4F], CAIndex: tm.data[0x8F], PAN: tm.data[0x5A],
		IssuerCert: tm.data[0x90], IssuerRemainder: tm.data[0x92], IssuerExponent: tm.data[0x9F32],
		ICCCert: tm.data[0x9F46], ICCRemainder: tm.data[0x9F48], ICCExponent: tm.data[0x9F47],
		StaticData: sd,
	}
}

func TestVisa(t *testing.T) {
	const (
		online      = "36000000" // qVSDC, online capable, CDCVM supported: byte 1 0x20|0x10|0x04|0x02
		offlineOnly = "3E000000"
		onlineReq   = "36800000"
		cvmRequired = "36404000"
	)
	tests := []struct {
		profile, amount, currency, ttq string
		wantCID                        byte
		wantFDDA                       bool
		wantCTQ                        string
	}{
		{"visa-credit", "000000001250", "840", online, acARQC, false, "0000"},
		{"visa-credit", "000000001250", "840", offlineOnly, acAAC, false, "0000"},
		{"visa-credit", "000000009999", "156", cvmRequired, acARQC, false, "8000"},
		{"visa-offline", "000000001250", "840", online, acTC, true, "2000"},
		{"visa-offline", "000000001250", "156", offlineOnly, acTC, true, "2000"},
		{"visa-offline", "000000005001", "840", online, acARQC, false, "2000"},
		{"visa-offline", "000000001250", "978", online, acARQC, false, "2000"},
		{"visa-offline", "000000001250", "840", onlineReq, acARQC, false, "2000"},
		{"visa-offline", "000000005001", "840", offlineOnly, acAAC, false, "2000"},
		{"phone-visa", "000000001250", "156", online, acARQC, false, "0080"},
		{"phone-visa", "000000100000", "840", cvmRequired, acARQC, false, "0080"},
	}
	keys := loadCAPK(t)
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%s_%s_ttq_%s", tt.profile, tt.amount, tt.currency, tt.ttq)
		t.Run(name, func(t *testing.T) {
			tm := newTerm(t, loadCard(t, tt.profile), tt.amount, tt.currency, tt.ttq)
			tm.selectAndGPO()
			records := tm.readRecords()
			if cid := tm.data[0x9F27]; len(cid) != 1 || cid[0] != tt.wantCID {
				t.Fatalf("CID = %X, want %02X", cid, tt.wantCID)
			}
			if got := hex.EncodeToString(tm.data[0x9F6C]); got != tt.wantCTQ {
				t.Errorf("CTQ = %s, want %s", got, tt.wantCTQ)
			}
			if cad := tm.data[0x9F69]; cad != nil && !bytes.Equal(cad[5:], tm.data[0x9F6C]) {
				t.Errorf("9F69 %X does not carry the CTQ %X", cad, tm.data[0x9F6C])
			}
			if !bytes.Equal(tm.data[0x9F36], []byte{0x00, 0x02}) {
				t.Errorf("ATC = %X, want 0002", tm.data[0x9F36])
			}
			tm.verifyAC(tm.data[0x9F26])
			sdad, ok := tm.data[0x9F4B]
			if ok != tt.wantFDDA {
				t.Fatalf("SDAD present = %v, want %v", ok, tt.wantFDDA)
			}
			if !ok {
				return
			}
			res, err := oda.VerifyFDDA(keys, tm.odaCard(records), testDate, oda.FDDAInput{
				SDAD: sdad, UnpredictableNumber: tm.data[0x9F37], Amount: tm.data[0x9F02],
				Currency: tm.data[0x5F2A], CardAuthData: tm.data[0x9F69],
			})
			if err != nil {
				t.Fatalf("fDDA: %v", err)
			}
			if res.Method != oda.MethodFDDA {
				t.Errorf("method %v", res.Method)
			}
		})
	}
}

func TestMastercard(t *testing.T) {
	tests := []struct {
		profile, amount, currency string
		p1                        byte // GENERATE AC reference control parameter
		wantCID                   byte
		wantCDA                   bool
	}{
		{"mastercard-credit", "000000001250", "840", 0x50, acTC, true},
		{"mastercard-credit", "000000001250", "156", 0x40, acTC, false},
		{"mastercard-credit", "000000005001", "840", 0x50, acARQC, true},
		{"mastercard-credit", "000000001250", "840", 0x90, acARQC, true},
		{"mastercard-credit", "000000001250", "840", 0x10, acAAC, false},
		{"mastercard-credit", "000000001250", "978", 0x50, acARQC, true},
		{"phone-mastercard", "000000001250", "840", 0x50, acARQC, false},
		{"phone-mastercard", "000000001250", "840", 0x80, acARQC, false},
	}
	keys := loadCAPK(t)
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%s_%s_P1_%02X", tt.profile, tt.amount, tt.currency, tt.p1)
		t.Run(name, func(t *testing.T) {
			tm := newTerm(t, loadCard(t, tt.profile), tt.amount, tt.currency, "00000000")
			pdolData := tm.selectAndGPO()
			records := tm.readRecords()
			cdol1, err := dol.Parse(tm.data[0x8C])
			if err != nil {
				t.Fatal(err)
			}
			cdolData := cdol1.Build(tm.get)
			apdu := cmdAPDU("80AE0000", cdolData)
			apdu[2] = tt.p1
			rsp, sw := tm.send(apdu)
			if sw != 0x9000 {
				t.Fatalf("GENERATE AC: SW %04X", sw)
			}
			tm.card.Reset() // back to a fresh session; the answer is kept
			tm.data[0x9F26] = nil
			l, err := tlv.Decode(rsp)
			if err != nil {
				t.Fatal(err)
			}
			l.Walk(func(o tlv.TLV, _ int) { tm.data[o.Tag] = o.Value })
			if cid := tm.data[0x9F27]; len(cid) != 1 || cid[0] != tt.wantCID {
				t.Fatalf("CID = %X, want %02X", cid, tt.wantCID)
			}
			ac := tm.data[0x9F26]
			if _, cda := tm.data[0x9F4B]; cda != tt.wantCDA {
				t.Fatalf("CDA signature present = %v, want %v", cda, tt.wantCDA)
			}
			if tt.wantCDA {
				res, err := oda.VerifyCDA(keys, tm.odaCard(records), testDate, oda.CDAInput{
					UnpredictableNumber: tm.data[0x9F37], PDOLData: pdolData, CDOL1Data: cdolData, Response: rsp,
				})
				if err != nil {
					t.Fatalf("CDA: %v", err)
				}
				if res.CID != tt.wantCID || !res.TransactionDataHashOK {
					t.Errorf("CDA result %+v", res)
				}
				ac = res.Cryptogram
			}
			tm.verifyAC(ac)
		})
	}
}

func TestATCCountsTransactions(t *testing.T) {
	c := loadCard(t, "visa-credit")
	for want := 2; want <= 4; want++ {
		tm := newTerm(t, c, "000000000100", "840", "36000000")
		tm.selectAndGPO()
		if c.ATC() != want || c.Transactions() != want-1 || !c.Finished() {
			t.Fatalf("after transaction %d: ATC %d, transactions %d, finished %v", want-1, c.ATC(), c.Transactions(), c.Finished())
		}
		c.Reset()
		if c.Finished() {
			t.Fatal("finished after reset")
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		before  []string // commands sent first, answers ignored
		apdu    string
		wantSW  uint16
	}{
		{"unknown instruction", "visa-credit", nil, "00FE000000", 0x6D00},
		{"unknown class", "visa-credit", nil, "A0A404000E325041592E5359532E444446303100", 0x6E00},
		{"unknown AID", "visa-credit", nil, "00A4040007A000000004101000", 0x6A82},
		{"short AID", "visa-credit", nil, "00A4040002A00000", 0x6A82},
		{"select next", "visa-credit", nil, "00A4040207A000000003101000", 0x6A82},
		{"select by file id", "visa-credit", nil, "00A40000023F0000", 0x6A86},
		{"GPO before SELECT", "visa-credit", nil, "80A80000028300", 0x6985},
		{"GPO without tag 83", "mastercard-credit", []string{"00A4040007A000000004101000"}, "80A80000028400", 0x6700},
		{"GPO wrong PDOL length", "visa-credit", []string{"00A4040007A000000003101000"}, "80A80000028300", 0x6700},
		{"GPO twice", "mastercard-credit", []string{"00A4040007A000000004101000", "80A8000002830000"}, "80A8000002830000", 0x6985},
		{"record not found", "visa-credit", []string{"00A4040007A000000003101000"}, "00B2051400", 0x6A83},
		{"record P2 not SFI", "visa-credit", []string{"00A4040007A000000003101000"}, "00B2010D00", 0x6A86},
		{"record before SELECT", "visa-credit", nil, "00B2011400", 0x6985},
		{"GENERATE AC on Visa", "visa-credit", []string{"00A4040007A000000003101000"}, "80AE8000020000", 0x6985},
		{"GENERATE AC before GPO", "mastercard-credit", []string{"00A4040007A000000004101000"}, "80AE8000020000", 0x6985},
		{"GENERATE AC wrong length", "mastercard-credit", []string{"00A4040007A000000004101000", "80A8000002830000"}, "80AE8000020000", 0x6700},
		{"GENERATE AC type RFU", "mastercard-credit", []string{"00A4040007A000000004101000", "80A8000002830000"}, "80AEC000020000", 0x6A86},
		{"Lc longer than data", "visa-credit", nil, "00A404000E3250", 0x6700},
		{"extended length", "visa-credit", nil, "00A40400000002A000", 0x6700},
		{"header only", "visa-credit", nil, "00A4", 0x6700},
		{"GET DATA ATC", "visa-credit", nil, "80CA9F3600", 0x9000},
		{"GET DATA unknown", "visa-credit", nil, "80CA9F4F00", 0x6A88},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadCard(t, tt.profile)
			for _, b := range tt.before {
				if _, err := c.Process(unhex(t, b)); err != nil {
					t.Fatal(err)
				}
			}
			rsp, err := c.Process(unhex(t, tt.apdu))
			if err != nil {
				t.Fatal(err)
			}
			n := len(rsp)
			if got := uint16(rsp[n-2])<<8 | uint16(rsp[n-1]); got != tt.wantSW {
				t.Errorf("SW %04X, want %04X", got, tt.wantSW)
			}
		})
	}
}

func TestHostile(t *testing.T) {
	t.Run("bad-tlv", func(t *testing.T) {
		tm := newTerm(t, loadCard(t, "bad-tlv"), "000000000100", "840", "36000000")
		tm.ok(cmdAPDU("00A40400", ppseName))
		tm.ok(cmdAPDU("00A40400", tm.data[0x4F]))
		pdolData := make([]byte, 33)
		data, sw := tm.send(cmdAPDU("80A80000", tlv.Build(0x83, pdolData)))
		if _, err := tlv.Decode(data); sw != 0x9000 || !errors.Is(err, tlv.ErrBadLength) {
			t.Errorf("GPO answer: SW %04X, decode error %v, want 9000 and ErrBadLength", sw, err)
		}
	})
	t.Run("wrong-length", func(t *testing.T) {
		tm := newTerm(t, loadCard(t, "wrong-length"), "000000000100", "840", "00000000")
		tm.selectAndGPO()
		data, sw := tm.send(unhex(t, "00B2011400"))
		if _, err := tlv.Decode(data); sw != 0x9000 || !errors.Is(err, tlv.ErrLengthOverrun) {
			t.Errorf("record: SW %04X, decode error %v, want 9000 and ErrLengthOverrun", sw, err)
		}
	})
	t.Run("stuck", func(t *testing.T) {
		c := loadCard(t, "stuck")
		if _, err := c.Process(cmdAPDU("00A40400", ppseName)); err != nil {
			t.Fatalf("first command: %v", err)
		}
		for range 2 {
			if _, err := c.Process(unhex(t, "00A4040007A000000003101000")); !errors.Is(err, vpcd.ErrSilent) {
				t.Fatalf("second command: %v, want ErrSilent", err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := c.Transmit(ctx, unhex(t, "00B2011400")); !errors.Is(err, terminal.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Transmit: %v, want ErrTimeout and DeadlineExceeded", err)
		}
	})
	t.Run("pulled", func(t *testing.T) {
		c := loadCard(t, "pulled")
		tm := newTerm(t, c, "000000000100", "840", "00000000")
		tm.selectAndGPO()
		for range 2 {
			if _, err := c.Transmit(context.Background(), unhex(t, "00B2011400")); !errors.Is(err, terminal.ErrCardRemoved) {
				t.Fatalf("after GPO: %v, want ErrCardRemoved", err)
			}
		}
		if !c.Finished() {
			t.Error("a pulled card is not finished")
		}
	})
}

func TestProfiles(t *testing.T) {
	for _, name := range []string{"visa-credit", "visa-offline", "mastercard-credit", "phone-visa",
		"phone-mastercard", "bad-tlv", "wrong-length", "stuck", "pulled"} {
		t.Run(name, func(t *testing.T) {
			c := loadCard(t, name)
			if c.p.Name != name {
				t.Errorf("name %q", c.p.Name)
			}
			if m := c.p.MaskedPAN(); m[6:12] != "******" {
				t.Errorf("masked PAN %s", m)
			}
		})
	}
}

func TestProfileErrors(t *testing.T) {
	good := `{"name":"x","kind":"card","brand":"visa","aid":"A0000000031010","label":"V","pan":"4761739001010010",
"psn":"01","expiry":"301231","effective":"250101","scheme":"visa-cvn10","imk":"00112233445566778899AABBCCDDEEFF",
"atc":1,"country":"840","aip":"0000","offline":false,"visa":{"pdol":"9F6604","ctq":"0000"}%s}`
	tests := []struct{ name, extra string }{
		{"unknown field", `,"colour":"red"`},
		{"bad hostile", `,"hostile":"rude"`},
		{"bad oda method", `,"oda":{"method":"sda","keys":"k.json"}`},
		{"duplicate pan field breaks luhn", `,"pan":"4761739001010011"`},
		{"bad scheme", `,"scheme":"visa-cvn99"`},
		{"short imk", `,"imk":"0011"`},
		{"bad limits", `,"offline_limits":{"USD":100}`},
		{"phone without phone", `,"kind":"phone"`},
		{"mastercard without section", `,"brand":"mastercard"`},
	}
	if _, err := ReadProfile(bytes.NewReader(fmt.Appendf(nil, good, ""))); err != nil {
		t.Fatalf("good profile: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadProfile(bytes.NewReader(fmt.Appendf(nil, good, tt.extra)))
			if !errors.Is(err, ErrProfile) {
				t.Fatalf("err = %v, want ErrProfile", err)
			}
			if bytes.Contains([]byte(err.Error()), []byte("4761739001010")) {
				t.Errorf("error shows the PAN: %v", err)
			}
		})
	}
}
