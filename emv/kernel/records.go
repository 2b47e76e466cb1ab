package kernel

import (
	"context"
	"encoding/hex"
	"fmt"

	"tappos/emv/apdu"
	"tappos/emv/oda"
	"tappos/emv/tags"
)

// readRecords reads the records the AFL lists (EMV Book 3 §10.2) and
// returns those marked for offline data authentication, in AFL order.
func (s *session) readRecords(ctx context.Context, afl []byte) ([]oda.Record, error) {
	entries, err := tags.ParseAFL(afl)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCardData, err)
	}
	var odaRecs []oda.Record
	for _, e := range entries {
		sfi := e.SFI
		for rec := e.First; rec <= e.Last; rec++ {
			cmd := apdu.ReadRecord(byte(sfi), byte(rec))
			data, sw, err := s.exchange(ctx, cmd)
			if err != nil {
				return nil, err
			}
			if sw != apdu.SWSuccess {
				return nil, fmt.Errorf("reading record %d of SFI %d: %w", rec, sfi, statusError(cmd, sw))
			}
			l, err := template(data, 0x70, "READ RECORD")
			if err != nil {
				return nil, fmt.Errorf("reading record %d of SFI %d: %w", rec, sfi, err)
			}
			if err := s.storeCard(l); err != nil {
				return nil, fmt.Errorf("reading record %d of SFI %d: %w", rec, sfi, err)
			}
			if rec < e.First+e.ODA {
				odaRecs = append(odaRecs, oda.Record{SFI: sfi, Data: data})
			}
		}
	}
	return odaRecs, nil
}

// odaCard gathers what offline data authentication needs from the card.
func (s *session) odaCard(records []oda.Record) (*oda.Card, error) {
	static, err := oda.StaticData(records, s.cardData[0x9F4A], s.cardData[0x82])
	if err != nil {
		return nil, err
	}
	d := s.cardData
	pan := d[0x5A]
	if len(pan) == 0 {
		// Visa cards may carry the PAN in track 2 only.
		digits := s.panDigits()
		if len(digits)%2 == 1 {
			digits += "F"
		}
		pan, _ = hex.DecodeString(digits)
	}
	return &oda.Card{
		AID: s.out.AID, CAIndex: d[0x8F], PAN: pan,
		IssuerCert: d[0x90], IssuerRemainder: d[0x92], IssuerExponent: d[0x9F32],
		ICCCert: d[0x9F46], ICCRemainder: d[0x9F48], ICCExponent: d[0x9F47],
		SSAD: d[0x93], StaticData: static,
	}, nil
}
