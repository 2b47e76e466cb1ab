package trace

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"tappos/emv/oda"
	"tappos/emv/tags"
	"tappos/emv/tlv"
)

// Report is what a recorded transaction shows: the application, the card
// (PAN masked), the card's cryptogram and the offline data authentication
// the recording allows, checked under the given CA keys.
type Report struct {
	AID        string    `json:"aid"`
	Kernel     int       `json:"kernel"`
	PAN        string    `json:"pan"`    // masked
	Expiry     string    `json:"expiry"` // YYMMDD
	CID        string    `json:"cid"`    // e.g. "80 (ARQC)"
	Cryptogram string    `json:"cryptogram"`
	ATC        string    `json:"atc"`
	ODA        ODAReport `json:"oda"`
}

// ODAReport is the outcome of offline data authentication on a recording.
type ODAReport struct {
	Method                string `json:"method"`
	OK                    bool   `json:"ok"`
	IssuerKeyBits         int    `json:"issuer_key_bits,omitempty"`
	ICCKeyBits            int    `json:"icc_key_bits,omitempty"`
	ICCDynamicNumber      string `json:"icc_dynamic_number,omitempty"`
	TransactionDataHashOK *bool  `json:"transaction_data_hash_ok,omitempty"`
	Error                 string `json:"error,omitempty"`
}

// kernelByRID maps registered application provider identifiers to the
// EMV contactless kernel that serves them, for cards whose PPSE entry
// carries no kernel identifier (9F2A).
var kernelByRID = map[string]int{
	"A000000004": 2, // Mastercard
	"A000000003": 3, // Visa
	"A000000025": 4, // American Express
	"A000000065": 5, // JCB
	"A000000152": 6, // Discover
	"A000000333": 7, // UnionPay
}

// exchanges of interest, picked out of the recording.
type recording struct {
	aid      []byte
	kernelID []byte // 9F2A from the PPSE directory entry
	pdolData []byte // GPO command data without 83 L
	gpo      tlv.List
	records  []recordRead
	genAC    []byte // GENERATE AC answer data
	genACP1  byte
	cdol1    []byte // GENERATE AC command data
	ddolData []byte // INTERNAL AUTHENTICATE command data
	intAuth  []byte // INTERNAL AUTHENTICATE answer data
	all      tlv.List
}

type recordRead struct {
	sfi, rec int
	data     []byte
}

// Analyze reports on a recorded transaction. Malformed card answers and
// failed checks are reported in the ODA section; the error return is for
// recordings that hold no transaction at all.
func Analyze(t *Trace, keys *oda.CAKeyStore) (*Report, error) {
	r, err := t.pick()
	if err != nil {
		return nil, err
	}
	rep := &Report{AID: strings.ToUpper(hex.EncodeToString(r.aid))}
	rep.Kernel = kernelFor(r)
	if pan := r.all.Value(0x5A); pan != nil {
		rep.PAN = tags.MaskPAN(strings.TrimRight(strings.ToUpper(hex.EncodeToString(pan)), "F"))
	} else if t2 := track2(r.all); t2 != nil {
		digits := strings.ToUpper(hex.EncodeToString(t2))
		if pan, rest, ok := strings.Cut(digits, "D"); ok {
			rep.PAN = tags.MaskPAN(pan)
			if len(rest) >= 4 {
				rep.Expiry = rest[:4] // YYMM only on track 2
			}
		}
	}
	if exp := r.all.Value(0x5F24); len(exp) == 3 {
		rep.Expiry = hex.EncodeToString(exp)
	}
	if cid, ok := cryptogramInfo(r.all); ok {
		rep.CID = fmt.Sprintf("%02X (%s)", cid, tags.ACName(cid))
	}
	rep.Cryptogram = strings.ToUpper(hex.EncodeToString(r.all.Value(0x9F26)))
	rep.ATC = strings.ToUpper(hex.EncodeToString(r.all.Value(0x9F36)))

	res, method, err := r.authenticate(t, keys)
	rep.ODA = ODAReport{
		Method:        method.String(),
		OK:            err == nil && method != oda.MethodNone,
		IssuerKeyBits: res.IssuerKeyBits,
		ICCKeyBits:    res.ICCKeyBits,
	}
	if res.ICCDynamicNumber != nil {
		rep.ODA.ICCDynamicNumber = strings.ToUpper(hex.EncodeToString(res.ICCDynamicNumber))
	}
	if method == oda.MethodCDA {
		ok := res.TransactionDataHashOK
		rep.ODA.TransactionDataHashOK = &ok
		// Under CDA the cryptogram travels inside the signature.
		if res.Cryptogram != nil {
			rep.Cryptogram = strings.ToUpper(hex.EncodeToString(res.Cryptogram))
			rep.CID = fmt.Sprintf("%02X (%s)", res.CID, tags.ACName(res.CID))
		}
	}
	if err != nil {
		rep.ODA.Error = err.Error()
	}
	return rep, nil
}

// track2 returns track 2 equivalent data: 57, or Mastercard's mag-stripe
// mode track 2 data 9F6B.
func track2(l tlv.List) []byte {
	if v := l.Value(0x57); v != nil {
		return v
	}
	return l.Value(0x9F6B)
}

// cryptogramInfo returns the CID 9F27 or, for a qVSDC card that leaves it
// out, the cryptogram type the Visa IAD carries in bits 6-5 of its byte 5
// (EMV Book C-3, GPO response processing).
func cryptogramInfo(l tlv.List) (byte, bool) {
	if cid := l.Value(0x9F27); len(cid) == 1 {
		return cid[0], true
	}
	if iad := l.Value(0x9F10); len(iad) >= 5 && iad[0] == 0x06 {
		switch iad[4] >> 4 & 0x03 {
		case 0:
			return 0x00, true // AAC
		case 1:
			return 0x40, true // TC
		case 2:
			return 0x80, true // ARQC
		}
	}
	return 0, false
}

func kernelFor(r *recording) int {
	if len(r.kernelID) > 0 && r.kernelID[0]&0xC0 == 0 {
		return int(r.kernelID[0] & 0x3F) // short kernel identifier, Book B 3.3.2.5
	}
	if len(r.aid) >= 5 {
		return kernelByRID[strings.ToUpper(hex.EncodeToString(r.aid[:5]))]
	}
	return 0
}

// pick walks the exchange and keeps what analysis needs. A malformed
// answer is kept out of r.all; its absence shows up in the checks.
func (t *Trace) pick() (*recording, error) {
	r := &recording{}
	for i, e := range t.Exchanges {
		c := e.Command
		if len(c) < 4 || len(e.Response) < 2 {
			return nil, fmt.Errorf("%w: apdu %d is too short", ErrFormat, i)
		}
		var data []byte
		if len(c) > 5 && int(c[4]) <= len(c)-5 {
			data = c[5 : 5+int(c[4])]
		}
		resp := e.Response[:len(e.Response)-2]
		if sw := e.Response[len(e.Response)-2:]; !bytes.Equal(sw, []byte{0x90, 0x00}) {
			continue
		}
		l, err := tlv.Decode(resp)
		switch c[1] {
		case 0xA4: // SELECT
			if bytes.HasPrefix(data, []byte("2PAY.SYS.DDF01")) {
				if err == nil {
					r.kernelID = l.Value(0x9F2A)
				}
				continue
			}
			r.aid = data
		case 0xA8: // GET PROCESSING OPTIONS
			if cmd, derr := tlv.Decode(data); derr == nil && len(cmd) == 1 && cmd[0].Tag == 0x83 {
				r.pdolData = cmd[0].Value // long PDOL data takes 83 81 L
			}
			if err == nil {
				r.gpo = l
			}
		case 0xB2: // READ RECORD
			r.records = append(r.records, recordRead{sfi: int(c[3] >> 3), rec: int(c[2]), data: resp})
			if err == nil && (len(l) != 1 || l[0].Tag != 0x70) {
				continue // a record must be one template 70; a kernel ignores nothing less
			}
		case 0xAE: // GENERATE AC
			if r.genAC == nil { // CDA here covers the first; a second signs CDOL2 data too
				r.genAC, r.genACP1, r.cdol1 = resp, c[2], data
			}
		case 0x88: // INTERNAL AUTHENTICATE
			r.ddolData, r.intAuth = data, resp
		}
		if err == nil {
			r.all = append(r.all, l...)
		}
	}
	if r.aid == nil {
		return nil, fmt.Errorf("%w: no application selected", ErrFormat)
	}
	return r, nil
}

// method tells which offline data authentication the recording calls for.
func (r *recording) method() oda.Method {
	switch {
	case r.genAC != nil && r.genACP1&0x10 != 0:
		return oda.MethodCDA
	case r.gpo.Value(0x9F4B) != nil:
		return oda.MethodFDDA
	case r.intAuth != nil:
		return oda.MethodDDA
	case r.all.Value(0x93) != nil:
		return oda.MethodSDA
	}
	return oda.MethodNone
}

// errNoODA explains a report whose method is none.
var errNoODA = errors.New("the card offered no offline data authentication")

func (r *recording) authenticate(t *Trace, keys *oda.CAKeyStore) (oda.Result, oda.Method, error) {
	m := r.method()
	if m == oda.MethodNone {
		return oda.Result{}, m, errNoODA
	}
	card, err := r.card()
	if err != nil {
		return oda.Result{Method: m}, m, err
	}
	date, err := t.DateTime()
	if err != nil {
		return oda.Result{Method: m}, m, fmt.Errorf("transaction date: %w", err)
	}
	var res oda.Result
	switch m {
	case oda.MethodCDA:
		res, err = oda.VerifyCDA(keys, card, date, oda.CDAInput{
			UnpredictableNumber: t.UnpredictableNumber,
			PDOLData:            r.pdolData,
			CDOL1Data:           r.cdol1,
			Response:            r.genAC,
		})
	case oda.MethodFDDA:
		req, derr := tlv.Decode(t.TransactionRequest)
		if derr != nil {
			return oda.Result{Method: m}, m, fmt.Errorf("transaction request: %w", derr)
		}
		res, err = oda.VerifyFDDA(keys, card, date, oda.FDDAInput{
			SDAD:                r.gpo.Value(0x9F4B),
			UnpredictableNumber: t.UnpredictableNumber,
			Amount:              req.Value(0x9F02),
			Currency:            req.Value(0x5F2A),
			CardAuthData:        r.all.Value(0x9F69),
		})
	case oda.MethodDDA:
		var l tlv.List
		if l, err = tlv.Decode(r.intAuth); err == nil {
			sdad := l.Value(0x9F4B)
			if len(l) == 1 && l[0].Tag == 0x80 {
				sdad = l[0].Value // format 1 answer
			}
			res, err = oda.VerifyDDA(keys, card, date, sdad, r.ddolData)
		}
	case oda.MethodSDA:
		res, err = oda.VerifySDA(keys, card, date)
	}
	return res, m, err
}

// card gathers the ODA data objects: the records the AFL flags, in AFL
// order, and the certificates wherever they were read.
func (r *recording) card() (*oda.Card, error) {
	var aip, afl []byte
	if len(r.gpo) == 1 && r.gpo[0].Tag == 0x80 && len(r.gpo[0].Value) >= 2 {
		aip, afl = r.gpo[0].Value[:2], r.gpo[0].Value[2:] // format 1
	} else {
		aip, afl = r.gpo.Value(0x82), r.gpo.Value(0x94)
	}
	entries, err := tags.ParseAFL(afl)
	if err != nil {
		return nil, &oda.Error{Step: "application file locator", Err: err}
	}
	var signed []oda.Record
	for _, e := range entries {
		for rec := e.First; rec < e.First+e.ODA; rec++ {
			data, ok := r.record(e.SFI, rec)
			if !ok {
				return nil, &oda.Error{Step: fmt.Sprintf("record %d of SFI %d", rec, e.SFI), Err: oda.ErrMissing}
			}
			if _, err := tlv.Decode(data); err != nil {
				return nil, &oda.Error{Step: fmt.Sprintf("record %d of SFI %d", rec, e.SFI), Err: err}
			}
			signed = append(signed, oda.Record{SFI: e.SFI, Data: data})
		}
	}
	static, err := oda.StaticData(signed, r.all.Value(0x9F4A), aip)
	if err != nil {
		return nil, err
	}
	return &oda.Card{
		AID:             r.aid,
		CAIndex:         r.all.Value(0x8F),
		PAN:             r.all.Value(0x5A),
		IssuerCert:      r.all.Value(0x90),
		IssuerRemainder: r.all.Value(0x92),
		IssuerExponent:  r.all.Value(0x9F32),
		ICCCert:         r.all.Value(0x9F46),
		ICCRemainder:    r.all.Value(0x9F48),
		ICCExponent:     r.all.Value(0x9F47),
		SSAD:            r.all.Value(0x93),
		StaticData:      static,
	}, nil
}

func (r *recording) record(sfi, rec int) ([]byte, bool) {
	for _, rr := range r.records {
		if rr.sfi == sfi && rr.rec == rec {
			return rr.data, true
		}
	}
	return nil, false
}
