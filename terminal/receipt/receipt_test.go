package receipt

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	cny     = Currency{156, "CNY", 2, "¥"}
	shop    = time.FixedZone("CST", 8*3600)
	at      = time.Date(2026, 11, 26, 14, 3, 27, 0, shop)
	linker  = Linker{Base: "https://r.tappos.example", Key: []byte("0123456789abcdef0123456789abcdef")}
	visaPAN = "476173******0028"
)

func base(id string) Receipt {
	return Receipt{
		ID: id, Merchant: "Demo Café", MerchantID: "TAPPOS-CN-0001", TerminalID: "CN000001",
		Time: at, Type: "SALE", Amount: 1250, Currency: cny,
		MaskedPAN: visaPAN, Label: "VISA CREDIT", AID: "A0000000031010", CVM: "no CVM",
		TVR: "0000000000", TSI: "0000", ATC: "0002", Link: linker.Link(id),
	}
}

func TestGolden(t *testing.T) {
	online := base("T20261126-000001")
	online.Result, online.ApprovalCode = ApprovedOnline, "A1B2C3"

	offline := base("T20261126-000002")
	offline.Result, offline.Label, offline.AID = ApprovedOffline, "MASTERCARD", "A0000000041010"
	offline.MaskedPAN, offline.ATC = "541333******0345", "0011"

	declined := base("T20261126-000003")
	declined.Result, declined.Reason, declined.Amount = Declined, "insufficient funds", 98000
	declined.CVM, declined.TVR = "online PIN", "0000008000"

	refund := base("T20261126-000004")
	refund.Type, refund.Result, refund.ApprovalCode = "REFUND", ApprovedOnline, "R9X8Y7"
	refund.OrigTxnID, refund.Amount = "T20261126-000001", 500

	signature := base("T20261126-000005")
	signature.Result, signature.ApprovalCode, signature.CVM = ApprovedOnline, "000042", "signature"
	signature.Currency, signature.Amount = Currency{840, "USD", 2, "$"}, 15000
	signature.Link = ""

	tests := []struct {
		name string
		r    Receipt
	}{
		{"approved-online", online},
		{"approved-offline", offline},
		{"declined", declined},
		{"refund", refund},
		{"signature-usd", signature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name+".txt")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("receipt differs from %s:\n%s", golden, b.String())
			}
		})
	}
}

func TestLink(t *testing.T) {
	link := linker.Link("T20261126-000001")
	if !strings.HasPrefix(link, "https://r.tappos.example/r/T20261126-000001?m=") {
		t.Fatalf("link %s", link)
	}
	id, err := linker.Check(link)
	if err != nil || id != "T20261126-000001" {
		t.Fatalf("Check = %q, %v", id, err)
	}
	tests := []struct {
		name, link string
	}{
		{"other id", strings.Replace(link, "000001", "000002", 1)},
		{"flipped mac", link[:len(link)-1] + map[bool]string{true: "1", false: "0"}[link[len(link)-1] == '0']},
		{"no mac", "https://r.tappos.example/r/T20261126-000001"},
		{"other base", strings.Replace(link, "/r/", "/x/", 1)},
		{"other key", Linker{Base: linker.Base, Key: []byte("another key 0123")}.Link("T20261126-000001")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := linker.Check(tt.link); !errors.Is(err, ErrBadLink) {
				t.Fatalf("Check(%s) = %v, want ErrBadLink", tt.link, err)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	jpy := Currency{392, "JPY", 0, "¥"}
	tests := []struct {
		name string
		c    Currency
		in   string
		want int64
		ok   bool
	}{
		{"two decimals", cny, "12.50", 1250, true},
		{"one decimal", cny, "12.5", 1250, true},
		{"whole", cny, "12", 1200, true},
		{"leading dot", cny, ".05", 5, true},
		{"zero", cny, "0.00", 0, true},
		{"largest", cny, "9999999999.99", 999_999_999_999, true},
		{"too many decimals", cny, "12.505", 0, false},
		{"too large", cny, "10000000000", 0, false},
		{"negative", cny, "-1.00", 0, false},
		{"comma", cny, "12,50", 0, false},
		{"empty", cny, "", 0, false},
		{"dot only", cny, ".", 0, false},
		{"trailing dot", cny, "12.", 0, false},
		{"exponent", cny, "1e3", 0, false},
		{"space", cny, " 12", 0, false},
		{"plus", cny, "+12", 0, false},
		{"yen", jpy, "1250", 1250, true},
		{"yen decimals", jpy, "12.5", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.ParseAmount(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("ParseAmount(%q) = %d, %v; want %d ok=%t", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrAmount) {
				t.Fatalf("error %v does not wrap ErrAmount", err)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		c     Currency
		minor int64
		want  string
	}{
		{cny, 1250, "¥12.50"},
		{cny, 5, "¥0.05"},
		{cny, 0, "¥0.00"},
		{cny, -300, "-¥3.00"},
		{Currency{840, "USD", 2, "$"}, 123456789, "$1234567.89"},
		{Currency{392, "JPY", 0, "¥"}, 1250, "¥1250"},
		{Currency{999, "XTS", 3, ""}, 1, "XTS 0.001"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.c.Format(tt.minor); got != tt.want {
				t.Fatalf("Format(%d) = %q, want %q", tt.minor, got, tt.want)
			}
		})
	}
}

func TestLookupCurrency(t *testing.T) {
	for _, code := range []string{"156", "CNY", "cny"} {
		if c, err := LookupCurrency(code); err != nil || c.Alpha != "CNY" {
			t.Errorf("LookupCurrency(%q) = %v, %v", code, c, err)
		}
	}
	if _, err := LookupCurrency("999"); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("LookupCurrency(999) err = %v", err)
	}
}

// FuzzParseAmount checks that any amount that parses formats back to the
// same value and that nothing panics.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.50", "0", ".5", "9999999999.99", "1.234", "-1", "1e9", ""} {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, exp uint8) {
		c := Currency{Alpha: "XTS", Exponent: int(exp % 4)}
		v, err := c.ParseAmount(s)
		if err != nil {
			return
		}
		if v < 0 || v > maxAmount {
			t.Fatalf("ParseAmount(%q) = %d out of range", s, v)
		}
		back, err := c.ParseAmount(c.Decimal(v))
		if err != nil || back != v {
			t.Fatalf("round trip of %q: %d → %q → %d, %v", s, v, c.Decimal(v), back, err)
		}
	})
}

// FuzzCheck feeds arbitrary links to Check: no panics, and whatever it
// accepts is the link of the id it returns.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		linker.Link("T20261126-000001"),
		linker.Link("id with spaces/and?query"),
		"https://r.tappos.example/r/x?m=zz",
		"https://r.tappos.example/r/%zz?m=00",
		"://bad",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		id, err := linker.Check(link)
		if err != nil {
			return
		}
		if again, err := linker.Check(linker.Link(id)); err != nil || again != id {
			t.Fatalf("Check(%q) = %q, but its own link gives %q, %v", link, id, again, err)
		}
	})
}
