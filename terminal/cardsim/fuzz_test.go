package cardsim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tappos/terminal/vpcd"
)

// FuzzProcess sends a card a sequence of arbitrary commands: the card must
// answer each with at least a status word, or refuse as its hostile
// profile says, and never panic. The input is a profile index, then
// commands, each a length byte and that many bytes.
func FuzzProcess(f *testing.F) {
	names := []string{"visa-credit", "visa-offline", "mastercard-credit", "phone-visa",
		"phone-mastercard", "bad-tlv", "wrong-length", "stuck", "pulled"}
	cards := make([]*Card, len(names))
	for i, n := range names {
		cards[i] = loadCard(f, n)
	}
	seq := func(apdus ...[]byte) []byte {
		var b []byte
		for _, a := range apdus {
			b = append(append(b, byte(len(a))), a...)
		}
		return b
	}
	mcGPO := cmdAPDU("80A80000", []byte{0x83, 0x00})
	genAC := append(append([]byte{0x80, 0xAE, 0x50, 0x00, 33}, make([]byte, 33)...), 0x00)
	f.Add(byte(0), seq(selectPPSE, selectVisa, gpoVisa, []byte{0x00, 0xB2, 0x01, 0x0C, 0x00}))
	f.Add(byte(1), seq(selectVisa, gpoVisa, []byte{0x00, 0xB2, 0x01, 0x14, 0x00}))
	f.Add(byte(2), seq(cmdAPDU("00A40400", []byte{0xA0, 0, 0, 0, 4, 0x10, 0x10}), mcGPO, genAC))
	f.Add(byte(8), seq(cmdAPDU("00A40400", []byte{0xA0, 0, 0, 0, 4, 0x10, 0x10}), mcGPO, genAC))
	f.Fuzz(func(t *testing.T, profile byte, data []byte) {
		c := cards[int(profile)%len(cards)]
		c.Reset()
		for len(data) > 0 {
			n := min(int(data[0]), len(data)-1)
			apdu := data[1 : 1+n]
			data = data[1+n:]
			rsp, err := c.Process(apdu)
			switch {
			case errors.Is(err, vpcd.ErrSilent) && c.p.Hostile == HostileStuck,
				errors.Is(err, vpcd.ErrPulled) && c.p.Hostile == HostilePulled:
			case err != nil:
				t.Fatalf("%X: %v", apdu, err)
			case len(rsp) < 2:
				t.Fatalf("%X: answer %X has no status word", apdu, rsp)
			}
		}
	})
}

// FuzzReadProfile feeds the profile reader arbitrary JSON: it must accept
// or refuse it with ErrProfile, never panic, and a profile it accepts must
// make a card.
func FuzzReadProfile(f *testing.F) {
	for _, name := range []string{"visa-credit", "phone-mastercard", "pulled"} {
		b, err := os.ReadFile(filepath.Join(cardsDir, name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"name":"x","kind":"phone","brand":"visa"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadProfile(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrProfile) {
				t.Fatalf("error %v is not ErrProfile", err)
			}
			return
		}
		if p.ODA != nil {
			return // key files are not fuzzed
		}
		if _, err := NewCard(p, &counterRand{}); err != nil {
			t.Fatalf("accepted profile makes no card: %v", err)
		}
	})
}
