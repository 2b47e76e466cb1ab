package offline

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xA5}, 32)
	var want Key
	copy(want[:], raw)
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    error // nil for success
	}{
		{"raw 0600", raw, 0o600, nil},
		{"hex 0400", []byte(hex.EncodeToString(raw) + "\n"), 0o400, nil},
		{"group readable", raw, 0o640, ErrKeyPermissions},
		{"world readable", raw, 0o644, ErrKeyPermissions},
		{"too short", raw[:31], 0o600, errors.New("")},
		{"bad hex", []byte(strings.Repeat("zz", 32)), 0o600, errors.New("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, tt.content, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKey(path)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("LoadKey: %v", err)
			case tt.want == nil && k != want:
				t.Errorf("key %x", k)
			case tt.want != nil && err == nil:
				t.Errorf("LoadKey accepted it")
			case errors.Is(tt.want, ErrKeyPermissions) && !errors.Is(err, ErrKeyPermissions):
				t.Errorf("err = %v, want ErrKeyPermissions", err)
			}
			if err != nil && bytes.Contains([]byte(err.Error()), tt.content) {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
	t.Run("environment", func(t *testing.T) {
		t.Setenv(KeyEnv, hex.EncodeToString(raw))
		if k, err := LoadKey(""); err != nil || k != want {
			t.Errorf("LoadKey from env = %x, %v", k, err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		t.Setenv(KeyEnv, "")
		os.Unsetenv(KeyEnv)
		if _, err := LoadKey(""); !errors.Is(err, ErrNoKey) {
			t.Errorf("err = %v, want ErrNoKey", err)
		}
	})
}

func TestSealBoundToTxn(t *testing.T) {
	s, err := newSealer(testKey, &countingRand{})
	if err != nil {
		t.Fatal(err)
	}
	data := emvData(testPANs[0], 100, 1)
	blob, err := s.seal("a", data)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.open("a", blob); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("open = %x, %v", got, err)
	}
	tamper := append([]byte(nil), blob...)
	tamper[len(tamper)-1] ^= 1
	for name, tc := range map[string]struct {
		id   string
		blob []byte
	}{
		"other txn": {"b", blob},
		"flipped":   {"a", tamper},
		"short":     {"a", blob[:10]},
		"empty":     {"a", nil},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.open(tc.id, tc.blob); !errors.Is(err, ErrUnseal) {
				t.Errorf("err = %v, want ErrUnseal", err)
			}
		})
	}
}
