package cryptogram

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these, or are
// a *LengthError, so callers can test them with errors.Is and errors.As.
var (
	// ErrUnknownScheme is returned for a Scheme that is not one of the
	// constants of this package.
	ErrUnknownScheme = errors.New("unknown cryptogram scheme")

	// ErrPAN is returned for a PAN that is not 8 to 19 decimal digits.
	// The PAN itself is never part of the message.
	ErrPAN = errors.New("PAN must be 8 to 19 decimal digits")

	// ErrPSN is returned for a PAN sequence number that is not 1 or 2
	// decimal digits.
	ErrPSN = errors.New("PAN sequence number must be 1 or 2 decimal digits")

	// ErrMissingTag is returned by InputData when a required data object
	// is absent.
	ErrMissingTag = errors.New("missing required tag")

	// ErrUnsupportedMethod is returned when an ARPC method is asked of a
	// scheme whose specification does not define it.
	ErrUnsupportedMethod = errors.New("ARPC method not supported by scheme")

	// ErrCryptogramMismatch is returned by VerifyAC when the cryptogram does
	// not match the data.
	ErrCryptogramMismatch = errors.New("cryptogram mismatch")
)

// A LengthError reports a key or data element of the wrong length.
type LengthError struct {
	What     string // e.g. "issuer master key", "ATC", "tag 9F02"
	Len      int    // length given, in bytes
	Min, Max int    // allowed length range, in bytes
}

func (e *LengthError) Error() string {
	if e.Min == e.Max {
		return fmt.Sprintf("%s is %d bytes, want %d", e.What, e.Len, e.Min)
	}
	return fmt.Sprintf("%s is %d bytes, want %d to %d", e.What, e.Len, e.Min, e.Max)
}

// checkLen returns a *LengthError unless min <= len(b) <= max.
func checkLen(what string, b []byte, min, max int) error {
	if len(b) < min || len(b) > max {
		return &LengthError{What: what, Len: len(b), Min: min, Max: max}
	}
	return nil
}
