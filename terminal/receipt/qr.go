package receipt

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
)

// A QR is a QR code (ISO/IEC 18004) of an e-receipt link: byte mode,
// error correction level M, versions 1 to 10 (up to 213 bytes), which is
// all a link needs. Module (x, y) counts from the top left.
type QR struct {
	size    int
	modules []bool // dark, row by row
	fn      []bool // function patterns, not data
}

// ErrTooLong reports text that does not fit a version 10 QR code.
var ErrTooLong = errors.New("text too long for the QR encoder")

// qrBlocks is level M's block structure per version: error correction
// codewords per block, then (count, data codewords) for each group.
var qrBlocks = [11]struct{ ec, n1, d1, n2, d2 int }{
	1: {10, 1, 16, 0, 0}, 2: {16, 1, 28, 0, 0}, 3: {26, 1, 44, 0, 0},
	4: {18, 2, 32, 0, 0}, 5: {24, 2, 43, 0, 0}, 6: {16, 4, 27, 0, 0},
	7: {18, 4, 31, 0, 0}, 8: {22, 2, 38, 2, 39}, 9: {22, 3, 36, 2, 37},
	10: {26, 4, 43, 1, 44},
}

// qrAlign are the alignment pattern centre coordinates per version.
var qrAlign = [11][]int{2: {6, 18}, 3: {6, 22}, 4: {6, 26}, 5: {6, 30}, 6: {6, 34},
	7: {6, 22, 38}, 8: {6, 24, 42}, 9: {6, 26, 46}, 10: {6, 28, 50}}

// EncodeQR makes the smallest QR code that holds text.
func EncodeQR(text string) (*QR, error) {
	for v := 1; v <= 10; v++ {
		b := qrBlocks[v]
		capacity := b.n1*b.d1 + b.n2*b.d2
		countBits := 8
		if v >= 10 {
			countBits = 16
		}
		if 4+countBits+8*len(text) > 8*capacity {
			continue
		}
		data := qrData(text, countBits, capacity)
		q := newQR(v)
		q.place(qrInterleave(data, b.ec, b.n1, b.d1, b.n2, b.d2))
		q.chooseMask()
		return q, nil
	}
	return nil, fmt.Errorf("%w: %d bytes", ErrTooLong, len(text))
}

// qrData is the data codewords: mode, count, bytes, terminator, padding.
func qrData(text string, countBits, capacity int) []byte {
	var bits []bool
	put := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			bits = append(bits, v>>i&1 == 1)
		}
	}
	put(0b0100, 4) // byte mode
	put(len(text), countBits)
	for i := 0; i < len(text); i++ {
		put(int(text[i]), 8)
	}
	put(0, min(4, 8*capacity-len(bits)))
	for len(bits)%8 != 0 {
		bits = append(bits, false)
	}
	out := make([]byte, 0, capacity)
	for i := 0; i < len(bits); i += 8 {
		var c byte
		for j := 0; j < 8; j++ {
			if bits[i+j] {
				c |= 0x80 >> j
			}
		}
		out = append(out, c)
	}
	for pad := byte(0xEC); len(out) < capacity; pad ^= 0xEC ^ 0x11 {
		out = append(out, pad)
	}
	return out
}

// qrInterleave splits data into blocks, adds each block's Reed-Solomon
// codewords and interleaves them as the symbol carries them.
func qrInterleave(data []byte, ec, n1, d1, n2, d2 int) []byte {
	var blocks, ecs [][]byte
	gen := rsGenerator(ec)
	for i := 0; i < n1+n2; i++ {
		n := d1
		if i >= n1 {
			n = d2
		}
		blocks = append(blocks, data[:n])
		ecs = append(ecs, rsRemainder(data[:n], gen))
		data = data[n:]
	}
	var out []byte
	for i := 0; i < max(d1, d2); i++ {
		for _, b := range blocks {
			if i < len(b) {
				out = append(out, b[i])
			}
		}
	}
	for i := 0; i < ec; i++ {
		for _, e := range ecs {
			out = append(out, e[i])
		}
	}
	return out
}

// gfExp and gfLog are GF(256) with the QR polynomial x^8+x^4+x^3+x^2+1.
var gfExp, gfLog = func() (e [512]byte, l [256]byte) {
	x := 1
	for i := 0; i < 255; i++ {
		e[i], l[x] = byte(x), byte(i)
		if x <<= 1; x&0x100 != 0 {
			x ^= 0x11D
		}
	}
	for i := 255; i < 512; i++ {
		e[i] = e[i-255]
	}
	return e, l
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// rsGenerator is the product of (x - α^i) for i < n, highest degree first.
func rsGenerator(n int) []byte {
	g := []byte{1}
	for i := 0; i < n; i++ {
		next := make([]byte, len(g)+1)
		for j, c := range g {
			next[j] ^= c
			next[j+1] ^= gfMul(c, gfExp[i])
		}
		g = next
	}
	return g
}

// rsRemainder is data·x^n mod the generator: the error correction codewords.
func rsRemainder(data, gen []byte) []byte {
	n := len(gen) - 1
	rem := make([]byte, n)
	for _, d := range data {
		f := d ^ rem[0]
		copy(rem, rem[1:])
		rem[n-1] = 0
		for j := range rem {
			rem[j] ^= gfMul(gen[j+1], f)
		}
	}
	return rem
}

func newQR(version int) *QR {
	size := 17 + 4*version
	q := &QR{size: size, modules: make([]bool, size*size), fn: make([]bool, size*size)}
	for i := 0; i < size; i++ {
		q.setFn(6, i, i%2 == 0)
		q.setFn(i, 6, i%2 == 0)
	}
	for _, c := range [][2]int{{3, 3}, {size - 4, 3}, {3, size - 4}} {
		for dy := -4; dy <= 4; dy++ {
			for dx := -4; dx <= 4; dx++ {
				x, y := c[0]+dx, c[1]+dy
				if x >= 0 && x < size && y >= 0 && y < size {
					d := max(abs(dx), abs(dy))
					q.setFn(x, y, d != 2 && d != 4)
				}
			}
		}
	}
	al := qrAlign[version]
	for i, cx := range al {
		for j, cy := range al {
			if i == 0 && j == 0 || i == 0 && j == len(al)-1 || i == len(al)-1 && j == 0 {
				continue // the finder patterns' corners
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					q.setFn(cx+dx, cy+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	q.format(0) // reserves the format areas; rewritten with the mask
	if version >= 7 {
		rem := version
		for i := 0; i < 12; i++ {
			rem = rem<<1 ^ (rem>>11)*0x1F25
		}
		bits := version<<12 | rem
		for i := 0; i < 18; i++ {
			a, b := size-11+i%3, i/3
			q.setFn(a, b, bits>>i&1 == 1)
			q.setFn(b, a, bits>>i&1 == 1)
		}
	}
	return q
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (q *QR) setFn(x, y int, dark bool) {
	q.modules[y*q.size+x], q.fn[y*q.size+x] = dark, true
}

// format writes the format information for level M and a mask, twice.
func (q *QR) format(mask int) {
	data := 0b00<<3 | mask // level M is 00
	rem := data
	for i := 0; i < 10; i++ {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	bits := (data<<10 | rem) ^ 0x5412
	bit := func(i int) bool { return bits>>i&1 == 1 }
	n := q.size
	for i := 0; i <= 5; i++ {
		q.setFn(8, i, bit(i))
	}
	q.setFn(8, 7, bit(6))
	q.setFn(8, 8, bit(7))
	q.setFn(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		q.setFn(14-i, 8, bit(i))
	}
	for i := 0; i < 8; i++ {
		q.setFn(n-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		q.setFn(8, n-15+i, bit(i))
	}
	q.setFn(8, n-8, true) // the dark module
}

// place lays the codewords out in the two-column zigzag.
func (q *QR) place(codewords []byte) {
	i, n := 0, q.size
	for right := n - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5 // skip the vertical timing pattern
		}
		for vert := 0; vert < n; vert++ {
			for j := 0; j < 2; j++ {
				x := right - j
				y := vert
				if (right+1)&2 == 0 {
					y = n - 1 - vert // upward
				}
				if !q.fn[y*n+x] && i < 8*len(codewords) {
					q.modules[y*n+x] = codewords[i>>3]>>(7-i&7)&1 == 1
					i++
				}
			}
		}
	}
}

var qrMasks = [8]func(x, y int) bool{
	func(x, y int) bool { return (x+y)%2 == 0 },
	func(x, y int) bool { return y%2 == 0 },
	func(x, y int) bool { return x%3 == 0 },
	func(x, y int) bool { return (x+y)%3 == 0 },
	func(x, y int) bool { return (x/3+y/2)%2 == 0 },
	func(x, y int) bool { return x*y%2+x*y%3 == 0 },
	func(x, y int) bool { return (x*y%2+x*y%3)%2 == 0 },
	func(x, y int) bool { return ((x+y)%2+x*y%3)%2 == 0 },
}

func (q *QR) applyMask(m int) {
	for y := 0; y < q.size; y++ {
		for x := 0; x < q.size; x++ {
			if !q.fn[y*q.size+x] && qrMasks[m](x, y) {
				q.modules[y*q.size+x] = !q.modules[y*q.size+x]
			}
		}
	}
}

// chooseMask applies the mask with the lowest penalty, as scanners read
// those best.
func (q *QR) chooseMask() {
	best, bestScore := 0, -1
	for m := range qrMasks {
		q.applyMask(m)
		q.format(m)
		if s := q.penalty(); bestScore < 0 || s < bestScore {
			best, bestScore = m, s
		}
		q.applyMask(m) // undo: the mask is its own inverse
	}
	q.applyMask(best)
	q.format(best)
}

// penalty scores the symbol by the standard's four rules.
func (q *QR) penalty() int {
	n, score, dark := q.size, 0, 0
	at := func(x, y int, vertical bool) bool {
		if vertical {
			x, y = y, x
		}
		return q.modules[y*n+x]
	}
	for _, vertical := range []bool{false, true} {
		for y := 0; y < n; y++ {
			run := 1
			for x := 1; x <= n; x++ {
				if x < n && at(x, y, vertical) == at(x-1, y, vertical) {
					run++
					continue
				}
				if run >= 5 {
					score += run - 2 // rule 1: runs of five or more
				}
				run = 1
			}
			// Rule 3: 1011101 with four light modules on either side.
			for x := 0; x+11 <= n; x++ {
				var s string
				for k := 0; k < 11; k++ {
					if at(x+k, y, vertical) {
						s += "1"
					} else {
						s += "0"
					}
				}
				if s == "10111010000" || s == "00001011101" {
					score += 40
				}
			}
		}
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			c := q.modules[y*n+x]
			if c {
				dark++
			}
			// Rule 2: 2×2 blocks of one colour.
			if x+1 < n && y+1 < n && c == q.modules[y*n+x+1] && c == q.modules[(y+1)*n+x] && c == q.modules[(y+1)*n+x+1] {
				score += 3
			}
		}
	}
	// Rule 4: 10 points per 5% away from half dark.
	return score + abs(dark*20-n*n*10)/(n*n)*10
}

// Size is the number of modules on a side, without the quiet zone.
func (q *QR) Size() int { return q.size }

// Dark reports whether module (x, y) is dark; outside the symbol is light.
func (q *QR) Dark(x, y int) bool {
	return x >= 0 && y >= 0 && x < q.size && y < q.size && q.modules[y*q.size+x]
}

// quiet is the light margin scanners need around the symbol.
const quiet = 4

// Text draws the code with block characters, two rows a line, dark
// modules as ink, for screens with a light background and for printers.
func (q *QR) Text() string {
	var b strings.Builder
	for y := -quiet; y < q.size+quiet; y += 2 {
		for x := -quiet; x < q.size+quiet; x++ {
			switch top, bottom := q.Dark(x, y), q.Dark(x, y+1); {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// WritePNG writes the code as a black and white PNG, scale pixels a module.
func (q *QR) WritePNG(w io.Writer, scale int) error {
	if scale < 1 {
		scale = 1
	}
	side := (q.size + 2*quiet) * scale
	img := image.NewGray(image.Rect(0, 0, side, side))
	for py := 0; py < side; py++ {
		for px := 0; px < side; px++ {
			c := color.Gray{Y: 255}
			if q.Dark(px/scale-quiet, py/scale-quiet) {
				c.Y = 0
			}
			img.SetGray(px, py, c)
		}
	}
	return png.Encode(w, img)
}
