package oda

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// CAKey is a certification authority public key (EMV Book 2 §11.2).
type CAKey struct {
	RID     [5]byte
	Index   byte   // 8F, CA public key index
	Expiry  string // MMYY as listed, "" when the file has none
	HashAlg byte
	PKAlg   byte
	*PublicKey
}

type caKeyID struct {
	rid   [5]byte
	index byte
}

// CAKeyStore holds CA public keys by RID and index.
type CAKeyStore struct {
	keys map[caKeyID]*CAKey
	// rejected records keys whose check value did not verify, so a lookup
	// can say why rather than "not found".
	rejected map[caKeyID]error

	// AcceptExpired lets keys past their expiry recover issuer keys. A
	// live terminal leaves it false: the schemes have an expired key
	// withdrawn. Test environments may set it, because the schemes'
	// published test keys stay in use long after the expiry they list
	// (the recorded transactions in testdata/traces were made so).
	AcceptExpired bool
}

// caKeyJSON is one entry of a CAPK file such as testdata/capk/capk-test.json.
type caKeyJSON struct {
	RID      string  `json:"rid"`
	Index    string  `json:"index"`
	Modulus  string  `json:"modulus"`
	Exponent string  `json:"exponent"`
	Expiry   *string `json:"expiry"`
	SHA1     *string `json:"sha1"`
	HashAlg  byte    `json:"hash_alg"`
	PKAlg    byte    `json:"pk_alg"`
}

// LoadCAKeys reads a JSON list of CA public keys. A malformed entry fails
// the whole file; an entry whose SHA-1 check value (over RID, index,
// modulus and exponent) is absent or wrong is kept out of the store, and
// looking it up returns ErrCAKeyCheckValue.
func LoadCAKeys(r io.Reader) (*CAKeyStore, error) {
	var entries []caKeyJSON
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("oda: decoding CA keys: %w", err)
	}
	s := &CAKeyStore{keys: make(map[caKeyID]*CAKey), rejected: make(map[caKeyID]error)}
	for i, e := range entries {
		k, err := e.key()
		if err != nil {
			return nil, fmt.Errorf("oda: CA key %d: %w", i, err)
		}
		id := caKeyID{k.RID, k.Index}
		if _, dup := s.keys[id]; dup {
			return nil, fmt.Errorf("oda: CA key %d: duplicate RID %X index %02X", i, k.RID, k.Index)
		}
		if _, dup := s.rejected[id]; dup {
			return nil, fmt.Errorf("oda: CA key %d: duplicate RID %X index %02X", i, k.RID, k.Index)
		}
		if e.SHA1 == nil || !k.checkValueMatches(*e.SHA1) {
			s.rejected[id] = ErrCAKeyCheckValue
			continue
		}
		s.keys[id] = k
	}
	return s, nil
}

func (e caKeyJSON) key() (*CAKey, error) {
	rid, err := hex.DecodeString(e.RID)
	if err != nil || len(rid) != 5 {
		return nil, fmt.Errorf("rid %q is not 5 hex bytes", e.RID)
	}
	idx, err := hex.DecodeString(e.Index)
	if err != nil || len(idx) != 1 {
		return nil, fmt.Errorf("index %q is not 1 hex byte", e.Index)
	}
	mod, err := hex.DecodeString(e.Modulus)
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	exp, err := hex.DecodeString(e.Exponent)
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	pub, err := NewPublicKey(mod, exp)
	if err != nil {
		return nil, err
	}
	pub.memo = new(recoverMemo)
	k := &CAKey{Index: idx[0], HashAlg: e.HashAlg, PKAlg: e.PKAlg, PublicKey: pub}
	copy(k.RID[:], rid)
	if e.Expiry != nil {
		if !validMMYY(*e.Expiry) {
			return nil, fmt.Errorf("expiry %q: %w", *e.Expiry, ErrBadDate)
		}
		k.Expiry = *e.Expiry
	}
	return k, nil
}

// Expired reports whether date is past the key's expiry month. A key with
// no expiry listed never expires.
func (k *CAKey) Expired(date time.Time) bool {
	if k.Expiry == "" {
		return false
	}
	mmyy, _ := hex.DecodeString(k.Expiry) // checked MMYY digits: BCD
	return checkExpiry(mmyy, date) != nil
}

func (k *CAKey) checkValueMatches(want string) bool {
	w, err := hex.DecodeString(want)
	if err != nil {
		return false
	}
	h := sha1.New()
	h.Write(k.RID[:])
	h.Write([]byte{k.Index})
	h.Write(k.Modulus)
	h.Write(k.Exponent)
	return bytes.Equal(h.Sum(nil), w)
}

// Key returns the CA key for the RID (the first 5 bytes of the AID are
// accepted too) and index 8F.
func (s *CAKeyStore) Key(rid []byte, index byte) (*CAKey, error) {
	const step = "CA public key"
	if len(rid) < 5 {
		return nil, fail(step, ErrMissing)
	}
	var id caKeyID
	copy(id.rid[:], rid[:5])
	id.index = index
	if k, ok := s.keys[id]; ok {
		return k, nil
	}
	if err, ok := s.rejected[id]; ok {
		return nil, fail(step, err)
	}
	return nil, fail(step, ErrCAKeyNotFound)
}

// CardKey returns the CA key the card's certificates chain to (RID from
// its AID, index 8F) when the terminal may use it on date: listed, its
// check value verified, and not past its expiry unless AcceptExpired. A
// nil store holds no keys.
func (s *CAKeyStore) CardKey(c *Card, date time.Time) (*CAKey, error) {
	if len(c.CAIndex) != 1 {
		return nil, fail("CA public key index", ErrMissing)
	}
	if s == nil {
		return nil, fail("CA public key", ErrCAKeyNotFound)
	}
	ca, err := s.Key(c.AID, c.CAIndex[0])
	if err != nil {
		return nil, err
	}
	if ca.Expired(date) && !s.AcceptExpired {
		// The schemes have terminals withdraw a CA key once it expires:
		// certificates it signed prove nothing any more.
		return nil, fail("CA public key", ErrCAKeyExpired)
	}
	return ca, nil
}

// validMMYY reports whether s is an MMYY date written as 4 decimal digits.
func validMMYY(s string) bool {
	if len(s) != 4 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	month := int(s[0]-'0')*10 + int(s[1]-'0')
	return month >= 1 && month <= 12
}
