package oda

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"tappos/emv/tlv"
)

// fixture is a card signed under the tappos test CA, and a terminal's view
// of it.
type fixture struct {
	ca, issuer, icc *rsa.PrivateKey
	keys            *CAKeyStore
	card            Card
	record, aip     []byte
	date            time.Time
}

var testPAN = unhex("5413330089601034")

func newFixture(t testing.TB, issuerName, iccName string) *fixture {
	t.Helper()
	ca, ks := loadTapposCA(t)
	keys := readPEMKeys(t, testKeysPath)
	f := &fixture{
		ca: ca, issuer: keys[issuerName], icc: keys[iccName], keys: ks,
		record: tlv.Build(0x70, append(tlv.Build(0x5A, testPAN), tlv.Build(0x9F4A, []byte{0x82})...)),
		aip:    []byte{0x59, 0x80},
		date:   time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC),
	}
	if f.issuer == nil || f.icc == nil {
		t.Fatal("missing test key")
	}
	static, err := StaticData([]Record{{SFI: 2, Data: f.record}}, []byte{0x82}, f.aip)
	if err != nil {
		t.Fatal(err)
	}
	ic, err := SignIssuerCert(ca, &f.issuer.PublicKey, unhex("541333FF"), unhex("1230"), unhex("000001"))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := SignICCCert(f.issuer, &f.icc.PublicKey, testPAN, unhex("1229"), unhex("000002"), static)
	if err != nil {
		t.Fatal(err)
	}
	f.card = Card{
		AID: unhex("A0000000041010"), CAIndex: []byte{tapposCAIndex}, PAN: testPAN,
		IssuerCert: ic.Cert, IssuerRemainder: ic.Remainder, IssuerExponent: ic.Exponent,
		ICCCert: cc.Cert, ICCRemainder: cc.Remainder, ICCExponent: cc.Exponent,
		StaticData: static,
	}
	return f
}

func (f *fixture) fdda(t testing.TB) FDDAInput {
	in := FDDAInput{
		UnpredictableNumber: unhex("ABABABAB"), Amount: unhex("000000001250"), Currency: unhex("0156"),
		CardAuthData: unhex("0169C16C99"),
	}
	var err error
	if in.SDAD, err = SignFDDA(f.icc, unhex("0015"), in); err != nil {
		t.Fatal(err)
	}
	return in
}

// cda returns a CDA input as the card simulator would answer GENERATE AC.
func (f *fixture) cda(t testing.TB, cid byte) CDAInput {
	in := CDAInput{
		UnpredictableNumber: unhex("33BCA47D"),
		PDOLData:            unhex("0000000000000000"),
		CDOL1Data:           unhex("000000001250000000000000015600000400010801560260031600ABABABAB"),
	}
	objs := [][]byte{tlv.Build(0x9F27, []byte{cid}), tlv.Build(0x9F36, unhex("0052")), tlv.Build(0x9F10, unhex("0110A04000"))}
	hash, err := TransactionDataHash(in.PDOLData, in.CDOL1Data, tlv.Build(0x77, bytes.Join(objs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sdad, err := SignCDA(f.icc, unhex("B39C5522F9D77FAD"), cid, unhex("675B759BB5350F8C"), in.UnpredictableNumber, hash)
	if err != nil {
		t.Fatal(err)
	}
	in.Response = tlv.Build(0x77, bytes.Join([][]byte{objs[0], objs[1], tlv.Build(0x9F4B, sdad), objs[2]}, nil))
	return in
}

func TestSignRoundTrip(t *testing.T) {
	tests := []struct {
		issuer, icc         string
		issuerRem, iccRem   bool
		issuerBits, iccBits int
	}{
		{"issuer-1152", "icc-1024", true, true, 1152, 1024},
		{"issuer-1152", "icc-768", true, false, 1152, 768},
		{"issuer-1024", "icc-768", false, true, 1024, 768},
	}
	for _, tt := range tests {
		t.Run(tt.issuer+"/"+tt.icc, func(t *testing.T) {
			f := newFixture(t, tt.issuer, tt.icc)
			if (f.card.IssuerRemainder != nil) != tt.issuerRem || (f.card.ICCRemainder != nil) != tt.iccRem {
				t.Fatalf("remainders: issuer %x, ICC %x", f.card.IssuerRemainder, f.card.ICCRemainder)
			}
			res, err := VerifyFDDA(f.keys, &f.card, f.date, f.fdda(t))
			want := Result{Method: MethodFDDA, IssuerKeyBits: tt.issuerBits, ICCKeyBits: tt.iccBits, ICCDynamicNumber: unhex("0015")}
			if err != nil || !equalResult(res, want) {
				t.Errorf("fDDA: %+v, %v", res, err)
			}
			for _, cid := range []byte{0x40, 0x80} {
				res, err = VerifyCDA(f.keys, &f.card, f.date, f.cda(t, cid))
				want = Result{Method: MethodCDA, IssuerKeyBits: tt.issuerBits, ICCKeyBits: tt.iccBits,
					ICCDynamicNumber: unhex("B39C5522F9D77FAD"), CID: cid, Cryptogram: unhex("675B759BB5350F8C"), TransactionDataHashOK: true}
				if err != nil || !equalResult(res, want) {
					t.Errorf("CDA: %+v, %v", res, err)
				}
			}
		})
	}
}

func equalResult(a, b Result) bool {
	return a.Method == b.Method && a.IssuerKeyBits == b.IssuerKeyBits && a.ICCKeyBits == b.ICCKeyBits &&
		bytes.Equal(a.DataAuthenticationCode, b.DataAuthenticationCode) && bytes.Equal(a.ICCDynamicNumber, b.ICCDynamicNumber) &&
		a.CID == b.CID && bytes.Equal(a.Cryptogram, b.Cryptogram) && a.TransactionDataHashOK == b.TransactionDataHashOK
}

// resign recovers a certificate, lets edit change its data (header to
// before the hash) and signs it again with the same key.
func resign(t *testing.T, signer *rsa.PrivateKey, cert []byte, edit func(rec []byte) []byte, extra ...[]byte) []byte {
	t.Helper()
	pub, err := NewPublicKey(signer.N.Bytes(), []byte{3})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := pub.recover(cert)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sealWithHash(signer, edit(rec[:len(rec)-1-hashLen]), extra...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyFailures(t *testing.T) {
	tests := []struct {
		name   string
		modify func(t *testing.T, f *fixture, fd *FDDAInput, cd *CDAInput)
		step   string
		err    error
	}{
		{"unknown CA index", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.CAIndex = []byte{0x01}
		}, "CA public key", ErrCAKeyNotFound},
		{"no CA index", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.CAIndex = nil
		}, "CA public key index", ErrMissing},
		{"no issuer certificate", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = nil
		}, "issuer certificate", ErrMissing},
		{"issuer certificate truncated", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = f.card.IssuerCert[1:]
		}, "issuer certificate length", ErrLength},
		{"issuer certificate above modulus", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = bytes.Repeat([]byte{0xFF}, len(f.card.IssuerCert))
		}, "issuer certificate length", ErrOutOfRange},
		{"issuer certificate format", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = resign(t, f.ca, f.card.IssuerCert, func(r []byte) []byte { r[1] = 0x04; return r },
				f.card.IssuerRemainder, f.card.IssuerExponent)
		}, "issuer certificate format", ErrFormat},
		{"issuer certificate header", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = resign(t, f.ca, f.card.IssuerCert, func(r []byte) []byte { r[0] = 0x6B; return r },
				f.card.IssuerRemainder, f.card.IssuerExponent)
		}, "issuer certificate header", ErrHeader},
		{"issuer hash algorithm", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = resign(t, f.ca, f.card.IssuerCert, func(r []byte) []byte { r[11] = 0x02; return r },
				f.card.IssuerRemainder, f.card.IssuerExponent)
		}, "issuer certificate hash algorithm", ErrHashAlgorithm},
		{"issuer PK algorithm", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = resign(t, f.ca, f.card.IssuerCert, func(r []byte) []byte { r[12] = 0x02; return r },
				f.card.IssuerRemainder, f.card.IssuerExponent)
		}, "issuer certificate public key algorithm", ErrPKAlgorithm},
		{"issuer identifier", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = resign(t, f.ca, f.card.IssuerCert, func(r []byte) []byte { copy(r[2:], unhex("411111FF")); return r },
				f.card.IssuerRemainder, f.card.IssuerExponent)
		}, "issuer identifier", ErrIssuerIdentifier},
		{"issuer identifier padding", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = resign(t, f.ca, f.card.IssuerCert, func(r []byte) []byte { copy(r[2:], unhex("541F33FF")); return r },
				f.card.IssuerRemainder, f.card.IssuerExponent)
		}, "issuer identifier", ErrIssuerIdentifier},
		{"CA key expired", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.date = time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC) // the tappos CA expires 12/35
		}, "CA public key", ErrCAKeyExpired},
		{"issuer certificate expired", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.date = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
		}, "issuer certificate expiry", ErrExpired},
		{"issuer certificate expiry not BCD", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerCert = resign(t, f.ca, f.card.IssuerCert, func(r []byte) []byte { r[6] = 0x13; return r },
				f.card.IssuerRemainder, f.card.IssuerExponent)
		}, "issuer certificate expiry", ErrBadDate},
		{"issuer remainder missing", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerRemainder = nil
		}, "issuer public key remainder", ErrRemainder},
		{"issuer remainder changed", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerRemainder = append([]byte(nil), f.card.IssuerRemainder...)
			f.card.IssuerRemainder[0] ^= 1
		}, "issuer certificate hash", ErrHashMismatch},
		{"issuer exponent length", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerExponent = []byte{0, 3}
		}, "issuer public key exponent", ErrExponent},
		{"issuer exponent missing", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.IssuerExponent = nil
		}, "issuer public key exponent", ErrMissing},
		{"no PAN", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.PAN = nil
		}, "application PAN", ErrMissing},
		{"ICC PAN", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.PAN = unhex("5413330089601035")
		}, "ICC certificate PAN", ErrPANMismatch},
		{"static data changed", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.StaticData = append(f.card.StaticData[:len(f.card.StaticData)-2:len(f.card.StaticData)-2], 0x19, 0x80)
		}, "ICC certificate hash", ErrHashMismatch},
		{"ICC certificate expired", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.date = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		}, "ICC certificate expiry", ErrExpired},
		{"ICC exponent", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.ICCExponent = []byte{1, 0, 1}
		}, "ICC public key exponent", ErrExponent},
		{"ICC remainder", func(t *testing.T, f *fixture, _ *FDDAInput, _ *CDAInput) {
			f.card.ICCRemainder = f.card.ICCRemainder[1:]
		}, "ICC public key remainder", ErrRemainder},
		{"unpredictable number", func(t *testing.T, f *fixture, fd *FDDAInput, cd *CDAInput) {
			fd.UnpredictableNumber, cd.UnpredictableNumber = unhex("ABABABAC"), unhex("33BCA47E")
		}, "signed dynamic application data hash", ErrHashMismatch},
		{"SDAD truncated", func(t *testing.T, f *fixture, fd *FDDAInput, cd *CDAInput) {
			fd.SDAD = fd.SDAD[:10]
			cd.Response = tlv.Build(0x77, append(tlv.Build(0x9F27, []byte{0x40}), tlv.Build(0x9F4B, make([]byte, 10))...))
		}, "signed dynamic application data length", ErrLength},
	}
	for _, tt := range tests {
		for _, method := range []Method{MethodFDDA, MethodCDA} {
			t.Run(method.String()+"/"+tt.name, func(t *testing.T) {
				f := newFixture(t, "issuer-1152", "icc-1024")
				fd, cd := f.fdda(t), f.cda(t, 0x40)
				tt.modify(t, f, &fd, &cd)
				var err error
				if method == MethodFDDA {
					_, err = VerifyFDDA(f.keys, &f.card, f.date, fd)
				} else {
					_, err = VerifyCDA(f.keys, &f.card, f.date, cd)
				}
				checkStep(t, err, tt.step, tt.err)
			})
		}
	}
}

func checkStep(t *testing.T, err error, step string, want error) {
	t.Helper()
	var oe *Error
	if !errors.As(err, &oe) || oe.Step != step || !errors.Is(err, want) {
		t.Fatalf("got %v, want step %q: %v", err, step, want)
	}
	if strings.Contains(err.Error(), "5413330089601034") {
		t.Fatalf("error %q contains the PAN", err)
	}
}

func TestFDDAFailures(t *testing.T) {
	tests := []struct {
		name   string
		modify func(in *FDDAInput)
		step   string
		err    error
	}{
		{"amount", func(in *FDDAInput) { in.Amount = unhex("000000001251") }, "signed dynamic application data hash", ErrHashMismatch},
		{"currency", func(in *FDDAInput) { in.Currency = unhex("0840") }, "signed dynamic application data hash", ErrHashMismatch},
		{"9F69 changed", func(in *FDDAInput) { in.CardAuthData = unhex("0169C16C98") }, "signed dynamic application data hash", ErrHashMismatch},
		{"version 00 signature checked as 01", func(in *FDDAInput) { in.CardAuthData = nil }, "signed dynamic application data hash", ErrHashMismatch},
		{"unknown version", func(in *FDDAInput) { in.CardAuthData = unhex("0269C16C99") }, "card authentication related data", ErrFDDAVersion},
		{"no amount", func(in *FDDAInput) { in.Amount = nil }, "fDDA dynamic data input", ErrMissing},
		{"no UN", func(in *FDDAInput) { in.UnpredictableNumber = nil }, "unpredictable number", ErrMissing},
		{"no SDAD", func(in *FDDAInput) { in.SDAD = nil }, "signed dynamic application data", ErrMissing},
	}
	f := newFixture(t, "issuer-1152", "icc-1024")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := f.fdda(t)
			tt.modify(&in)
			_, err := VerifyFDDA(f.keys, &f.card, f.date, in)
			checkStep(t, err, tt.step, tt.err)
		})
	}
	t.Run("version 00 round trip", func(t *testing.T) {
		in := FDDAInput{UnpredictableNumber: unhex("01020304")}
		var err error
		if in.SDAD, err = SignFDDA(f.icc, unhex("0102"), in); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyFDDA(f.keys, &f.card, f.date, in); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCDAFailures(t *testing.T) {
	f := newFixture(t, "issuer-1152", "icc-1024")
	good := f.cda(t, 0x80)
	l, err := tlv.Decode(good.Response)
	if err != nil {
		t.Fatal(err)
	}
	objs := l[0].Children
	rebuild := func(edit func(tlv.List) tlv.List) []byte {
		return tlv.Build(0x77, edit(append(tlv.List(nil), objs...)).Encode())
	}
	tests := []struct {
		name   string
		modify func(in *CDAInput)
		step   string
		err    error
	}{
		{"CID", func(in *CDAInput) {
			in.Response = rebuild(func(l tlv.List) tlv.List { l[0].Value = []byte{0x40}; return l })
		}, "cryptogram information data", ErrCIDMismatch},
		{"ATC", func(in *CDAInput) {
			in.Response = rebuild(func(l tlv.List) tlv.List { l[1].Value = unhex("0053"); return l })
		}, "transaction data hash", ErrHashMismatch},
		{"object order", func(in *CDAInput) {
			in.Response = rebuild(func(l tlv.List) tlv.List { l[0], l[1] = l[1], l[0]; return l })
		}, "transaction data hash", ErrHashMismatch},
		{"extra object", func(in *CDAInput) {
			in.Response = rebuild(func(l tlv.List) tlv.List { return append(l, tlv.TLV{Tag: 0x9F26, Value: make([]byte, 8)}) })
		}, "transaction data hash", ErrHashMismatch},
		{"CDOL1 data", func(in *CDAInput) { in.CDOL1Data = in.CDOL1Data[1:] }, "transaction data hash", ErrHashMismatch},
		{"PDOL data", func(in *CDAInput) { in.PDOLData = nil }, "transaction data hash", ErrHashMismatch},
		{"format 1", func(in *CDAInput) { in.Response = tlv.Build(0x80, unhex("8000520102030405060708")) }, "GENERATE AC response", ErrResponseFormat},
		{"padding before template", func(in *CDAInput) { in.Response = append([]byte{0}, in.Response...) }, "GENERATE AC response", ErrResponseFormat},
		{"bad TLV", func(in *CDAInput) { in.Response = in.Response[:len(in.Response)-1] }, "GENERATE AC response", ErrResponseFormat},
		{"no 9F4B", func(in *CDAInput) {
			in.Response = rebuild(func(l tlv.List) tlv.List { return append(l[:2:2], l[3]) })
		}, "signed dynamic application data", ErrMissing},
		{"no CID", func(in *CDAInput) {
			in.Response = rebuild(func(l tlv.List) tlv.List { return l[1:] })
		}, "cryptogram information data", ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.modify(&in)
			res, err := VerifyCDA(f.keys, &f.card, f.date, in)
			checkStep(t, err, tt.step, tt.err)
			if res.TransactionDataHashOK {
				t.Error("TransactionDataHashOK on failure")
			}
		})
	}
	t.Run("padding between objects", func(t *testing.T) {
		in := good
		in.Response = rebuild(func(l tlv.List) tlv.List { return l })
		body := bytes.Join([][]byte{objs[0:1].Encode(), {0x00}, objs[1:].Encode()}, nil)
		in.Response = tlv.Build(0x77, body)
		if _, err := VerifyCDA(f.keys, &f.card, f.date, in); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSDA(t *testing.T) {
	f := newFixture(t, "issuer-1152", "icc-1024")
	ssad := func(format, hashAlg byte, static []byte) []byte {
		rec := []byte{0x6A, format, hashAlg, 0xDA, 0xC1}
		for len(rec) < f.issuer.Size()-hashLen-1 {
			rec = append(rec, 0xBB)
		}
		s, err := sealWithHash(f.issuer, rec, static)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name string
		ssad []byte
		step string
		err  error
	}{
		{"ok", ssad(0x03, 0x01, f.card.StaticData), "", nil},
		{"static data", ssad(0x03, 0x01, f.card.StaticData[1:]), "signed static application data hash", ErrHashMismatch},
		{"format", ssad(0x05, 0x01, f.card.StaticData), "signed static application data format", ErrFormat},
		{"hash algorithm", ssad(0x03, 0x02, f.card.StaticData), "signed static application data hash algorithm", ErrHashAlgorithm},
		{"missing", nil, "signed static application data", ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.card
			c.SSAD = tt.ssad
			res, err := VerifySDA(f.keys, &c, f.date)
			if tt.err != nil {
				checkStep(t, err, tt.step, tt.err)
				return
			}
			if err != nil || res.Method != MethodSDA || !bytes.Equal(res.DataAuthenticationCode, unhex("DAC1")) || res.IssuerKeyBits != 1152 {
				t.Fatalf("%+v, %v", res, err)
			}
		})
	}
}

func TestDDA(t *testing.T) {
	f := newFixture(t, "issuer-1152", "icc-768")
	ddol := unhex("DEADBEEF")
	tests := []struct {
		name     string
		dynamic  []byte
		terminal []byte
		step     string
		err      error
	}{
		{"ok", unhex("03010203"), ddol, "", nil},
		{"DDOL data", unhex("03010203"), unhex("DEADBEEE"), "signed dynamic application data hash", ErrHashMismatch},
		{"dynamic number too short", unhex("0101"), ddol, "ICC dynamic data", ErrDynamicData},
		{"dynamic number overruns", unhex("0801020304"), ddol, "ICC dynamic data", ErrDynamicData},
		{"no dynamic data", nil, ddol, "ICC dynamic data", ErrDynamicData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sdad, err := signDynamic(f.icc, tt.dynamic, tt.terminal)
			if err != nil {
				t.Fatal(err)
			}
			res, err := VerifyDDA(f.keys, &f.card, f.date, sdad, ddol)
			if tt.err != nil {
				checkStep(t, err, tt.step, tt.err)
				return
			}
			if err != nil || res.Method != MethodDDA || !bytes.Equal(res.ICCDynamicNumber, unhex("010203")) || res.ICCKeyBits != 768 {
				t.Fatalf("%+v, %v", res, err)
			}
		})
	}
}

// TestIssuerCertMemo checks that a CA key opening an issuer certificate
// once does not let a later tap skip a check: the same certificate with
// an expired date, another issuer's PAN or a changed remainder fails as
// it would the first time.
func TestIssuerCertMemo(t *testing.T) {
	f := newFixture(t, "issuer-1152", "icc-1024")
	for range 2 {
		if _, err := VerifyFDDA(f.keys, &f.card, f.date, f.fdda(t)); err != nil {
			t.Fatal(err)
		}
	}
	expired := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := VerifyFDDA(f.keys, &f.card, expired, f.fdda(t))
	checkStep(t, err, "issuer certificate expiry", ErrExpired)

	other := f.card
	other.PAN = unhex("4111111111111111")
	_, err = VerifyFDDA(f.keys, &other, f.date, f.fdda(t))
	checkStep(t, err, "issuer identifier", ErrIssuerIdentifier)

	other = f.card
	other.IssuerRemainder = bytes.Clone(f.card.IssuerRemainder)
	other.IssuerRemainder[0] ^= 1
	_, err = VerifyFDDA(f.keys, &other, f.date, f.fdda(t))
	checkStep(t, err, "issuer certificate hash", ErrHashMismatch)

	// The memo hands out copies: a caller writing into one changes nothing.
	ca, err := f.keys.Key(f.card.AID, f.card.CAIndex[0])
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ca.recover(f.card.IssuerCert)
	if err != nil {
		t.Fatal(err)
	}
	clear(rec)
	if _, err := VerifyFDDA(f.keys, &f.card, f.date, f.fdda(t)); err != nil {
		t.Fatalf("after writing into a recovered copy: %v", err)
	}
}
