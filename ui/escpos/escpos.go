// Package escpos encodes receipts for ESC/POS thermal printers (Epson's
// command set, which most receipt printers speak) and sends them to a
// printer device or a file.
package escpos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Commands used, from Epson's ESC/POS reference.
var (
	cmdInit      = []byte{0x1b, '@'}                      // ESC @: reset
	cmdCodePage  = []byte{0x1b, 't', 19}                  // ESC t 19: PC858, Latin-1 with €
	cmdLeft      = []byte{0x1b, 'a', 0}                   // ESC a 0
	cmdCenter    = []byte{0x1b, 'a', 1}                   // ESC a 1
	cmdFeedCut   = []byte{0x1b, 'd', 4, 0x1d, 'V', 66, 0} // ESC d 4, GS V 66 0: feed, partial cut
	qrModel2     = []byte{0x1d, '(', 'k', 4, 0, '1', 'A', '2', 0}
	qrModuleSize = []byte{0x1d, '(', 'k', 3, 0, '1', 'C', 6}
	qrECLevelM   = []byte{0x1d, '(', 'k', 3, 0, '1', 'E', '1'}
	qrPrint      = []byte{0x1d, '(', 'k', 3, 0, '1', 'Q', '0'}
)

// MaxQR is the longest link printed as a QR code (version 40, level M,
// byte mode); a longer one is printed as text.
const MaxQR = 2331

// pc858 maps the non-ASCII characters a receipt may carry to code page
// 858; anything else prints as '?'.
var pc858 = map[rune]byte{
	'€': 0xd5, 'é': 0x82, 'è': 0x8a, 'ä': 0x84, 'ö': 0x94, 'ü': 0x81, 'ß': 0xe1,
	'Ä': 0x8e, 'Ö': 0x99, 'Ü': 0x9a, 'ç': 0x87, 'à': 0x85, '£': 0x9c, '·': 0xfa,
}

// Encode renders receipt lines and an e-receipt link as ESC/POS bytes:
// text left-aligned, the QR code centred, then feed and cut. Control
// characters in the input are dropped, so a line cannot smuggle in
// printer commands.
func Encode(lines []string, qrURL string) []byte {
	var b bytes.Buffer
	b.Write(cmdInit)
	b.Write(cmdCodePage)
	b.Write(cmdLeft)
	for _, l := range lines {
		writeText(&b, l)
		b.WriteByte('\n')
	}
	if qrURL != "" {
		b.WriteByte('\n')
		b.Write(cmdCenter)
		var data bytes.Buffer
		writeText(&data, qrURL)
		if data.Len() <= MaxQR {
			n := data.Len() + 3 // the store command's length counts cn, fn, m
			b.Write(qrModel2)
			b.Write(qrModuleSize)
			b.Write(qrECLevelM)
			b.Write([]byte{0x1d, '(', 'k', byte(n), byte(n >> 8), '1', 'P', '0'})
			b.Write(data.Bytes())
			b.Write(qrPrint)
			b.WriteByte('\n')
		}
		b.Write(data.Bytes())
		b.WriteByte('\n')
		b.Write(cmdLeft)
	}
	b.Write(cmdFeedCut)
	return b.Bytes()
}

// writeText writes s in PC858, dropping control characters.
func writeText(b *bytes.Buffer, s string) {
	for _, r := range s {
		switch {
		case r >= 0x20 && r < 0x7f:
			b.WriteByte(byte(r))
		case r < 0x20 || r == 0x7f:
			// dropped
		default:
			if c, ok := pc858[r]; ok {
				b.WriteByte(c)
			} else {
				b.WriteByte('?')
			}
		}
	}
}

// ErrNoPath reports a Printer without a device or file.
var ErrNoPath = errors.New("no printer device or file")

// Printer prints to a character device (/dev/usb/lp0) or appends to a
// file, which is how a kiosk without a printer keeps its receipts.
type Printer struct {
	Path string
}

// Print encodes and writes one receipt, giving up when ctx ends: the
// device is opened non-blocking and written under a deadline, so a
// printer that stops taking data cannot hold the caller. A timeout
// wraps context.DeadlineExceeded.
func (p *Printer) Print(ctx context.Context, lines []string, qrURL string) error {
	if p.Path == "" {
		return ErrNoPath
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// O_NONBLOCK: opening a device or pipe nobody serves fails at once
	// instead of waiting, and Go's poller can interrupt the write.
	f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return fmt.Errorf("opening printer: %w", err)
	}
	// A regular file has no deadline (os.ErrNoDeadline) and never blocks.
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
	_, err = f.Write(Encode(lines, qrURL))
	stop()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("printer not responding: %w", context.Cause(ctx))
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("printing: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("printing: %w", err)
	}
	return nil
}
