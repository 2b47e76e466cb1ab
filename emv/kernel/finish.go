package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"tappos/emv/tags"
	"tappos/emv/tlv"
)

// onlineTags are the data objects of an online authorisation request, in
// the order they are sent.
var onlineTags = []tlv.Tag{
	0x5A, 0x57, 0x5F34, 0x5F24, 0x9F26, 0x9F27, 0x9F36, 0x9F10, 0x9F37, 0x95, 0x9B, 0x9A, 0x9F21,
	0x9C, 0x9F02, 0x9F03, 0x5F2A, 0x82, 0x9F1A, 0x9F33, 0x9F34, 0x9F35, 0x9F40, 0x84, 0x9F66,
	0x9F6C, 0x9F6E, 0x9F7C, 0x9F1C, 0x9F15, 0x9F16,
}

// setCardOutcome records the card's cryptogram in the outcome.
func (s *session) setCardOutcome(t CryptogramType, ac []byte) {
	s.out.CryptogramType = t
	s.out.Cryptogram = bytes.Clone(ac)
	s.out.ATC = bytes.Clone(s.cardData[0x9F36])
	if _, ok := s.cardData[0x9F27]; !ok {
		s.cardData[0x9F27] = []byte{byte(t)}
	}
}

// finish fills the parts of the outcome every path shares: masked PAN,
// TVR and TSI, the online data and the closing messages.
func (s *session) finish() {
	o := s.out
	o.TVR, o.TSI = s.tvr, s.tsi
	if pan := s.panDigits(); pan != "" {
		o.PAN = tags.MaskPAN(pan)
	}
	o.Expiry = s.expiry()
	o.Label = printable(o.Label)
	if o.Status == Approved || o.Status == OnlineRequest || o.Status == Declined {
		var b []byte
		for _, t := range onlineTags {
			if v, ok := s.value(t); ok && len(v) > 0 {
				b = tlv.Append(b, t, v)
			}
		}
		o.OnlineData = b
	}
	switch o.Status {
	case Approved:
		o.Messages = append(o.Messages, MsgApproved)
	case OnlineRequest:
		switch o.CVM {
		case CVMOnlinePIN:
			o.Messages = append(o.Messages, MsgEnterPIN)
		case CVMSignature:
			o.Messages = append(o.Messages, MsgSign)
		}
		o.Messages = append(o.Messages, MsgAuthorising)
	case Declined:
		o.Messages = append(o.Messages, MsgDeclined)
	case TryAgain:
		o.Messages = append(o.Messages, MsgPresentCardAgain)
	case TryAnotherInterface:
		o.Messages = append(o.Messages, MsgInsertOrSwipe)
	case EndApplication:
		o.Messages = append(o.Messages, MsgTryAnotherCard)
	}
	if o.Status == Approved && o.CVM == CVMSignature {
		o.Messages = append(o.Messages, MsgSign)
	}
}

// onlineOnly reports a terminal type that cannot approve offline.
func (s *session) onlineOnly() bool {
	t := s.cfg.TerminalType[0] & 0x0F
	return t == 1 || t == 4
}

// onlineCapable reports a terminal type that can go online.
func (s *session) onlineCapable() bool {
	t := s.cfg.TerminalType[0] & 0x0F
	return t != 3 && t != 6
}

// expired reports an application expiry date (5F24, else the month of
// track 2) before the transaction date, or no expiry date at all.
func (s *session) expired() bool {
	if exp := s.cardData[0x5F24]; len(exp) == 3 {
		return bytes.Compare(exp, s.term[0x9A]) < 0
	}
	yymm := s.expiry()
	return yymm == "" || yymm < fmt.Sprintf("%X", s.term[0x9A][:2])
}

// isComm reports a communication failure, which ends in Try Again.
func isComm(err error) bool { return errors.Is(err, ErrCommunication) }

// printable keeps the printable ASCII of a label a card sent.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7E {
			return -1
		}
		return r
	}, s)
}
