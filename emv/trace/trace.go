// Package trace reads recorded contactless transactions: the terminal's
// inputs (unpredictable number, date, amount) and the APDU exchange with the
// card, in the JSON format of tappos's test vectors (testdata/traces).
//
// A recorded trace can be analysed (what did the card say, does its offline
// data authentication hold) or replayed: a Card answers the kernel's
// commands from the recording.
package trace

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrFormat reports a trace file that does not follow the format.
var ErrFormat = errors.New("trace: bad format")

// Exchange is one command APDU and the card's answer (data and SW1SW2).
type Exchange struct {
	Command  []byte
	Response []byte
}

// Trace is one recorded transaction.
type Trace struct {
	UnpredictableNumber []byte // 9F37 the terminal used
	Date                []byte // 9A, YYMMDD in BCD
	Time                []byte // 9F21, HHMMSS in BCD
	TransactionRequest  []byte // TLV of amount 9F02, currency 5F2A, type 9C
	NotFound            []byte // SW the recording card gives to an unknown command
	Exchanges           []Exchange
}

type fileFormat struct {
	NotFound string `json:"not-found"`
	Randoms  string `json:"randoms"`
	Date     string `json:"date"`
	Time     string `json:"time"`
	Request  string `json:"transaction-req"`
	APDUs    []struct {
		Cmd  string `json:"cmd"`
		Resp string `json:"resp"`
	} `json:"apdus"`
}

// Read decodes a trace from JSON.
func Read(r io.Reader) (*Trace, error) {
	var f fileFormat
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	t := &Trace{}
	fields := []struct {
		name string
		in   string
		out  *[]byte
		n    int // required length, 0 for any
	}{
		{"randoms", f.Randoms, &t.UnpredictableNumber, 4},
		{"date", f.Date, &t.Date, 3},
		{"time", f.Time, &t.Time, 3},
		{"transaction-req", f.Request, &t.TransactionRequest, 0},
		{"not-found", f.NotFound, &t.NotFound, 0},
	}
	for _, fl := range fields {
		b, err := decodeHex(fl.in)
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: %v", ErrFormat, fl.name, err)
		}
		if fl.n != 0 && len(b) != fl.n {
			return nil, fmt.Errorf("%w: field %s is %d bytes, want %d", ErrFormat, fl.name, len(b), fl.n)
		}
		*fl.out = b
	}
	if len(t.NotFound) != 2 {
		t.NotFound = []byte{0x6A, 0x82}
	}
	for i, a := range f.APDUs {
		c, err := decodeHex(a.Cmd)
		if err != nil || len(c) < 4 {
			return nil, fmt.Errorf("%w: apdu %d: bad command", ErrFormat, i)
		}
		r, err := decodeHex(a.Resp)
		if err != nil || len(r) < 2 {
			return nil, fmt.Errorf("%w: apdu %d: bad response", ErrFormat, i)
		}
		t.Exchanges = append(t.Exchanges, Exchange{Command: c, Response: r})
	}
	return t, nil
}

func decodeHex(s string) ([]byte, error) {
	return hex.DecodeString(strings.Join(strings.Fields(s), ""))
}

// Find returns the first exchange whose command starts with the given
// class, instruction and parameter bytes (any prefix of the command).
func (t *Trace) Find(prefix []byte) (Exchange, bool) {
	for _, e := range t.Exchanges {
		if bytes.HasPrefix(e.Command, prefix) {
			return e, true
		}
	}
	return Exchange{}, false
}

// Card answers commands from the recording, so that a kernel can be run
// against a recorded card. Commands are matched exactly, in recorded order
// first; an unknown command gets the trace's not-found status word.
type Card struct {
	t    *Trace
	next int
}

// NewCard returns a recorded card for the trace.
func NewCard(t *Trace) *Card { return &Card{t: t} }

// Transmit returns the recorded answer to cmd.
func (c *Card) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	ex := c.t.Exchanges
	for i := range ex {
		j := (c.next + i) % len(ex)
		if bytes.Equal(ex[j].Command, cmd) {
			c.next = j + 1
			return bytes.Clone(ex[j].Response), nil
		}
	}
	return bytes.Clone(c.t.NotFound), nil
}
