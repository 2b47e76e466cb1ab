package kernel

import (
	"bytes"
	"context"
	"fmt"

	"tappos/emv/apdu"
	"tappos/emv/oda"
	"tappos/emv/tags"
	"tappos/emv/tlv"
)

// Kernel 2 (Mastercard M/Chip, EMV Contactless Book C-2) bits.
const (
	aipCVM        = 0x10 // AIP byte 1: cardholder verification supported
	aipCDA        = 0x01 // AIP byte 1: CDA supported
	aipEMVMode    = 0x80 // AIP byte 2: EMV (M/Chip) mode supported
	capCDA        = 0x08 // terminal capabilities byte 3: CDA
	genACCDA      = 0x10 // GENERATE AC P1: CDA signature requested
	tvrRRPNotDone = 0x01 // TVR byte 5 bits 2-1: relay resistance not performed
	aucNotATM     = 0x01 // AUC byte 1: valid at terminals other than ATMs
)

// kernel2 runs Mastercard M/Chip on the selected application.
func (s *session) kernel2(ctx context.Context, c *candidate, fci tlv.List) (Status, error) {
	cp := s.cfg.Capabilities
	// Byte 2 (CVM capability) is decided by the CVM required limit later;
	// until then the card sees none (Book C-2 §3.3).
	s.term[0x9F33] = []byte{cp[0], 0x00, cp[2]}
	pdolData, err := s.buildDOL(fci.Value(0x9F38))
	if err != nil {
		return EndApplication, s.end(EndApplication, "card data unusable", err)
	}
	gpo := apdu.GetProcessingOptions(pdolData)
	data, sw, err := s.exchange(ctx, gpo)
	if err != nil {
		return TryAgain, s.end(TryAgain, "card left or did not answer", err)
	}
	if sw != apdu.SWSuccess {
		return SelectNext, statusError(gpo, sw)
	}
	if err := s.gpoResponse2(data); err != nil {
		return EndApplication, s.end(EndApplication, "card data unusable", err)
	}
	aip := s.cardData[0x82]
	if aip[1]&aipEMVMode == 0 {
		return TryAnotherInterface, s.end(TryAnotherInterface, "card offers only the retired mag-stripe mode", ErrMagStripe)
	}
	if limit := transactionLimit2(c.conf, aip); limit > 0 && s.tx.Amount >= limit {
		// Book C-2: above the reader's limit for this kind of card,
		// the next application, or another interface.
		return SelectNext, fmt.Errorf("kernel 2: %w: above the contactless limit for this card", ErrNotAllowed)
	}
	afl := s.cardData[0x94]
	if bytes.HasPrefix(afl, []byte{0x08, 0x01, 0x01, 0x00}) {
		// SFI 1 record 1 holds the mag-stripe mode data; in EMV mode
		// Book C-2 skips it.
		afl = afl[4:]
	}
	records, err := s.readRecords(ctx, afl)
	if err != nil {
		return s.fail(err)
	}
	for _, t := range []tlv.Tag{0x5A, 0x5F24, 0x8C} {
		if len(s.cardData[t]) == 0 {
			return EndApplication, s.end(EndApplication, "card data incomplete",
				fmt.Errorf("kernel 2: %w: %s missing", ErrCardData, t))
		}
	}
	if s.panDigits() == "" {
		return EndApplication, s.end(EndApplication, "card data unusable",
			fmt.Errorf("kernel 2: %w: PAN unusable", ErrCardData))
	}

	odaCard, cda := s.selectCDA(records)
	s.restrictions(c.conf)
	s.cvm2(c)
	if s.tx.Amount > c.conf.FloorLimit {
		s.tvr.Set(tags.TVRFloorLimitExceeded)
	}
	s.tsi.Set(tags.TSITerminalRiskManagementDone)
	s.tvr[4] |= tvrRRPNotDone
	ask := s.actionAnalysis(c.conf)

	cdol1, err := s.buildDOL(s.cardData[0x8C])
	if err != nil {
		return EndApplication, s.end(EndApplication, "card data unusable", err)
	}
	genAC := apdu.GenerateAC(apdu.ACType(ask), cda && ask != AAC, cdol1)
	data, sw, err = s.exchange(ctx, genAC)
	if err != nil {
		return TryAgain, s.end(TryAgain, "card left or did not answer", err)
	}
	if sw != apdu.SWSuccess {
		return EndApplication, s.end(EndApplication, "card refused the transaction", statusError(genAC, sw))
	}
	s.out.Messages = append(s.out.Messages, MsgRemoveCard)
	return s.genACResponse2(data, ask, genAC.P1&genACCDA != 0, odaCard, pdolData, cdol1)
}

// transactionLimit2 is the contactless transaction limit for the card:
// the on-device CVM one for a phone that verifies its holder, when set.
func transactionLimit2(a *AIDConfig, aip []byte) int64 {
	if aip[0]&aipOnDeviceCVM != 0 && a.TransactionLimitOnDeviceCVM > 0 {
		return a.TransactionLimitOnDeviceCVM
	}
	return a.TransactionLimit
}

// gpoResponse2 stores a format 1 (80: AIP, AFL) or format 2 (77) GET
// PROCESSING OPTIONS response.
func (s *session) gpoResponse2(data []byte) error {
	l, err := tlv.Decode(data)
	if err != nil {
		return fmt.Errorf("GET PROCESSING OPTIONS: %w: %v", ErrCardData, err)
	}
	if len(l) == 1 && l[0].Tag == 0x80 {
		v := l[0].Value
		if len(v) < 2 {
			return fmt.Errorf("GET PROCESSING OPTIONS: %w: format 1 too short", ErrCardData)
		}
		l = tlv.List{{Tag: 0x82, Value: v[:2]}, {Tag: 0x94, Value: v[2:]}}
	} else if len(l) != 1 || l[0].Tag != 0x77 {
		return fmt.Errorf("GET PROCESSING OPTIONS: %w: not a template 77 or 80", ErrCardData)
	}
	if err := s.storeCard(l); err != nil {
		return err
	}
	if len(s.cardData[0x82]) != 2 || len(s.cardData[0x94]) == 0 {
		return fmt.Errorf("GET PROCESSING OPTIONS: %w: AIP or AFL missing", ErrCardData)
	}
	return nil
}

// selectCDA decides whether to ask for CDA: card and terminal support it,
// the data it needs is there and the terminal holds a usable CA key. When
// it cannot be done it sets the TVR bits Book C-2 asks for (S456.25)
// before GENERATE AC, so that terminal action analysis decides, usually
// to go online. Only the key's availability is checked here: the
// certificates and the signature are verified after GENERATE AC, and a
// failure there declines, as the card has then signed a cryptogram the
// terminal cannot trust.
func (s *session) selectCDA(records []oda.Record) (*oda.Card, bool) {
	if s.cardData[0x82][0]&aipCDA == 0 || s.term[0x9F33][2]&capCDA == 0 {
		s.tvr.Set(tags.TVROfflineDataAuthNotPerformed)
		return nil, false
	}
	s.tsi.Set(tags.TSIOfflineDataAuthPerformed)
	card, err := s.odaCard(records)
	if err != nil {
		s.out.ODA = ODAResult{Method: oda.MethodCDA, Err: err}
		s.tvr.Set(tags.TVRCDAFailed)
		return nil, false
	}
	for _, v := range [][]byte{card.CAIndex, card.IssuerCert, card.IssuerExponent, card.ICCCert, card.ICCExponent} {
		if len(v) == 0 {
			s.out.ODA = ODAResult{Method: oda.MethodCDA, Err: fmt.Errorf("%w: certificate data missing", ErrCardData)}
			s.tvr.Set(tags.TVRICCDataMissing)
			s.tvr.Set(tags.TVRCDAFailed)
			return nil, false
		}
	}
	if _, err := s.k.CAKeys.CardKey(card, s.now); err != nil {
		// Unknown, rejected or expired (withdrawn): no CDA.
		s.out.ODA = ODAResult{Method: oda.MethodCDA, Err: err}
		s.tvr.Set(tags.TVRCDAFailed)
		return nil, false
	}
	return card, true
}

// restrictions performs processing restrictions (EMV Book 3 §10.4):
// application versions, dates and usage control.
func (s *session) restrictions(a *AIDConfig) {
	d := s.cardData
	if v := d[0x9F08]; a.ApplicationVersion != nil && len(v) > 0 && !bytes.Equal(v, a.ApplicationVersion) {
		s.tvr.Set(tags.TVRAppVersionsDiffer)
	}
	if s.expired() {
		s.tvr.Set(tags.TVRExpiredApplication)
	}
	if eff := d[0x5F25]; len(eff) == 3 && bytes.Compare(s.term[0x9A], eff) < 0 {
		s.tvr.Set(tags.TVRApplicationNotYetEffective)
	}
	if auc := d[0x9F07]; len(auc) == 2 {
		domestic := bytes.Equal(d[0x5F28], s.term[0x9F1A])
		goodsOrServices := byte(0x10 | 0x04) // international goods, services
		if domestic {
			goodsOrServices = 0x20 | 0x08
		}
		if auc[0]&aucNotATM == 0 || (isPurchase(s.tx.Type) && auc[0]&goodsOrServices == 0) {
			s.tvr.Set(tags.TVRServiceNotAllowed)
		}
	}
}

func isPurchase(t byte) bool { return t == 0x00 || t == 0x09 }

// actionAnalysis performs terminal action analysis (EMV Book 3 §10.7):
// the TVR against the terminal's and issuer's action codes decides the
// cryptogram to ask for.
func (s *session) actionAnalysis(a *AIDConfig) CryptogramType {
	d := s.cardData
	iac := func(t tlv.Tag, missing byte) []byte {
		if v := d[t]; len(v) == 5 {
			return v
		}
		return bytes.Repeat([]byte{missing}, 5)
	}
	hits := func(tac, iac []byte) bool {
		for i := range s.tvr {
			if s.tvr[i]&(tac[i]|iac[i]) != 0 {
				return true
			}
		}
		return false
	}
	switch {
	case hits(a.TACDenial, iac(0x9F0E, 0x00)):
		return AAC
	case s.onlineOnly():
		return ARQC
	case s.onlineCapable():
		if hits(a.TACOnline, iac(0x9F0F, 0xFF)) {
			return ARQC
		}
		return TC
	case hits(a.TACDefault, iac(0x9F0D, 0xFF)):
		return AAC
	}
	return TC
}

// genACResponse2 checks the GENERATE AC response, verifies CDA and sets
// the outcome.
func (s *session) genACResponse2(data []byte, ask CryptogramType, cda bool, card *oda.Card, pdolData, cdol1 []byte) (Status, error) {
	l, err := tlv.Decode(data)
	if err != nil || len(l) != 1 {
		return EndApplication, s.end(EndApplication, "card data unusable",
			fmt.Errorf("GENERATE AC: %w: response not one template", ErrCardData))
	}
	if l[0].Tag == 0x80 {
		v := l[0].Value
		if len(v) < 11 {
			return EndApplication, s.end(EndApplication, "card data unusable",
				fmt.Errorf("GENERATE AC: %w: format 1 too short", ErrCardData))
		}
		l = tlv.List{{Tag: 0x9F27, Value: v[:1]}, {Tag: 0x9F36, Value: v[1:3]}, {Tag: 0x9F26, Value: v[3:11]}}
		if len(v) > 11 {
			l = append(l, tlv.TLV{Tag: 0x9F10, Value: v[11:]})
		}
	} else if l[0].Tag != 0x77 {
		return EndApplication, s.end(EndApplication, "card data unusable",
			fmt.Errorf("GENERATE AC: %w: not a template 77 or 80", ErrCardData))
	}
	if err := s.storeCard(l); err != nil {
		return EndApplication, s.end(EndApplication, "card data unusable", err)
	}
	cid, atc := s.cardData[0x9F27], s.cardData[0x9F36]
	if len(cid) != 1 || len(atc) != 2 {
		return EndApplication, s.end(EndApplication, "card data incomplete",
			fmt.Errorf("GENERATE AC: %w: CID or ATC missing", ErrCardData))
	}
	got := CryptogramType(cid[0] & 0xC0)
	if got.String() == "" || rank(got) > rank(ask) {
		return EndApplication, s.end(EndApplication, "card answered out of turn",
			fmt.Errorf("GENERATE AC: %w: card returned %s for %s", ErrCardData, got, ask))
	}
	ac := s.cardData[0x9F26]
	if cda && got != AAC {
		res, err := oda.VerifyCDA(s.k.CAKeys, card, s.now, oda.CDAInput{
			UnpredictableNumber: s.term[0x9F37], PDOLData: pdolData, CDOL1Data: cdol1, Response: data})
		s.out.ODA = ODAResult{Method: oda.MethodCDA, OK: err == nil, Err: err}
		if err != nil {
			s.tvr.Set(tags.TVRCDAFailed)
			s.setCardOutcome(got, nil)
			return Declined, s.end(Declined, "combined data authentication failed", nil)
		}
		ac = res.Cryptogram
	}
	if len(ac) != 8 {
		return EndApplication, s.end(EndApplication, "card data incomplete",
			fmt.Errorf("GENERATE AC: %w: no application cryptogram", ErrCardData))
	}
	s.cardData[0x9F26] = ac
	s.setCardOutcome(got, ac)
	switch got {
	case TC:
		return Approved, s.end(Approved, "", nil)
	case ARQC:
		if !s.onlineCapable() {
			return Declined, s.end(Declined, "card wants to go online; the terminal cannot", nil)
		}
		return OnlineRequest, s.end(OnlineRequest, "", nil)
	}
	if seePhone(s.cardData[0xDF4B]) {
		// The phone declined until its holder acts on it (unlock,
		// verify): tap again afterwards (Book C-2 phone message table).
		s.out.Messages = append(s.out.Messages, MsgSeePhone)
		return TryAgain, s.end(TryAgain, "see phone", nil)
	}
	return Declined, s.end(Declined, "card declined", nil)
}

// seePhone reports POS cardholder interaction information (DF4B) asking
// the holder to look at the phone: on-device CVM required, context
// conflicting, offline change, wallet or PIN (the bits Book C-2's default
// phone message table maps to "See phone").
func seePhone(pcii []byte) bool {
	return len(pcii) == 3 && (pcii[1]&0x0F != 0 || pcii[2]&0x01 != 0)
}

// rank orders cryptogram types: a card may answer with a lower one than
// asked for, never a higher one.
func rank(t CryptogramType) int {
	switch t {
	case TC:
		return 2
	case ARQC:
		return 1
	}
	return 0
}
