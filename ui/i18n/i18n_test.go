package i18n

import (
	"errors"
	"math"
	"strings"
	"testing"
)

var eur = Currency{"EUR", 978, 2}

func TestMoney(t *testing.T) {
	jpy, _ := CurrencyByAlpha("JPY")
	cny, _ := CurrencyByNumeric(156)
	hkd, _ := CurrencyByNumeric(344)
	tests := []struct {
		name  string
		lang  Lang
		minor int64
		cur   Currency
		want  string
	}{
		{"zero", English, 0, eur, "€0.00"},
		{"cents", English, 5, eur, "€0.05"},
		{"grouping", English, 123456789, eur, "€1,234,567.89"},
		{"negative", English, -500, eur, "-€5.00"},
		{"yen_en", English, 1200, jpy, "¥1,200"},
		{"yen_zh", Chinese, 1200, jpy, "JP¥1,200"},
		{"yuan_en", English, 1999, cny, "CN¥19.99"},
		{"yuan_zh", Chinese, 1999, cny, "¥19.99"},
		{"hk_dollar", English, 123450, hkd, "HK$1,234.50"},
		{"unknown", English, 100, Currency{"XTS", 963, 2}, "XTS 1.00"},
		{"min_int64", English, math.MinInt64, eur, "-€92,233,720,368,547,758.08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MustNew(tt.lang).Money(tt.minor, tt.cur); got != tt.want {
				t.Errorf("Money(%d %s) = %q, want %q", tt.minor, tt.cur.Alpha, got, tt.want)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	jpy, _ := CurrencyByAlpha("jpy")
	cny, _ := CurrencyByAlpha("cny")
	kwd := Currency{"KWD", 414, 3} // not in the table: no symbol but its code
	tests := []struct {
		name string
		in   string
		cur  Currency
		want int64
		err  bool
	}{
		{"two decimals", "12.50", eur, 1250, false},
		{"one decimal", "12.5", eur, 1250, false},
		{"whole", "12", eur, 1200, false},
		{"decimals only", ".5", eur, 50, false},
		{"trailing dot", "12.", eur, 1200, false},
		{"grouped", "1,234.56", eur, 123456, false},
		{"grouped twice", "1,234,567", eur, 123456700, false},
		{"spaces around", " 7 ", eur, 700, false},
		{"euro symbol", "€12.50", eur, 1250, false},
		{"code", "EUR 12.50", eur, 1250, false},
		{"yen whole", "1200", jpy, 1200, false},
		{"yen as written in English", "¥1,200", jpy, 1200, false},
		{"yen as written in Chinese", "JP¥1,200", jpy, 1200, false},
		{"yuan as written in English", "CN¥12.50", cny, 1250, false},
		{"yuan as written in Chinese", "¥12.50", cny, 1250, false},
		{"three decimals", "1.234", kwd, 1234, false},
		{"three-decimal code", "KWD 0.5", kwd, 500, false},
		{"largest", "9999999999.99", eur, 999999999999, false},

		{"empty", "", eur, 0, true},
		{"dot only", ".", eur, 0, true},
		{"symbol only", "€", eur, 0, true},
		{"negative", "-5", eur, 0, true},
		{"negative after symbol", "€-5", eur, 0, true},
		{"plus sign", "+5", eur, 0, true},
		{"letters first", "abc5", eur, 0, true},
		{"letters after", "5abc", eur, 0, true},
		{"another currency's symbol", "$5", eur, 0, true},
		{"symbol twice", "€€5", eur, 0, true},
		{"commas anywhere", "1,2,3", eur, 0, true},
		{"decimal comma", "12,50", eur, 0, true},
		{"leading comma", ",123", eur, 0, true},
		{"first group too long", "1234,567", eur, 0, true},
		{"comma in decimals", "1.2,3", eur, 0, true},
		{"two dots", "1.2.3", eur, 0, true},
		{"too many decimals", "1.234", eur, 0, true},
		{"yen decimals", "12.5", jpy, 0, true},
		{"too many of three decimals", "1.2345", kwd, 0, true},
		{"exponent", "1e3", eur, 0, true},
		{"space inside", "1 234", eur, 0, true},
		{"full-width digits", "１２", eur, 0, true},
		{"too large", "10000000000.00", eur, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.cur)
			if tt.err {
				if !errors.Is(err, ErrAmount) {
					t.Errorf("ParseAmount(%q) = %d, %v; want ErrAmount", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseAmount(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.50", "1,234.56", ".", "", "9999999999.99", "１２"} {
		f.Add(s)
	}
	en := MustNew(English)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseAmount(s, eur)
		if err != nil {
			return
		}
		if v < 0 || v > maxMinor {
			t.Fatalf("ParseAmount(%q) = %d out of range", s, v)
		}
		// What the kiosk prints, it reads back.
		back, err := ParseAmount(strings.TrimPrefix(en.Money(v, eur), "€"), eur)
		if err != nil || back != v {
			t.Fatalf("round trip of %d: %d, %v", v, back, err)
		}
	})
}

func TestTranslationsComplete(t *testing.T) {
	en := MustNew(English)
	for _, l := range Langs {
		t.Run(string(l), func(t *testing.T) {
			c := MustNew(l)
			for _, k := range en.Keys() {
				if !c.Has(k) {
					t.Errorf("%s lacks %q", l, k)
				}
			}
			for _, k := range c.Keys() {
				if !en.Has(k) {
					t.Errorf("%s has %q, which English lacks", l, k)
				}
				if strings.Count(c.T(k), "{{") != strings.Count(en.T(k), "{{") {
					t.Errorf("%s %q: placeholders differ from English", l, k)
				}
			}
		})
	}
}

func TestT(t *testing.T) {
	c := MustNew(Chinese)
	if got, want := c.T("batch.title", "Number", 7), "批次 7"; got != want {
		t.Errorf("T = %q, want %q", got, want)
	}
	if got := c.T("no.such.id"); got != "no.such.id" {
		t.Errorf("unknown id = %q", got)
	}
}

func TestMatch(t *testing.T) {
	for in, want := range map[string]Lang{"zh-CN": Chinese, "zh_CN.UTF-8": Chinese, "en-GB": English, "C": English, "": English} {
		if got := Match(in); got != want {
			t.Errorf("Match(%q) = %s, want %s", in, got, want)
		}
	}
}
