package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
)

// errXWD reports an X window dump this decoder does not read.
var errXWD = errors.New("unsupported xwd dump")

// grabWindow dumps the X window with the given title through xwd
// (x11-apps). Fyne's own Canvas.Capture reads the GL front buffer,
// which Mesa's software renderer on Xvfb leaves black, so screenshots
// come from the X server, as a user would see them.
func grabWindow(title string) (image.Image, error) {
	cmd := exec.Command("xwd", "-silent", "-name", title)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("xwd: %w", err)
	}
	return decodeXWD(out)
}

// decodeXWD reads a ZPixmap dump of 24- or 32-bit TrueColor pixels.
func decodeXWD(b []byte) (image.Image, error) {
	if len(b) < 100 {
		return nil, fmt.Errorf("%w: short header", errXWD)
	}
	var h [25]uint32
	for i := range h {
		h[i] = binary.BigEndian.Uint32(b[i*4:])
	}
	headerSize, format, width, height := h[0], h[2], int(h[4]), int(h[5])
	byteOrder, bpp, bpl := h[7], h[11], int(h[12])
	rmask, gmask, bmask := h[14], h[15], h[16]
	ncolors := h[19]
	if format != 2 || bpp != 32 || width <= 0 || height <= 0 || width > 16384 || height > 16384 || bpl < width*4 {
		return nil, fmt.Errorf("%w: format %d, %d bpp, %dx%d", errXWD, format, bpp, width, height)
	}
	off := uint64(headerSize) + uint64(ncolors)*12
	if off+uint64(bpl)*uint64(height) > uint64(len(b)) {
		return nil, fmt.Errorf("%w: truncated pixels", errXWD)
	}
	px := b[off:]
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	var order binary.ByteOrder = binary.LittleEndian
	if byteOrder == 1 {
		order = binary.BigEndian
	}
	for y := range height {
		row := px[y*bpl:]
		for x := range width {
			v := order.Uint32(row[x*4:])
			img.SetRGBA(x, y, color.RGBA{channel(v, rmask), channel(v, gmask), channel(v, bmask), 0xff})
		}
	}
	return img, nil
}

// channel extracts an 8-bit colour channel by its mask.
func channel(v, mask uint32) uint8 {
	if mask == 0 {
		return 0
	}
	shift := 0
	for mask&1 == 0 {
		mask >>= 1
		shift++
	}
	return uint8((v >> shift) & mask & 0xff)
}
