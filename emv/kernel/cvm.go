package kernel

import (
	"encoding/binary"

	"tappos/emv/tags"
)

// CVM codes (EMV Book 3 Annex C3, bits 6-1 of a CV rule's first byte).
const (
	cvmFail      = 0x00
	cvmOnlinePIN = 0x02
	cvmSignature = 0x1E
	cvmNoCVM     = 0x1F
	cvmApplyNext = 0x40 // apply succeeding CV rule if this one fails

	capOnlinePIN = 0x40 // terminal capabilities byte 2
	capSignature = 0x20
	capNoCVM     = 0x08

	aipOnDeviceCVM = 0x02 // AIP byte 1: on-device cardholder verification
)

// cvm2 performs kernel 2's CVM selection: the CVM capability by the CVM
// required limit (Book C-2), on-device verification for phones, and CVM
// list processing (EMV Book 3 §10.5).
func (s *session) cvm2(c *candidate) {
	aboveLimit := s.tx.Amount > c.conf.CVMRequiredLimit
	capByte := c.conf.CVMCapabilityNoCVM[0]
	if aboveLimit {
		capByte = c.conf.CVMCapabilityCVMRequired[0]
	}
	s.term[0x9F33][1] = capByte
	aip := s.cardData[0x82]
	if aip[0]&aipOnDeviceCVM != 0 {
		// A phone verifies its holder itself; above the limit the
		// card's answer reports it was done (Book C-2 CVM selection).
		if aboveLimit {
			s.setCVM(CVMCDCVM, 0x01, 0x00, 0x02)
		} else {
			s.setCVM(CVMNone, 0x3F, 0x00, 0x02)
		}
		return
	}
	if aip[0]&aipCVM == 0 {
		s.setCVM(CVMNone, 0x3F, 0x00, 0x00)
		return
	}
	list := s.cardData[0x8E]
	if len(list) < 10 || len(list)%2 != 0 {
		s.tvr.Set(tags.TVRICCDataMissing)
		s.setCVM(CVMNone, 0x3F, 0x00, 0x00)
		return
	}
	s.tsi.Set(tags.TSICardholderVerification)
	x := int64(binary.BigEndian.Uint32(list[0:4]))
	y := int64(binary.BigEndian.Uint32(list[4:8]))
	supports := func(method byte) bool {
		switch method {
		case cvmFail:
			return true
		case cvmOnlinePIN:
			return capByte&capOnlinePIN != 0
		case cvmSignature:
			return capByte&capSignature != 0
		case cvmNoCVM:
			return capByte&capNoCVM != 0
		}
		return false // offline PIN cannot be entered on a contactless tap
	}
	// CVM Results name the last rule tried, or 3F 00 when no rule's
	// condition held (EMV Book 3 §10.5.5).
	lastMethod, lastCond := byte(0x3F), byte(0x00)
	for i := 8; i < len(list); i += 2 {
		code, cond := list[i], list[i+1]
		method := code & 0x3F
		if !s.cvmCondition(cond, x, y, supports(method)) {
			continue
		}
		lastMethod, lastCond = method, cond
		switch method {
		case cvmFail:
			s.tvr.Set(tags.TVRCardholderVerificationFail)
			s.setCVM(CVMFailed, method, cond, 0x01)
			return
		case cvmOnlinePIN:
			if supports(method) {
				s.tvr.Set(tags.TVROnlinePINEntered)
				s.setCVM(CVMOnlinePIN, method, cond, 0x00)
				return
			}
		case cvmSignature:
			if supports(method) {
				s.setCVM(CVMSignature, method, cond, 0x00)
				return
			}
		case cvmNoCVM:
			if supports(method) {
				s.setCVM(CVMNone, method, cond, 0x02)
				return
			}
		case 0x01, 0x03, 0x04, 0x05:
			// Offline PIN: recognised, not possible here.
		default:
			s.tvr.Set(tags.TVRUnrecognisedCVM)
		}
		if code&cvmApplyNext == 0 {
			break
		}
	}
	s.tvr.Set(tags.TVRCardholderVerificationFail)
	s.setCVM(CVMFailed, lastMethod, lastCond, 0x01)
}

// cvmCondition evaluates a CV rule's condition code (EMV Book 3 Annex C3).
func (s *session) cvmCondition(cond byte, x, y int64, supported bool) bool {
	t := s.tx.Type
	cash := t == 0x01
	attended := s.cfg.TerminalType[0]&0x0F <= 3
	sameCurrency := func() bool {
		v := s.cardData[0x9F42]
		return len(v) == 2 && v[0] == s.term[0x5F2A][0] && v[1] == s.term[0x5F2A][1]
	}
	a := s.tx.Amount
	switch cond {
	case 0x00:
		return true
	case 0x01:
		return cash && !attended
	case 0x02:
		return !cash && t != 0x09
	case 0x03:
		return supported
	case 0x04:
		return cash && attended
	case 0x05:
		return t == 0x09
	case 0x06:
		return sameCurrency() && a < x
	case 0x07:
		return sameCurrency() && a > x
	case 0x08:
		return sameCurrency() && a < y
	case 0x09:
		return sameCurrency() && a > y
	}
	return false
}

// setCVM records the CVM and the CVM Results (9F34).
func (s *session) setCVM(c CVM, method, cond, result byte) {
	s.out.CVM = c
	s.term[0x9F34] = []byte{method, cond, result}
}
