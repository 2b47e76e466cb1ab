package kernel

import (
	"context"
	"errors"
	"testing"

	"tappos/emv/tlv"
	"tappos/emv/trace"
)

// session2 is a kernel 2 session on the US shop's Mastercard entry with
// the card data given.
func session2(tb testing.TB, amount int64, card map[tlv.Tag][]byte) (*session, *candidate) {
	tb.Helper()
	k := testKernel(tb, "us-shop")
	s := &session{k: k, cfg: k.Config, tx: Transaction{Amount: amount}, out: &Outcome{},
		term: map[tlv.Tag][]byte{}, cardData: card}
	if err := s.setTerminalData(); err != nil {
		tb.Fatal(err)
	}
	conf := k.Config.match(h("A0000000041010"), 2)
	return s, &candidate{conf: conf, kernel: 2}
}

func TestCVMList(t *testing.T) {
	const above, below = 20000, 1000 // US shop CVM required limit 100.00
	for _, tc := range []struct {
		name    string
		amount  int64
		aip     string
		list    string
		cvm     CVM
		results string
		tvr3    byte
		// pinPad adds online PIN to the CVM capability above the limit
		// (60 for the shipped 20), as a terminal with a PIN pad would.
		pinPad bool
	}{
		{"online PIN above the limit", above, "1980", "00000000000000004203 1F03", CVMOnlinePIN, "020300", 0x04, true},
		{"online PIN not supported falls to signature", above, "1980", "00000000000000004203 1E03 1F03", CVMSignature, "1E0300", 0, false},
		{"online PIN alone not supported fails", above, "1980", "00000000000000004203 1F03", CVMFailed, "3F0001", 0x80, false},
		{"no CVM below the limit", below, "1980", "00000000000000004203 1F03", CVMNone, "1F0302", 0, false},
		{"signature not supported below the limit", below, "1980", "00000000000000001E03 1F03", CVMNone, "1F0302", 0, false},
		{"signature above the limit", above, "1980", "00000000000000001E03 1F03", CVMSignature, "1E0300", 0, false},
		{"unsupported CVM without next fails", below, "1980", "00000000000000000200", CVMFailed, "020001", 0x80, false},
		{"no condition holds", below, "1980", "00000000000000000201 1F01", CVMFailed, "3F0001", 0x80, false},
		{"unsupported CVM with next", below, "1980", "00000000000000004200 1F00", CVMNone, "1F0002", 0, false},
		{"fail CVM rule", below, "1980", "00000000000000000000", CVMFailed, "000001", 0x80, false},
		{"unrecognised CVM", below, "1980", "00000000000000007A00 1F00", CVMNone, "1F0002", 0x40, false},
		{"under X in the card's currency", above, "1980", "00007530000000000206 1F00", CVMOnlinePIN, "020600", 0x04, true},
		{"over X is not met", below, "1980", "000007D0000000004207 1F00", CVMNone, "1F0002", 0, false},
		{"card without CVM", above, "0180", "00000000000000004203", CVMNone, "3F0000", 0, false},
		{"CVM list missing", above, "1980", "", CVMNone, "3F0000", 0, false},
		{"phone above the limit", above, "1B80", "", CVMCDCVM, "010002", 0, false},
		{"phone below the limit", below, "1B80", "", CVMNone, "3F0002", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			card := map[tlv.Tag][]byte{0x82: h(tc.aip), 0x9F42: h("0840")}
			if tc.list != "" {
				card[0x8E] = h(tc.list)
			}
			s, c := session2(t, tc.amount, card)
			if tc.pinPad {
				c.conf.CVMCapabilityCVMRequired = Hex{0x60}
			}
			s.term[0x9F33] = []byte{0xE0, 0x00, 0xC8}
			s.cvm2(c)
			if s.out.CVM != tc.cvm || hexUpper(s.term[0x9F34]) != tc.results || s.tvr[2] != tc.tvr3 {
				t.Errorf("CVM %v results %X TVR byte 3 %02X, want %v %s %02X", s.out.CVM, s.term[0x9F34], s.tvr[2], tc.cvm, tc.results, tc.tvr3)
			}
		})
	}
}

func TestActionAnalysis(t *testing.T) {
	for _, tc := range []struct {
		name     string
		termType byte
		tvr      string
		iacDeny  string
		want     CryptogramType
	}{
		{"clean TVR", 0x22, "0000000001", "0000000000", TC},
		{"floor limit exceeded goes online", 0x22, "0000008000", "0000000000", ARQC},
		{"issuer denial", 0x22, "0000008000", "0000008000", AAC},
		{"online-only terminal", 0x21, "0000000000", "0000000000", ARQC},
		{"offline-only terminal defaults to decline", 0x23, "0000008000", "0000000000", AAC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := session2(t, 1000, map[tlv.Tag][]byte{0x9F0E: h(tc.iacDeny), 0x9F0F: h("0000000000"), 0x9F0D: h("0000000000")})
			s.cfg.TerminalType = []byte{tc.termType}
			copy(s.tvr[:], h(tc.tvr))
			if got := s.actionAnalysis(c.conf); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestKernel2Hostile alters the recorded Mastercard card.
func TestKernel2Hostile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alter  func(tr *trace.Trace)
		status Status
		err    error
	}{
		{"CDA signature corrupted", func(tr *trace.Trace) {
			r := tr.Exchanges[len(tr.Exchanges)-1].Response
			r[20] ^= 0xFF
		}, Declined, nil},
		{"GENERATE AC refused", func(tr *trace.Trace) {
			tr.Exchanges[len(tr.Exchanges)-1].Response = h("6985")
		}, EndApplication, nil},
		{"TC for an ARQC request is out of turn", func(tr *trace.Trace) {
			r := tr.Exchanges[len(tr.Exchanges)-1].Response
			r[6] = 0x40 // CID of the recorded ARQC answer
		}, EndApplication, ErrCardData},
		{"mandatory PAN missing", func(tr *trace.Trace) {
			tr.Exchanges[3].Response = h("70035F340101" + "9000")
		}, EndApplication, ErrCardData},
		{"CA key index missing", func(tr *trace.Trace) {
			r := tr.Exchanges[5].Response
			copy(r[3:6], h("C101FA")) // 8F01FA becomes a private tag
		}, EndApplication, nil},
		{"GPO format 1 too short", func(tr *trace.Trace) {
			tr.Exchanges[2].Response = h("8001599000")
		}, EndApplication, ErrCardData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := loadTrace(t, "mock-msc-online")
			tc.alter(tr)
			k, tx, err := Replay(loadTrace(t, "mock-msc-online"), testKeys(t))
			if err != nil {
				t.Fatal(err)
			}
			out, err := k.Run(context.Background(), trace.NewCard(tr), tx)
			if out.Status != tc.status || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("got %v, %v; want %v, %v", out, err, tc.status, tc.err)
			}
			if tc.name == "CA key index missing" && (out.TVR[0] != 0x24 || out.ODA.Err == nil) {
				t.Errorf("TVR %X ODA %v, want ICC data missing and CDA failed", out.TVR, out.ODA)
			}
			checkNoCardData(t, out, err)
		})
	}
}

func TestSeePhone(t *testing.T) {
	for _, tc := range []struct {
		pcii string
		want bool
	}{{"000000", false}, {"000800", true}, {"000001", true}, {"0001", false}, {"", false}} {
		if got := seePhone(h(tc.pcii)); got != tc.want {
			t.Errorf("seePhone(%s) = %t", tc.pcii, got)
		}
	}
}
