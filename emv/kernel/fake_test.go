package kernel

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tappos/emv/tlv"
)

// card is a scripted in-memory card: answer decides the response to each
// command. Handlers see the command and return the response with SW.
type card struct {
	answer func(cmd []byte) ([]byte, error)
	sent   [][]byte
}

func (c *card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.sent = append(c.sent, bytes.Clone(cmd))
	return c.answer(cmd)
}

// obj builds a TLV object; constructed tags take their children encoded.
func obj(tag tlv.Tag, parts ...[]byte) []byte {
	return tlv.Build(tag, bytes.Join(parts, nil))
}

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

var ok9000 = []byte{0x90, 0x00}

func sw(b []byte, sw ...byte) []byte {
	if len(sw) == 0 {
		sw = ok9000
	}
	return append(bytes.Clone(b), sw...)
}

// ppseResp lists directory entries of (AID, priority).
func ppseResp(entries ...[]byte) []byte {
	return sw(obj(0x6F, obj(0x84, []byte("2PAY.SYS.DDF01")), obj(0xA5, obj(0xBF0C, entries...))))
}

func dirEntry(aid string, prio byte) []byte {
	return obj(0x61, obj(0x4F, h(aid)), obj(0x50, []byte("TEST")), obj(0x87, []byte{prio}))
}

func selectResp(aid string, pdol []byte) []byte {
	a5 := obj(0x50, []byte("TEST CARD"))
	if pdol != nil {
		a5 = append(a5, obj(0x9F38, pdol)...)
	}
	return sw(obj(0x6F, obj(0x84, h(aid)), obj(0xA5, a5)))
}

const (
	visaAID   = "A0000000031010"
	visaPDOL  = "9F66049F02069F03069F1A0295055F2A029A039C019F3704"
	visaPAN   = "4761739001010010"
	track2    = "4761739001010010D30122011143800000000F"
	testAC    = "1122334455667788"
	visaMaskd = "476173******0010"
)

// visaCard answers like a Visa qVSDC card whose GPO response holds gpo
// (the objects inside template 77).
func visaCard(gpo ...[]byte) *card {
	return &card{answer: func(cmd []byte) ([]byte, error) {
		switch {
		case bytes.HasPrefix(cmd, h("00A404000E")):
			return ppseResp(dirEntry(visaAID, 1)), nil
		case bytes.HasPrefix(cmd, h("00A4040007"+visaAID)):
			return selectResp(visaAID, h(visaPDOL)), nil
		case bytes.HasPrefix(cmd, h("80A8")):
			return sw(obj(0x77, gpo...)), nil
		}
		return []byte{0x6A, 0x82}, nil
	}}
}

// visaGPO is a qVSDC GPO response of the cryptogram type, with extra
// objects appended.
func visaGPO(cid byte, extra ...[]byte) [][]byte {
	objs := [][]byte{obj(0x82, h("0040")), obj(0x57, h(track2)), obj(0x5F34, h("01")),
		obj(0x9F10, h("06010A03A00000")), obj(0x9F26, h(testAC)), obj(0x9F27, []byte{cid}), obj(0x9F36, h("0007"))}
	return append(objs, extra...)
}

// expiredGPO is visaGPO with a track 2 that expired in December 2020.
func expiredGPO(cid byte, extra ...[]byte) [][]byte {
	objs := visaGPO(cid, extra...)
	objs[1] = obj(0x57, h("4761739001010010D20122011143800000000F"))
	return objs
}

// testKernel returns a kernel on a shop configuration with a fixed clock
// and unpredictable number.
func testKernel(tb testing.TB, shop string) *Kernel {
	tb.Helper()
	cfg, err := LoadConfig(filepath.Join("..", "..", "testdata", "terminal", shop+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := cfg.CAKeys()
	if err != nil {
		tb.Fatal(err)
	}
	return &Kernel{Config: cfg, CAKeys: keys,
		Rand: &repeatReader{b: h("DEADBEEF")},
		Now:  func() time.Time { return time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC) }}
}

var errRemoved = errors.New("card removed")

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
