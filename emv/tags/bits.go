package tags

// Bit names one bit of a multi-byte bit field: the byte's position
// (1-based, as the EMV books count) in the high byte and the bit's mask in
// the low byte. TVRSDAFailed is byte 1, mask 0x40 ("byte 1 bit 7").
type Bit uint16

func bit(byteNo int, mask byte) Bit { return Bit(byteNo)<<8 | Bit(mask) }

// Byte returns the 0-based index of the bit's byte.
func (b Bit) Byte() int { return int(b>>8) - 1 }

// Mask returns the bit's mask within its byte.
func (b Bit) Mask() byte { return byte(b) }

// In reports whether the bit is set in v; a v too short to hold it has it
// clear.
func (b Bit) In(v []byte) bool {
	i := b.Byte()
	return i >= 0 && i < len(v) && v[i]&b.Mask() != 0
}

// SetIn sets the bit in v; it does nothing when v is too short.
func (b Bit) SetIn(v []byte) {
	if i := b.Byte(); i >= 0 && i < len(v) {
		v[i] |= b.Mask()
	}
}

// TVR is a Terminal Verification Results value (tag 95).
type TVR [5]byte

// Set sets a TVR bit.
func (t *TVR) Set(b Bit) { b.SetIn(t[:]) }

// Has reports whether a TVR bit is set.
func (t TVR) Has(b Bit) bool { return b.In(t[:]) }

// TSI is a Transaction Status Information value (tag 9B).
type TSI [2]byte

// Set sets a TSI bit.
func (t *TSI) Set(b Bit) { b.SetIn(t[:]) }

// Has reports whether a TSI bit is set.
func (t TSI) Has(b Bit) bool { return b.In(t[:]) }

// TVR bits (EMV Book 3 Annex C5) a kernel sets.
const (
	TVROfflineDataAuthNotPerformed Bit = 0x0180
	TVRSDAFailed                   Bit = 0x0140
	TVRICCDataMissing              Bit = 0x0120
	TVRCardOnExceptionFile         Bit = 0x0110
	TVRDDAFailed                   Bit = 0x0108
	TVRCDAFailed                   Bit = 0x0104
	TVRSDASelected                 Bit = 0x0102
	TVRAppVersionsDiffer           Bit = 0x0280
	TVRExpiredApplication          Bit = 0x0240
	TVRApplicationNotYetEffective  Bit = 0x0220
	TVRServiceNotAllowed           Bit = 0x0210
	TVRNewCard                     Bit = 0x0208
	TVRCardholderVerificationFail  Bit = 0x0380
	TVRUnrecognisedCVM             Bit = 0x0340
	TVRPINTryLimitExceeded         Bit = 0x0320
	TVROnlinePINEntered            Bit = 0x0304
	TVRFloorLimitExceeded          Bit = 0x0480
	TVRRandomlySelectedOnline      Bit = 0x0410
	TVRMerchantForcedOnline        Bit = 0x0408
	TVRIssuerAuthenticationFailed  Bit = 0x0540
	TVRRelayResistanceThreshold    Bit = 0x0508 // kernel 2
	TVRRelayResistanceTimeLimits   Bit = 0x0504 // kernel 2
)

// TSI bits (EMV Book 3 Annex C6).
const (
	TSIOfflineDataAuthPerformed    Bit = 0x0180
	TSICardholderVerification      Bit = 0x0140
	TSICardRiskManagementPerformed Bit = 0x0120
	TSIIssuerAuthenticationDone    Bit = 0x0110
	TSITerminalRiskManagementDone  Bit = 0x0108
	TSIScriptProcessingPerformed   Bit = 0x0104
)

// AIP bits (EMV Book 3 Annex C1, Book C-2).
const (
	AIPSDASupported            Bit = 0x0140
	AIPDDASupported            Bit = 0x0120
	AIPCardholderVerification  Bit = 0x0110
	AIPTerminalRiskManagement  Bit = 0x0108
	AIPIssuerAuthentication    Bit = 0x0104
	AIPOnDeviceCVMSupported    Bit = 0x0102
	AIPCDASupported            Bit = 0x0101
	AIPEMVModeSupported        Bit = 0x0280 // kernel 2
	AIPRelayResistanceProtocol Bit = 0x0201 // kernel 2
)

// TTQ bits (tag 9F66, EMV Contactless Book A table 5-4, Book C-3).
const (
	TTQMagStripeModeSupported     Bit = 0x0180
	TTQEMVModeSupported           Bit = 0x0120
	TTQContactChipSupported       Bit = 0x0110
	TTQOfflineOnlyReader          Bit = 0x0108
	TTQOnlinePINSupported         Bit = 0x0104
	TTQSignatureSupported         Bit = 0x0102
	TTQODAForOnlineAuthSupported  Bit = 0x0101
	TTQOnlineCryptogramRequired   Bit = 0x0280
	TTQCVMRequired                Bit = 0x0240
	TTQContactOfflinePINSupported Bit = 0x0220
	TTQIssuerUpdateSupported      Bit = 0x0380
	TTQConsumerDeviceCVMSupported Bit = 0x0340
)

// CTQ bits (tag 9F6C, Book C-3, VCPS).
const (
	CTQOnlinePINRequired             Bit = 0x0180
	CTQSignatureRequired             Bit = 0x0140
	CTQOnlineIfODAFails              Bit = 0x0120
	CTQSwitchInterfaceIfODAFails     Bit = 0x0110
	CTQOnlineIfApplicationExpired    Bit = 0x0108
	CTQSwitchInterfaceForCash        Bit = 0x0104
	CTQSwitchInterfaceForCashback    Bit = 0x0102
	CTQConsumerDeviceCVMPerformed    Bit = 0x0280
	CTQIssuerUpdateProcessingSupport Bit = 0x0240
)

// bitName is one line of a bit-field table.
type bitName struct {
	bit  Bit
	name string
}

var tvrBits = []bitName{
	{TVROfflineDataAuthNotPerformed, "Offline data authentication was not performed"},
	{TVRSDAFailed, "SDA failed"},
	{TVRICCDataMissing, "ICC data missing"},
	{TVRCardOnExceptionFile, "Card appears on terminal exception file"},
	{TVRDDAFailed, "DDA failed"},
	{TVRCDAFailed, "CDA failed"},
	{TVRSDASelected, "SDA selected"},
	{bit(1, 0x01), "XDA selected"},
	{TVRAppVersionsDiffer, "ICC and terminal have different application versions"},
	{TVRExpiredApplication, "Expired application"},
	{TVRApplicationNotYetEffective, "Application not yet effective"},
	{TVRServiceNotAllowed, "Requested service not allowed for card product"},
	{TVRNewCard, "New card"},
	{bit(2, 0x04), "RFU (byte 2 bit 3)"},
	{bit(2, 0x02), "Biometric performed and successful"},
	{bit(2, 0x01), "Biometric template format not supported"},
	{TVRCardholderVerificationFail, "Cardholder verification was not successful"},
	{TVRUnrecognisedCVM, "Unrecognised CVM"},
	{TVRPINTryLimitExceeded, "PIN Try Limit exceeded"},
	{bit(3, 0x10), "PIN entry required and PIN pad not present or not working"},
	{bit(3, 0x08), "PIN entry required, PIN pad present, but PIN was not entered"},
	{TVROnlinePINEntered, "Online PIN entered"},
	{bit(3, 0x02), "Biometric required but biometric capture device not working"},
	{bit(3, 0x01), "Biometric required, capture device present, but biometric subtype entry bypassed"},
	{TVRFloorLimitExceeded, "Transaction exceeds floor limit"},
	{bit(4, 0x40), "Lower consecutive offline limit exceeded"},
	{bit(4, 0x20), "Upper consecutive offline limit exceeded"},
	{TVRRandomlySelectedOnline, "Transaction selected randomly for online processing"},
	{TVRMerchantForcedOnline, "Merchant forced transaction online"},
	{bit(4, 0x04), "Biometric try limit exceeded"},
	{bit(4, 0x02), "A selected biometric type not supported"},
	{bit(4, 0x01), "XDA signature verification failed"},
	{bit(5, 0x80), "Default TDOL used"},
	{TVRIssuerAuthenticationFailed, "Issuer authentication failed"},
	{bit(5, 0x20), "Script processing failed before final GENERATE AC"},
	{bit(5, 0x10), "Script processing failed after final GENERATE AC"},
	{TVRRelayResistanceThreshold, "Relay resistance threshold exceeded (kernel 2)"},
	{TVRRelayResistanceTimeLimits, "Relay resistance time limits exceeded (kernel 2)"},
}

var tsiBits = []bitName{
	{TSIOfflineDataAuthPerformed, "Offline data authentication was performed"},
	{TSICardholderVerification, "Cardholder verification was performed"},
	{TSICardRiskManagementPerformed, "Card risk management was performed"},
	{TSIIssuerAuthenticationDone, "Issuer authentication was performed"},
	{TSITerminalRiskManagementDone, "Terminal risk management was performed"},
	{TSIScriptProcessingPerformed, "Script processing was performed"},
}

var aipBits = []bitName{
	{bit(1, 0x80), "XDA supported"},
	{AIPSDASupported, "SDA supported"},
	{AIPDDASupported, "DDA supported"},
	{AIPCardholderVerification, "Cardholder verification is supported"},
	{AIPTerminalRiskManagement, "Terminal risk management is to be performed"},
	{AIPIssuerAuthentication, "Issuer authentication is supported"},
	{AIPOnDeviceCVMSupported, "On device cardholder verification is supported"},
	{AIPCDASupported, "CDA supported"},
	{AIPEMVModeSupported, "EMV mode is supported (kernel 2)"},
	{bit(2, 0x40), "Mobile phone (kernel 2)"},
	{bit(2, 0x20), "Contactless transaction (kernel 2)"},
	{AIPRelayResistanceProtocol, "Relay resistance protocol is supported (kernel 2)"},
}

var ttqBits = []bitName{
	{TTQMagStripeModeSupported, "Mag-stripe mode supported"},
	{TTQEMVModeSupported, "EMV mode supported"},
	{TTQContactChipSupported, "EMV contact chip supported"},
	{TTQOfflineOnlyReader, "Offline-only reader"},
	{TTQOnlinePINSupported, "Online PIN supported"},
	{TTQSignatureSupported, "Signature supported"},
	{TTQODAForOnlineAuthSupported, "Offline data authentication for online authorizations supported"},
	{TTQOnlineCryptogramRequired, "Online cryptogram required"},
	{TTQCVMRequired, "CVM required"},
	{TTQContactOfflinePINSupported, "(Contact chip) offline PIN supported"},
	{TTQIssuerUpdateSupported, "Issuer update processing supported"},
	{TTQConsumerDeviceCVMSupported, "Consumer device CVM supported"},
	{bit(3, 0x08), "Consumer device CVM required"},
	{bit(4, 0x80), "fDDA v1.0 supported"},
}

var ctqBits = []bitName{
	{CTQOnlinePINRequired, "Online PIN required"},
	{CTQSignatureRequired, "Signature required"},
	{CTQOnlineIfODAFails, "Go online if offline data authentication fails and reader is online capable"},
	{CTQSwitchInterfaceIfODAFails, "Switch interface if offline data authentication fails and reader supports contact chip"},
	{CTQOnlineIfApplicationExpired, "Go online if application expired"},
	{CTQSwitchInterfaceForCash, "Switch interface for cash transactions"},
	{CTQSwitchInterfaceForCashback, "Switch interface for cashback transactions"},
	{bit(1, 0x01), "Not valid for contactless ATM transactions"},
	{CTQConsumerDeviceCVMPerformed, "Consumer device CVM performed"},
	{CTQIssuerUpdateProcessingSupport, "Card supports issuer update processing at the POS"},
}

// Visa CVR, IAD formats 0/1/3: the three bytes after the CVR length byte.
// Format 2/4 CVRs carry the same bytes as their bytes 2 to 4.
var visaCVRBits = []bitName{
	{bit(1, 0x08), "Issuer authentication performed and failed"},
	{bit(1, 0x04), "Offline PIN verification performed"}, // CDCVM performed in format 2/4
	{bit(1, 0x02), "Offline PIN verification failed"},
	{bit(1, 0x01), "Unable to go online"},
	{bit(2, 0x80), "Last online transaction not completed"},
	{bit(2, 0x40), "PIN try limit exceeded"},
	{bit(2, 0x20), "Exceeded velocity checking counters"},
	{bit(2, 0x10), "New card"},
	{bit(2, 0x08), "Issuer authentication failure on last online transaction"},
	{bit(2, 0x04), "Issuer authentication not performed after online authorization"},
	{bit(2, 0x02), "Application blocked by card because PIN try limit exceeded"},
	{bit(2, 0x01), "Offline static data authentication failed on last transaction"},
	{bit(3, 0x08), "Issuer script processing failed"},
	{bit(3, 0x04), "Offline dynamic data authentication failed on last transaction"},
	{bit(3, 0x02), "Offline dynamic data authentication performed"},
	{bit(3, 0x01), "PIN verification command not received for a PIN-expecting card"},
}

// Visa CVR byte 5, IAD formats 2/4 only.
var visaCVR5Bits = []bitName{
	{bit(1, 0x80), "Consumer device is not in debug mode"},
	{bit(1, 0x40), "Consumer device is not rooted"},
	{bit(1, 0x20), "Mobile application is not hooked"},
	{bit(1, 0x10), "Mobile application integrity is intact"},
	{bit(1, 0x08), "Consumer device has data connectivity"},
	{bit(1, 0x04), "Consumer device is genuine"},
	{bit(1, 0x02), "CDCVM successfully performed"},
	{bit(1, 0x01), "Secure messaging uses EMV session key-based derivation"},
}

// setBits returns the names of the bits of table set in v.
func setBits(table []bitName, v []byte) []string {
	var out []string
	for _, e := range table {
		if e.bit.In(v) {
			out = append(out, e.name)
		}
	}
	return out
}
