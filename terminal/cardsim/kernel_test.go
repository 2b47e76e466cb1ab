package cardsim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"tappos/emv/cryptogram"
	"tappos/emv/kernel"
	"tappos/emv/oda"
	"tappos/emv/tlv"
)

// usShop is a US terminal: floor limit 100.00, CVM required from 50.00, by
// signature (no online PIN, as the shipped configurations).
const usShop = `{
 "name": "cardsim test shop", "terminal_type": "22", "country": 840,
 "currency": {"numeric": 840, "alpha": "USD", "exponent": 2},
 "capabilities": "E028C8", "additional_capabilities": "6000F0A001",
 "merchant_category": "5999", "terminal_id": "CARDSIM1", "timeout_ms": 5000,
 "aids": [
  {"aid": "A0000000031010", "label": "VISA", "kernel": 3, "transaction_limit": 100000,
   "floor_limit": 10000, "cvm_required_limit": 5000, "ttq": "32004000"},
  {"aid": "A0000000041010", "label": "MASTERCARD", "kernel": 2, "transaction_limit": 100000,
   "floor_limit": 10000, "cvm_required_limit": 5000,
   "tac_denial": "0000000000", "tac_online": "F450848000", "tac_default": "F450848000",
   "cvm_capability_cvm_required": "20", "cvm_capability_no_cvm_required": "08"}
 ]
}`

func testKernel(t testing.TB) *kernel.Kernel {
	t.Helper()
	cfg, err := kernel.ReadConfig(strings.NewReader(usShop))
	if err != nil {
		t.Fatal(err)
	}
	return &kernel.Kernel{Config: cfg, CAKeys: loadCAPK(t), Rand: &counterRand{n: 0x40},
		Now: func() time.Time { return testDate }}
}

// TestKernel runs the terminal's kernel in memory against every profile:
// the outcomes a shop sees, and the cryptogram the ledger checks.
func TestKernel(t *testing.T) {
	tests := []struct {
		profile string
		amount  int64
		want    kernel.Status
		wantAC  kernel.CryptogramType
		wantODA oda.Method
		wantCVM kernel.CVM
		wantErr error
	}{
		{"visa-credit", 1250, kernel.OnlineRequest, kernel.ARQC, oda.MethodNone, kernel.CVMNone, nil},
		{"visa-credit", 7500, kernel.OnlineRequest, kernel.ARQC, oda.MethodNone, kernel.CVMSignature, nil},
		{"visa-offline", 1250, kernel.Approved, kernel.TC, oda.MethodFDDA, kernel.CVMNone, nil},
		{"visa-offline", 6000, kernel.OnlineRequest, kernel.ARQC, oda.MethodNone, kernel.CVMSignature, nil},
		{"mastercard-credit", 1250, kernel.Approved, kernel.TC, oda.MethodCDA, kernel.CVMNone, nil},
		{"mastercard-credit", 15000, kernel.OnlineRequest, kernel.ARQC, oda.MethodCDA, kernel.CVMSignature, nil},
		{"phone-visa", 1250, kernel.OnlineRequest, kernel.ARQC, oda.MethodNone, kernel.CVMCDCVM, nil},
		{"phone-visa", 7500, kernel.OnlineRequest, kernel.ARQC, oda.MethodNone, kernel.CVMCDCVM, nil},
		{"phone-mastercard", 7500, kernel.OnlineRequest, kernel.ARQC, oda.MethodNone, kernel.CVMCDCVM, nil},
		{"bad-tlv", 1250, kernel.EndApplication, 0, oda.MethodNone, kernel.CVMNone, kernel.ErrCardData},
		{"wrong-length", 1250, kernel.EndApplication, 0, oda.MethodNone, kernel.CVMNone, kernel.ErrCardData},
		{"stuck", 1250, kernel.TryAgain, 0, oda.MethodNone, kernel.CVMNone, kernel.ErrCommunication},
		{"pulled", 1250, kernel.TryAgain, 0, oda.MethodNone, kernel.CVMNone, kernel.ErrCommunication},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.profile, tt.amount), func(t *testing.T) {
			card := loadCard(t, tt.profile)
			k := testKernel(t)
			if card.p.Hostile == HostileStuck {
				k.Config.TimeoutMS = 100 // the card never answers: keep the wait short
			}
			out, err := k.Run(context.Background(), card, kernel.Transaction{Amount: tt.amount})
			t.Logf("%v (err %v)", out, err)
			if out.Status != tt.want {
				t.Fatalf("outcome %v, want %v (err %v)", out.Status, tt.want, err)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if out.CryptogramType != tt.wantAC || out.CVM != tt.wantCVM {
				t.Errorf("cryptogram %v, CVM %v; want %v, %v", out.CryptogramType, out.CVM, tt.wantAC, tt.wantCVM)
			}
			if out.ODA.Method != tt.wantODA || (tt.wantODA != oda.MethodNone && !out.ODA.OK) {
				t.Errorf("ODA %v ok=%v (%v), want %v ok", out.ODA.Method, out.ODA.OK, out.ODA.Err, tt.wantODA)
			}
			if strings.Contains(out.String(), card.p.PAN) {
				t.Errorf("outcome shows the PAN: %v", out)
			}
			verifyOnlineData(t, card.p, out.OnlineData)
		})
	}
}

// verifyOnlineData checks the cryptogram in the kernel's online data the
// way the ledger does: keys from the profile's IMK, input rebuilt with
// cryptogram.InputData from the same data.
func verifyOnlineData(t *testing.T, p *Profile, data []byte) {
	t.Helper()
	l, err := tlv.Decode(data)
	if err != nil {
		t.Fatalf("online data: %v", err)
	}
	get := func(tag uint32) []byte { return l.Value(tlv.Tag(tag)) }
	s := cryptogram.Scheme(p.Scheme)
	keys, err := cryptogram.Derive(s, unhex(t, p.IMK), p.PAN, p.PSN, get(0x9F36), get(0x9F37), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := cryptogram.InputData(s, get)
	if err != nil {
		t.Fatalf("cryptogram input from the online data: %v", err)
	}
	if err := cryptogram.VerifyAC(s, keys, in, get(0x9F26)); err != nil {
		t.Errorf("cryptogram from the online data: %v", err)
	}
}

// TestOnDeviceCVMLimit: with a lower contactless limit for cards than for
// phones that verify their holder (kernel 2), a card above its limit is
// sent to another interface while a phone pays the same amount.
func TestOnDeviceCVMLimit(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		amount  int64
		want    kernel.Status
		wantErr error
	}{
		{"card below its limit", "mastercard-credit", 7500, kernel.OnlineRequest, nil},
		{"card above its limit", "mastercard-credit", 25000, kernel.TryAnotherInterface, kernel.ErrNotAllowed},
		{"phone above the card limit", "phone-mastercard", 25000, kernel.OnlineRequest, nil},
		{"phone above its own limit", "phone-mastercard", 60000, kernel.TryAnotherInterface, kernel.ErrNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testKernel(t)
			for i := range k.Config.AIDs {
				if k.Config.AIDs[i].Kernel == 2 {
					k.Config.AIDs[i].TransactionLimit, k.Config.AIDs[i].TransactionLimitOnDeviceCVM = 20000, 50000
				}
			}
			out, err := k.Run(context.Background(), loadCard(t, tt.profile), kernel.Transaction{Amount: tt.amount})
			if out.Status != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("%v (err %v), want %v (%v)", out, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestUnusableCAKey: a Mastercard card whose CA key the terminal lacks or
// has withdrawn (expired) cannot be authenticated offline. Book C-2
// (S456.25) has the kernel set CDA failed before GENERATE AC and ask
// without CDA; the action codes (online F4..) then take the tap online
// instead of a TC that would be declined after the card signed it.
func TestUnusableCAKey(t *testing.T) {
	capk, err := os.ReadFile(caCAPKPath)
	if err != nil {
		t.Fatal(err)
	}
	// The check value covers neither date, so the keys load as before.
	expired := strings.ReplaceAll(string(capk), `"expiry": "1235"`, `"expiry": "1025"`)
	if expired == string(capk) {
		t.Fatal("no expiry to rewrite in " + caCAPKPath)
	}
	tests := []struct {
		name          string
		capk          string
		acceptExpired bool
		want          kernel.Status
		wantAC        kernel.CryptogramType
		wantErr       error // the ODA error; nil: CDA verified
	}{
		{"no keys", "[]", false, kernel.OnlineRequest, kernel.ARQC, oda.ErrCAKeyNotFound},
		{"key expired", expired, false, kernel.OnlineRequest, kernel.ARQC, oda.ErrCAKeyExpired},
		{"key expired, test environment accepts it", expired, true, kernel.Approved, kernel.TC, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := oda.LoadCAKeys(strings.NewReader(tt.capk))
			if err != nil {
				t.Fatal(err)
			}
			keys.AcceptExpired = tt.acceptExpired
			card := loadCard(t, "mastercard-credit")
			k := testKernel(t)
			k.CAKeys = keys
			out, err := k.Run(context.Background(), card, kernel.Transaction{Amount: 1250})
			t.Logf("%v (err %v)", out, err)
			if err != nil || out.Status != tt.want || out.CryptogramType != tt.wantAC {
				t.Fatalf("%v %v (err %v), want %v %v", out.Status, out.CryptogramType, err, tt.want, tt.wantAC)
			}
			cdaFailed := out.TVR[0]&0x04 != 0
			if tt.wantErr == nil {
				if cdaFailed || !out.ODA.OK {
					t.Errorf("TVR %X, ODA %v: want CDA verified", out.TVR, out.ODA)
				}
			} else if !cdaFailed || !errors.Is(out.ODA.Err, tt.wantErr) {
				t.Errorf("TVR %X, ODA %v: want CDA failed for %v", out.TVR, out.ODA, tt.wantErr)
			}
			verifyOnlineData(t, card.p, out.OnlineData)
		})
	}
}

// TestOnlineOnlyTerminal: an online-only terminal (type 21 attended, 24
// unattended) approves nothing offline, whatever the card would do: kernel
// 2 asks for an ARQC in terminal action analysis, kernel 3 sets "online
// cryptogram required" in the TTQ of every transaction (Book C-3).
func TestOnlineOnlyTerminal(t *testing.T) {
	tests := []struct {
		profile      string
		terminalType byte
	}{
		{"visa-offline", 0x21},
		{"visa-offline", 0x24},
		{"mastercard-credit", 0x21},
		{"mastercard-credit", 0x24},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%02X", tt.profile, tt.terminalType), func(t *testing.T) {
			card := loadCard(t, tt.profile)
			k := testKernel(t)
			k.Config.TerminalType = kernel.Hex{tt.terminalType}
			// Below the floor and CVM limits: offline at an online-capable terminal.
			out, err := k.Run(context.Background(), card, kernel.Transaction{Amount: 1250})
			t.Logf("%v (err %v)", out, err)
			if err != nil || out.Status != kernel.OnlineRequest || out.CryptogramType != kernel.ARQC {
				t.Fatalf("%v %v (err %v), want an online request with an ARQC", out.Status, out.CryptogramType, err)
			}
			verifyOnlineData(t, card.p, out.OnlineData)
		})
	}
}
