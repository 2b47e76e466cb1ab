// Package oda performs EMV offline data authentication: it recovers the
// issuer and ICC public keys from their certificates (EMV Book 2 §5.3,
// §6.3, §6.4) and verifies static (SDA), dynamic (DDA), fast dynamic
// (Visa fDDA) and combined (CDA) signatures. It also signs certificates and
// dynamic data the way a card does, for the card simulator.
//
// Inputs are the raw values of the data objects the terminal read; outputs
// are typed results. Every check that fails returns an *Error naming the
// step, and no error message ever contains card data.
package oda

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped in *Error with the step that failed.
var (
	ErrMissing          = errors.New("data object missing")
	ErrCAKeyNotFound    = errors.New("CA public key not found")
	ErrCAKeyCheckValue  = errors.New("CA public key check value mismatch")
	ErrCAKeyExpired     = errors.New("CA public key expired")
	ErrLength           = errors.New("length does not match the key")
	ErrOutOfRange       = errors.New("value not smaller than the modulus")
	ErrHeader           = errors.New("recovered data header is not 6A")
	ErrTrailer          = errors.New("recovered data trailer is not BC")
	ErrFormat           = errors.New("wrong certificate or signed data format")
	ErrHashAlgorithm    = errors.New("unsupported hash algorithm")
	ErrPKAlgorithm      = errors.New("unsupported public key algorithm")
	ErrHashMismatch     = errors.New("hash mismatch")
	ErrIssuerIdentifier = errors.New("issuer identifier does not match the PAN")
	ErrPANMismatch      = errors.New("PAN does not match")
	ErrExpired          = errors.New("certificate expired")
	ErrBadDate          = errors.New("invalid date")
	ErrRemainder        = errors.New("public key remainder missing or of wrong length")
	ErrExponent         = errors.New("invalid public key exponent")
	ErrBadKey           = errors.New("invalid public key")
	ErrDynamicData      = errors.New("invalid ICC dynamic data")
	ErrFDDAVersion      = errors.New("unsupported fDDA version")
	ErrCIDMismatch      = errors.New("cryptogram information data does not match")
	ErrResponseFormat   = errors.New("GENERATE AC response is not a format 2 template")
	ErrRecord           = errors.New("record for offline data authentication not in template 70")
	ErrTagList          = errors.New("static data authentication tag list may only list 82")
)

// Error is a failed offline data authentication step. Step names the
// object and check, e.g. "issuer certificate hash"; Err is a sentinel.
type Error struct {
	Step string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("oda: %s: %v", e.Step, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

func fail(step string, err error) error { return &Error{Step: step, Err: err} }

// Method is an offline data authentication method.
type Method int

// Methods, in the order EMV introduced them.
const (
	MethodNone Method = iota
	MethodSDA
	MethodDDA
	MethodFDDA
	MethodCDA
)

// String returns the method's usual name: "none", "SDA", "DDA", "fDDA", "CDA".
func (m Method) String() string {
	switch m {
	case MethodSDA:
		return "SDA"
	case MethodDDA:
		return "DDA"
	case MethodFDDA:
		return "fDDA"
	case MethodCDA:
		return "CDA"
	}
	return "none"
}

// Result is what one offline data authentication established, for
// reporting. When verification fails it holds what was recovered before
// the failing step.
type Result struct {
	Method        Method
	IssuerKeyBits int
	ICCKeyBits    int // 0 for SDA

	// DataAuthenticationCode is 9F45, recovered by SDA.
	DataAuthenticationCode []byte
	// ICCDynamicNumber is 9F4C, recovered by DDA, fDDA and CDA.
	ICCDynamicNumber []byte

	// For CDA: the cryptogram information data and application
	// cryptogram recovered from the signature, and whether the
	// transaction data hash code matched.
	CID                   byte
	Cryptogram            []byte
	TransactionDataHashOK bool
}
