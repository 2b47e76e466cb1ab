package tape2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tappos/emv/cryptogram"
	"tappos/emv/kernel"
	"tappos/emv/oda"
	"tappos/emv/tlv"
	"tappos/internal/pcsctest"
	"tappos/terminal"
	"tappos/terminal/cardsim"
)

// hostileTimeout is the tap timeout the hostile cards run under: short, so
// a silent card costs the suite little, and long enough for pcscd.
const hostileTimeout = 500 * time.Millisecond

// TestTap taps every profile of testdata/cards on a virtual reader of the
// real pcscd, in a Chinese and a US shop: offline approval where the card
// allows it, an online request for online cards, signature for cards and
// CDCVM for phones above the CVM required limit (the shops advertise no
// online PIN), and a named outcome and error for each hostile card,
// within the configured timeout.
func TestTap(t *testing.T) {
	if testing.Short() {
		t.Skip("needs pcscd")
	}
	tests := []struct {
		name    string
		profile string
		shop    string
		amount  int64 // minor units of the shop's currency
		want    kernel.Status
		ac      kernel.CryptogramType
		cvm     kernel.CVM
		oda     oda.Method
		err     []error // all must match
		msg     kernel.Message
	}{
		{name: "visa-credit online", profile: "visa-credit", shop: "us-shop", amount: 1250,
			want: kernel.OnlineRequest, ac: kernel.ARQC, cvm: kernel.CVMNone},
		{name: "visa-credit above CVM limit", profile: "visa-credit", shop: "cn-shop", amount: 150000,
			want: kernel.OnlineRequest, ac: kernel.ARQC, cvm: kernel.CVMSignature, msg: kernel.MsgSign},
		{name: "visa-offline approved offline", profile: "visa-offline", shop: "us-shop", amount: 1250,
			want: kernel.Approved, ac: kernel.TC, cvm: kernel.CVMNone, oda: oda.MethodFDDA},
		{name: "visa-offline approved offline in CNY", profile: "visa-offline", shop: "cn-shop", amount: 25000,
			want: kernel.Approved, ac: kernel.TC, cvm: kernel.CVMNone, oda: oda.MethodFDDA},
		{name: "visa-offline above floor limit", profile: "visa-offline", shop: "us-shop", amount: 6000,
			want: kernel.OnlineRequest, ac: kernel.ARQC, cvm: kernel.CVMNone},
		{name: "mastercard-credit approved offline", profile: "mastercard-credit", shop: "us-shop", amount: 1250,
			want: kernel.Approved, ac: kernel.TC, cvm: kernel.CVMNone, oda: oda.MethodCDA},
		{name: "mastercard-credit approved offline in CNY", profile: "mastercard-credit", shop: "cn-shop", amount: 25000,
			want: kernel.Approved, ac: kernel.TC, cvm: kernel.CVMNone, oda: oda.MethodCDA},
		{name: "mastercard-credit above CVM limit", profile: "mastercard-credit", shop: "us-shop", amount: 20000,
			want: kernel.OnlineRequest, ac: kernel.ARQC, cvm: kernel.CVMSignature, oda: oda.MethodCDA, msg: kernel.MsgSign},
		{name: "phone-visa above CVM limit", profile: "phone-visa", shop: "us-shop", amount: 15000,
			want: kernel.OnlineRequest, ac: kernel.ARQC, cvm: kernel.CVMCDCVM},
		{name: "phone-visa above CVM limit in CNY", profile: "phone-visa", shop: "cn-shop", amount: 150000,
			want: kernel.OnlineRequest, ac: kernel.ARQC, cvm: kernel.CVMCDCVM},
		{name: "phone-mastercard above CVM limit", profile: "phone-mastercard", shop: "us-shop", amount: 15000,
			want: kernel.OnlineRequest, ac: kernel.ARQC, cvm: kernel.CVMCDCVM},
		{name: "phone-mastercard below CVM limit", profile: "phone-mastercard", shop: "cn-shop", amount: 1250,
			want: kernel.OnlineRequest, ac: kernel.ARQC, cvm: kernel.CVMNone},
		{name: "bad-tlv", profile: "bad-tlv", shop: "us-shop", amount: 1250,
			want: kernel.EndApplication, err: []error{kernel.ErrCardData}, msg: kernel.MsgTryAnotherCard},
		{name: "wrong-length", profile: "wrong-length", shop: "cn-shop", amount: 1250,
			want: kernel.EndApplication, err: []error{kernel.ErrCardData}, msg: kernel.MsgTryAnotherCard},
		{name: "stuck", profile: "stuck", shop: "us-shop", amount: 1250, want: kernel.TryAgain,
			err: []error{kernel.ErrCommunication, terminal.ErrTimeout}, msg: kernel.MsgPresentCardAgain},
		{name: "pulled", profile: "pulled", shop: "cn-shop", amount: 1250, want: kernel.TryAgain,
			err: []error{kernel.ErrCommunication, terminal.ErrCardRemoved}, msg: kernel.MsgPresentCardAgain},
	}
	slot := pcsctest.Start(t)
	r := openReader(t, slot)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := newCard(t, tt.profile)
			k := newKernel(t, tt.shop)
			timeout := time.Duration(k.Config.TimeoutMS) * time.Millisecond
			if tt.err != nil {
				k.Config.TimeoutMS = int(hostileTimeout / time.Millisecond)
				timeout = hostileTimeout
			}
			remove := slot.Present(t, card)
			defer remove()
			c := waitCard(t, r)
			defer c.Close()

			start := time.Now()
			out, err := k.Run(t.Context(), c, kernel.Transaction{Amount: tt.amount})
			elapsed := time.Since(start)
			t.Logf("%v in %v (err %v)", out, elapsed.Round(time.Millisecond), err)
			// The kernel's deadline covers the whole tap; allow pcscd a
			// little to report the cancelled exchange.
			if elapsed > timeout+200*time.Millisecond {
				t.Errorf("tap took %v, timeout %v", elapsed, timeout)
			}
			if out.Status != tt.want {
				t.Fatalf("outcome %v, want %v (err %v)", out.Status, tt.want, err)
			}
			if tt.msg != "" && !hasMessage(out, tt.msg) {
				t.Errorf("messages %q lack %q", out.Messages, tt.msg)
			}
			checkNoCardData(t, card.Profile(), out, err)
			if tt.err != nil {
				for _, want := range tt.err {
					if !errors.Is(err, want) {
						t.Errorf("err = %v, want %v", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if out.CryptogramType != tt.ac || out.CVM != tt.cvm {
				t.Errorf("cryptogram %v, CVM %v; want %v, %v", out.CryptogramType, out.CVM, tt.ac, tt.cvm)
			}
			if out.ODA.Method != tt.oda || (tt.oda != oda.MethodNone && !out.ODA.OK) {
				t.Errorf("ODA %v ok=%v (%v), want %v ok", out.ODA.Method, out.ODA.OK, out.ODA.Err, tt.oda)
			}
			if want := card.Profile().MaskedPAN(); out.PAN != want {
				t.Errorf("PAN %q, want %q", out.PAN, want)
			}
			verifyCryptogram(t, card.Profile(), out.OnlineData)
		})
	}
}

// TestTapAgain is the entry point's restart: a card pulled mid-tap gives
// Try Again, and the same transaction then completes on the card presented
// next, through the same reader.
func TestTapAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("needs pcscd")
	}
	slot := pcsctest.Start(t)
	r := openReader(t, slot)
	k := newKernel(t, "us-shop")
	tx := kernel.Transaction{Amount: 1250}
	for i, step := range []struct {
		profile string
		want    kernel.Status
	}{
		{"pulled", kernel.TryAgain},
		{"mastercard-credit", kernel.Approved},
	} {
		remove := slot.Present(t, newCard(t, step.profile))
		c := waitCard(t, r)
		out, err := k.Run(t.Context(), c, tx)
		c.Close()
		remove()
		if out.Status != step.want {
			t.Fatalf("tap %d (%s): %v (err %v), want %v", i+1, step.profile, out, err, step.want)
		}
	}
}

func hasMessage(o *kernel.Outcome, m kernel.Message) bool {
	for _, x := range o.Messages {
		if x == m {
			return true
		}
	}
	return false
}

// checkNoCardData fails if the PAN shows in what a terminal may log: the outcome's summary, its JSON and the error.
func checkNoCardData(t *testing.T, p *cardsim.Profile, out *kernel.Outcome, err error) {
	t.Helper()
	j, jerr := json.Marshal(out)
	if jerr != nil {
		t.Fatal(jerr)
	}
	if strings.Contains(out.String()+string(j)+fmt.Sprint(err), p.PAN) {
		t.Fatal("the PAN shows in the outcome or the error")
	}
}

// verifyCryptogram checks the application cryptogram of the kernel's
// online data as the issuer does, from the profile's issuer master key: the
// card computed it over what the terminal sends.
func verifyCryptogram(t *testing.T, p *cardsim.Profile, data []byte) {
	t.Helper()
	l, err := tlv.Decode(data)
	if err != nil {
		t.Fatalf("online data: %v", err)
	}
	get := func(tag uint32) []byte { return l.Value(tlv.Tag(tag)) }
	imk, err := hex.DecodeString(p.IMK)
	if err != nil {
		t.Fatal(err)
	}
	s := cryptogram.Scheme(p.Scheme)
	keys, err := cryptogram.Derive(s, imk, p.PAN, p.PSN, get(0x9F36), get(0x9F37), nil)
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

// TestTapContext checks that a tap waiting on a silent card ends when the
// caller cancels, well before the kernel's own timeout.
func TestTapContext(t *testing.T) {
	if testing.Short() {
		t.Skip("needs pcscd")
	}
	slot := pcsctest.Start(t)
	r := openReader(t, slot)
	remove := slot.Present(t, newCard(t, "stuck"))
	defer remove()
	c := waitCard(t, r)
	defer c.Close()
	k := newKernel(t, "cn-shop") // 2 s timeout
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	out, err := k.Run(ctx, c, kernel.Transaction{Amount: 1250})
	if d := time.Since(start); d > time.Second {
		t.Errorf("tap took %v after a 200ms cancellation", d)
	}
	if out.Status != kernel.TryAgain || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, %v; want TRY_AGAIN and the context's error", out, err)
	}
}
