// Package ledgertest makes EMV data as contactless cards would, with real
// cryptograms, for the ledger's tests and benchmarks.
package ledgertest

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"tappos/emv/cryptogram"
	"tappos/emv/tlv"
	"tappos/ledger"
)

// A Card is a simulated card: its issuer key, PAN and counter.
type Card struct {
	PAN    string
	PSN    byte // BCD, e.g. 0x01
	Scheme string
	IMK    []byte
	ATC    int // the counter of the next tap
}

// Issuer returns the issuer key entry covering the card's whole PAN.
func (c *Card) Issuer() ledger.IssuerKey {
	return ledger.IssuerKey{Prefix: c.PAN, Scheme: c.Scheme, IMK: c.IMK}
}

// Cards returns n cards of a scheme under one issuer key, with PANs
// 541333 0000 000001 upwards (valid Luhn is not needed by the ledger).
func Cards(n int, scheme string, imk []byte) []*Card {
	cards := make([]*Card, n)
	for i := range cards {
		cards[i] = &Card{PAN: fmt.Sprintf("5413330000%06d", i+1), PSN: 0x01, Scheme: scheme, IMK: imk, ATC: 1}
	}
	return cards
}

// IMK is a fixed test issuer master key.
var IMK, _ = hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")

// Options vary a tap.
type Options struct {
	CID byte    // 0x80 ARQC (default), 0x40 TC
	UN  [4]byte // the terminal's unpredictable number
}

// Tap returns the EMV data of a tap for an amount in a currency (ISO 4217
// numeric) and advances the card's counter.
func (c *Card) Tap(amount int64, currency uint16, o Options) ([]byte, error) {
	if o.CID == 0 {
		o.CID = 0x80
	}
	s, err := cryptogram.ParseScheme(c.Scheme)
	if err != nil {
		return nil, err
	}
	atc := []byte{byte(c.ATC >> 8), byte(c.ATC)}
	c.ATC++
	iad := map[cryptogram.Scheme][]byte{
		cryptogram.VisaCVN10:       {0x06, 0x01, 0x0A, 0x03, 0xA0, 0x00, 0x00},
		cryptogram.VisaCVN18:       {0x06, 0x01, 0x12, 0x03, 0xA0, 0x00, 0x00, 0x0F},
		cryptogram.MastercardCVN16: {0x01, 0x10, 0xA0, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00},
		cryptogram.EMVCSK:          {0x0F, 0xA5, 0x01},
	}[s]
	tags := map[uint32][]byte{
		0x9F02: bcd(amount, 6),
		0x9F03: bcd(0, 6),
		0x9F1A: bcd(int64(currency), 2), // the terminal's country; any 2 bytes
		0x95:   {0, 0, 0, 0, 0},
		0x5F2A: bcd(int64(currency), 2),
		0x9A:   {0x26, 0x11, 0x26},
		0x9C:   {0x00},
		0x9F37: o.UN[:],
		0x82:   {0x19, 0x80},
		0x9F36: atc,
		0x9F10: iad,
	}
	get := func(t uint32) []byte { return tags[t] }
	var r []byte
	if s == cryptogram.EMVCSK {
		r = cryptogram.ATCDiversifier(atc)
	}
	keys, err := cryptogram.Derive(s, c.IMK, c.PAN, fmt.Sprintf("%02X", c.PSN), atc, o.UN[:], r)
	if err != nil {
		return nil, err
	}
	data, err := cryptogram.InputData(s, get)
	if err != nil {
		return nil, err
	}
	ac, err := cryptogram.GenerateAC(s, keys, data)
	if err != nil {
		return nil, err
	}
	pan := c.PAN
	if len(pan)%2 == 1 {
		pan += "F"
	}
	panBCD, _ := hex.DecodeString(pan)
	var out []byte
	out = tlv.Append(out, 0x5A, panBCD)
	out = tlv.Append(out, 0x5F34, []byte{c.PSN})
	for _, t := range []uint32{0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37, 0x82, 0x9F36, 0x9F10} {
		out = tlv.Append(out, tlv.Tag(t), tags[t])
	}
	out = tlv.Append(out, 0x9F27, []byte{o.CID})
	out = tlv.Append(out, 0x9F26, ac)
	return out, nil
}

// bcd encodes v as n bytes of BCD.
func bcd(v int64, n int) []byte {
	s := strconv.FormatInt(v, 10)
	for len(s) < 2*n {
		s = "0" + s
	}
	b, _ := hex.DecodeString(s[len(s)-2*n:])
	return b
}

// FlipBit returns a copy of EMV data with one bit of the cryptogram (9F26)
// flipped.
func FlipBit(emv []byte) []byte {
	l, err := tlv.Decode(emv)
	if err != nil {
		return emv
	}
	var out []byte
	for _, o := range l {
		v := append([]byte(nil), o.Value...)
		if o.Tag == 0x9F26 && len(v) > 0 {
			v[len(v)-1] ^= 0x01
		}
		out = tlv.Append(out, o.Tag, v)
	}
	return out
}
