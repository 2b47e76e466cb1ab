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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"tappos/emv/tlv"
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
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
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
		b, err := tlv.ParseHex(fl.in)
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: %w", ErrFormat, fl.name, err)
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
		c, err := tlv.ParseHex(a.Cmd)
		if err != nil || len(c) < 4 {
			return nil, fmt.Errorf("%w: apdu %d: bad command", ErrFormat, i)
		}
		r, err := tlv.ParseHex(a.Resp)
		if err != nil || len(r) < 2 {
			return nil, fmt.Errorf("%w: apdu %d: bad response", ErrFormat, i)
		}
		t.Exchanges = append(t.Exchanges, Exchange{Command: c, Response: r})
	}
	return t, nil
}

// DateTime returns the transaction's date 9A and time 9F21 in UTC, at
// midnight when the trace has no time. YY 00-49 is 20YY and 50-99 is 19YY,
// the window EMV Book 4 gives terminals for dates, so that a certificate
// expiry and the transaction date roll over the century the same way.
func (t *Trace) DateTime() (time.Time, error) {
	d, ok := bcdFields(t.Date)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: date is not YYMMDD", ErrFormat)
	}
	year := 2000 + d[0]
	if d[0] >= 50 {
		year = 1900 + d[0]
	}
	month, day := time.Month(d[1]), d[2]
	date := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	if date.Month() != month || date.Day() != day {
		return time.Time{}, fmt.Errorf("%w: date %02d-%02d does not exist", ErrFormat, d[1], day)
	}
	if len(t.Time) == 0 {
		return date, nil
	}
	hms, ok := bcdFields(t.Time)
	if !ok || hms[0] > 23 || hms[1] > 59 || hms[2] > 59 {
		return time.Time{}, fmt.Errorf("%w: time is not HHMMSS", ErrFormat)
	}
	return date.Add(time.Duration(hms[0])*time.Hour + time.Duration(hms[1])*time.Minute + time.Duration(hms[2])*time.Second), nil
}

// bcdFields reads three two-digit BCD fields.
func bcdFields(b []byte) ([3]int, bool) {
	var f [3]int
	if len(b) != 3 {
		return f, false
	}
	for i, c := range b {
		if c>>4 > 9 || c&0x0F > 9 {
			return f, false
		}
		f[i] = int(c>>4)*10 + int(c&0x0F)
	}
	return f, true
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
