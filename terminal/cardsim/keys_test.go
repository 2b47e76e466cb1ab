package cardsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tappos/emv/oda"
)

var genKeys = flag.Bool("gen-keys", false, "generate the issuer and ICC keys and certificates of the profiles with offline data authentication (testdata/cards/keys)")

const (
	caPEMPath  = "../../testdata/ca/tappos-ca.pem"
	caCAPKPath = "../../testdata/ca/capk-tappos.json"
	cardsDir   = "../../testdata/cards"
	caIndex    = 0xF7
	certExpiry = "1230" // MMYY, as the profiles' expiry
)

// testDate is the transaction date the tests verify certificates at.
var testDate = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// odaProfiles are the profiles that carry offline data authentication keys.
var odaProfiles = []string{"visa-offline", "mastercard-credit"}

// TestGenerateKeys writes testdata/cards/keys/<profile>.json when run with
// -gen-keys: a 1152-bit issuer key certified by the tappos test CA and a
// 512-bit ICC key certified over the card's static data. The card signs
// with the ICC key on every offline tap, in math/big: 512 bits (room for
// CDA's 38 bytes of dynamic data with one byte to spare) cost a third of
// 768 and keep a simulated CDA tap within the in-memory budget. These are
// published test keys; their strength is of no concern.
func TestGenerateKeys(t *testing.T) {
	if !*genKeys {
		t.Skip("run with -gen-keys to regenerate the profiles' keys")
	}
	ca := readCAKey(t)
	for i, name := range odaProfiles {
		p, err := LoadProfile(filepath.Join(cardsDir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		issuer, err := oda.GenerateKey(rand.Reader, 1152)
		if err != nil {
			t.Fatal(err)
		}
		icc, err := oda.GenerateKey(rand.Reader, 512)
		if err != nil {
			t.Fatal(err)
		}
		serial := []byte{0x00, 0x00, byte(i + 1)}
		issuerID := mustHex(p.PAN[:6] + "FF")
		ic, err := oda.SignIssuerCert(ca, &issuer.PublicKey, issuerID, mustHex(certExpiry), serial)
		if err != nil {
			t.Fatal(err)
		}
		kf := &KeyFile{
			RID:             p.AID[:10],
			CAIndex:         "F7",
			IssuerCert:      hex.EncodeToString(ic.Cert),
			IssuerRemainder: hex.EncodeToString(ic.Remainder),
			IssuerExponent:  hex.EncodeToString(ic.Exponent),
			IssuerKey:       NewPrivateKey(issuer),
			ICCKey:          NewPrivateKey(icc),
		}
		// The card's static data depends only on its records, which
		// do not include the ICC certificate; a placeholder one lets
		// the card be built to compute it.
		kf.ICCCert, kf.ICCExponent = "00", "03"
		writeKeyFile(t, p, kf)
		card, err := NewCard(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := card.StaticData()
		if err != nil {
			t.Fatal(err)
		}
		cc, err := oda.SignICCCert(issuer, &icc.PublicKey, packBCD(p.PAN), mustHex(certExpiry), serial, sd)
		if err != nil {
			t.Fatal(err)
		}
		kf.ICCCert = hex.EncodeToString(cc.Cert)
		kf.ICCRemainder = hex.EncodeToString(cc.Remainder)
		kf.ICCExponent = hex.EncodeToString(cc.Exponent)
		writeKeyFile(t, p, kf)
	}
}

func writeKeyFile(t *testing.T, p *Profile, kf *KeyFile) {
	t.Helper()
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, p.ODA.Keys), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(caPEMPath)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block in the CA key file")
	}
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func loadCAPK(t testing.TB) *oda.CAKeyStore {
	t.Helper()
	f, err := os.Open(caCAPKPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ks, err := oda.LoadCAKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestKeyFiles checks that every profile's certificates still chain to the
// tappos test CA and sign the card's current static data: a profile edit
// that changes its records needs go test -run TestGenerateKeys -gen-keys.
func TestKeyFiles(t *testing.T) {
	keys := loadCAPK(t)
	for _, name := range odaProfiles {
		t.Run(name, func(t *testing.T) {
			card := loadCard(t, name)
			sd, err := card.StaticData()
			if err != nil {
				t.Fatal(err)
			}
			k := card.keys
			oc := &oda.Card{
				AID: card.aid, CAIndex: []byte{k.caIndex}, PAN: packBCD(card.p.PAN),
				IssuerCert: k.issuerCert, IssuerRemainder: k.issuerRemainder, IssuerExponent: k.issuerExp,
				ICCCert: k.iccCert, ICCRemainder: k.iccRemainder, ICCExponent: k.iccExp,
				StaticData: sd,
			}
			// fDDA over a fixed input proves the whole chain: CA, issuer,
			// ICC certificate over the static data, ICC key.
			in := oda.FDDAInput{UnpredictableNumber: []byte{1, 2, 3, 4}}
			if in.SDAD, err = oda.SignFDDA(k.icc, []byte{0xAB, 0xCD}, in); err != nil {
				t.Fatal(err)
			}
			if _, err := oda.VerifyFDDA(keys, oc, testDate, in); err != nil {
				t.Fatalf("key file does not verify (regenerate with -gen-keys): %v", err)
			}
		})
	}
}
