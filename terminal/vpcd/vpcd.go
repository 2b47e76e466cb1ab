// Package vpcd implements the card side of the vpcd protocol, which the
// vsmartcard "Virtual PCD" PC/SC driver speaks to simulated cards.
//
// The driver (loaded by pcscd) listens on a TCP port per virtual reader. A
// simulated card connects to it as a client: connecting inserts the card,
// closing the connection removes it. Every message in either direction is a
// 2-byte big-endian length followed by that many bytes. A 1-byte message
// from the driver is a control code (power off, power on, reset, get ATR);
// any longer one is a command APDU. The card answers get ATR with its ATR and
// an APDU with the response APDU, and nothing else.
//
// The driver writes the length and the body of a message separately, so a
// card that lets the kernel delay its ACKs waits about 40 ms per APDU. Serve
// therefore sets TCP_QUICKACK before every read, which brings an APDU round
// trip through pcscd down to a fraction of a millisecond.
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// A Card is a simulated card. The driver calls into it from a single
// goroutine, one message at a time.
//
// A Card that also implements interface{ Reset() } has Reset called whenever
// the driver powers it on, off or resets it: the card's volatile state (the
// selected application, a transaction in progress) is lost in all three.
type Card interface {
	// ATR returns the card's Answer To Reset.
	ATR() []byte

	// Process answers the command APDU apdu with a response APDU (data,
	// then SW1 SW2). Returning ErrSilent or ErrPulled simulates a hostile
	// card; any other error also removes the card and ends Serve with it.
	// Process must not retain apdu.
	Process(apdu []byte) ([]byte, error)
}

var (
	// ErrSilent, returned by Card.Process, makes the card never answer
	// that APDU: the connection stays open and the reader waits until the
	// card is removed (Serve's context is done).
	ErrSilent = errors.New("vpcd: card stays silent")

	// ErrPulled, returned by Card.Process, makes the card leave the field
	// instead of answering: the connection is closed at once.
	ErrPulled = errors.New("vpcd: card pulled from the field")

	// ErrDriverClosed reports that the driver closed the connection (pcscd
	// stopped, or the driver gave up on the card).
	ErrDriverClosed = errors.New("vpcd: driver closed the connection")
)

// Control codes: the payload of 1-byte messages from the driver.
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlGetATR   = 0x04
)

// maxMessage is the largest payload the 2-byte length prefix can carry.
const maxMessage = 0xFFFF

// Present connects card to the vpcd driver at addr (host:port, e.g.
// 127.0.0.1:35963 for the first virtual reader) and serves it as Serve does.
// Calling Present again after it returns presents the card again.
func Present(ctx context.Context, addr string, card Card) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("vpcd: connecting to driver: %w", err)
	}
	return Serve(ctx, conn, card)
}

// Serve speaks the card side of the vpcd protocol on conn, answering the
// driver with card, until ctx is done or the card is pulled (both remove the
// card and return nil), the driver closes the connection (ErrDriverClosed),
// or an error occurs. Serve always closes conn.
//
// If conn is a TCP connection, Serve sets TCP_QUICKACK before every read.
func Serve(ctx context.Context, conn net.Conn, card Card) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	s := &session{r: quickAckReader(conn), w: conn, card: card}
	err := s.run()
	if ctx.Err() != nil || errors.Is(err, ErrPulled) {
		// Removal on purpose; the read or write it interrupted failed
		// only because the connection was closed under it.
		return nil
	}
	return err
}

type session struct {
	r    io.Reader
	w    io.Writer
	card Card
	buf  []byte
}

func (s *session) run() error {
	for {
		msg, err := s.read()
		if err != nil {
			return err
		}
		if len(msg) == 1 {
			err = s.control(msg[0])
		} else {
			err = s.apdu(msg)
		}
		if err != nil {
			return err
		}
	}
}

// read returns the next message from the driver. The slice is valid until
// the next call.
func (s *session) read() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrDriverClosed
		}
		return nil, fmt.Errorf("vpcd: reading message length: %w", err)
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 {
		return nil, errors.New("vpcd: empty message from driver")
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	msg := s.buf[:n]
	if _, err := io.ReadFull(s.r, msg); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = ErrDriverClosed
		}
		return nil, fmt.Errorf("vpcd: reading %d-byte message: %w", n, err)
	}
	return msg, nil
}

func (s *session) control(code byte) error {
	switch code {
	case ctrlPowerOff, ctrlPowerOn, ctrlReset:
		if r, ok := s.card.(interface{ Reset() }); ok {
			r.Reset()
		}
		return nil
	case ctrlGetATR:
		return s.write(s.card.ATR())
	default:
		return fmt.Errorf("vpcd: unknown control code %#02x", code)
	}
}

func (s *session) apdu(cmd []byte) error {
	rsp, err := s.card.Process(cmd)
	switch {
	case errors.Is(err, ErrSilent):
		// Block until the card is removed: the driver sends nothing
		// more while it waits for this answer, and a read notices
		// the connection closing.
		_, err := io.Copy(io.Discard, s.r)
		if err == nil {
			return ErrDriverClosed
		}
		return fmt.Errorf("vpcd: silent card: %w", err)
	case err != nil:
		return err
	}
	return s.write(rsp)
}

func (s *session) write(payload []byte) error {
	// An empty answer makes the driver eject the card, and longer ones
	// cannot be framed.
	if len(payload) == 0 || len(payload) > maxMessage {
		return fmt.Errorf("vpcd: card answer of %d bytes, want 1 to %d", len(payload), maxMessage)
	}
	// One write per message, so the length and body share a segment.
	frame := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(frame, uint16(len(payload)))
	copy(frame[2:], payload)
	if _, err := s.w.Write(frame); err != nil {
		return fmt.Errorf("vpcd: writing %d-byte answer: %w", len(payload), err)
	}
	return nil
}

// NewCard returns a Card with a fixed ATR whose APDUs are answered by
// process. It is handy in tests.
func NewCard(atr []byte, process func(apdu []byte) ([]byte, error)) Card {
	return funcCard{atr: atr, process: process}
}

type funcCard struct {
	atr     []byte
	process func([]byte) ([]byte, error)
}

func (c funcCard) ATR() []byte                         { return c.atr }
func (c funcCard) Process(apdu []byte) ([]byte, error) { return c.process(apdu) }
