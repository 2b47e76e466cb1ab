package escpos

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestEncodeGolden(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		url   string
	}{
		{"approved", []string{"Demo Café", "MASTERCARD 541333******0345", "SALE      €12.50", "APPROVED 00XK42"}, "https://r.example/T1"},
		{"no_qr", []string{"REFUND    €5.00"}, ""},
		{"hostile", []string{"evil\x1b@\x1dV\x00 line", "漢字"}, "https://r.example/\x1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hex.Dump(Encode(tt.lines, tt.url))
			path := filepath.Join("testdata", tt.name+".hex")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Encode differs from %s:\n%s", path, got)
			}
		})
	}
}

// TestNoInjectedCommands checks that text never carries ESC or GS.
func TestNoInjectedCommands(t *testing.T) {
	out := Encode([]string{"a\x1bb\x1dc"}, "")
	body := out[len(cmdInit)+len(cmdCodePage)+len(cmdLeft) : len(out)-len(cmdFeedCut)]
	if bytes.ContainsAny(body, "\x1b\x1d") {
		t.Errorf("control characters reached the printer: %q", body)
	}
}

func TestLongURLIsText(t *testing.T) {
	url := "https://r.example/" + strings.Repeat("x", MaxQR)
	out := Encode(nil, url)
	if bytes.Contains(out, qrPrint) {
		t.Error("QR printed for a link longer than MaxQR")
	}
	if !bytes.Contains(out, []byte(url)) {
		t.Error("long link not printed as text")
	}
}

func TestPrinter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "receipts.bin")
	p := &Printer{Path: path}
	for range 2 {
		if err := p.Print(context.Background(), []string{"x"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * len(Encode([]string{"x"}, "")); len(b) != want {
		t.Errorf("file has %d bytes, want %d (two receipts appended)", len(b), want)
	}
	if err := (&Printer{}).Print(context.Background(), nil, ""); err != ErrNoPath {
		t.Errorf("no path: %v", err)
	}
}

// TestStuckPrinter checks that Print returns when its context ends,
// whether the device's buffer is full or nobody serves it.
func TestStuckPrinter(t *testing.T) {
	tests := []struct {
		name   string
		reader bool // a reader holds the pipe open but reads nothing
		want   error
	}{
		{"buffer_full", true, context.DeadlineExceeded},
		{"nobody_reading", false, syscall.ENXIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lp0")
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			if tt.reader {
				r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				fillPipe(t, path)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			err := (&Printer{Path: path}).Print(ctx, []string{"x"}, "")
			if !errors.Is(err, tt.want) {
				t.Errorf("Print = %v, want %v", err, tt.want)
			}
		})
	}
}

// fillPipe writes to the named pipe until it takes no more.
func fillPipe(t *testing.T, path string) {
	t.Helper()
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	buf := make([]byte, 4096)
	for {
		if _, err := syscall.Write(fd, buf); err == syscall.EAGAIN {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzEncode(f *testing.F) {
	f.Add("Demo Café €12.50", "https://r.example/T1")
	f.Add("\x1b@\x1dV", "\x00\xff")
	f.Fuzz(func(t *testing.T, line, url string) {
		out := Encode([]string{line}, url)
		if !bytes.HasPrefix(out, cmdInit) || !bytes.HasSuffix(out, cmdFeedCut) {
			t.Fatal("missing init or cut")
		}
		// The QR store command's length must match the data that follows.
		if i := bytes.Index(out, []byte{0x1d, '(', 'k'}); i >= 0 && bytes.Contains(out, qrPrint) {
			j := i + len(qrModel2) + len(qrModuleSize) + len(qrECLevelM)
			n := int(out[j+3]) | int(out[j+4])<<8
			if end := j + 5 + n; end > len(out) || !bytes.HasPrefix(out[end:], qrPrint) {
				t.Fatalf("QR length %d does not reach the print command", n)
			}
		}
	})
}
