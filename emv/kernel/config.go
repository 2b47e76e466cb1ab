package kernel

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"tappos/emv/oda"
)

// ErrConfig reports a terminal configuration that cannot be used.
var ErrConfig = errors.New("kernel: bad configuration")

// Hex is a byte string written in JSON as hexadecimal ("E0F8C8").
type Hex []byte

// MarshalJSON writes the bytes as upper-case hexadecimal.
func (h Hex) MarshalJSON() ([]byte, error) {
	return json.Marshal(strings.ToUpper(hex.EncodeToString(h)))
}

// UnmarshalJSON reads hexadecimal, ignoring spaces.
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		return fmt.Errorf("hex value %q: %w", s, err)
	}
	*h = v
	return nil
}

// Currency is an ISO 4217 currency: its numeric code (5F2A), alphabetic
// code and the number of minor-unit digits (5F36).
type Currency struct {
	Numeric  int    `json:"numeric"`
	Alpha    string `json:"alpha"`
	Exponent int    `json:"exponent"`
}

// Config is a terminal's configuration: who it is (the terminal data
// objects it sends to cards), which applications and kernels it accepts
// with which limits, and where its CA public keys are.
type Config struct {
	Name                   string   `json:"name"`
	TerminalType           Hex      `json:"terminal_type"`           // 9F35, 1 byte
	Country                int      `json:"country"`                 // 9F1A, ISO 3166 numeric
	Currency               Currency `json:"currency"`                // 5F2A and 5F36
	Capabilities           Hex      `json:"capabilities"`            // 9F33, 3 bytes
	AdditionalCapabilities Hex      `json:"additional_capabilities"` // 9F40, 5 bytes
	MerchantCategory       string   `json:"merchant_category"`       // 9F15, 4 digits
	MerchantID             string   `json:"merchant_id"`             // 9F16, up to 15 characters
	TerminalID             string   `json:"terminal_id"`             // 9F1C, 8 characters
	// CAKeyFiles lists CA public key files (the format of
	// testdata/capk/capk-test.json), relative to the configuration file.
	CAKeyFiles []string `json:"ca_key_files"`
	// AcceptExpiredCAKeys keeps using CA keys past their expiry; for test
	// environments only (see oda.CAKeyStore.AcceptExpired).
	AcceptExpiredCAKeys bool `json:"accept_expired_ca_keys,omitempty"`
	// TimeoutMS bounds one tap, from PPSE to outcome; 0 means 2000.
	TimeoutMS int         `json:"timeout_ms"`
	AIDs      []AIDConfig `json:"aids"`

	dir string // directory of the configuration file
}

// AIDConfig is the configuration of one application and kernel: the
// entry point's limits for the combination and the kernel's settings.
// Amounts are in minor units of the terminal's currency.
type AIDConfig struct {
	AID    Hex    `json:"aid"`
	Label  string `json:"label"`
	Kernel int    `json:"kernel"` // 2 (Mastercard) or 3 (Visa)

	// TransactionLimit is the contactless transaction limit: amounts at
	// or above it cannot be paid contactless. 0 means no limit.
	TransactionLimit int64 `json:"transaction_limit"`
	// TransactionLimitOnDeviceCVM is kernel 2's limit for a phone that
	// verifies its holder itself (Book C-2's Reader Contactless
	// Transaction Limit (On-device CVM)); TransactionLimit is then the
	// limit for cards. 0 means the same as TransactionLimit.
	TransactionLimitOnDeviceCVM int64 `json:"transaction_limit_on_device_cvm,omitempty"`
	// FloorLimit is the contactless floor limit: amounts above it go
	// online.
	FloorLimit int64 `json:"floor_limit"`
	// CVMRequiredLimit: amounts at or above it need a cardholder
	// verification (kernel 2 compares "above", as Book C-2 does).
	CVMRequiredLimit int64 `json:"cvm_required_limit"`
	// StatusCheck asks for an online cryptogram for an amount of one
	// unit of the currency (1.00), the schemes' "status check".
	StatusCheck bool `json:"status_check"`
	// ZeroAmountAllowed lets a zero amount through (online only);
	// otherwise a zero amount is not allowed contactless.
	ZeroAmountAllowed bool `json:"zero_amount_allowed"`
	// ExtendedSelection appends the directory entry's extended
	// selection (9F29) to the AID in the final SELECT.
	ExtendedSelection bool `json:"extended_selection"`

	// TTQ is kernel 3's Terminal Transaction Qualifiers (9F66) before
	// the entry point sets its per-transaction bits.
	TTQ Hex `json:"ttq,omitempty"`

	// ApplicationVersion is 9F09; when set, kernel 2 compares it with
	// the card's 9F08.
	ApplicationVersion Hex `json:"application_version,omitempty"`
	// Terminal action codes, 5 bytes each (kernel 2).
	TACDenial  Hex `json:"tac_denial,omitempty"`
	TACOnline  Hex `json:"tac_online,omitempty"`
	TACDefault Hex `json:"tac_default,omitempty"`
	// Kernel 2 sets byte 2 of the terminal capabilities to one of these
	// CVM capabilities, by the CVM required limit.
	CVMCapabilityCVMRequired Hex `json:"cvm_capability_cvm_required,omitempty"`
	CVMCapabilityNoCVM       Hex `json:"cvm_capability_no_cvm_required,omitempty"`
}

// LoadConfig reads a configuration file and checks it.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ReadConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.dir = filepath.Dir(path)
	return c, nil
}

// ReadConfig decodes a configuration from JSON and checks it. Relative CA
// key file names are taken from the current directory.
func ReadConfig(r io.Reader) (*Config, error) {
	var c Config
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check reports the first inconsistency in the configuration.
func (c *Config) Check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case len(c.TerminalType) != 1:
		return bad("terminal_type must be 1 byte")
	case c.Country <= 0 || c.Country > 999:
		return bad("country must be an ISO 3166 numeric code")
	case c.Currency.Numeric <= 0 || c.Currency.Numeric > 999:
		return bad("currency.numeric must be an ISO 4217 numeric code")
	case c.Currency.Exponent < 0 || c.Currency.Exponent > 3:
		return bad("currency.exponent must be 0 to 3")
	case len(c.Capabilities) != 3:
		return bad("capabilities must be 3 bytes")
	case len(c.AdditionalCapabilities) != 5:
		return bad("additional_capabilities must be 5 bytes")
	case len(c.MerchantCategory) != 4 || strings.Trim(c.MerchantCategory, "0123456789") != "":
		return bad("merchant_category must be 4 digits")
	case len(c.MerchantID) > 15:
		return bad("merchant_id is longer than 15 characters")
	case len(c.TerminalID) != 8:
		return bad("terminal_id must be 8 characters")
	case c.TimeoutMS < 0:
		return bad("timeout_ms is negative")
	case len(c.AIDs) == 0:
		return bad("no aids")
	}
	for i, a := range c.AIDs {
		if err := a.check(); err != nil {
			return bad("aid %d: %s", i, err)
		}
	}
	return nil
}

func (a *AIDConfig) check() error {
	lens := []struct {
		name string
		v    Hex
		n    int
	}{
		{"tac_denial", a.TACDenial, 5}, {"tac_online", a.TACOnline, 5}, {"tac_default", a.TACDefault, 5},
		{"application_version", a.ApplicationVersion, 2},
		{"cvm_capability_cvm_required", a.CVMCapabilityCVMRequired, 1},
		{"cvm_capability_no_cvm_required", a.CVMCapabilityNoCVM, 1},
	}
	switch {
	case len(a.AID) < 5 || len(a.AID) > 16:
		return errors.New("aid must be 5 to 16 bytes")
	case a.Kernel != 2 && a.Kernel != 3:
		return fmt.Errorf("kernel %d is not supported (2 or 3)", a.Kernel)
	case a.Kernel == 3 && len(a.TTQ) != 4:
		return errors.New("kernel 3 needs a 4-byte ttq")
	case a.TransactionLimit < 0 || a.TransactionLimitOnDeviceCVM < 0 || a.FloorLimit < 0 || a.CVMRequiredLimit < 0:
		return errors.New("negative limit")
	case a.TransactionLimitOnDeviceCVM > 0 && a.Kernel != 2:
		return errors.New("transaction_limit_on_device_cvm is kernel 2's")
	case a.Kernel == 2 && (a.TACDenial == nil || a.TACOnline == nil || a.TACDefault == nil ||
		a.CVMCapabilityCVMRequired == nil || a.CVMCapabilityNoCVM == nil):
		return errors.New("kernel 2 needs tac_denial, tac_online, tac_default and both cvm capabilities")
	}
	for _, l := range lens {
		if l.v != nil && len(l.v) != l.n {
			return fmt.Errorf("%s must be %d bytes", l.name, l.n)
		}
	}
	return nil
}

// CAKeys loads every CA key file of the configuration into one store.
func (c *Config) CAKeys() (*oda.CAKeyStore, error) {
	paths := make([]string, len(c.CAKeyFiles))
	for i, name := range c.CAKeyFiles {
		if !filepath.IsAbs(name) {
			name = filepath.Join(c.dir, name)
		}
		paths[i] = name
	}
	keys, err := LoadCAKeyFiles(paths...)
	if err != nil {
		return nil, err
	}
	keys.AcceptExpired = c.AcceptExpiredCAKeys
	return keys, nil
}

// LoadCAKeyFiles loads several CA key files into one store: recorded
// transactions use the schemes' test keys, simulated cards the tappos CA.
func LoadCAKeyFiles(paths ...string) (*oda.CAKeyStore, error) {
	all := []json.RawMessage{}
	for _, name := range paths {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading CA keys: %w", err)
		}
		var keys []json.RawMessage
		if err := json.Unmarshal(b, &keys); err != nil {
			return nil, fmt.Errorf("reading CA keys from %s: %w", name, err)
		}
		all = append(all, keys...)
	}
	b, err := json.Marshal(all)
	if err != nil {
		return nil, err
	}
	return oda.LoadCAKeys(bytes.NewReader(b))
}

// match returns the configuration entry matching a directory entry's ADF
// name and kernel: the configured AID is a prefix of the ADF name (partial
// selection, EMV Book B §3.3.2.5).
func (c *Config) match(adf []byte, kernel int) *AIDConfig {
	for i := range c.AIDs {
		a := &c.AIDs[i]
		if a.Kernel == kernel && bytes.HasPrefix(adf, a.AID) {
			return a
		}
	}
	return nil
}
