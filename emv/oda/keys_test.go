package oda

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var genKeys = flag.Bool("gen-keys", false, "generate the tappos test CA (testdata/ca) and the test keys (emv/oda/testdata/test-keys.pem)")

const (
	caPEMPath     = "../../testdata/ca/tappos-ca.pem"
	caCAPKPath    = "../../testdata/ca/capk-tappos.json"
	testKeysPath  = "testdata/test-keys.pem"
	tapposCAIndex = 0xF7
)

// testKeySizes are the issuer and ICC keys of the round-trip tests, chosen
// so that some need a remainder under the 1408-bit CA and some do not.
var testKeySizes = []struct {
	name string
	bits int
}{
	{"issuer-1152", 1152}, {"issuer-1024", 1024}, {"icc-1024", 1024}, {"icc-768", 768},
}

// TestGenerateKeys regenerates the committed keys when run with -gen-keys.
func TestGenerateKeys(t *testing.T) {
	if !*genKeys {
		t.Skip("run with -gen-keys to regenerate the test CA and keys")
	}
	ca, err := GenerateKey(rand.Reader, 1408)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, caPEMPath, map[string]*rsa.PrivateKey{"tappos-test-ca": ca})
	type entry struct {
		RID      string `json:"rid"`
		Index    string `json:"index"`
		Modulus  string `json:"modulus"`
		Exponent string `json:"exponent"`
		Expiry   string `json:"expiry"`
		SHA1     string `json:"sha1"`
		HashAlg  int    `json:"hash_alg"`
		PKAlg    int    `json:"pk_alg"`
	}
	var entries []entry
	for _, rid := range []string{"A000000003", "A000000004"} {
		r, _ := hex.DecodeString(rid)
		h := sha1.New()
		h.Write(r)
		h.Write([]byte{tapposCAIndex})
		h.Write(ca.N.Bytes())
		h.Write([]byte{0x03})
		entries = append(entries, entry{rid, fmt.Sprintf("%02X", tapposCAIndex), fmt.Sprintf("%X", ca.N.Bytes()), "03",
			"1235", fmt.Sprintf("%X", h.Sum(nil)), 1, 1})
	}
	b, err := json.MarshalIndent(entries, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caCAPKPath, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]*rsa.PrivateKey)
	for _, ks := range testKeySizes {
		if keys[ks.name], err = GenerateKey(rand.Reader, ks.bits); err != nil {
			t.Fatal(err)
		}
	}
	writePEM(t, testKeysPath, keys)
}

func writePEM(t *testing.T, path string, keys map[string]*rsa.PrivateKey) {
	t.Helper()
	var b strings.Builder
	for _, ks := range append(testKeySizes, struct {
		name string
		bits int
	}{"tappos-test-ca", 1408}) {
		k, ok := keys[ks.name]
		if !ok {
			continue
		}
		pem.Encode(&b, &pem.Block{
			Type:    "RSA PRIVATE KEY",
			Headers: map[string]string{"Name": ks.name, "Comment": "TEST KEY - tappos tests and card simulator only"},
			Bytes:   x509.MarshalPKCS1PrivateKey(k),
		})
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readPEMKeys reads named RSA keys from a PEM file.
func readPEMKeys(t testing.TB, path string) map[string]*rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]*rsa.PrivateKey)
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		keys[blk.Headers["Name"]] = k
	}
	return keys
}

func loadTapposCA(t testing.TB) (*rsa.PrivateKey, *CAKeyStore) {
	t.Helper()
	ca := readPEMKeys(t, caPEMPath)["tappos-test-ca"]
	if ca == nil {
		t.Fatal("no tappos-test-ca key")
	}
	return ca, loadCAKeyFile(t, caCAPKPath)
}

func TestTapposCA(t *testing.T) {
	ca, ks := loadTapposCA(t)
	for _, rid := range []string{"A000000003", "A000000004"} {
		k, err := ks.Key(unhex(rid+"1010"), tapposCAIndex)
		if err != nil {
			t.Fatalf("%s: %v", rid, err)
		}
		if k.Bits() != 1408 || !strings.EqualFold(hex.EncodeToString(k.Modulus), hex.EncodeToString(ca.N.Bytes())) || ca.E != 3 {
			t.Errorf("%s: CAPK entry does not match the CA private key", rid)
		}
	}
}
