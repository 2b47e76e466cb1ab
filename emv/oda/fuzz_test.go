package oda

import (
	"errors"
	"testing"
	"time"
)

// FuzzRecoverCertificate feeds certificates, remainders, exponents and
// PANs to issuer and ICC key recovery under the tappos test CA. With
// signed set, the input is the recovered data itself, signed with the CA
// private key, so that the checks after the signature are reached too.
func FuzzRecoverCertificate(f *testing.F) {
	ca, ks := loadTapposCA(f)
	caKey, err := ks.Key(unhex("A000000004"), tapposCAIndex)
	if err != nil {
		f.Fatal(err)
	}
	fx := newFixture(f, "issuer-1152", "icc-1024")
	rec, err := caKey.recover(fx.card.IssuerCert)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fx.card.IssuerCert, fx.card.IssuerRemainder, fx.card.IssuerExponent, testPAN, false)
	f.Add(rec, fx.card.IssuerRemainder, fx.card.IssuerExponent, testPAN, true)
	f.Add(rec, []byte(nil), []byte{1, 0, 1}, unhex("541333FFFF"), true)
	f.Add([]byte{0x6A, 0x02}, []byte{}, []byte{3}, []byte{}, true)
	date := time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, cert, remainder, exponent, pan []byte, signed bool) {
		if signed {
			m := make([]byte, ca.Size())
			copy(m, cert)
			m[0] &= 0x7F // below the modulus, whose top bit is set
			if cert, err = signRaw(ca, m); err != nil {
				t.Fatal(err)
			}
		}
		for _, recover := range []func() (*PublicKey, error){
			func() (*PublicKey, error) {
				return RecoverIssuerKey(caKey.PublicKey, cert, remainder, exponent, pan, date)
			},
			func() (*PublicKey, error) {
				return RecoverICCKey(caKey.PublicKey, cert, remainder, exponent, pan, remainder, date)
			},
		} {
			k, err := recover()
			var oe *Error
			switch {
			case err == nil && (k == nil || k.Bits() == 0):
				t.Fatal("no key and no error")
			case err != nil && (!errors.As(err, &oe) || oe.Step == "" || oe.Err == nil):
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}
