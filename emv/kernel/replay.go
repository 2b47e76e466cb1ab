package kernel

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"

	"tappos/emv/apdu"
	"tappos/emv/dol"
	"tappos/emv/oda"
	"tappos/emv/tlv"
	"tappos/emv/trace"
)

// Replay returns a kernel and a transaction that repeat a recorded
// transaction against its recorded card (trace.NewCard): the trace's
// unpredictable number, date, time, amount, currency and type, and a
// configuration derived from the recording (see ReplayConfig).
func Replay(t *trace.Trace, keys *oda.CAKeyStore) (*Kernel, Transaction, error) {
	req, err := tlv.Decode(t.TransactionRequest)
	if err != nil {
		return nil, Transaction{}, fmt.Errorf("%w: transaction request: %v", trace.ErrFormat, err)
	}
	tx := Transaction{
		Amount:      bcdValue(req.Value(0x9F02)),
		OtherAmount: bcdValue(req.Value(0x9F03)),
	}
	if v := req.Value(0x9C); len(v) == 1 {
		tx.Type = v[0]
	}
	cfg, err := ReplayConfig(t)
	if err != nil {
		return nil, Transaction{}, err
	}
	when, err := traceTime(t.Date, t.Time)
	if err != nil {
		return nil, Transaction{}, err
	}
	k := &Kernel{
		Config: cfg,
		CAKeys: keys,
		Rand:   &repeatReader{b: t.UnpredictableNumber},
		Now:    func() time.Time { return when },
	}
	return k, tx, nil
}

// ReplayConfig derives a terminal configuration under which the kernel
// sends a recorded card exactly the commands the recording holds. The
// terminal's data objects (country, terminal type, capabilities, TTQ,
// additional capabilities) are read back from the recorded GET
// PROCESSING OPTIONS and GENERATE AC data, decoded with the card's PDOL
// and CDOL1. The limits are set to reproduce the recorded decisions: the
// floor limit just below the amount when the recorded TTQ or TVR says the
// floor limit was exceeded, at the amount otherwise; the CVM required
// limit likewise from the TTQ or the recorded CVM Results. Mastercard
// action codes are the scheme's usual ones; the currency is the trace's.
func ReplayConfig(t *trace.Trace) (*Config, error) {
	req, err := tlv.Decode(t.TransactionRequest)
	if err != nil {
		return nil, fmt.Errorf("%w: transaction request: %v", trace.ErrFormat, err)
	}
	amount := bcdValue(req.Value(0x9F02))
	currency := int(bcdValue(req.Value(0x5F2A)))
	if currency == 0 {
		return nil, fmt.Errorf("%w: transaction request has no currency", trace.ErrFormat)
	}
	gpo, ac, aids := recordedTerminalData(t)
	if len(aids) == 0 {
		return nil, fmt.Errorf("%w: no application selected in the recording", trace.ErrFormat)
	}
	pick := func(tag tlv.Tag, def []byte) []byte {
		if v, ok := gpo[tag]; ok {
			return v
		}
		if v, ok := ac[tag]; ok {
			return v
		}
		return def
	}
	c := &Config{
		Name:                   "replay",
		TerminalType:           pick(0x9F35, []byte{0x22}),
		Country:                int(bcdValue(pick(0x9F1A, bcd(uint64(currency), 2)))),
		Currency:               Currency{Numeric: currency, Exponent: 2},
		Capabilities:           bytes.Clone(pick(0x9F33, []byte{0xE0, 0x00, 0xC8})),
		AdditionalCapabilities: pick(0x9F40, []byte{0x60, 0x00, 0xF0, 0xA0, 0x01}),
		MerchantCategory:       "5999",
		TerminalID:             "REPLAY01",
	}
	// The CVM capability kernel 2 uses shows in the GENERATE AC data.
	cvmCap := []byte{0x60}
	if v := ac[0x9F33]; len(v) == 3 {
		cvmCap = v[1:2]
	}
	below := max(amount-1, 0)
	for _, aid := range aids {
		a := AIDConfig{AID: aid, Kernel: 3, FloorLimit: amount, CVMRequiredLimit: amount + 1,
			ZeroAmountAllowed: true}
		if bytes.HasPrefix(aid, []byte{0xA0, 0, 0, 0, 0x04}) {
			a.Kernel = 2
			a.TACDenial = Hex{0, 0, 0, 0, 0}
			a.TACOnline = Hex{0xF4, 0x50, 0x84, 0x80, 0x0C}
			a.TACDefault = Hex{0xF4, 0x50, 0x84, 0x80, 0x0C}
			a.CVMCapabilityCVMRequired = cvmCap
			a.CVMCapabilityNoCVM = Hex{0x08}
			a.CVMRequiredLimit = amount
			if tvr := ac[0x95]; len(tvr) == 5 && tvr[3]&0x80 != 0 {
				a.FloorLimit = below
			}
			if r := ac[0x9F34]; len(r) == 3 && r[0]&0x3F != cvmNoCVM && r[0]&0x3F != 0x3F {
				a.CVMRequiredLimit = below
			}
			if r := ac[0x9F33]; len(r) == 3 {
				a.CVMCapabilityNoCVM = cvmCap
			}
		} else {
			// A PDOL may ask for fewer bytes of the TTQ than its four:
			// the recording then holds its leftmost bytes (EMV Book 3,
			// 5.4), the rest are the default's.
			ttq := []byte{0x36, 0x00, 0x40, 0x00}
			copy(ttq, pick(0x9F66, nil))
			a.TTQ = ttq
			if ttq[1]&0x80 != 0 {
				a.FloorLimit = below
			}
			if ttq[1]&0x40 != 0 {
				a.CVMRequiredLimit = amount
			}
		}
		c.AIDs = append(c.AIDs, a)
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("replay configuration: %w", err)
	}
	return c, nil
}

// recordedTerminalData decodes the terminal data objects of the recorded
// GET PROCESSING OPTIONS and first GENERATE AC commands with the DOLs the
// card gave, and lists the AIDs the terminal selected. An exchange whose
// command or response is malformed gives nothing: a hostile or damaged
// recording must not stop the replay, which then differs from it.
func recordedTerminalData(t *trace.Trace) (gpo, ac map[tlv.Tag][]byte, aids [][]byte) {
	gpo, ac = map[tlv.Tag][]byte{}, map[tlv.Tag][]byte{}
	var pdol, cdol1 []byte
	for _, e := range t.Exchanges {
		cmd, err := apdu.ParseCommand(e.Command)
		if err != nil || len(e.Response) < 2 {
			continue
		}
		data := e.Response[:len(e.Response)-2]
		switch {
		case cmd.CLA == 0x00 && cmd.INS == 0xA4 && cmd.P1 == 0x04 && cmd.P2 == 0x00 && len(cmd.Data) > 0 &&
			!bytes.Equal(cmd.Data, []byte(apdu.PPSE)):
			aids = append(aids, bytes.Clone(cmd.Data))
			if l, err := tlv.Decode(data); err == nil {
				pdol = l.Value(0x9F38)
			}
		case cmd.CLA == 0x80 && cmd.INS == 0xA8:
			// The data is the command template 83 holding the PDOL data.
			if l, err := tlv.Decode(cmd.Data); err == nil {
				decodeDOL(pdol, l.Value(0x83), gpo)
			}
		case cmd.CLA == 0x00 && cmd.INS == 0xB2:
			if l, err := tlv.Decode(data); err == nil {
				if v := l.Value(0x8C); v != nil {
					cdol1 = v
				}
			}
		case cmd.CLA == 0x80 && cmd.INS == 0xAE:
			decodeDOL(cdol1, cmd.Data, ac)
		}
	}
	return gpo, ac, aids
}

// decodeDOL splits recorded DOL data into values by the DOL.
func decodeDOL(b, data []byte, into map[tlv.Tag][]byte) {
	d, err := dol.Parse(b)
	if err != nil {
		return
	}
	vals, err := d.Split(data)
	if err != nil {
		return
	}
	for t, v := range vals {
		into[t] = v
	}
}

// bcdValue reads a BCD number; non-digits count as zero.
func bcdValue(b []byte) int64 {
	var v int64
	for _, c := range b {
		hi, lo := int64(c>>4), int64(c&0x0F)
		if hi > 9 || lo > 9 {
			hi, lo = 0, 0
		}
		v = v*100 + hi*10 + lo
	}
	return v
}

// traceTime reads the YYMMDD date and HHMMSS time of a trace.
func traceTime(date, tm []byte) (time.Time, error) {
	d, err := strconv.Atoi(fmt.Sprintf("%X", date))
	if err != nil || len(date) != 3 {
		return time.Time{}, fmt.Errorf("%w: date", trace.ErrFormat)
	}
	h := 0
	if len(tm) == 3 {
		if h, err = strconv.Atoi(fmt.Sprintf("%X", tm)); err != nil {
			return time.Time{}, fmt.Errorf("%w: time", trace.ErrFormat)
		}
	}
	return time.Date(2000+d/10000, time.Month(d/100%100), d%100, h/10000, h/100%100, h%100, 0, time.UTC), nil
}

// repeatReader yields the same bytes forever: a recorded card only
// answers the unpredictable number it was recorded with.
type repeatReader struct {
	b []byte
	i int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	for n := range p {
		p[n] = r.b[r.i%len(r.b)]
		r.i++
	}
	return len(p), nil
}
