package offline

import (
	"errors"
	"strings"
	"testing"

	"tappos/emv/tags"
)

func FuzzCardPAN(f *testing.F) {
	f.Add(emvData(testPANs[0], 100, 1))
	f.Add([]byte{0x57, 0x08, 0x54, 0x13, 0x33, 0x00, 0x89, 0x01, 0x03, 0x4D})
	f.Add([]byte{0x5A, 0x03, 0x12, 0x34, 0x5F})
	f.Add([]byte{0x9F, 0x02, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0A})
	f.Add([]byte{0x5A, 0x82, 0xFF})
	f.Fuzz(func(t *testing.T, emv []byte) {
		pan, amount, _, err := cardPAN(emv)
		if err != nil {
			if !errors.Is(err, ErrBadEMVData) {
				t.Fatalf("error %v does not wrap ErrBadEMVData", err)
			}
			return
		}
		if len(pan) < 12 || len(pan) > 19 || strings.Trim(pan, "0123456789") != "" {
			t.Fatalf("accepted PAN of length %d", len(pan))
		}
		if amount < 0 || amount > 999_999_999_999 {
			t.Fatalf("amount %d", amount)
		}
		if m := tags.MaskPAN(pan); strings.Contains(m, pan) || len(m) != len(pan) {
			t.Fatalf("mask %q", m)
		}
	})
}

func FuzzUnseal(f *testing.F) {
	s, err := newSealer(testKey, &countingRand{})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.seal("t-1", emvData(testPANs[0], 100, 1))
	f.Add("t-1", good)
	f.Add("t-2", good)
	f.Add("t-1", good[:12])
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, id string, blob []byte) {
		out, err := s.open(id, blob)
		if err != nil && !errors.Is(err, ErrUnseal) {
			t.Fatalf("error %v is not ErrUnseal", err)
		}
		if err == nil && (id != "t-1" || string(blob) != string(good)) && out != nil {
			// Only a genuine blob opens under its own id (forgery would
			// break GCM).
			t.Fatalf("forged blob opened")
		}
	})
}

func FuzzAnswer(f *testing.F) {
	f.Add(200, []byte(`{"outcome":"approved","authorization_id":"au-1"}`))
	f.Add(200, []byte(`{"outcome":"approved","reason":"overdraft","overdraft":5}`))
	f.Add(200, []byte(`{"outcome":"declined","reason":"unknown_card"}`))
	f.Add(409, []byte(`{"outcome":"rejected","reason":"duplicate_transaction"}`))
	f.Add(409, []byte(`{"error":{"code":"idempotency_key_in_flight","message":"x"}}`))
	f.Add(503, []byte(`<html>`))
	f.Add(200, []byte(`{"outcome":"maybe"}`))
	f.Fuzz(func(t *testing.T, status int, raw []byte) {
		r, err := answerResult("t", status, raw)
		if err == nil && (!r.State.final() || r.TxnID != "t") {
			t.Fatalf("result %+v without error", r)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32)))
	f.Add([]byte(strings.Repeat("x", 32)))
	f.Add([]byte(" " + strings.Repeat("0", 64) + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err == nil && len(b) != 32 && len(strings.TrimSpace(string(b))) != 64 {
			t.Fatalf("accepted %d bytes as key %x", len(b), k)
		}
	})
}

func TestAnswerResult(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		state   State
		reason  string
		wantErr error // nil: success; errAny: any error
	}{
		{"approved", 200, `{"outcome":"approved","authorization_id":"au-1"}`, StateAccepted, "", nil},
		{"overdraft", 200, `{"outcome":"approved","reason":"overdraft","overdraft":500}`, StateBookedOverdraft, "overdraft", nil},
		{"declined", 200, `{"outcome":"declined","reason":"bad_cryptogram"}`, StateDeclined, "bad_cryptogram", nil},
		{"duplicate under another key", 409, `{"outcome":"rejected","reason":"duplicate_transaction"}`, StateDeclined, "duplicate_transaction", nil},
		{"in flight", 409, `{"error":{"code":"idempotency_key_in_flight","message":"retry"}}`, "", "", ErrUnavailable},
		{"rate limited", 429, `{"error":{"code":"rate_limited"}}`, "", "", ErrUnavailable},
		{"down", 502, `<html>bad gateway</html>`, "", "", ErrUnavailable},
		{"unauthorized", 401, `{"error":{"code":"unauthorized"}}`, "", "", errAny},
		{"garbage", 200, `not json`, "", "", errAny},
		{"unknown outcome", 200, `{"outcome":"maybe"}`, "", "", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := answerResult("t", tt.status, []byte(tt.body))
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("err %v", err)
			case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && (r.State != tt.state || r.Reason != tt.reason):
				t.Errorf("result %+v, want %s %q", r, tt.state, tt.reason)
			}
		})
	}
}

var errAny = errors.New("any error")
