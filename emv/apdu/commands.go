package apdu

import (
	"fmt"

	"tappos/emv/tags"
	"tappos/emv/tlv"
)

// PPSE is the name of the Proximity Payment System Environment.
const PPSE = "2PAY.SYS.DDF01"

// ACType is the cryptogram a terminal asks for in GENERATE AC (reference
// control parameter bits 8-7), the same coding as the CID's top bits.
type ACType byte

// Cryptogram types.
const (
	AAC  ACType = 0x00
	TC   ACType = 0x40
	ARQC ACType = 0x80
)

// cdaRequested is bit 5 of the GENERATE AC reference control parameter.
const cdaRequested = 0x10

// String returns "AAC", "TC", "ARQC" or "AAR (RFU)", the type bits 8-7
// code.
func (a ACType) String() string { return tags.ACName(byte(a)) }

// Select selects an application or environment by its DF name (first or
// only occurrence), asking for the FCI.
func Select(name []byte) Command {
	return Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x00, Data: name, Le: MaxLe}
}

// SelectPPSE selects the Proximity Payment System Environment.
func SelectPPSE() Command { return Select([]byte(PPSE)) }

// GetProcessingOptions sends the PDOL data in a command template (tag 83).
func GetProcessingOptions(pdolData []byte) Command {
	return Command{CLA: 0x80, INS: 0xA8, Data: tlv.Build(0x83, pdolData), Le: MaxLe}
}

// ReadRecord reads one record of a short file. sfi must be 1 to 30 and
// record 1 to 254, as the AFL gives them.
func ReadRecord(sfi, record byte) Command {
	return Command{CLA: 0x00, INS: 0xB2, P1: record, P2: sfi<<3 | 0x04, Le: MaxLe}
}

// GenerateAC asks for a cryptogram over the CDOL data, with a CDA
// signature when cda is set.
func GenerateAC(t ACType, cda bool, cdolData []byte) Command {
	p1 := byte(t)
	if cda {
		p1 |= cdaRequested
	}
	return Command{CLA: 0x80, INS: 0xAE, P1: p1, Data: cdolData, Le: MaxLe}
}

// GetData reads one primitive data object, such as the ATC (9F36) or the
// PIN Try Counter (9F17). Tags longer than two bytes cannot be addressed.
func GetData(tag tlv.Tag) (Command, error) {
	if tag > 0xFFFF {
		return Command{}, fmt.Errorf("apdu: GET DATA: tag %s longer than two bytes", tag)
	}
	return Command{CLA: 0x80, INS: 0xCA, P1: byte(tag >> 8), P2: byte(tag), Le: MaxLe}, nil
}

// InternalAuthenticate asks for a DDA signature over the DDOL data.
func InternalAuthenticate(ddolData []byte) Command {
	return Command{CLA: 0x00, INS: 0x88, Data: ddolData, Le: MaxLe}
}

// ComputeCryptographicChecksum asks a Mastercard mag-stripe mode card for
// its CVC3 over the UDOL data.
func ComputeCryptographicChecksum(udolData []byte) Command {
	return Command{CLA: 0x80, INS: 0x2A, P1: 0x8E, P2: 0x80, Data: udolData, Le: MaxLe}
}

// GetResponse fetches le bytes the card holds after a 61xx.
func GetResponse(le int) Command {
	return Command{CLA: 0x00, INS: 0xC0, Le: le}
}
