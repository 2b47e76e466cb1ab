package kernel

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestShopConfigs(t *testing.T) {
	for _, tc := range []struct {
		shop              string
		country, currency int
		alpha             string
	}{
		{"cn-shop", 156, 156, "CNY"},
		{"us-shop", 840, 840, "USD"},
	} {
		t.Run(tc.shop, func(t *testing.T) {
			c, err := LoadConfig(filepath.Join("..", "..", "testdata", "terminal", tc.shop+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Country != tc.country || c.Currency.Numeric != tc.currency || c.Currency.Alpha != tc.alpha {
				t.Errorf("country %d currency %+v", c.Country, c.Currency)
			}
			keys, err := c.CAKeys()
			if err != nil {
				t.Fatal(err)
			}
			// A published Mastercard test key and the tappos test CA.
			for _, k := range []struct {
				rid   string
				index byte
			}{{"A000000004", 0xF1}, {"A000000004", 0xF7}, {"A000000003", 0xF7}} {
				if _, err := keys.Key(h(k.rid), k.index); err != nil {
					t.Errorf("key %s %02X: %v", k.rid, k.index, err)
				}
			}
		})
	}
}

func TestConfigAcceptExpiredCAKeys(t *testing.T) {
	for _, accept := range []bool{false, true} {
		base, err := os.ReadFile(filepath.Join("..", "..", "testdata", "terminal", "us-shop.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		m["accept_expired_ca_keys"] = accept
		capk, err := filepath.Abs(filepath.Join("..", "..", "testdata", "capk", "capk-test.json"))
		if err != nil {
			t.Fatal(err)
		}
		m["ca_key_files"] = []string{capk}
		b, _ := json.Marshal(m)
		path := filepath.Join(t.TempDir(), "shop.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := c.CAKeys()
		if err != nil {
			t.Fatal(err)
		}
		if keys.AcceptExpired != accept {
			t.Errorf("accept_expired_ca_keys %v: store accepts expired keys: %v", accept, keys.AcceptExpired)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "..", "testdata", "terminal", "us-shop.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		alter func(m map[string]any)
	}{
		{"unknown field", func(m map[string]any) { m["floor"] = 1 }},
		{"terminal type length", func(m map[string]any) { m["terminal_type"] = "2222" }},
		{"country", func(m map[string]any) { m["country"] = 0 }},
		{"capabilities", func(m map[string]any) { m["capabilities"] = "E0" }},
		{"not hex", func(m map[string]any) { m["capabilities"] = "XYZXYZ" }},
		{"merchant category", func(m map[string]any) { m["merchant_category"] = "54A1" }},
		{"no aids", func(m map[string]any) { m["aids"] = []any{} }},
		{"kernel 7", func(m map[string]any) { aid(m)["kernel"] = 7 }},
		{"kernel 3 without TTQ", func(m map[string]any) { delete(aid(m), "ttq") }},
		{"negative limit", func(m map[string]any) { aid(m)["floor_limit"] = -1 }},
		{"on-device CVM limit on kernel 3", func(m map[string]any) { aid(m)["transaction_limit_on_device_cvm"] = 100 }},
		{"short AID", func(m map[string]any) { aid(m)["aid"] = "A000" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(base, &m); err != nil {
				t.Fatal(err)
			}
			tc.alter(m)
			b, _ := json.Marshal(m)
			if _, err := ReadConfig(strings.NewReader(string(b))); !errors.Is(err, ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}

// aid returns the first AID entry of a decoded configuration.
func aid(m map[string]any) map[string]any { return m["aids"].([]any)[0].(map[string]any) }

// TestConfigRoundTrip writes a configuration back as JSON and reads it.
func TestConfigRoundTrip(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "..", "testdata", "terminal", "cn-shop.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadConfig(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	back.dir = c.dir
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip changed the configuration:\n%s", b)
	}
}
