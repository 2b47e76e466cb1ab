package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"tappos/emv/apdu"
	"tappos/emv/tlv"
)

func TestKernel3(t *testing.T) {
	for _, tc := range []struct {
		name   string
		amount int64
		card   *card
		status Status
		cvm    CVM
		err    error
		msg    Message
		// noContact clears the TTQ's contact chip bit.
		noContact bool
		// onlineOnly makes the terminal attended, online only (21).
		onlineOnly bool
		// pinPad sets the TTQ's online PIN bit, as a reader with a PIN
		// pad would; the shipped configurations have none.
		pinPad bool
	}{
		{name: "online ARQC", amount: 1000, card: visaCard(visaGPO(0x80)...),
			status: OnlineRequest, cvm: CVMNone},
		{name: "card asks online PIN", amount: 20000, pinPad: true, card: visaCard(visaGPO(0x80, obj(0x9F6C, h("8000")))...),
			status: OnlineRequest, cvm: CVMOnlinePIN, msg: MsgEnterPIN},
		{name: "card asks online PIN or signature, reader without PIN signs", amount: 20000,
			card:   visaCard(visaGPO(0x80, obj(0x9F6C, h("C000")))...),
			status: OnlineRequest, cvm: CVMSignature, msg: MsgSign},
		{name: "card asks online PIN only, reader without PIN declines", amount: 20000,
			card:   visaCard(visaGPO(0x80, obj(0x9F6C, h("8000")))...),
			status: Declined, cvm: CVMFailed, msg: MsgDeclined},
		{name: "card asks signature", amount: 20000, card: visaCard(visaGPO(0x80, obj(0x9F6C, h("4000")))...),
			status: OnlineRequest, cvm: CVMSignature, msg: MsgSign},
		{name: "above CVM limit without CTQ takes signature", amount: 20000, card: visaCard(visaGPO(0x80)...),
			status: OnlineRequest, cvm: CVMSignature},
		{name: "phone CDCVM online", amount: 20000, card: visaCard(visaGPO(0x80, obj(0x9F6C, h("0080")))...),
			status: OnlineRequest, cvm: CVMCDCVM},
		{name: "phone CDCVM offline without signed copy declines", amount: 1000,
			card:   visaCard(visaGPO(0x40, obj(0x9F6C, h("0080")), obj(0x9F69, h("01AABBCCDD0000")))...),
			status: Declined, cvm: CVMFailed},
		{name: "AAC declines", amount: 1000, card: visaCard(visaGPO(0x00)...),
			status: Declined, msg: MsgDeclined},
		{name: "TC without fDDA signature declines", amount: 1000, card: visaCard(visaGPO(0x40)...),
			status: Declined},
		{name: "TC without fDDA goes online when the card says so", amount: 1000,
			card:   visaCard(visaGPO(0x40, obj(0x9F6C, h("2000")))...),
			status: OnlineRequest},
		{name: "TC without fDDA switches interface when the card says so", amount: 1000,
			card:   visaCard(visaGPO(0x40, obj(0x9F6C, h("1000")))...),
			status: TryAnotherInterface},
		{name: "missing cryptogram", amount: 1000,
			card:   visaCard(obj(0x82, h("0040")), obj(0x57, h(track2)), obj(0x9F36, h("0001")), obj(0x9F10, h("06010A03A00000"))),
			status: EndApplication, err: ErrCardData},
		{name: "TC above the floor limit goes online", amount: 6000, card: visaCard(visaGPO(0x40)...),
			status: OnlineRequest},
		{name: "expired by track 2 declines", amount: 1000,
			card:   visaCard(expiredGPO(0x40)...),
			status: Declined},
		{name: "expired goes online when the card says so", amount: 1000,
			card:   visaCard(expiredGPO(0x40, obj(0x9F6C, h("0800")))...),
			status: OnlineRequest},
		{name: "TC without fDDA declines when the reader has no contact chip", amount: 1000, noContact: true,
			card:   visaCard(visaGPO(0x40, obj(0x9F6C, h("1000")))...),
			status: Declined},
		{name: "PAN and track 2 disagree", amount: 1000,
			card:   visaCard(visaGPO(0x80, obj(0x5A, h("5413330089601034")))...),
			status: EndApplication, err: ErrCardData},
		{name: "over the contactless limit", amount: 1000000, card: visaCard(visaGPO(0x80)...),
			status: TryAnotherInterface, err: ErrNotAllowed},
		{name: "TC at an online-only terminal goes online", amount: 1000, onlineOnly: true,
			card:   visaCard(visaGPO(0x40)...),
			status: OnlineRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := testKernel(t, "us-shop")
			if tc.noContact {
				k.Config.AIDs[0].TTQ[0] &^= ttqContact
			}
			if tc.onlineOnly {
				k.Config.TerminalType = Hex{0x21}
			}
			if tc.pinPad {
				k.Config.AIDs[0].TTQ[0] |= ttqOnlinePIN
			}
			out, err := k.Run(context.Background(), tc.card, Transaction{Amount: tc.amount})
			if out.Status != tc.status || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("got %v, %v; want %v, %v", out, err, tc.status, tc.err)
			}
			if out.CVM != tc.cvm {
				t.Errorf("CVM %v, want %v", out.CVM, tc.cvm)
			}
			if tc.msg != "" && !hasMessage(out, tc.msg) {
				t.Errorf("messages %q lack %q", out.Messages, tc.msg)
			}
			checkNoCardData(t, out, err)
		})
	}
}

// TestTTQ checks the per-transaction TTQ bits the entry point sets.
func TestTTQ(t *testing.T) {
	statusCheck := func(c *Config) { c.AIDs[0].StatusCheck = true }
	onlineOnly := func(t byte) func(*Config) { return func(c *Config) { c.TerminalType = Hex{t} } }
	for _, tc := range []struct {
		name   string
		amount int64
		conf   func(*Config)
		ttq    string
	}{
		{"below floor and CVM limits", 1000, nil, "32004000"},
		{"above floor limit", 6000, nil, "32804000"},
		{"at CVM limit", 10000, nil, "32C04000"},
		{"zero amount goes online", 0, nil, "32804000"},
		{"status check of one dollar goes online", 100, statusCheck, "32804000"},
		{"one cent is no status check", 1, statusCheck, "32004000"},
		{"attended online-only terminal always asks online", 1000, onlineOnly(0x21), "32804000"},
		{"unattended online-only terminal always asks online", 1000, onlineOnly(0x24), "32804000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := testKernel(t, "us-shop")
			if tc.conf != nil {
				tc.conf(k.Config)
			}
			c := visaCard(visaGPO(0x80)...)
			if _, err := k.Run(context.Background(), c, Transaction{Amount: tc.amount}); err != nil {
				t.Fatal(err)
			}
			gpo := c.sent[2]
			if got := gpo[7:11]; !bytes.Equal(got, h(tc.ttq)) {
				t.Errorf("TTQ %X, want %s", got, tc.ttq)
			}
		})
	}
}

func TestEntryPoint(t *testing.T) {
	visa := func(ppse []byte, selectSW []byte) *card {
		base := visaCard(visaGPO(0x80)...)
		next := base.answer
		base.answer = func(cmd []byte) ([]byte, error) {
			switch {
			case bytes.HasPrefix(cmd, h("00A404000E")):
				return ppse, nil
			case selectSW != nil && bytes.HasPrefix(cmd, h("00A4040007"+visaAID)):
				return selectSW, nil
			}
			return next(cmd)
		}
		return base
	}
	mcFirst := ppseResp(dirEntry("A0000000041010", 2), dirEntry(visaAID, 1))
	for _, tc := range []struct {
		name   string
		card   *card
		amount int64
		shop   string
		status Status
		err    error
		aid    string
		// offlineOnly sets the TTQ's offline-only reader bit.
		offlineOnly bool
	}{
		{name: "priority picks Visa over Mastercard", card: visa(mcFirst, nil), status: OnlineRequest, aid: visaAID},
		{name: "unknown applications only", card: visa(ppseResp(dirEntry("B012345678", 1)), nil),
			status: EndApplication, err: ErrNoApplication},
		{name: "no PPSE", card: visa([]byte{0x6A, 0x82}, nil), status: EndApplication, err: ErrNoApplication},
		{name: "PPSE not a template", card: visa(sw(h("6F05840102")), nil), status: EndApplication, err: ErrCardData},
		{name: "SELECT refused, no other candidate", card: visa(ppseResp(dirEntry(visaAID, 1)), []byte{0x6A, 0x81}),
			status: EndApplication, err: ErrNoApplication},
		{name: "zero amount not allowed in China", card: visa(ppseResp(dirEntry(visaAID, 1)), nil), shop: "cn-shop",
			status: TryAnotherInterface, err: ErrNotAllowed},
		{name: "zero amount on an offline-only reader", card: visa(ppseResp(dirEntry(visaAID, 1)), nil),
			offlineOnly: true, status: TryAnotherInterface, err: ErrNotAllowed},
		{name: "kernel identifier in the directory", shop: "us-shop", status: OnlineRequest, aid: visaAID, amount: 100,
			card: visa(ppseResp(obj(0x61, obj(0x4F, h(visaAID)), obj(0x9F2A, h("03")))), nil)},
		{name: "domestic kernel identifier skipped", shop: "us-shop", status: EndApplication, err: ErrNoApplication, amount: 100,
			card: visa(ppseResp(obj(0x61, obj(0x4F, h(visaAID)), obj(0x9F2A, h("C1020304")))), nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shop := tc.shop
			if shop == "" {
				shop = "us-shop"
			}
			k := testKernel(t, shop)
			if tc.offlineOnly {
				k.Config.AIDs[0].TTQ[0] |= ttqOfflineOnly
			}
			out, err := k.Run(context.Background(), tc.card, Transaction{Amount: tc.amount})
			if out.Status != tc.status || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("got %v, %v; want %v, %v", out, err, tc.status, tc.err)
			}
			if tc.aid != "" && !bytes.Equal(out.AID, h(tc.aid)) {
				t.Errorf("AID %X, want %s", out.AID, tc.aid)
			}
		})
	}
}

// TestHostileCards checks that broken, silent and vanishing cards end in
// a named outcome, quickly, without card data in the error.
func TestHostileCards(t *testing.T) {
	good := visaCard(visaGPO(0x80)...).answer
	after := func(n int, then func(cmd []byte) ([]byte, error)) func([]byte) ([]byte, error) {
		i := 0
		return func(cmd []byte) ([]byte, error) {
			i++
			if i > n {
				return then(cmd)
			}
			return good(cmd)
		}
	}
	for _, tc := range []struct {
		name   string
		answer func([]byte) ([]byte, error)
		status Status
		err    error
		msg    Message
	}{
		{"removed before PPSE", after(0, func([]byte) ([]byte, error) { return nil, errRemoved }),
			TryAgain, ErrCommunication, MsgPresentCardAgain},
		{"removed after SELECT", after(2, func([]byte) ([]byte, error) { return nil, errRemoved }),
			TryAgain, errRemoved, MsgPresentCardAgain}, // the reader's error, kept for the caller
		{"one-byte answer", after(1, func([]byte) ([]byte, error) { return []byte{0x90}, nil }),
			TryAgain, ErrCommunication, MsgPresentCardAgain},
		{"bad TLV in GPO", after(2, func([]byte) ([]byte, error) { return h("7781FF829000"), nil }),
			EndApplication, ErrCardData, MsgTryAnotherCard},
		{"GPO unknown status", after(2, func([]byte) ([]byte, error) { return h("6F00"), nil }),
			EndApplication, &apdu.StatusError{}, MsgTryAnotherCard},
		{"GPO asks for another interface", after(2, func([]byte) ([]byte, error) { return h("6984"), nil }),
			TryAnotherInterface, &apdu.StatusError{}, MsgInsertOrSwipe},
		{"phone asks to see it", after(2, func([]byte) ([]byte, error) { return h("6986"), nil }),
			TryAgain, &apdu.StatusError{}, MsgSeePhone},
		{"endless GET RESPONSE", after(0, func([]byte) ([]byte, error) { return h("6101"), nil }),
			TryAgain, ErrCommunication, MsgPresentCardAgain},
		{"stuck card", after(2, nil), TryAgain, ErrCommunication, MsgPresentCardAgain},
		{"wrong-length AFL", after(2, func([]byte) ([]byte, error) {
			return sw(obj(0x77, append(bytes.Join(visaGPO(0x40), nil), obj(0x94, h("080101"))...))), nil
		}), EndApplication, ErrCardData, MsgTryAnotherCard},
		{"record not a template", after(2, func(cmd []byte) ([]byte, error) {
			if cmd[1] == 0xB2 {
				return h("5A0847617390010100109000"), nil
			}
			return sw(obj(0x77, append(bytes.Join(visaGPO(0x40), nil), obj(0x94, h("08010100"))...))), nil
		}), EndApplication, ErrCardData, MsgTryAnotherCard},
		{"record contradicts GPO", after(2, func(cmd []byte) ([]byte, error) {
			if cmd[1] == 0xB2 {
				return sw(obj(0x70, obj(0x57, h("5413330089601034D2512F")))), nil
			}
			return sw(obj(0x77, append(bytes.Join(visaGPO(0x40), nil), obj(0x94, h("08010100"))...))), nil
		}), EndApplication, ErrCardData, MsgTryAnotherCard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := testKernel(t, "us-shop")
			k.Config.TimeoutMS = 50
			c := &card{answer: tc.answer}
			var tr Transceiver = c
			if tc.name == "stuck card" {
				tr = stuck{c}
			}
			start := time.Now()
			out, err := k.Run(context.Background(), tr, Transaction{Amount: 1000})
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
			var se *apdu.StatusError
			match := errors.Is(err, tc.err) || (errors.As(tc.err, &se) && errors.As(err, &se))
			if out.Status != tc.status || !match {
				t.Fatalf("got %v, %v; want %v, %v", out, err, tc.status, tc.err)
			}
			if !hasMessage(out, tc.msg) {
				t.Errorf("messages %q lack %q", out.Messages, tc.msg)
			}
			checkNoCardData(t, out, err)
		})
	}
}

// stuck answers the first commands and then never again, until the
// context ends.
type stuck struct{ c *card }

func (s stuck) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(s.c.sent) < 2 {
		return s.c.Transmit(ctx, cmd)
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestOutcomeMasksPAN(t *testing.T) {
	out, err := testKernel(t, "us-shop").Run(context.Background(), visaCard(visaGPO(0x80)...), Transaction{Amount: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if out.PAN != visaMaskd {
		t.Errorf("PAN %q, want %q", out.PAN, visaMaskd)
	}
	checkNoCardData(t, out, err)
	j, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(j), visaPAN) || !strings.Contains(string(j), visaMaskd) {
		t.Errorf("JSON %s", j)
	}
	l, err := tlv.Decode(out.OnlineData)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []tlv.Tag{0x57, 0x9F26, 0x9F27, 0x9F36, 0x9F10, 0x9F37, 0x95, 0x9A, 0x9C, 0x9F02, 0x5F2A, 0x82, 0x9F1A, 0x9F66} {
		if _, ok := l.Find(tag); !ok {
			t.Errorf("online data lacks %s", tag)
		}
	}
}

func hasMessage(o *Outcome, m Message) bool {
	for _, x := range o.Messages {
		if x == m {
			return true
		}
	}
	return false
}

// checkNoCardData fails when the outcome's text or the error shows a PAN.
func checkNoCardData(t *testing.T, o *Outcome, err error) {
	t.Helper()
	text := o.String() + o.Reason
	if err != nil {
		text += err.Error()
	}
	for _, pan := range []string{visaPAN, "5413330089601034", "5413339000001513", "4761739001010010"} {
		if strings.Contains(text, pan) {
			t.Errorf("card data in %q", text)
		}
	}
}

func TestCVM3(t *testing.T) {
	const ttq = "36004000"
	for _, tc := range []struct {
		name     string
		ttq      string
		ctq      string
		cardAuth string
		ctype    CryptogramType
		want     CVM
		online   bool
		ok       bool
	}{
		{"nothing asked", ttq, "", "", ARQC, CVMNone, false, true},
		{"CVM required, no CTQ, signature", "36404000", "", "", TC, CVMSignature, false, true},
		{"CVM required, no CTQ, online PIN only", "24404000", "", "", ARQC, CVMOnlinePIN, true, true},
		{"CVM required, no CTQ, online PIN takes a TC online", "24404000", "", "", TC, CVMOnlinePIN, true, true},
		{"CVM required, no CTQ, nothing possible", "20404000", "", "", TC, CVMFailed, false, false},
		{"CDCVM on ARQC", ttq, "0080", "", ARQC, CVMCDCVM, false, true},
		{"CDCVM on ARQC with other copy", ttq, "0080", "01AABBCCDD0000", ARQC, CVMFailed, false, false},
		{"CDCVM on TC with signed copy", ttq, "0080", "01AABBCCDD0080", TC, CVMCDCVM, false, true},
		{"CDCVM on TC with other copy", ttq, "0080", "01AABBCCDD0000", TC, CVMFailed, false, false},
		{"CDCVM on TC with short copy", ttq, "0080", "01AABBCCDD", TC, CVMFailed, false, false},
		{"CDCVM on TC without copy", ttq, "0080", "", TC, CVMFailed, false, false},
		{"online PIN asked", ttq, "8000", "", ARQC, CVMOnlinePIN, true, true},
		{"online PIN asked on TC", ttq, "8000", "", TC, CVMOnlinePIN, true, true},
		{"online PIN before CDCVM", ttq, "8080", "", ARQC, CVMOnlinePIN, true, true},
		{"online PIN asked, reader lacks it, CVM required", "32404000", "8000", "", ARQC, CVMFailed, false, false},
		{"online PIN asked, reader lacks it, no CVM required", "32004000", "8000", "", ARQC, CVMNone, false, true},
		{"signature asked", ttq, "4000", "", ARQC, CVMSignature, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, online, ok := cvm3(h(tc.ttq), h(tc.ctq), h(tc.cardAuth), tc.ctype)
			if got != tc.want || online != tc.online || ok != tc.ok {
				t.Errorf("got %v online=%t ok=%t, want %v %t %t", got, online, ok, tc.want, tc.online, tc.ok)
			}
		})
	}
}
