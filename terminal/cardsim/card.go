// Package cardsim simulates contactless payment cards and phones for tests,
// the demo and development without hardware.
//
// A [Card] is the card application of one [Profile] (testdata/cards/*.json):
// it answers SELECT of the PPSE and of its AID, GET PROCESSING OPTIONS, READ
// RECORD, GENERATE AC and GET DATA the way a Visa qVSDC or Mastercard M/Chip
// card does, computes real application cryptograms from the profile's issuer
// master key (package emv/cryptogram) and signs real fDDA and CDA data
// (package emv/oda). It implements the card interface of package
// terminal/vpcd, so [Run] can present it to pcscd through the vpcd driver,
// and [Card.Transmit] lets a kernel talk to it in memory.
//
// Hostile profiles misbehave on purpose: malformed TLV, lengths that lie,
// silence, removal in the middle of a transaction.
package cardsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"tappos/emv/apdu"
	"tappos/emv/cryptogram"
	"tappos/emv/dol"
	"tappos/emv/oda"
	"tappos/emv/tlv"
	"tappos/terminal"
	"tappos/terminal/vpcd"
)

var (
	ppseName           = []byte(apdu.PPSE)
	contactlessATR     = []byte{0x3B, 0x80, 0x80, 0x01, 0x01} // PC/SC part 3 ATR of an ISO 14443-4 card
	sdaTagList         = []byte{0x82}
	visaKernelID       = byte(0x03)
	mastercardKernelID = byte(0x02)
)

// Cryptogram types, the top bits of the CID (9F27) and of GENERATE AC P1.
const (
	acAAC  = 0x00
	acTC   = 0x40
	acARQC = 0x80
)

// Card is the card application of a profile. Its methods are safe for
// concurrent use; the ATC it counts lives as long as the Card.
type Card struct {
	p      *Profile
	rand   io.Reader
	scheme cryptogram.Scheme
	// iccMK is the card's master key for cryptograms, derived once from
	// the issuer master key as personalisation does.
	iccMK []byte
	aid   []byte
	aip   []byte
	keys  *odaKeys
	afl   []byte
	// dataSFI is the file of the application data record.
	dataSFI int
	// records maps SFI<<8|record number to the record's template 70.
	records map[int][]byte

	mu           sync.Mutex
	atc          uint16
	transactions int
	s            session
}

// session is the volatile state of one card session (power-on to removal).
type session struct {
	commands int
	selected bool
	gpo      bool
	pdolData []byte // for the CDA transaction data hash
	done     bool   // final cryptogram given
	pulled   bool   // left the field (hostile)
	silent   bool   // stopped answering (hostile)
}

// NewCard returns the card application of p. random supplies the card's
// unpredictable numbers; nil means crypto/rand.
func NewCard(p *Profile, random io.Reader) (*Card, error) {
	if random == nil {
		random = rand.Reader
	}
	c := &Card{p: p, rand: random, scheme: cryptogram.Scheme(p.Scheme), atc: uint16(p.ATC)}
	imk, _ := hex.DecodeString(p.IMK) // checked by the profile
	keys, err := cryptogram.Derive(c.scheme, imk, p.PAN, p.PSN, []byte{0, 0}, make([]byte, 4), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: deriving the card master key: %v", ErrProfile, p.Name, err)
	}
	c.iccMK = keys.ICCMasterKey
	c.aid, _ = hex.DecodeString(p.AID)
	c.aip, _ = hex.DecodeString(p.AIP)
	if c.keys, err = p.loadKeys(); err != nil {
		return nil, err
	}
	c.buildRecords()
	return c, nil
}

// Profile returns the card's profile.
func (c *Card) Profile() *Profile { return c.p }

// ATC returns the application transaction counter of the last transaction.
func (c *Card) ATC() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.atc)
}

// Transactions returns how many transactions reached their final
// cryptogram since the Card was made.
func (c *Card) Transactions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transactions
}

// Finished reports whether the current card session is over for the card:
// it gave its final cryptogram, or left the field.
func (c *Card) Finished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.done || c.s.pulled
}

// ATR returns the card's Answer To Reset.
func (c *Card) ATR() []byte { return bytes.Clone(contactlessATR) }

// Reset ends the card session: the reader powered the card off, reset it,
// or the card left the field. The ATC survives.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = session{}
}

// Process answers one command APDU with response data and status word. A
// hostile card returns vpcd.ErrSilent or vpcd.ErrPulled instead.
func (c *Card) Process(b []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.s
	s.commands++
	switch {
	case s.pulled:
		return nil, vpcd.ErrPulled
	case s.silent, c.p.Hostile == HostileStuck && s.commands > 1:
		s.silent = true
		return nil, vpcd.ErrSilent
	case c.p.Hostile == HostilePulled && s.gpo:
		s.pulled = true
		return nil, vpcd.ErrPulled
	}
	cmd, err := apdu.ParseCommand(b)
	if err != nil {
		return status(apdu.SWWrongLength), nil
	}
	return c.dispatch(cmd), nil
}

// Transmit lets a kernel talk to the card in memory, as through a
// terminal.Transceiver: a silent card makes it wait for ctx, a pulled one
// reports terminal.ErrCardRemoved, then and on every later call.
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", terminal.ErrTimeout, err)
	}
	rsp, err := c.Process(cmd)
	switch {
	case errors.Is(err, vpcd.ErrSilent):
		<-ctx.Done()
		return nil, fmt.Errorf("%w: %w", terminal.ErrTimeout, ctx.Err())
	case errors.Is(err, vpcd.ErrPulled):
		return nil, fmt.Errorf("cardsim: %w", terminal.ErrCardRemoved)
	}
	return rsp, err
}

func (c *Card) dispatch(cmd apdu.Command) []byte {
	if cmd.CLA != 0x00 && cmd.CLA != 0x80 {
		return status(apdu.SWCLANotSupported)
	}
	switch {
	case cmd.CLA == 0x00 && cmd.INS == 0xA4:
		return c.selectFile(cmd)
	case cmd.CLA == 0x80 && cmd.INS == 0xA8:
		return c.getProcessingOptions(cmd)
	case cmd.CLA == 0x00 && cmd.INS == 0xB2:
		return c.readRecord(cmd)
	case cmd.CLA == 0x80 && cmd.INS == 0xAE:
		return c.generateAC(cmd)
	case cmd.CLA == 0x80 && cmd.INS == 0xCA:
		return c.getData(cmd)
	}
	return status(apdu.SWINSNotSupported)
}

func (c *Card) selectFile(cmd apdu.Command) []byte {
	if cmd.P1 != 0x04 {
		return status(apdu.SWIncorrectP1P2)
	}
	if cmd.P2 != 0x00 { // no next occurrence: one application only
		return status(apdu.SWFileNotFound)
	}
	c.s = session{commands: c.s.commands}
	switch {
	case bytes.Equal(cmd.Data, ppseName):
		entry := tlv.Append(nil, 0x4F, c.aid)
		entry = tlv.Append(entry, 0x50, []byte(c.p.Label))
		entry = tlv.Append(entry, 0x87, []byte{0x01})
		entry = tlv.Append(entry, 0x9F2A, []byte{c.kernelID()})
		fci := tlv.Append(nil, 0x84, ppseName)
		fci = tlv.Append(fci, 0xA5, tlv.Build(0xBF0C, tlv.Build(0x61, entry)))
		return ok(tlv.Build(0x6F, fci))
	case len(cmd.Data) >= 5 && bytes.HasPrefix(c.aid, cmd.Data):
		c.s.selected = true
		prop := tlv.Append(nil, 0x50, []byte(c.p.Label))
		prop = tlv.Append(prop, 0x87, []byte{0x01})
		if pdol := c.pdol(); len(pdol) > 0 {
			prop = tlv.Append(prop, 0x9F38, pdol)
		}
		prop = tlv.Append(prop, 0x5F2D, []byte("en"))
		fci := tlv.Append(nil, 0x84, c.aid)
		fci = tlv.Append(fci, 0xA5, prop)
		return ok(tlv.Build(0x6F, fci))
	}
	return status(apdu.SWFileNotFound)
}

func (c *Card) kernelID() byte {
	if c.p.Brand == BrandVisa {
		return visaKernelID
	}
	return mastercardKernelID
}

func (c *Card) pdol() []byte {
	var s string
	if c.p.Visa != nil {
		s = c.p.Visa.PDOL
	} else {
		s = c.p.Mastercard.PDOL
	}
	b, _ := hex.DecodeString(s)
	return b
}

func (c *Card) getProcessingOptions(cmd apdu.Command) []byte {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return status(apdu.SWIncorrectP1P2)
	}
	if !c.s.selected || c.s.gpo {
		return status(apdu.SWConditionsNotSatisfied)
	}
	l, err := tlv.Decode(cmd.Data)
	if err != nil || len(l) != 1 || l[0].Tag != 0x83 {
		return status(apdu.SWWrongLength)
	}
	pdol, err := dol.Parse(c.pdol())
	if err != nil {
		return status(apdu.SWNoPreciseDiagnosis)
	}
	terminalData, err := pdol.Split(l[0].Value)
	if err != nil {
		return status(apdu.SWWrongLength)
	}
	c.s.gpo = true
	c.s.pdolData = bytes.Clone(l[0].Value)
	c.atc++
	if c.p.Brand == BrandMastercard {
		rsp := tlv.Append(nil, 0x82, c.aip)
		rsp = tlv.Append(rsp, 0x94, c.afl)
		return ok(tlv.Build(0x77, rsp))
	}
	rsp, err := c.qVSDC(terminalData)
	if err != nil {
		return status(apdu.SWConditionsNotSatisfied)
	}
	c.s.done = true
	c.transactions++
	return rsp
}

// qVSDC makes the Visa GPO answer: the cryptogram and everything the
// kernel needs, in one format 2 template.
func (c *Card) qVSDC(td map[tlv.Tag][]byte) ([]byte, error) {
	ttq := fixed(td[0x9F66], 4)
	ac := acARQC
	inLimit := c.withinOfflineLimit(td)
	switch {
	case c.p.Offline && inLimit && ttq[1]&0x80 == 0: // no online cryptogram required
		ac = acTC
	case ttq[0]&0x08 != 0: // offline-only reader and no offline approval
		ac = acAAC
	}
	ctq, _ := hex.DecodeString(c.p.Visa.CTQ)
	switch {
	case c.p.Phone != nil && c.p.Phone.CDCVM:
		ctq[1] |= 0x80 // consumer device CVM performed
	case ttq[1]&0x40 != 0 && ttq[0]&0x04 != 0 && ac == acARQC: // CVM required, online PIN supported
		ctq[0] |= 0x80 // online PIN required
	case ttq[1]&0x40 != 0 && ttq[0]&0x02 != 0: // CVM required, signature supported
		ctq[0] |= 0x40 // signature required
	}
	iad := c.visaIAD(ac)
	acv, err := c.cryptogram(td, iad, nil)
	if err != nil {
		return nil, err
	}
	var cardUN []byte
	fdda := c.keys != nil && c.p.ODA.Method == "fdda" && ac == acTC
	rsp := tlv.Append(nil, 0x82, c.aip)
	rsp = tlv.Append(rsp, 0x94, c.afl)
	rsp = tlv.Append(rsp, 0x57, c.track2())
	rsp = tlv.Append(rsp, 0x5F34, c.psn())
	rsp = tlv.Append(rsp, 0x9F10, iad)
	rsp = tlv.Append(rsp, 0x9F26, acv)
	rsp = tlv.Append(rsp, 0x9F27, []byte{byte(ac)})
	rsp = tlv.Append(rsp, 0x9F36, c.atcBytes())
	rsp = tlv.Append(rsp, 0x9F6C, ctq)
	if fdda || c.p.Kind == KindPhone {
		// Card authentication related data: fDDA version 01, the card's
		// unpredictable number, and a copy of the CTQ that the fDDA
		// signature covers, so CDCVM cannot be claimed in transit.
		cardUN = make([]byte, 4)
		if _, err := io.ReadFull(c.rand, cardUN); err != nil {
			return nil, err
		}
		cad := append(append([]byte{0x01}, cardUN...), ctq...)
		rsp = tlv.Append(rsp, 0x9F69, cad)
		if fdda {
			sdad, err := oda.SignFDDA(c.keys.icc, cardUN, oda.FDDAInput{
				UnpredictableNumber: td[0x9F37],
				Amount:              td[0x9F02],
				Currency:            td[0x5F2A],
				CardAuthData:        cad,
			})
			if err != nil {
				return nil, err
			}
			rsp = tlv.Append(rsp, 0x9F4B, sdad)
		}
	}
	if c.p.Hostile == HostileBadTLV {
		// A length of 84 announces four length bytes, which BER-TLV
		// allows and EMV does not: the terminal must refuse the answer.
		rsp = append(rsp, 0x9F, 0x7C, 0x84, 0x00, 0x00, 0x00, 0x01, 0x00)
	}
	return ok(tlv.Build(0x77, rsp)), nil
}

// withinOfflineLimit reports whether the amount (9F02) in the currency
// (5F2A) of the terminal data is within the card's offline limit.
func (c *Card) withinOfflineLimit(td map[tlv.Tag][]byte) bool {
	amount, ok1 := bcdValue(td[0x9F02])
	cur, ok2 := bcdValue(td[0x5F2A])
	if !ok1 || !ok2 {
		return false
	}
	lim, ok := c.p.OfflineLimits[fmt.Sprintf("%03d", cur)]
	return ok && amount <= lim
}

// visaIAD returns the issuer application data, IAD format 0: length,
// derivation key index, cryptogram version number, then the card
// verification results (length 03 and three bytes).
func (c *Card) visaIAD(ac int) []byte {
	cvn := byte(0x0A)
	if c.scheme == cryptogram.VisaCVN18 {
		cvn = 0x12
	}
	// CVR byte 2: second GENERATE AC not requested (10), the first one's
	// type in bits 6-5.
	cvr1 := byte(0x80) | byte(ac>>2)
	return []byte{0x06, 0x01, cvn, 0x03, cvr1, 0x00, 0x00}
}

// mastercardIAD returns M/Chip issuer application data: derivation key
// index, cryptogram version number 10 (CVN 16), the 6-byte card
// verification results, then counters.
func (c *Card) mastercardIAD(ac int, cda bool) []byte {
	cvr := make([]byte, 6)
	cvr[0] = 0x80 | byte(ac>>2)
	if cda {
		cvr[1] = 0x08 // combined DDA/AC generation returned in first GENERATE AC
	}
	if c.p.Phone != nil && c.p.Phone.CDCVM {
		cvr[3] = 0x01 // on-device cardholder verification performed
	}
	iad := append([]byte{0x01, 0x10}, cvr...)
	return append(iad, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF)
}

// cryptogram computes the application cryptogram over the data the ledger
// reconstructs with cryptogram.InputData: the terminal's data, the AIP,
// the ATC and the IAD.
func (c *Card) cryptogram(td map[tlv.Tag][]byte, iad, un []byte) ([]byte, error) {
	get := func(tag uint32) []byte {
		switch tag {
		case 0x82:
			return c.aip
		case 0x9F36:
			return c.atcBytes()
		case 0x9F10:
			return iad
		}
		return td[tlv.Tag(tag)]
	}
	data, err := cryptogram.InputData(c.scheme, get)
	if err != nil {
		return nil, err
	}
	keys, err := cryptogram.DeriveSession(c.scheme, c.iccMK, c.atcBytes(), un, nil)
	if err != nil {
		return nil, err
	}
	return cryptogram.GenerateAC(c.scheme, keys, data)
}

func (c *Card) readRecord(cmd apdu.Command) []byte {
	if cmd.P2&0x07 != 0x04 || cmd.P1 == 0 {
		return status(apdu.SWIncorrectP1P2)
	}
	if !c.s.selected {
		return status(apdu.SWConditionsNotSatisfied)
	}
	rec, found := c.records[int(cmd.P2>>3)<<8|int(cmd.P1)]
	if !found {
		return status(apdu.SWRecordNotFound)
	}
	rsp := ok(rec)
	if c.p.Hostile == HostileWrongLength {
		// The template claims eight bytes more than the card sends.
		_, n, _ := tlv.ParseTag(rec)
		l, m, _ := tlv.ParseLength(rec[n:])
		rsp = ok(append(tlv.AppendLength([]byte{0x70}, l+8), rec[n+m:]...))
	}
	return rsp
}

func (c *Card) generateAC(cmd apdu.Command) []byte {
	if c.p.Brand != BrandMastercard || !c.s.gpo || c.s.done {
		return status(apdu.SWConditionsNotSatisfied)
	}
	if cmd.P2 != 0 || cmd.P1&0x2F != 0 || cmd.P1&0xC0 == 0xC0 {
		return status(apdu.SWIncorrectP1P2)
	}
	cdol, err := dol.Parse(mustHex(c.p.Mastercard.CDOL1))
	if err != nil {
		return status(apdu.SWNoPreciseDiagnosis)
	}
	td, err := cdol.Split(cmd.Data)
	if err != nil {
		return status(apdu.SWWrongLength)
	}
	ac := int(cmd.P1 & 0xC0)
	if ac == acTC && !(c.p.Offline && c.withinOfflineLimit(td)) {
		ac = acARQC
	}
	cda := cmd.P1&0x10 != 0 && ac != acAAC && c.keys != nil && c.p.ODA.Method == "cda"
	iad := c.mastercardIAD(ac, cda)
	un := fixed(td[0x9F37], 4)
	acv, err := c.cryptogram(td, iad, un)
	if err != nil {
		return status(apdu.SWConditionsNotSatisfied)
	}
	c.s.done = true
	c.transactions++
	head := tlv.Append(nil, 0x9F27, []byte{byte(ac)})
	head = tlv.Append(head, 0x9F36, c.atcBytes())
	if !cda {
		rsp := tlv.Append(head, 0x9F26, acv)
		rsp = tlv.Append(rsp, 0x9F10, iad)
		return ok(tlv.Build(0x77, rsp))
	}
	// The transaction data hash covers the answer without the signature.
	hash, err := oda.TransactionDataHash(c.s.pdolData, cmd.Data, tlv.Build(0x77, tlv.Append(bytes.Clone(head), 0x9F10, iad)))
	if err != nil {
		return status(apdu.SWNoPreciseDiagnosis)
	}
	dyn := make([]byte, 8)
	if _, err := io.ReadFull(c.rand, dyn); err != nil {
		return status(apdu.SWNoPreciseDiagnosis)
	}
	sdad, err := oda.SignCDA(c.keys.icc, dyn, byte(ac), acv, un, hash)
	if err != nil {
		return status(apdu.SWNoPreciseDiagnosis)
	}
	rsp := tlv.Append(head, 0x9F4B, sdad)
	rsp = tlv.Append(rsp, 0x9F10, iad)
	return ok(tlv.Build(0x77, rsp))
}

func (c *Card) getData(cmd apdu.Command) []byte {
	tag := tlv.Tag(cmd.P1)<<8 | tlv.Tag(cmd.P2)
	switch tag {
	case 0x9F36:
		return ok(tlv.Build(tag, c.atcBytes()))
	case 0x9F17: // PIN try counter: contactless cards here have no offline PIN
		return ok(tlv.Build(tag, []byte{0x03}))
	}
	return status(apdu.SWReferencedDataNotFound)
}

func (c *Card) atcBytes() []byte { return []byte{byte(c.atc >> 8), byte(c.atc)} }

func (c *Card) psn() []byte {
	n, _ := strconv.Atoi(c.p.PSN)
	return []byte{byte(n/10<<4 | n%10)}
}

// track2 returns track 2 equivalent data (57): PAN, separator D, expiry
// YYMM, service code 201 (international, chip), discretionary data.
func (c *Card) track2() []byte {
	return packBCD(c.p.PAN + "D" + c.p.Expiry[:4] + "201" + "0000000000")
}

// buildRecords lays out the card's files and the AFL pointing at them. One
// record holds the application data and is signed for offline data
// authentication, in SFI 1 for Visa and SFI 2 for Mastercard (M/Chip keeps
// SFI 1 record 1 for mag-stripe data, which kernel 2 skips); the next SFI
// holds the certificates.
func (c *Card) buildRecords() {
	c.dataSFI = 1
	if c.p.Mastercard != nil {
		c.dataSFI = 2
	}
	certSFI := c.dataSFI + 1
	r := tlv.Append(nil, 0x5A, packBCD(c.p.PAN))
	r = tlv.Append(r, 0x5F24, packBCD(c.p.Expiry))
	r = tlv.Append(r, 0x5F25, packBCD(c.p.Effective))
	r = tlv.Append(r, 0x5F28, packBCD("0"+c.p.Country))
	r = tlv.Append(r, 0x5F34, c.psn())
	r = tlv.Append(r, 0x9F07, []byte{0xFF, 0x00}) // usage control: everywhere, no cashback
	r = tlv.Append(r, 0x9F08, []byte{0x00, 0x02})
	if m := c.p.Mastercard; m != nil {
		r = tlv.Append(r, 0x57, c.track2())
		r = tlv.Append(r, 0x8C, mustHex(m.CDOL1))
		r = tlv.Append(r, 0x8D, mustHex(m.CDOL2))
		r = tlv.Append(r, 0x8E, mustHex(m.CVMList))
		r = tlv.Append(r, 0x9F0D, mustHex(m.IACDefault))
		r = tlv.Append(r, 0x9F0E, mustHex(m.IACDenial))
		r = tlv.Append(r, 0x9F0F, mustHex(m.IACOnline))
	}
	if c.keys != nil {
		r = tlv.Append(r, 0x9F4A, sdaTagList)
	}
	c.records = map[int][]byte{c.dataSFI<<8 | 1: tlv.Build(0x70, r)}
	c.afl = []byte{byte(c.dataSFI << 3), 1, 1, 0}
	if k := c.keys; k != nil {
		c.afl[3] = 1 // the record is signed
		r := tlv.Append(nil, 0x8F, []byte{k.caIndex})
		r = tlv.Append(r, 0x90, k.issuerCert)
		r = tlv.Append(r, 0x9F32, k.issuerExp)
		if len(k.issuerRemainder) > 0 {
			r = tlv.Append(r, 0x92, k.issuerRemainder)
		}
		c.records[certSFI<<8|1] = tlv.Build(0x70, r)
		r = tlv.Append(nil, 0x9F46, k.iccCert)
		r = tlv.Append(r, 0x9F47, k.iccExp)
		if len(k.iccRemainder) > 0 {
			r = tlv.Append(r, 0x9F48, k.iccRemainder)
		}
		c.records[certSFI<<8|2] = tlv.Build(0x70, r)
		c.afl = append(c.afl, byte(certSFI<<3), 1, 2, 0)
	}
}

// StaticData returns the static data to be authenticated of the card's
// records, which its ICC certificate signs.
func (c *Card) StaticData() ([]byte, error) {
	return oda.StaticData([]oda.Record{{SFI: c.dataSFI, Data: c.records[c.dataSFI<<8|1]}}, sdaTagList, c.aip)
}

func ok(data []byte) []byte { return apdu.Response{Data: data, SW: apdu.SWSuccess}.Bytes() }

func status(sw apdu.SW) []byte { return apdu.Response{SW: sw}.Bytes() }

// fixed returns b if it is n bytes long, else n zero bytes, so that a
// terminal sending odd data cannot make the card index out of range.
func fixed(b []byte, n int) []byte {
	if len(b) == n {
		return b
	}
	return make([]byte, n)
}

// bcdValue decodes packed BCD digits, false if a nibble is not a digit or
// the value would not fit.
func bcdValue(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	var v int64
	for _, x := range b {
		hi, lo := x>>4, x&0x0F
		if hi > 9 || lo > 9 {
			return 0, false
		}
		v = v*100 + int64(hi)*10 + int64(lo)
	}
	return v, true
}

// packBCD packs a string of digits (and D separators) into nibbles, padded
// with F to whole bytes.
func packBCD(s string) []byte {
	if len(s)%2 == 1 {
		s += "F"
	}
	return mustHex(s)
}

// mustHex decodes hex that the profile check or this package vouched for.
func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
