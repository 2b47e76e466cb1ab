package oda

import (
	"bytes"
	"crypto/sha1"
	"time"

	"tappos/emv/tlv"
)

// Card holds the card's data for offline data authentication: the values
// of the data objects as read, nil when absent.
type Card struct {
	AID             []byte // 4F or 84; its first 5 bytes are the RID
	CAIndex         []byte // 8F
	PAN             []byte // 5A
	IssuerCert      []byte // 90
	IssuerRemainder []byte // 92
	IssuerExponent  []byte // 9F32
	ICCCert         []byte // 9F46
	ICCRemainder    []byte // 9F48
	ICCExponent     []byte // 9F47
	SSAD            []byte // 93, for SDA
	// StaticData is the static data to be authenticated; see StaticData.
	StaticData []byte
}

// Record is one record read for offline data authentication: its short
// file identifier and the READ RECORD response data.
type Record struct {
	SFI  int
	Data []byte
}

// StaticData assembles the static data to be authenticated (EMV Book 3
// §10.3): the records the AFL flags for offline data authentication, in
// AFL order, then the AIP when the SDA tag list 9F4A (sdaTagList) lists 82.
// Records of SFI 1 to 10 contribute the value of their template 70, others
// their whole encoding.
func StaticData(records []Record, sdaTagList, aip []byte) ([]byte, error) {
	const step = "static data"
	var out []byte
	for _, r := range records {
		if r.SFI > 10 {
			out = append(out, r.Data...)
			continue
		}
		tag, n, err := tlv.ParseTag(r.Data)
		if err != nil || tag != 0x70 {
			return nil, fail(step, ErrRecord)
		}
		l, m, err := tlv.ParseLength(r.Data[n:])
		if err != nil || n+m+l != len(r.Data) {
			return nil, fail(step, ErrRecord)
		}
		out = append(out, r.Data[n+m:]...)
	}
	if len(sdaTagList) > 0 {
		if !bytes.Equal(sdaTagList, []byte{0x82}) {
			return nil, fail(step, ErrTagList)
		}
		if len(aip) != 2 {
			return nil, fail(step, ErrMissing)
		}
		out = append(out, aip...)
	}
	return out, nil
}

// issuerKey looks up the CA key and recovers the issuer key.
func (c *Card) issuerKey(keys *CAKeyStore, date time.Time, res *Result) (*PublicKey, error) {
	ca, err := keys.CardKey(c, date)
	if err != nil {
		return nil, err
	}
	ik, err := RecoverIssuerKey(ca.PublicKey, c.IssuerCert, c.IssuerRemainder, c.IssuerExponent, c.PAN, date)
	if err != nil {
		return nil, err
	}
	res.IssuerKeyBits = ik.Bits()
	return ik, nil
}

// iccKey recovers the issuer and ICC keys.
func (c *Card) iccKey(keys *CAKeyStore, date time.Time, res *Result) (*PublicKey, error) {
	ik, err := c.issuerKey(keys, date, res)
	if err != nil {
		return nil, err
	}
	k, err := RecoverICCKey(ik, c.ICCCert, c.ICCRemainder, c.ICCExponent, c.PAN, c.StaticData, date)
	if err != nil {
		return nil, err
	}
	res.ICCKeyBits = k.Bits()
	return k, nil
}

// VerifySDA performs static data authentication (EMV Book 2 §5.4) and
// returns the data authentication code. date is the transaction date.
func VerifySDA(keys *CAKeyStore, c *Card, date time.Time) (Result, error) {
	const step = "signed static application data"
	res := Result{Method: MethodSDA}
	ik, err := c.issuerKey(keys, date, &res)
	if err != nil {
		return res, err
	}
	rec, err := open(ik, c.SSAD, 0x03, 5+hashLen+1, step)
	if err != nil {
		return res, err
	}
	if rec[2] != hashAlgSHA1 {
		return res, fail(step+" hash algorithm", ErrHashAlgorithm)
	}
	if err := checkHash(rec, step, c.StaticData); err != nil {
		return res, err
	}
	res.DataAuthenticationCode = append([]byte(nil), rec[3:5]...)
	return res, nil
}

// openSDAD recovers signed dynamic application data 9F4B (EMV Book 2
// Table 17), checks it against the terminal dynamic data and returns the
// ICC dynamic data, after its ICC dynamic number.
func openSDAD(icc *PublicKey, sdad, terminalData []byte, res *Result) ([]byte, error) {
	const step = "signed dynamic application data"
	rec, err := open(icc, sdad, 0x05, 4+hashLen+1, step)
	if err != nil {
		return nil, err
	}
	if rec[2] != hashAlgSHA1 {
		return nil, fail(step+" hash algorithm", ErrHashAlgorithm)
	}
	ldd := int(rec[3])
	if ldd > len(rec)-4-hashLen-1 {
		return nil, fail("ICC dynamic data", ErrDynamicData)
	}
	if err := checkHash(rec, step, terminalData); err != nil {
		return nil, err
	}
	dd := rec[4 : 4+ldd]
	if len(dd) < 1 || int(dd[0]) < 2 || int(dd[0]) > 8 || int(dd[0]) >= len(dd) {
		return nil, fail("ICC dynamic data", ErrDynamicData)
	}
	res.ICCDynamicNumber = append([]byte(nil), dd[1:1+dd[0]]...)
	return dd[1+dd[0]:], nil
}

// VerifyDDA performs dynamic data authentication (EMV Book 2 §6.5) of the
// signed dynamic application data 9F4B returned by INTERNAL AUTHENTICATE,
// over ddolData, the data the terminal built from the DDOL.
func VerifyDDA(keys *CAKeyStore, c *Card, date time.Time, sdad, ddolData []byte) (Result, error) {
	res := Result{Method: MethodDDA}
	icc, err := c.iccKey(keys, date, &res)
	if err != nil {
		return res, err
	}
	_, err = openSDAD(icc, sdad, ddolData, &res)
	return res, err
}

// FDDAInput is what Visa fDDA signs (EMV Book C-3 §C.1): the card's
// signature and the terminal data it covers.
type FDDAInput struct {
	SDAD                []byte // 9F4B
	UnpredictableNumber []byte // 9F37
	Amount              []byte // 9F02
	Currency            []byte // 5F2A
	CardAuthData        []byte // 9F69, card authentication related data
}

// terminalData returns the fDDA dynamic data input for the fDDA version in
// the first byte of 9F69: version 01 signs UN, amount, currency and 9F69;
// version 00 (or no 9F69) the UN alone.
func (in *FDDAInput) terminalData() ([]byte, error) {
	if len(in.UnpredictableNumber) != 4 {
		return nil, fail("unpredictable number", ErrMissing)
	}
	if len(in.CardAuthData) == 0 || in.CardAuthData[0] == 0x00 {
		return in.UnpredictableNumber, nil
	}
	if in.CardAuthData[0] != 0x01 {
		return nil, fail("card authentication related data", ErrFDDAVersion)
	}
	if len(in.Amount) != 6 || len(in.Currency) != 2 {
		return nil, fail("fDDA dynamic data input", ErrMissing)
	}
	d := make([]byte, 0, 12+len(in.CardAuthData))
	d = append(d, in.UnpredictableNumber...)
	d = append(d, in.Amount...)
	d = append(d, in.Currency...)
	return append(d, in.CardAuthData...), nil
}

// VerifyFDDA performs Visa fast dynamic data authentication of the SDAD
// returned by GET PROCESSING OPTIONS.
func VerifyFDDA(keys *CAKeyStore, c *Card, date time.Time, in FDDAInput) (Result, error) {
	res := Result{Method: MethodFDDA}
	td, err := in.terminalData()
	if err != nil {
		return res, err
	}
	icc, err := c.iccKey(keys, date, &res)
	if err != nil {
		return res, err
	}
	_, err = openSDAD(icc, in.SDAD, td, &res)
	return res, err
}

// CDAInput is what combined DDA/AC generation covers (EMV Book 2 §6.6).
type CDAInput struct {
	// UnpredictableNumber is 9F37 as sent in the CDOL1 data.
	UnpredictableNumber []byte
	// PDOLData is the GET PROCESSING OPTIONS data field without tag 83
	// and its length.
	PDOLData []byte
	// CDOL1Data is the first GENERATE AC command data field.
	CDOL1Data []byte
	// Response is the GENERATE AC response data field (template 77),
	// without the status word.
	Response []byte
}

// VerifyCDA performs combined DDA/application cryptogram verification
// (EMV Book 2 §6.6.2) of a first GENERATE AC response, and returns the
// cryptogram and CID recovered from the signature.
func VerifyCDA(keys *CAKeyStore, c *Card, date time.Time, in CDAInput) (Result, error) {
	res := Result{Method: MethodCDA}
	resp, err := responseObjects(in.Response)
	if err != nil {
		return res, err
	}
	sdad, cid := resp.Value(0x9F4B), resp.Value(0x9F27)
	if len(sdad) == 0 {
		return res, fail("signed dynamic application data", ErrMissing)
	}
	if len(cid) != 1 {
		return res, fail("cryptogram information data", ErrMissing)
	}
	if len(in.UnpredictableNumber) != 4 {
		return res, fail("unpredictable number", ErrMissing)
	}
	icc, err := c.iccKey(keys, date, &res)
	if err != nil {
		return res, err
	}
	rest, err := openSDAD(icc, sdad, in.UnpredictableNumber, &res)
	if err != nil {
		return res, err
	}
	if len(rest) < 1+8+hashLen {
		return res, fail("ICC dynamic data", ErrDynamicData)
	}
	res.CID = rest[0]
	res.Cryptogram = append([]byte(nil), rest[1:9]...)
	if rest[0] != cid[0] {
		return res, fail("cryptogram information data", ErrCIDMismatch)
	}
	h, err := TransactionDataHash(in.PDOLData, in.CDOL1Data, in.Response)
	if err != nil {
		return res, err
	}
	if !bytes.Equal(h[:], rest[9:9+hashLen]) {
		return res, fail("transaction data hash", ErrHashMismatch)
	}
	res.TransactionDataHashOK = true
	return res, nil
}

// responseObjects decodes a format 2 GENERATE AC response.
func responseObjects(resp []byte) (tlv.List, error) {
	l, err := tlv.Decode(resp)
	if err != nil || len(resp) == 0 || resp[0] != 0x77 || len(l) != 1 || l[0].Tag != 0x77 {
		return nil, fail("GENERATE AC response", ErrResponseFormat)
	}
	return l[0].Children, nil
}

// TransactionDataHash returns the CDA transaction data hash code: SHA-1
// over the PDOL data, the CDOL1 data and, in order, every data object of
// the response template 77 except 9F4B, as encoded. The card simulator
// calls it with a template that has no 9F4B yet.
func TransactionDataHash(pdolData, cdol1Data, response []byte) ([hashLen]byte, error) {
	var sum [hashLen]byte
	if _, err := responseObjects(response); err != nil {
		return sum, err
	}
	// responseObjects validated the encoding, so the parses below succeed.
	h := sha1.New()
	h.Write(pdolData)
	h.Write(cdol1Data)
	// Hash the objects' bytes as the card encoded them rather than a
	// re-encoding, so non-minimal lengths hash as sent.
	_, n, _ := tlv.ParseTag(response)
	l, m, _ := tlv.ParseLength(response[n:])
	body := response[n+m : n+m+l]
	for i := 0; i < len(body); {
		if body[i] == 0x00 || body[i] == 0xFF {
			i++
			continue
		}
		tag, tn, _ := tlv.ParseTag(body[i:])
		l, ln, _ := tlv.ParseLength(body[i+tn:])
		end := i + tn + ln + l
		if tag != 0x9F4B {
			h.Write(body[i:end])
		}
		i = end
	}
	h.Sum(sum[:0])
	return sum, nil
}
