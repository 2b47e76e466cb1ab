package trace

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tappos/emv/tlv"
)

func load(t testing.TB, name string) *Trace {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "traces", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestReadAllTraces(t *testing.T) {
	for _, tc := range []struct {
		file  string
		apdus int
	}{
		{"mock-visa-online.json", 3},
		{"mock-visa-offline.json", 6},
		{"mock-msc-online.json", 10},
		{"mock-msc-offline.json", 9},
		{"mock-msc-offline-2.json", 9},
		{"mock-msc-ms-mode.json", 5},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tr := load(t, tc.file)
			if len(tr.Exchanges) != tc.apdus {
				t.Errorf("%d exchanges, want %d", len(tr.Exchanges), tc.apdus)
			}
			if len(tr.UnpredictableNumber) != 4 || len(tr.Date) != 3 {
				t.Errorf("UN %x date %x", tr.UnpredictableNumber, tr.Date)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":    "{",
		"bad hex":     `{"randoms":"XYZ","date":"190819","time":"000000"}`,
		"short date":  `{"randoms":"ABABABAB","date":"19","time":"000000"}`,
		"bad command": `{"randoms":"ABABABAB","date":"190819","time":"000000","apdus":[{"cmd":"00","resp":"9000"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Read(strings.NewReader(in)); !errors.Is(err, ErrFormat) {
				t.Errorf("err = %v, want ErrFormat", err)
			}
		})
	}
}

func TestCardAnswersInOrder(t *testing.T) {
	tr := load(t, "mock-msc-online.json")
	c := NewCard(tr)
	ctx := context.Background()
	// READ RECORD 1 of SFI 2 appears once; answer must be its recording.
	cmd, _ := hex.DecodeString("00B2011400")
	got, _ := c.Transmit(ctx, cmd)
	if !strings.HasPrefix(hex.EncodeToString(got), "700e5a08") {
		t.Errorf("got %x", got)
	}
	got, _ = c.Transmit(ctx, []byte{0x00, 0xB2, 0x09, 0x0C, 0x00})
	if hex.EncodeToString(got) != "6700" {
		t.Errorf("unknown command answered %x, want the not-found SW", got)
	}
}

func TestDateTime(t *testing.T) {
	tests := []struct {
		name       string
		date, time string
		want       string // RFC 3339, "" for an error
	}{
		{"recorded", "190819", "123456", "2019-08-19T12:34:56Z"},
		{"no time", "260316", "", "2026-03-16T00:00:00Z"},
		{"leap day", "240229", "235959", "2024-02-29T23:59:59Z"},
		{"YY 49 is 2049", "491231", "000000", "2049-12-31T00:00:00Z"},
		{"YY 50 is 1950", "500101", "000000", "1950-01-01T00:00:00Z"},
		{"no leap day", "230229", "000000", ""},
		{"month 13", "191301", "000000", ""},
		{"day 00", "190800", "000000", ""},
		{"not BCD", "19081A", "000000", ""},
		{"hour 24", "190819", "240000", ""},
		{"short date", "1908", "000000", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			date, err := tlv.ParseHex(tt.date)
			if err != nil {
				t.Fatal(err)
			}
			tm, err := tlv.ParseHex(tt.time)
			if err != nil {
				t.Fatal(err)
			}
			tr := &Trace{Date: date, Time: tm}
			got, err := tr.DateTime()
			switch {
			case tt.want == "" && !errors.Is(err, ErrFormat):
				t.Errorf("DateTime() = %v, %v; want ErrFormat", got, err)
			case tt.want != "" && (err != nil || got.Format(time.RFC3339) != tt.want):
				t.Errorf("DateTime() = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}
