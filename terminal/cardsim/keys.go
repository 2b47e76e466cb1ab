package cardsim

import (
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
)

// KeyFile is a profile's offline data authentication material, as stored
// in testdata/cards/keys/<profile>.json: the issuer certificate under the
// tappos test CA, the ICC certificate under the issuer key, and the private
// keys (test keys only) that the card signs with and that re-issue the ICC
// certificate when the profile's records change. Every field is hex.
type KeyFile struct {
	RID             string     `json:"rid"`      // CA registered application provider identifier
	CAIndex         string     `json:"ca_index"` // 8F
	IssuerCert      string     `json:"issuer_cert"`
	IssuerRemainder string     `json:"issuer_remainder,omitempty"`
	IssuerExponent  string     `json:"issuer_exponent"`
	ICCCert         string     `json:"icc_cert"`
	ICCRemainder    string     `json:"icc_remainder,omitempty"`
	ICCExponent     string     `json:"icc_exponent"`
	IssuerKey       PrivateKey `json:"issuer_key"`
	ICCKey          PrivateKey `json:"icc_key"`
}

// PrivateKey is an RSA private key with public exponent 3, as two primes
// (hex), the form EMV test tools exchange.
type PrivateKey struct {
	P string `json:"p"`
	Q string `json:"q"`
}

// NewPrivateKey returns k in the key file's form.
func NewPrivateKey(k *rsa.PrivateKey) PrivateKey {
	return PrivateKey{P: hex.EncodeToString(k.Primes[0].Bytes()), Q: hex.EncodeToString(k.Primes[1].Bytes())}
}

// RSA rebuilds the key. Go's parsers reject exponent 3, hence the primes.
func (k PrivateKey) RSA() (*rsa.PrivateKey, error) {
	p, okP := new(big.Int).SetString(k.P, 16)
	q, okQ := new(big.Int).SetString(k.Q, 16)
	// EMV keys are at least 512 bits; this also keeps zero, one and
	// negative numbers away from the arithmetic below.
	if !okP || !okQ || p.BitLen() < 256 || q.BitLen() < 256 {
		return nil, fmt.Errorf("%w: private key primes are not hex numbers of 256 bits or more", ErrProfile)
	}
	one, three := big.NewInt(1), big.NewInt(3)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(three, phi)
	if d == nil {
		return nil, fmt.Errorf("%w: private key primes do not suit exponent 3", ErrProfile)
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 3},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("%w: private key: %v", ErrProfile, err)
	}
	key.Precompute()
	return key, nil
}

// ReadKeyFile decodes a key file.
func ReadKeyFile(r io.Reader) (*KeyFile, error) {
	var k KeyFile
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("%w: key file: %v", ErrProfile, err)
	}
	return &k, nil
}

// odaKeys is a key file decoded for use.
type odaKeys struct {
	caIndex                                byte
	issuerCert, issuerRemainder, issuerExp []byte
	iccCert, iccRemainder, iccExp          []byte
	icc                                    *rsa.PrivateKey
}

// loadKeys reads the profile's key file, nil when it has none.
func (p *Profile) loadKeys() (*odaKeys, error) {
	if p.ODA == nil {
		return nil, nil
	}
	f, err := os.Open(filepath.Join(p.dir, p.ODA.Keys))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProfile, err)
	}
	defer f.Close()
	kf, err := ReadKeyFile(f)
	if err != nil {
		return nil, err
	}
	return kf.decode()
}

func (kf *KeyFile) decode() (*odaKeys, error) {
	k := &odaKeys{}
	var idx []byte
	for _, f := range []struct {
		name string
		in   string
		out  *[]byte
	}{
		{"ca_index", kf.CAIndex, &idx},
		{"issuer_cert", kf.IssuerCert, &k.issuerCert},
		{"issuer_remainder", kf.IssuerRemainder, &k.issuerRemainder},
		{"issuer_exponent", kf.IssuerExponent, &k.issuerExp},
		{"icc_cert", kf.ICCCert, &k.iccCert},
		{"icc_remainder", kf.ICCRemainder, &k.iccRemainder},
		{"icc_exponent", kf.ICCExponent, &k.iccExp},
	} {
		b, err := hex.DecodeString(f.in)
		if err != nil {
			return nil, fmt.Errorf("%w: key file field %s is not hex", ErrProfile, f.name)
		}
		*f.out = b
	}
	if len(idx) != 1 || len(k.issuerCert) == 0 || len(k.iccCert) == 0 {
		return nil, fmt.Errorf("%w: key file lacks the CA index or a certificate", ErrProfile)
	}
	k.caIndex = idx[0]
	var err error
	if k.icc, err = kf.ICCKey.RSA(); err != nil {
		return nil, err
	}
	return k, nil
}
