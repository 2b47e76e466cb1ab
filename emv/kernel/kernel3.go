package kernel

import (
	"bytes"
	"context"
	"fmt"

	"tappos/emv/apdu"
	"tappos/emv/dol"
	"tappos/emv/oda"
	"tappos/emv/tags"
	"tappos/emv/tlv"
)

// Kernel 3 (Visa qVSDC, EMV Contactless Book C-3) bits.
const (
	ttqContact          = 0x10 // TTQ byte 1: EMV contact chip supported
	ttqOfflineOnly      = 0x08 // TTQ byte 1: offline-only reader
	ttqOnlinePIN        = 0x04 // TTQ byte 1: online PIN supported
	ttqSignature        = 0x02 // TTQ byte 1: signature supported
	ttqOnlineCryptogram = 0x80 // TTQ byte 2: online cryptogram required
	ttqCVMRequired      = 0x40 // TTQ byte 2: CVM required
	ctqOnlinePIN        = 0x80 // CTQ byte 1: online PIN required
	ctqSignature        = 0x40 // CTQ byte 1: signature required
	ctqOnlineIfODA      = 0x20 // CTQ byte 1: go online if ODA fails
	ctqSwitchIfODA      = 0x10 // CTQ byte 1: switch interface if ODA fails
	ctqOnlineIfExpire   = 0x08 // CTQ byte 1: go online if application expired
	ctqCDCVM            = 0x80 // CTQ byte 2: consumer device CVM performed
)

// kernel3 runs Visa qVSDC on the selected application.
func (s *session) kernel3(ctx context.Context, c *candidate, fci tlv.List) (Status, error) {
	pdol := fci.Value(0x9F38)
	if d, err := dol.Parse(pdol); err != nil || !d.Has(0x9F66) {
		// Without TTQ in the PDOL the card does not do qVSDC.
		return SelectNext, fmt.Errorf("kernel 3: %w: PDOL lacks TTQ", ErrCardData)
	}
	s.term[0x9F66] = c.ind.ttq
	pdolData, err := s.buildDOL(pdol)
	if err != nil {
		return EndApplication, s.end(EndApplication, "card data unusable", err)
	}
	gpo := apdu.GetProcessingOptions(pdolData)
	data, sw, err := s.exchange(ctx, gpo)
	if err != nil {
		return TryAgain, s.end(TryAgain, "card left or did not answer", err)
	}
	switch sw {
	case apdu.SWSuccess:
	case 0x6986:
		// A phone asking its holder to unlock it: tap again afterwards.
		s.out.Messages = append(s.out.Messages, MsgSeePhone)
		return TryAgain, s.end(TryAgain, "see phone", statusError(gpo, sw))
	case 0x6984:
		// The card refuses contactless for this transaction.
		return TryAnotherInterface, s.end(TryAnotherInterface, "card asks for another interface",
			statusError(gpo, sw))
	case 0x6985:
		return SelectNext, statusError(gpo, sw)
	default:
		return EndApplication, s.end(EndApplication, "card refused the transaction",
			statusError(gpo, sw))
	}
	l, err := template(data, 0x77, "GET PROCESSING OPTIONS")
	if err == nil {
		err = s.storeCard(l)
	}
	if err != nil {
		return EndApplication, s.end(EndApplication, "card data unusable", err)
	}
	var records []oda.Record
	if afl := s.cardData[0x94]; len(afl) > 0 {
		if records, err = s.readRecords(ctx, afl); err != nil {
			return s.fail(err)
		}
	}
	s.out.Messages = append(s.out.Messages, MsgRemoveCard)
	return s.complete3(c, records)
}

// fail ends the tap on an error while talking to the card: Try Again
// when the card went away, End Application otherwise.
func (s *session) fail(err error) (Status, error) {
	if isComm(err) {
		return TryAgain, s.end(TryAgain, "card left or did not answer", err)
	}
	return EndApplication, s.end(EndApplication, "card data unusable", err)
}

// complete3 decides kernel 3's outcome once the card has been read, in
// Book C-3's order: the card's cryptogram, processing restrictions
// (expiry), fDDA for an offline approval, then the CVM.
func (s *session) complete3(c *candidate, records []oda.Record) (Status, error) {
	d := s.cardData
	for _, t := range []tlv.Tag{0x82, 0x9F36, 0x9F26, 0x9F10} {
		if len(d[t]) == 0 {
			return EndApplication, s.end(EndApplication, "card data incomplete",
				fmt.Errorf("kernel 3: %w: %s missing", ErrCardData, t))
		}
	}
	if s.panDigits() == "" || len(d[0x9F26]) != 8 || len(d[0x9F36]) != 2 {
		return EndApplication, s.end(EndApplication, "card data incomplete",
			fmt.Errorf("kernel 3: %w: PAN, cryptogram or ATC unusable", ErrCardData))
	}
	ctype, ok := s.cryptogramType3()
	if !ok {
		return EndApplication, s.end(EndApplication, "card data incomplete",
			fmt.Errorf("kernel 3: %w: cryptogram type unknown", ErrCardData))
	}
	s.setCardOutcome(ctype, d[0x9F26])
	ttq, ctq := c.ind.ttq, d[0x9F6C]
	if len(ctq) != 0 && len(ctq) != 2 {
		return EndApplication, s.end(EndApplication, "card data unusable",
			fmt.Errorf("kernel 3: %w: CTQ of %d bytes", ErrCardData, len(ctq)))
	}
	// The CVM is decided now so that a declined outcome still tells
	// which one the card asked for; it takes effect last.
	cvm, pinOnline, cvmOK := cvm3(ttq, ctq, d[0x9F69], ctype)
	s.out.CVM = cvm
	if ctype == AAC {
		return Declined, s.end(Declined, "card declined", nil)
	}
	canOnline := s.onlineCapable()
	online, reason := ctype == ARQC, ""
	if ctype == TC && ttq[1]&ttqOnlineCryptogram != 0 {
		// The reader asked for an online cryptogram; a card that
		// approves offline anyway does not overrule it.
		online, reason = true, "reader requires online authorisation"
	}
	if !online && s.expired() {
		s.tvr.Set(tags.TVRExpiredApplication)
		if len(ctq) == 2 && ctq[0]&ctqOnlineIfExpire != 0 && canOnline {
			online, reason = true, "application expired"
		} else {
			return Declined, s.end(Declined, "application expired", nil)
		}
	}
	if !online {
		s.tsi.Set(tags.TSIOfflineDataAuthPerformed)
		err := s.verifyFDDA(records)
		s.out.ODA = ODAResult{Method: oda.MethodFDDA, OK: err == nil, Err: err}
		if err != nil {
			s.tvr.Set(tags.TVRDDAFailed)
			switch {
			case len(ctq) == 2 && ctq[0]&ctqOnlineIfODA != 0 && canOnline:
				online, reason = true, "offline data authentication failed"
			case len(ctq) == 2 && ctq[0]&ctqSwitchIfODA != 0 && ttq[0]&ttqContact != 0:
				return TryAnotherInterface, s.end(TryAnotherInterface, "offline data authentication failed", nil)
			default:
				return Declined, s.end(Declined, "offline data authentication failed", nil)
			}
		}
	}
	if !cvmOK {
		return Declined, s.end(Declined, "no acceptable cardholder verification", nil)
	}
	if pinOnline && !online {
		// An online PIN is verified by the issuer: the tap goes online.
		online, reason = true, "online PIN"
	}
	if !online {
		return Approved, s.end(Approved, "", nil)
	}
	if !canOnline {
		return Declined, s.end(Declined, "card wants to go online; the terminal cannot", nil)
	}
	return OnlineRequest, s.end(OnlineRequest, reason, nil)
}

// cryptogramType3 reads 9F27, or when the card leaves it out, the
// cryptogram type in bits 6-5 of byte 5 of the Visa issuer application
// data (Book C-3 §5.4.3).
func (s *session) cryptogramType3() (CryptogramType, bool) {
	if cid := s.cardData[0x9F27]; len(cid) == 1 {
		t := CryptogramType(cid[0] & 0xC0)
		return t, t.String() != ""
	}
	iad := s.cardData[0x9F10]
	if len(iad) < 5 {
		return 0, false
	}
	switch iad[4] >> 4 & 0x03 {
	case 0:
		return AAC, true
	case 1:
		return TC, true
	case 2:
		return ARQC, true
	}
	return 0, false
}

// cvm3 decides the CVM from the TTQ the reader sent and the card's CTQ
// (Book C-3 §5.7): online PIN, then CDCVM, then signature. online reports
// an online PIN, which takes the tap online whatever the cryptogram; ok is
// false when no acceptable CVM exists. A phone claiming CDCVM must repeat
// the claim in the card authentication related data 9F69 when it sends
// it (fDDA signs 9F69); without 9F69 only an online cryptogram vouches for
// the claim.
func cvm3(ttq, ctq, cardAuth []byte, ctype CryptogramType) (cvm CVM, online, ok bool) {
	cvmRequired := ttq[1]&ttqCVMRequired != 0
	if len(ctq) == 2 {
		switch {
		case ctq[0]&ctqOnlinePIN != 0 && ttq[0]&ttqOnlinePIN != 0:
			return CVMOnlinePIN, true, true
		case ctq[1]&ctqCDCVM != 0:
			switch {
			case len(cardAuth) > 0 && (len(cardAuth) < 7 || !bytes.Equal(cardAuth[5:7], ctq)):
				return CVMFailed, false, false
			case len(cardAuth) == 0 && ctype != ARQC:
				return CVMFailed, false, false
			}
			return CVMCDCVM, false, true
		case ctq[0]&ctqSignature != 0 && ttq[0]&ttqSignature != 0:
			return CVMSignature, false, true
		}
	} else if cvmRequired {
		switch {
		case ttq[0]&ttqSignature != 0:
			return CVMSignature, false, true
		case ttq[0]&ttqOnlinePIN != 0:
			return CVMOnlinePIN, true, true
		}
	}
	if cvmRequired {
		return CVMFailed, false, false
	}
	return CVMNone, false, true
}

// verifyFDDA checks the fDDA signature of an offline qVSDC approval.
func (s *session) verifyFDDA(records []oda.Record) error {
	if s.k.CAKeys == nil {
		return fmt.Errorf("kernel 3: %w", oda.ErrCAKeyNotFound)
	}
	card, err := s.odaCard(records)
	if err != nil {
		return err
	}
	d := s.cardData
	in := oda.FDDAInput{SDAD: d[0x9F4B], UnpredictableNumber: s.term[0x9F37],
		Amount: s.term[0x9F02], Currency: s.term[0x5F2A], CardAuthData: d[0x9F69]}
	if len(in.SDAD) == 0 {
		return fmt.Errorf("kernel 3: %w: no fDDA signature", ErrCardData)
	}
	_, err = oda.VerifyFDDA(s.k.CAKeys, card, s.now, in)
	return err
}
