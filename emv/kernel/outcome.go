package kernel

import (
	"encoding/json"
	"fmt"
	"strings"

	"tappos/emv/oda"
)

// Status is the outcome of a tap, as EMV Contactless Book A names them.
type Status int

// Outcomes. SelectNext is handled inside the entry point and reaches the
// caller only as EndApplication when no candidate is left.
const (
	EndApplication Status = iota
	Approved
	OnlineRequest
	Declined
	TryAgain
	TryAnotherInterface
	SelectNext
)

var statusNames = [...]string{
	EndApplication:      "END_APPLICATION",
	Approved:            "APPROVED",
	OnlineRequest:       "ONLINE_REQUEST",
	Declined:            "DECLINED",
	TryAgain:            "TRY_AGAIN",
	TryAnotherInterface: "TRY_ANOTHER_INTERFACE",
	SelectNext:          "SELECT_NEXT",
}

// String returns the outcome's name, e.g. "ONLINE_REQUEST".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText writes the outcome's name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// CVM is the cardholder verification the tap ended with.
type CVM int

// Cardholder verification methods a contactless tap can end with.
const (
	CVMNone      CVM = iota // no CVM required or performed
	CVMSignature            // the cashier collects a signature
	CVMOnlinePIN            // the terminal asks for the PIN, sent online
	CVMCDCVM                // verified on the consumer's device (phone)
	CVMFailed               // cardholder verification failed
)

var cvmNames = [...]string{"no CVM", "signature", "online PIN", "CDCVM", "failed"}

// String returns the method's name, e.g. "online PIN".
func (c CVM) String() string {
	if c >= 0 && int(c) < len(cvmNames) {
		return cvmNames[c]
	}
	return fmt.Sprintf("CVM(%d)", int(c))
}

// MarshalText writes the method's name.
func (c CVM) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Message is a user interface message for the cashier and the customer
// (EMV Book A §9.4 message identifiers, in words).
type Message string

// Messages a tap shows.
const (
	MsgPresentCard      Message = "Present card"
	MsgProcessing       Message = "Processing"
	MsgRemoveCard       Message = "Card read OK, remove card"
	MsgApproved         Message = "Approved"
	MsgDeclined         Message = "Declined"
	MsgAuthorising      Message = "Authorising, please wait"
	MsgEnterPIN         Message = "Enter PIN"
	MsgSign             Message = "Please sign"
	MsgSeePhone         Message = "See phone for instructions"
	MsgPresentCardAgain Message = "Present card again"
	MsgTryAnotherCard   Message = "Insert, swipe or try another card"
	MsgInsertOrSwipe    Message = "Please insert or swipe card"
)

// CryptogramType is the kind of application cryptogram (9F27 bits 8-7).
type CryptogramType byte

// Application cryptogram types.
const (
	AAC  CryptogramType = 0x00
	TC   CryptogramType = 0x40
	ARQC CryptogramType = 0x80
)

// String returns "AAC", "TC", "ARQC", or "" for an unknown value.
func (t CryptogramType) String() string {
	switch t {
	case AAC:
		return "AAC"
	case TC:
		return "TC"
	case ARQC:
		return "ARQC"
	}
	return ""
}

// ODAResult is the offline data authentication a kernel performed.
type ODAResult struct {
	Method oda.Method
	OK     bool
	// Err says why it failed; it never holds card data.
	Err error
}

// Outcome is the result of a tap. It holds no full PAN or track data
// except in OnlineData, which exists to be sent to the acquirer and must
// be handled as card data.
type Outcome struct {
	Status Status
	Kernel int    // 2 or 3, 0 before a kernel ran
	AID    []byte // the selected application's DF name (84)
	Label  string // application label (50) or preferred name
	PAN    string // masked: 541333******0345
	Expiry string // YYMM, from 5F24 or track 2; "" when absent
	CVM    CVM
	// CryptogramType is only meaningful when Cryptogram is set.
	CryptogramType CryptogramType
	Cryptogram     []byte // 9F26
	ATC            []byte // 9F36
	ODA            ODAResult
	TVR            [5]byte
	TSI            [2]byte
	APDUs          int // command APDUs sent to the card
	Messages       []Message
	// Reason says in words why the tap ended this way (no card data).
	Reason string

	// OnlineData is the TLV blob the acquirer needs for an online
	// authorisation or clearing: PAN, track 2, cryptogram and the
	// terminal data it covers. It is card data: never log or print it.
	OnlineData []byte
}

// String summarises the outcome on one line, without card data.
func (o *Outcome) String() string {
	var b strings.Builder
	b.WriteString(o.Status.String())
	if o.Kernel != 0 {
		fmt.Fprintf(&b, " kernel=%d", o.Kernel)
	}
	if len(o.AID) > 0 {
		fmt.Fprintf(&b, " aid=%X", o.AID)
	}
	if o.PAN != "" {
		fmt.Fprintf(&b, " pan=%s", o.PAN)
	}
	if o.Cryptogram != nil {
		fmt.Fprintf(&b, " cvm=%q %s=%X atc=%X", o.CVM.String(), o.CryptogramType, o.Cryptogram, o.ATC)
	}
	if o.ODA.Method != oda.MethodNone {
		fmt.Fprintf(&b, " oda=%s ok=%t", o.ODA.Method, o.ODA.OK)
	}
	fmt.Fprintf(&b, " tvr=%X apdus=%d", o.TVR, o.APDUs)
	if o.Reason != "" {
		fmt.Fprintf(&b, " reason=%q", o.Reason)
	}
	return b.String()
}

// outcomeJSON is the JSON form of an Outcome: the summary, no card data.
type outcomeJSON struct {
	Outcome        Status    `json:"outcome"`
	Kernel         int       `json:"kernel,omitempty"`
	AID            string    `json:"aid,omitempty"`
	Label          string    `json:"label,omitempty"`
	PAN            string    `json:"pan,omitempty"`
	Expiry         string    `json:"expiry,omitempty"`
	CVM            CVM       `json:"cvm"`
	CryptogramType string    `json:"cryptogram_type,omitempty"`
	Cryptogram     string    `json:"cryptogram,omitempty"`
	ATC            string    `json:"atc,omitempty"`
	ODA            odaJSON   `json:"oda"`
	TVR            string    `json:"tvr"`
	TSI            string    `json:"tsi"`
	APDUs          int       `json:"apdus"`
	Messages       []Message `json:"messages"`
	Reason         string    `json:"reason,omitempty"`
}

type odaJSON struct {
	Method string `json:"method"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// MarshalJSON writes the outcome's summary with snake_case names
// (outcome, kernel, aid, pan, cvm, cryptogram_type, cryptogram, oda,
// apdus, ...). OnlineData is left out: it is card data.
func (o *Outcome) MarshalJSON() ([]byte, error) {
	j := outcomeJSON{
		Outcome: o.Status, Kernel: o.Kernel, AID: fmt.Sprintf("%X", o.AID), Label: o.Label,
		PAN: o.PAN, Expiry: o.Expiry, CVM: o.CVM,
		Cryptogram: fmt.Sprintf("%X", o.Cryptogram), ATC: fmt.Sprintf("%X", o.ATC),
		ODA: odaJSON{Method: o.ODA.Method.String(), OK: o.ODA.OK},
		TVR: fmt.Sprintf("%X", o.TVR), TSI: fmt.Sprintf("%X", o.TSI),
		APDUs: o.APDUs, Messages: o.Messages, Reason: o.Reason,
	}
	if o.ATC != nil {
		j.CryptogramType = o.CryptogramType.String()
	}
	if o.ODA.Err != nil {
		j.ODA.Error = o.ODA.Err.Error()
	}
	return json.Marshal(j)
}
