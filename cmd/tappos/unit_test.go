package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"tappos/emv/kernel"
	"tappos/terminal"
	"tappos/terminal/sale"
	"tappos/ui"
)

func TestReasonOf(t *testing.T) {
	tests := []struct {
		why  string
		want ui.Reason
	}{
		{"insufficient_funds", ui.ReasonFunds},
		{"ledger rejected: insufficient_funds", ui.ReasonFunds},
		{"offline limit per_transaction", ui.ReasonOfflineLimit},
		{"unable to go online; offline limit cumulative_amount", ui.ReasonOfflineLimit},
		{"declined by the card", ui.ReasonCard},
		{"card_blocked", ui.ReasonTryAnotherCard},
		{"bad_cryptogram", ui.ReasonIssuerAuth},
		{"limit", ui.ReasonNotAllowed},
		{sale.ReasonNoPINEntry, ui.ReasonNoPINEntry},
		{"no acceptable cardholder verification", ui.ReasonTryAnotherCard},
		{"something else", ui.Reason("something else")},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			if got := reasonOf(tt.why); got != tt.want {
				t.Errorf("reasonOf(%q) = %q, want %q", tt.why, got, tt.want)
			}
		})
	}
}

func TestReasonOfErr(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want ui.Reason
	}{
		{"no_card", fmt.Errorf("sale x: %w", sale.ErrNoCard), ui.ReasonTimeout},
		{"try_again", fmt.Errorf("sale x: %w: %w", sale.ErrTryAgain, errors.New("removed")), ui.ReasonCommunication},
		{"not_allowed", fmt.Errorf("sale x: %w: %w", sale.ErrNotPossible, kernel.ErrNotAllowed), ui.ReasonNotAllowed},
		{"not_possible", fmt.Errorf("sale x: %w: %w", sale.ErrNotPossible, kernel.ErrNoApplication), ui.ReasonTryAnotherCard},
		{"refunded", sale.ErrNotRefundable, ui.ReasonAlreadyRefunded},
		{"not_synced", fmt.Errorf("x: %w: %w", sale.ErrNotRefundable, sale.ErrNotSynced), ui.ReasonNotSynced},
		{"ledger_unavailable", fmt.Errorf("refund x: %w: %w", sale.ErrHostUnavailable, errors.New("timeout")), ui.ReasonLedgerUnavailable},
		{"cancelled", context.Canceled, ui.ReasonCancelled},
		{"reader_gone", fmt.Errorf("sale x: waiting for a card: %w", terminal.ErrReaderGone), ui.ReasonNoReader},
		{"other", errors.New("disk full"), ui.ReasonCommunication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reasonOfErr(tt.err); got != tt.want {
				t.Errorf("reasonOfErr = %q, want %q", got, tt.want)
			}
		})
	}
}

// xwdDump builds a w×h 32-bit ZPixmap dump filled with one pixel value.
func xwdDump(w, h int, px uint32) []byte {
	hdr := make([]byte, 100)
	fields := []uint32{100, 7, 2, 24, uint32(w), uint32(h), 0, 0, 32, 0, 32, 32, uint32(w * 4), 4,
		0xff0000, 0xff00, 0xff, 8, 256, 0, uint32(w), uint32(h), 0, 0, 0}
	for i, f := range fields {
		binary.BigEndian.PutUint32(hdr[i*4:], f)
	}
	for range w * h {
		hdr = binary.LittleEndian.AppendUint32(hdr, px)
	}
	return hdr
}

func TestDecodeXWD(t *testing.T) {
	img, err := decodeXWD(xwdDump(3, 2, 0x00123456))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.At(2, 1), (color.RGBA{0x12, 0x34, 0x56, 0xff}); got != want {
		t.Errorf("pixel %v, want %v", got, want)
	}
	bad := map[string][]byte{
		"short":     make([]byte, 10),
		"truncated": xwdDump(3, 2, 0)[:110],
		"huge":      func() []byte { b := xwdDump(1, 1, 0); binary.BigEndian.PutUint32(b[16:], 1<<30); return b }(),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeXWD(b); !errors.Is(err, errXWD) {
				t.Errorf("decodeXWD: %v, want errXWD", err)
			}
		})
	}
}

func FuzzDecodeXWD(f *testing.F) {
	f.Add(xwdDump(2, 2, 0xffffff))
	f.Add(xwdDump(1, 1, 0)[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := decodeXWD(b)
		if err == nil && img.Bounds().Empty() {
			t.Fatal("empty image without error")
		}
	})
}

func TestWAV(t *testing.T) {
	b := wav([]tone{{1000, 10}})
	if string(b[:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " {
		t.Fatalf("header %q", b[:16])
	}
	samples := 22050 * 10 / 1000
	if got := binary.LittleEndian.Uint32(b[40:]); got != uint32(samples*2) {
		t.Errorf("data size %d, want %d", got, samples*2)
	}
	if len(b) != 44+samples*2 {
		t.Errorf("length %d, want %d", len(b), 44+samples*2)
	}
}

func TestSavedSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.json")
	if s, err := loadSettings(path); s != nil || err != nil {
		t.Fatalf("no file: %v, %v", s, err)
	}
	want := ui.Settings{Reader: "ACS", ContactlessLimit: 50000, CVMLimit: 20000, OfflineLimit: 3000, Lang: "zh-Hans"}
	b, _ := json.Marshal(want)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadSettings(path)
	if err != nil || got == nil || got.CVMLimit != want.CVMLimit || got.Lang != want.Lang {
		t.Fatalf("loadSettings = %+v, %v", got, err)
	}
	cfg, err := kernel.LoadConfig(findUp("testdata/terminal/cn-shop.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := applySettings(cfg, got); err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AIDs {
		if a.TransactionLimit != 50000 || a.CVMRequiredLimit != 20000 {
			t.Errorf("AID %X: limits %d/%d", a.AID, a.TransactionLimit, a.CVMRequiredLimit)
		}
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSettings(path); err == nil {
		t.Error("broken settings file accepted")
	}
}

func TestLift(t *testing.T) {
	tests := []struct {
		name    string
		payment bool // a payment is running, with its prompt
		waiting bool
		want    []kernel.Message
	}{
		{name: "card left on the reader", payment: true, waiting: true, want: []kernel.Message{kernel.MsgRemoveCard}},
		{name: "card lifted", payment: true, want: []kernel.Message{kernel.MsgPresentCard}},
		{name: "no payment running", waiting: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []kernel.Message
			p := &till{}
			if tt.payment {
				p.prompt = func(m kernel.Message) { got = append(got, m) }
			}
			p.lift(tt.waiting)
			if !slices.Equal(got, tt.want) {
				t.Errorf("prompts %q, want %q", got, tt.want)
			}
		})
	}
}

func TestManagerPIN(t *testing.T) {
	tests := []struct {
		name         string
		demo         bool
		flagPIN, env string
		want         string
		wantErr      bool
	}{
		{"demo_default", true, "", "", demoPIN, false},
		{"demo_env", true, "", "55667788", "55667788", false},
		{"env", false, "", "482913", "482913", false},
		{"flag_over_env", false, "7777", "482913", "7777", false},
		{"none_outside_demo", false, "", "", "", true},
		{"too_short", false, "", "123", "", true},
		{"too_long", false, "", "1234567890123", "", true},
		{"not_digits", false, "", "12a4", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := managerPIN(tt.demo, tt.flagPIN, tt.env)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("managerPIN(%v, %q, %q) = %q, %v; want %q, error %v", tt.demo, tt.flagPIN, tt.env, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
