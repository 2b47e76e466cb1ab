package apdu

import "fmt"

// SW is a status word, SW1 in the high byte.
type SW uint16

// Status words EMV terminals meet.
const (
	SWSuccess                 SW = 0x9000
	SWSelectedFileInvalidated SW = 0x6283
	SWWrongLength             SW = 0x6700
	SWSecurityNotSatisfied    SW = 0x6982
	SWAuthMethodBlocked       SW = 0x6983
	SWReferencedDataInvalid   SW = 0x6984
	SWConditionsNotSatisfied  SW = 0x6985
	SWWrongData               SW = 0x6A80
	SWFunctionNotSupported    SW = 0x6A81
	SWFileNotFound            SW = 0x6A82
	SWRecordNotFound          SW = 0x6A83
	SWIncorrectP1P2           SW = 0x6A86
	SWReferencedDataNotFound  SW = 0x6A88
	SWWrongP1P2               SW = 0x6B00
	SWINSNotSupported         SW = 0x6D00
	SWCLANotSupported         SW = 0x6E00
	SWNoPreciseDiagnosis      SW = 0x6F00
)

// SW1 returns the first status byte.
func (s SW) SW1() byte { return byte(s >> 8) }

// SW2 returns the second status byte.
func (s SW) SW2() byte { return byte(s) }

var swNames = map[SW]string{
	SWSuccess:                 "success",
	0x6281:                    "part of returned data may be corrupted",
	0x6282:                    "end of file reached before reading Le bytes",
	SWSelectedFileInvalidated: "selected file invalidated",
	0x6300:                    "verification failed",
	0x6400:                    "execution error, state unchanged",
	0x6581:                    "memory failure",
	SWWrongLength:             "wrong length",
	SWSecurityNotSatisfied:    "security status not satisfied",
	SWAuthMethodBlocked:       "authentication method blocked",
	SWReferencedDataInvalid:   "referenced data invalidated",
	SWConditionsNotSatisfied:  "conditions of use not satisfied",
	SWWrongData:               "incorrect parameters in the data field",
	SWFunctionNotSupported:    "function not supported",
	SWFileNotFound:            "file or application not found",
	SWRecordNotFound:          "record not found",
	0x6A84:                    "not enough memory space in the file",
	SWIncorrectP1P2:           "incorrect parameters P1-P2",
	SWReferencedDataNotFound:  "referenced data not found",
	SWWrongP1P2:               "wrong parameters P1-P2",
	SWINSNotSupported:         "instruction code not supported",
	SWCLANotSupported:         "class not supported",
	SWNoPreciseDiagnosis:      "no precise diagnosis",
}

// Name describes the status word in words.
func (s SW) Name() string {
	if n, ok := swNames[s]; ok {
		return n
	}
	switch s.SW1() {
	case 0x61:
		return fmt.Sprintf("%d response bytes available", leOf(s.SW2()))
	case 0x6C:
		return fmt.Sprintf("wrong Le, %d bytes available", leOf(s.SW2()))
	case 0x63:
		if s.SW2()&0xF0 == 0xC0 {
			return fmt.Sprintf("verification failed, %d tries left", s.SW2()&0x0F)
		}
		return "warning, non-volatile memory changed"
	case 0x62:
		return "warning, non-volatile memory unchanged"
	case 0x64, 0x65:
		return "execution error"
	case 0x67:
		return "wrong length"
	case 0x68:
		return "functions in CLA not supported"
	case 0x69:
		return "command not allowed"
	case 0x6A:
		return "wrong parameters P1-P2"
	}
	return "unknown status"
}

// String returns the status word in hex with its name, e.g.
// "6A82 (file or application not found)".
func (s SW) String() string { return fmt.Sprintf("%04X (%s)", uint16(s), s.Name()) }
