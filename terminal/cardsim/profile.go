package cardsim

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"tappos/emv/cryptogram"
	"tappos/emv/tags"
)

// ErrProfile reports a card profile that cannot be used. The messages that
// wrap it never contain the profile's PAN or keys.
var ErrProfile = errors.New("cardsim: bad profile")

// Hostile behaviours a profile can ask for.
const (
	HostileBadTLV      = "bad-tlv"      // GPO answer with a malformed length encoding
	HostileWrongLength = "wrong-length" // record templates whose lengths claim more than is sent
	HostileStuck       = "stuck"        // answers the first command, then never again
	HostilePulled      = "pulled"       // answers GPO, then leaves the field
)

// Profile describes a simulated card or phone: its identity, its keys and
// how it decides. It is read from JSON (testdata/cards/*.json); the ledger
// reads the name, pan, psn, scheme and imk fields of the same files.
type Profile struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`  // card or phone
	Brand  string `json:"brand"` // visa or mastercard
	AID    string `json:"aid"`   // hex
	Label  string `json:"label"`
	PAN    string `json:"pan"`    // digits; for phones the device (token) PAN
	PSN    string `json:"psn"`    // PAN sequence number, 2 digits
	Expiry string `json:"expiry"` // YYMMDD
	// Effective is the application effective date, YYMMDD.
	Effective string `json:"effective"`
	// Scheme is the cryptogram version: visa-cvn10, visa-cvn18 or mc-cvn16.
	Scheme string `json:"scheme"`
	// IMK is the issuer master key for application cryptograms, hex.
	IMK string `json:"imk"`
	// ATC is the application transaction counter before the first tap.
	ATC int `json:"atc"`
	// Country is the issuer country code (5F28), 3 digits ISO 3166.
	Country string `json:"country"`
	// AIP is the application interchange profile (82), hex.
	AIP string `json:"aip"`
	// Offline says whether the card approves offline at all.
	Offline bool `json:"offline"`
	// OfflineLimits maps an ISO 4217 numeric currency code ("840") to the
	// largest amount, in minor units, the card approves offline. A
	// transaction in a currency not listed goes online.
	OfflineLimits map[string]int64 `json:"offline_limits,omitempty"`

	Visa       *VisaConfig       `json:"visa,omitempty"`
	Mastercard *MastercardConfig `json:"mastercard,omitempty"`
	Phone      *PhoneConfig      `json:"phone,omitempty"`
	ODA        *ODAConfig        `json:"oda,omitempty"`

	// Hostile, when set, is one of the Hostile* behaviours.
	Hostile string `json:"hostile,omitempty"`

	// dir is the directory the profile was read from, for key files.
	dir string
}

// VisaConfig is the qVSDC (kernel 3) part of a Visa profile.
type VisaConfig struct {
	PDOL string `json:"pdol"` // 9F38, hex
	CTQ  string `json:"ctq"`  // 9F6C card transaction qualifiers, hex
}

// MastercardConfig is the M/Chip (kernel 2) part of a Mastercard profile.
type MastercardConfig struct {
	PDOL       string `json:"pdol,omitempty"` // 9F38, hex; none when empty
	CDOL1      string `json:"cdol1"`          // 8C, hex
	CDOL2      string `json:"cdol2"`          // 8D, hex
	CVMList    string `json:"cvm_list"`       // 8E, hex
	IACDefault string `json:"iac_default"`    // 9F0D, hex
	IACDenial  string `json:"iac_denial"`     // 9F0E, hex
	IACOnline  string `json:"iac_online"`     // 9F0F, hex
}

// PhoneConfig is what sets a phone apart from a card.
type PhoneConfig struct {
	// CDCVM says the phone verified its holder (a consumer device CVM,
	// e.g. a fingerprint) before the tap.
	CDCVM bool `json:"cdcvm"`
}

// ODAConfig names the card's offline data authentication material.
type ODAConfig struct {
	// Method is fdda (Visa) or cda (Mastercard).
	Method string `json:"method"`
	// Keys is the key file, relative to the profile's directory: the
	// issuer and ICC certificates and the ICC private key (see KeyFile).
	Keys string `json:"keys"`
}

// Brands and kinds.
const (
	BrandVisa       = "visa"
	BrandMastercard = "mastercard"
	KindCard        = "card"
	KindPhone       = "phone"
)

// LoadProfile reads a profile by name (visa-credit, found in testdata/cards
// of this directory or a parent) or by file name (any argument containing a
// path separator or ending in .json).
func LoadProfile(nameOrFile string) (*Profile, error) {
	file := nameOrFile
	if !strings.ContainsRune(nameOrFile, filepath.Separator) && !strings.HasSuffix(nameOrFile, ".json") {
		dir, err := ProfileDir()
		if err != nil {
			return nil, err
		}
		file = filepath.Join(dir, nameOrFile+".json")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProfile, err)
	}
	defer f.Close()
	p, err := ReadProfile(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	p.dir = filepath.Dir(file)
	return p, nil
}

// ProfileDir finds testdata/cards in the working directory or the nearest
// parent that has one, so that profiles are found by name from anywhere in
// the repository.
func ProfileDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrProfile, err)
	}
	for {
		d := filepath.Join(dir, "testdata", "cards")
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no testdata/cards directory here or above", ErrProfile)
		}
		dir = parent
	}
}

// ReadProfile decodes and checks a profile. Key files are resolved relative
// to the working directory; LoadProfile resolves them next to the profile.
func ReadProfile(r io.Reader) (*Profile, error) {
	var p Profile
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrProfile, p.Name, err)
	}
	return &p, nil
}

// check validates the fields the card application relies on. Its errors
// name fields, never their values.
func (p *Profile) check() error {
	if p.Name == "" {
		return errors.New("name missing")
	}
	switch p.Kind {
	case KindCard:
	case KindPhone:
		if p.Phone == nil {
			return errors.New("phone profile without phone section")
		}
	default:
		return fmt.Errorf("kind %q, want card or phone", p.Kind)
	}
	switch p.Brand {
	case BrandVisa:
		if p.Visa == nil {
			return errors.New("visa profile without visa section")
		}
	case BrandMastercard:
		if p.Mastercard == nil {
			return errors.New("mastercard profile without mastercard section")
		}
	default:
		return fmt.Errorf("brand %q, want visa or mastercard", p.Brand)
	}
	if len(p.PAN) < 12 || len(p.PAN) > 19 || !digits(p.PAN) || !luhn(p.PAN) {
		return errors.New("pan is not a Luhn-valid 12 to 19 digit number")
	}
	if len(p.PSN) != 2 || !digits(p.PSN) {
		return errors.New("psn is not 2 digits")
	}
	for _, d := range []struct{ name, v string }{{"expiry", p.Expiry}, {"effective", p.Effective}} {
		if len(d.v) != 6 || !digits(d.v) {
			return fmt.Errorf("%s is not YYMMDD", d.name)
		}
	}
	if len(p.Country) != 3 || !digits(p.Country) {
		return errors.New("country is not 3 digits")
	}
	if _, err := cryptogram.ParseScheme(p.Scheme); err != nil {
		return err
	}
	if p.ATC < 0 || p.ATC > 0xFFFF {
		return errors.New("atc out of range 0 to 65535")
	}
	for cur, lim := range p.OfflineLimits {
		if len(cur) != 3 || !digits(cur) || lim < 0 {
			return errors.New("offline_limits wants 3-digit currency codes and non-negative amounts")
		}
	}
	switch p.Hostile {
	case "", HostileBadTLV, HostileWrongLength, HostileStuck, HostilePulled:
	default:
		return fmt.Errorf("hostile %q unknown", p.Hostile)
	}
	if p.ODA != nil && p.ODA.Method != "fdda" && p.ODA.Method != "cda" {
		return fmt.Errorf("oda method %q, want fdda or cda", p.ODA.Method)
	}
	type hexField struct {
		name     string
		v        string
		min, max int
	}
	hexes := []hexField{{"aid", p.AID, 5, 16}, {"imk", p.IMK, 16, 16}, {"aip", p.AIP, 2, 2}}
	if v := p.Visa; v != nil {
		hexes = append(hexes, hexField{"visa.pdol", v.PDOL, 1, 252}, hexField{"visa.ctq", v.CTQ, 2, 2})
	}
	if m := p.Mastercard; m != nil {
		hexes = append(hexes,
			hexField{"mastercard.pdol", m.PDOL, 0, 252},
			hexField{"mastercard.cdol1", m.CDOL1, 1, 252},
			hexField{"mastercard.cdol2", m.CDOL2, 1, 252},
			hexField{"mastercard.cvm_list", m.CVMList, 10, 252},
			hexField{"mastercard.iac_default", m.IACDefault, 5, 5},
			hexField{"mastercard.iac_denial", m.IACDenial, 5, 5},
			hexField{"mastercard.iac_online", m.IACOnline, 5, 5})
	}
	for _, h := range hexes {
		b, err := hex.DecodeString(h.v)
		if err != nil || len(b) < h.min || len(b) > h.max {
			return fmt.Errorf("%s is not %d to %d bytes of hex", h.name, h.min, h.max)
		}
	}
	return nil
}

// MaskedPAN returns the PAN with all but its first six and last four digits
// hidden, the only form of it fit for logs.
func (p *Profile) MaskedPAN() string { return tags.MaskPAN(p.PAN) }

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// luhn reports whether the decimal string s passes the Luhn check.
func luhn(s string) bool {
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
