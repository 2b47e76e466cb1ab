package offline

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// KeyEnv is the environment variable that may hold the terminal key, as 64
// hex digits.
const KeyEnv = "TAPPOS_TERMINAL_KEY"

// A Key is the terminal's 32-byte secret. The sealing key and the card
// token key are derived from it, so one secret serves both.
type Key [32]byte

// ErrKeyPermissions is returned for a key file readable or writable by
// anyone but its owner.
var ErrKeyPermissions = errors.New("key file must have mode 0600 or stricter")

// ErrNoKey is returned by [LoadKey] when neither a file nor the environment
// gives a key.
var ErrNoKey = errors.New("no terminal key: give a key file or set " + KeyEnv)

// LoadKey reads the terminal key from the file at path or, if path is
// empty, from the environment variable [KeyEnv]. The file holds 32 raw
// bytes or 64 hex digits, and must not be accessible to group or others.
func LoadKey(path string) (Key, error) {
	if path == "" {
		v, ok := os.LookupEnv(KeyEnv)
		if !ok {
			return Key{}, ErrNoKey
		}
		k, err := ParseKey([]byte(v))
		if err != nil {
			return Key{}, fmt.Errorf("reading %s: %w", KeyEnv, err)
		}
		return k, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("opening key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Key{}, fmt.Errorf("opening key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Key{}, fmt.Errorf("key file %s has mode %04o: %w", path, st.Mode().Perm(), ErrKeyPermissions)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return Key{}, fmt.Errorf("reading key file: %w", err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return Key{}, fmt.Errorf("reading key file %s: %w", path, err)
	}
	return k, nil
}

// ParseKey accepts 32 raw bytes or 64 hex digits, with surrounding white
// space allowed around the hex form.
func ParseKey(b []byte) (Key, error) {
	var k Key
	if len(b) == len(k) {
		copy(k[:], b)
		return k, nil
	}
	s := strings.TrimSpace(string(b))
	if len(s) != 2*len(k) {
		return Key{}, errors.New("key must be 32 bytes or 64 hex digits")
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return Key{}, errors.New("key is not valid hex")
	}
	return k, nil
}

// derive returns a subkey for one purpose, so that the sealing key and the
// token key never coincide.
func (k Key) derive(purpose string) []byte {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// sealer encrypts and authenticates the EMV data of items.
type sealer struct {
	aead  cipher.AEAD
	token []byte // key of card tokens
	rand  io.Reader
}

func newSealer(k Key, rand io.Reader) (*sealer, error) {
	block, err := aes.NewCipher(k.derive("tappos offline seal v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, token: k.derive("tappos offline card token v1"), rand: rand}, nil
}

// seal encrypts data, binding it to the item's transaction id so that a
// blob moved to another row does not open.
func (s *sealer) seal(txnID string, data []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(data)+s.aead.Overhead())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("making nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, data, []byte(txnID)), nil
}

// ErrUnseal is returned for sealed data that does not open: a wrong key or
// a damaged row.
var ErrUnseal = errors.New("sealed EMV data does not open (wrong key or damaged)")

func (s *sealer) open(txnID string, blob []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(blob) < n+s.aead.Overhead() {
		return nil, ErrUnseal
	}
	out, err := s.aead.Open(nil, blob[:n], blob[n:], []byte(txnID))
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}

// cardToken is the terminal's name for a card: an HMAC of the PAN under a
// terminal key. The ledger cannot compute it, nor can anyone without the
// key turn it back into the PAN by trying PANs.
func (s *sealer) cardToken(pan string) string {
	m := hmac.New(sha256.New, s.token)
	m.Write([]byte(pan))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
