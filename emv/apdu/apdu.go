// Package apdu encodes and parses ISO/IEC 7816-4 command and response
// APDUs (short length fields only, as EMV uses), names status words, and
// runs commands over a transport, handling the 61xx and 6Cxx procedures.
package apdu

import (
	"errors"
	"fmt"
)

// MaxData is the longest command data field a short APDU can carry.
const MaxData = 255

// MaxLe is the largest expected length of a short APDU, encoded as 00.
const MaxLe = 256

// Sentinel errors.
var (
	ErrTooShort      = errors.New("apdu: too short")
	ErrBadLength     = errors.New("apdu: length field does not match the data")
	ErrExtended      = errors.New("apdu: extended length not supported")
	ErrDataTooLong   = errors.New("apdu: command data longer than 255 bytes")
	ErrLeOutOfRange  = errors.New("apdu: Le out of range 0..256")
	ErrTooManyRounds = errors.New("apdu: too many GET RESPONSE rounds")
)

// Command is a command APDU. Le is the number of response bytes expected:
// 0 means none (cases 1 and 3), 1 to 256 are encoded in one byte, 256 as 00.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Le               int
}

// Bytes encodes the command in the short form of case 1, 2, 3 or 4.
func (c Command) Bytes() ([]byte, error) {
	if len(c.Data) > MaxData {
		return nil, ErrDataTooLong
	}
	if c.Le < 0 || c.Le > MaxLe {
		return nil, ErrLeOutOfRange
	}
	out := make([]byte, 0, 6+len(c.Data))
	out = append(out, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		out = append(out, byte(len(c.Data)))
		out = append(out, c.Data...)
	}
	if c.Le > 0 {
		out = append(out, byte(c.Le)) // 256 wraps to 00, as ISO 7816-4 codes it
	}
	return out, nil
}

// Name returns the EMV name of the command's instruction, e.g. "READ
// RECORD", or "INS xx" for others.
func (c Command) Name() string { return insName(c.INS) }

// ParseCommand parses a short command APDU. The returned Data aliases b.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, ErrTooShort
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2
		c.Le = leOf(body[0])
	case body[0] == 0:
		return Command{}, ErrExtended
	case len(body) == 1+int(body[0]): // case 3
		c.Data = body[1:len(body):len(body)]
	case len(body) == 2+int(body[0]): // case 4
		c.Data = body[1 : len(body)-1 : len(body)-1]
		c.Le = leOf(body[len(body)-1])
	default:
		return Command{}, ErrBadLength
	}
	return c, nil
}

func leOf(b byte) int {
	if b == 0 {
		return MaxLe
	}
	return int(b)
}

// Response is a response APDU: data and the trailing status word.
type Response struct {
	Data []byte
	SW   SW
}

// ParseResponse splits a response APDU into data and status word. The
// returned Data aliases b.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, ErrTooShort
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: SW(b[n])<<8 | SW(b[n+1])}, nil
}

// Bytes encodes the response: data followed by SW1 SW2.
func (r Response) Bytes() []byte {
	out := make([]byte, 0, len(r.Data)+2)
	out = append(out, r.Data...)
	return append(out, r.SW.SW1(), r.SW.SW2())
}

// StatusError reports a command that ended with a status word other than
// 9000.
type StatusError struct {
	INS byte
	SW  SW
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("apdu: %s: status %s", insName(e.INS), e.SW)
}

// Err returns nil for 9000 and a *StatusError for any other status word.
func (r Response) Err(ins byte) error {
	if r.SW == SWSuccess {
		return nil
	}
	return &StatusError{INS: ins, SW: r.SW}
}

var insNames = map[byte]string{
	0xA4: "SELECT",
	0xA8: "GET PROCESSING OPTIONS",
	0xB2: "READ RECORD",
	0xAE: "GENERATE AC",
	0xCA: "GET DATA",
	0x88: "INTERNAL AUTHENTICATE",
	0x2A: "COMPUTE CRYPTOGRAPHIC CHECKSUM",
	0xC0: "GET RESPONSE",
	0x20: "VERIFY",
	0x84: "GET CHALLENGE",
	0x82: "EXTERNAL AUTHENTICATE",
	0xDA: "PUT DATA",
	0xDB: "PUT DATA",
	0xEA: "EXCHANGE RELAY RESISTANCE DATA",
	0x80: "RECOVER AC",
}

func insName(ins byte) string {
	if s, ok := insNames[ins]; ok {
		return s
	}
	return fmt.Sprintf("INS %02X", ins)
}
