package oda

import (
	"crypto/rsa"
	"errors"
	"math/big"
	"testing"
	"time"
)

func TestCheckExpiry(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 0, time.UTC) }
	tests := []struct {
		name string
		mmyy string
		date time.Time
		want error
	}{
		{"valid through the last day of the month", "1230", day(2030, 12, 31), nil},
		{"expired the first day of the next year", "1230", day(2031, 1, 1), ErrExpired},
		{"valid in an earlier year's later month", "0131", day(2030, 12, 31), nil},
		{"leap day in the month of expiry", "0224", day(2024, 2, 29), nil},
		{"day after the leap day", "0224", day(2024, 3, 1), ErrExpired},
		{"YY 49 is 2049", "1249", day(2049, 12, 31), nil},
		{"YY 50 is 1950", "0150", day(2026, 3, 16), ErrExpired},
		{"YY 99 is 1999", "1299", day(2000, 1, 1), ErrExpired},
		{"YY 00 is 2000", "1200", day(1999, 12, 31), nil},
		{"month 00", "0030", day(2026, 3, 16), ErrBadDate},
		{"month 13", "1330", day(2026, 3, 16), ErrBadDate},
		{"month not BCD", "1A30", day(2026, 3, 16), ErrBadDate},
		{"year not BCD", "12F0", day(2026, 3, 16), ErrBadDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkExpiry(unhex(tt.mmyy), tt.date); !errors.Is(err, tt.want) {
				t.Errorf("checkExpiry(%s, %s) = %v, want %v", tt.mmyy, tt.date.Format(time.DateOnly), err, tt.want)
			}
		})
	}
}

func TestPANMatching(t *testing.T) {
	tests := []struct {
		name     string
		issuerID string // 4 bytes of the issuer certificate
		certPAN  string // 10 bytes of the ICC certificate
		pan      string // 5A
		idOK     bool
		panOK    bool
	}{
		{"16 digits", "541333FF", "5413330089601034FFFF", "5413330089601034", true, true},
		{"odd digit count padded with F", "541333FF", "541333008960103FFFFF", "541333008960103F", true, true},
		{"19 digits", "54133300", "5413330089601034123F", "5413330089601034123F", true, true},
		{"8-digit issuer identifier", "54133300", "5413330089601034FFFF", "5413330089601034", true, true},
		{"3-digit issuer identifier", "541FFFFF", "5413330089601034FFFF", "5413330089601034", true, true},
		{"issuer identifier differs", "541334FF", "5413330089601034FFFF", "5413330089601034", false, true},
		{"issuer identifier of 2 digits", "54FFFFFF", "5413330089601034FFFF", "5413330089601034", false, true},
		{"digit after the issuer identifier's padding", "541F33FF", "5413330089601034FFFF", "5413330089601034", false, true},
		{"certificate PAN one digit shorter", "541333FF", "541333008960103FFFFF", "5413330089601034", true, false},
		{"certificate PAN one digit longer", "541333FF", "5413330089601034FFFF", "541333008960103F", true, false},
		{"PAN longer than a certificate holds", "541333FF", "54133300896010341234", "5413330089601034123456", true, false},
		{"no PAN", "541333FF", "5413330089601034FFFF", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pan := unhex(tt.pan)
			if got := issuerIDMatches(unhex(tt.issuerID), pan); got != tt.idOK {
				t.Errorf("issuer identifier matches = %t, want %t", got, tt.idOK)
			}
			if got := len(pan) > 0 && panDigits(unhex(tt.certPAN)) == panDigits(pan); got != tt.panOK {
				t.Errorf("certificate PAN matches = %t, want %t", got, tt.panOK)
			}
		})
	}
}

// withExponent65537 returns k with the public exponent 2^16+1 and the
// matching private exponent, so that recovery is tested with both
// exponents EMV allows without generating keys in the test.
func withExponent65537(t *testing.T, k *rsa.PrivateKey) *rsa.PrivateKey {
	t.Helper()
	one := big.NewInt(1)
	p, q := k.Primes[0], k.Primes[1]
	pm, qm := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	lambda := new(big.Int).Div(new(big.Int).Mul(pm, qm), new(big.Int).GCD(nil, nil, pm, qm))
	d := new(big.Int).ModInverse(big.NewInt(65537), lambda)
	if d == nil {
		t.Skip("65537 is not invertible for this key")
	}
	k2 := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: k.N, E: 65537}, D: d, Primes: []*big.Int{p, q}}
	k2.Precompute()
	if err := k2.Validate(); err != nil {
		t.Fatal(err)
	}
	return k2
}

func TestRecoverExponents(t *testing.T) {
	tests := []struct {
		name                  string
		issuer, icc           string
		issuer65537, icc65537 bool
	}{
		{"issuer 3, ICC 3", "issuer-1152", "icc-1024", false, false},
		{"issuer 65537, ICC 3", "issuer-1152", "icc-1024", true, false},
		{"issuer 3, ICC 65537", "issuer-1024", "icc-768", false, true},
		{"issuer 65537, ICC 65537", "issuer-1024", "icc-768", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.issuer, tt.icc)
			if tt.issuer65537 {
				f.issuer = withExponent65537(t, f.issuer)
			}
			if tt.icc65537 {
				f.icc = withExponent65537(t, f.icc)
			}
			ic, err := SignIssuerCert(f.ca, &f.issuer.PublicKey, unhex("541333FF"), unhex("1230"), unhex("000001"))
			if err != nil {
				t.Fatal(err)
			}
			cc, err := SignICCCert(f.issuer, &f.icc.PublicKey, testPAN, unhex("1229"), unhex("000002"), f.card.StaticData)
			if err != nil {
				t.Fatal(err)
			}
			ca, err := f.keys.Key(f.card.AID, tapposCAIndex)
			if err != nil {
				t.Fatal(err)
			}
			ik, err := RecoverIssuerKey(ca.PublicKey, ic.Cert, ic.Remainder, ic.Exponent, testPAN, f.date)
			if err != nil {
				t.Fatal(err)
			}
			if ik.n.Cmp(f.issuer.N) != 0 || ik.e.Int64() != int64(f.issuer.E) {
				t.Fatalf("issuer key recovered wrong (e = %v)", ik.e)
			}
			k, err := RecoverICCKey(ik, cc.Cert, cc.Remainder, cc.Exponent, testPAN, f.card.StaticData, f.date)
			if err != nil {
				t.Fatal(err)
			}
			if k.n.Cmp(f.icc.N) != 0 || k.e.Int64() != int64(f.icc.E) {
				t.Fatalf("ICC key recovered wrong (e = %v)", k.e)
			}
			// The other allowed exponent has another length than the one the
			// certificate names.
			other := []byte{3}
			if f.icc.E == 3 {
				other = []byte{1, 0, 1}
			}
			_, err = RecoverICCKey(ik, cc.Cert, cc.Remainder, other, testPAN, f.card.StaticData, f.date)
			checkStep(t, err, "ICC public key exponent", ErrExponent)
		})
	}
}
