package receipt

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The golden symbols were checked once with a real scanner library
// (zbarimg 0.23.92 decodes them to their text); the test keeps them
// from changing.
func TestQRGolden(t *testing.T) {
	tests := []struct {
		name, text string
		size       int
	}{
		{"qr-hello", "HELLO", 21},
		{"qr-link", "https://receipts.tappos.example/r/CN000001-261126020003-000102?m=dc1b2c275572075372cfa463ba4a7d49", 41},
		{"qr-v8", strings.Repeat("0123456789", 15), 49},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := EncodeQR(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if q.Size() != tt.size {
				t.Fatalf("size %d, want %d", q.Size(), tt.size)
			}
			got := q.Text()
			path := filepath.Join("testdata", tt.name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("symbol differs from %s:\n%s", path, got)
			}
		})
	}
}

// TestQRStructure checks what every symbol must have, for every version
// and mask: finder patterns, timing patterns, and format information
// that reads back as level M with the mask used, in both copies.
func TestQRStructure(t *testing.T) {
	for v := 1; v <= 10; v++ {
		b := qrBlocks[v]
		if got := b.n1*(b.d1+b.ec) + b.n2*(b.d2+b.ec); got != qrTotal(v) {
			t.Fatalf("version %d: %d codewords, want %d", v, got, qrTotal(v))
		}
		for m := 0; m < 8; m++ {
			q := newQR(v)
			q.place(qrInterleave(qrData("tappos", 8, b.n1*b.d1+b.n2*b.d2), b.ec, b.n1, b.d1, b.n2, b.d2))
			q.applyMask(m)
			q.format(m)
			n := q.Size()
			for _, c := range [][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
				for i := 0; i < 7; i++ {
					if !q.Dark(c[0]+i, c[1]) || !q.Dark(c[0], c[1]+i) || !q.Dark(c[0]+3, c[1]+3) || q.Dark(c[0]+1, c[1]+1) {
						t.Fatalf("v%d mask %d: finder pattern at %v broken", v, m, c)
					}
				}
			}
			for i := 8; i < n-8; i++ {
				if q.Dark(i, 6) != (i%2 == 0) || q.Dark(6, i) != (i%2 == 0) {
					t.Fatalf("v%d mask %d: timing pattern broken at %d", v, m, i)
				}
			}
			var first, second int
			n1 := [][2]int{{8, 0}, {8, 1}, {8, 2}, {8, 3}, {8, 4}, {8, 5}, {8, 7}, {8, 8}, {7, 8}, {5, 8}, {4, 8}, {3, 8}, {2, 8}, {1, 8}, {0, 8}}
			for i, p := range n1 {
				if q.Dark(p[0], p[1]) {
					first |= 1 << i
				}
			}
			for i := 0; i < 15; i++ {
				x, y := n-1-i, 8
				if i >= 8 {
					x, y = 8, n-15+i
				}
				if q.Dark(x, y) {
					second |= 1 << i
				}
			}
			if first != second || (first^0x5412)>>10 != m {
				t.Fatalf("v%d mask %d: format bits %015b / %015b", v, m, first, second)
			}
		}
	}
}

// qrTotal is the standard's total codeword count: the data modules over 8.
func qrTotal(v int) int {
	n := 17 + 4*v
	modules := n*n - 3*64 - 2*(n-16) - 31 // finders with separators, timing, format and dark module
	if a := len(qrAlign[v]); a > 0 {
		modules -= 25 * (a*a - 3)
		modules += 5 * 2 * (a - 2) // alignment patterns crossing the timing patterns
	}
	if v >= 7 {
		modules -= 36
	}
	return modules / 8
}

func TestQRLimits(t *testing.T) {
	if _, err := EncodeQR(strings.Repeat("x", 213)); err != nil {
		t.Fatalf("213 bytes: %v", err)
	}
	if _, err := EncodeQR(strings.Repeat("x", 214)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("214 bytes: %v", err)
	}
	q, _ := EncodeQR("HELLO")
	var b bytes.Buffer
	if err := q.WritePNG(&b, 3); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil || img.Bounds().Dx() != (21+8)*3 {
		t.Fatalf("PNG %v, %v", img.Bounds(), err)
	}
}

// FuzzEncodeQR checks that any text up to the limit encodes in the
// smallest version without panicking.
func FuzzEncodeQR(f *testing.F) {
	for _, s := range []string{"", "HELLO", linker.Link("T1"), strings.Repeat("é", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := EncodeQR(s)
		if err != nil {
			if len(s) <= 213 {
				t.Fatalf("%d bytes: %v", len(s), err)
			}
			return
		}
		v := (q.Size() - 17) / 4
		if v > 1 {
			b := qrBlocks[v-1]
			if cb := 8; 4+cb+8*len(s) <= 8*(b.n1*b.d1+b.n2*b.d2) {
				t.Fatalf("%d bytes fit version %d, got %d", len(s), v-1, v)
			}
		}
	})
}
