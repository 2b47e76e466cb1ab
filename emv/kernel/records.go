package kernel

import (
	"context"
	"fmt"

	"tappos/emv/oda"
)

// readRecords reads the records the AFL lists (EMV Book 3 §10.2) and
// returns those marked for offline data authentication, in AFL order.
func (s *session) readRecords(ctx context.Context, afl []byte) ([]oda.Record, error) {
	if len(afl)%4 != 0 {
		return nil, fmt.Errorf("AFL: %w: length %d is not a multiple of 4", ErrCardData, len(afl))
	}
	var odaRecs []oda.Record
	for i := 0; i < len(afl); i += 4 {
		sfi, first, last, nODA := int(afl[i]>>3), int(afl[i+1]), int(afl[i+2]), int(afl[i+3])
		if afl[i]&0x07 != 0 || sfi < 1 || sfi > 30 || first < 1 || last < first || nODA > last-first+1 {
			return nil, fmt.Errorf("AFL: %w: bad entry %d", ErrCardData, i/4)
		}
		for rec := first; rec <= last; rec++ {
			cmd := []byte{0x00, 0xB2, byte(rec), byte(sfi<<3 | 4), 0x00}
			data, sw, err := s.exchange(ctx, "READ RECORD", cmd)
			if err != nil {
				return nil, err
			}
			if sw != 0x9000 {
				return nil, fmt.Errorf("reading record %d of SFI %d: %w", rec, sfi, &StatusError{"READ RECORD", sw})
			}
			l, err := template(data, 0x70, "READ RECORD")
			if err != nil {
				return nil, fmt.Errorf("reading record %d of SFI %d: %w", rec, sfi, err)
			}
			if err := s.storeCard(l); err != nil {
				return nil, fmt.Errorf("reading record %d of SFI %d: %w", rec, sfi, err)
			}
			if rec < first+nODA {
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
	return &oda.Card{
		AID: s.out.AID, CAIndex: d[0x8F], PAN: d[0x5A],
		IssuerCert: d[0x90], IssuerRemainder: d[0x92], IssuerExponent: d[0x9F32],
		ICCCert: d[0x9F46], ICCRemainder: d[0x9F48], ICCExponent: d[0x9F47],
		SSAD: d[0x93], StaticData: static,
	}, nil
}
