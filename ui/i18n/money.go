package i18n

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Currency is an ISO 4217 currency.
type Currency struct {
	Alpha    string // "EUR"
	Numeric  int    // 978, as in EMV tag 5F2A
	Exponent int    // digits after the decimal point: 2 for EUR, 0 for JPY
}

// symbols holds each currency's symbol per language, after CLDR: a yuan
// is plain "¥" to a Chinese reader but "CN¥" to an English one, and the
// other way round for the yen.
var currencies = []struct {
	Currency
	en, zh string
}{
	{Currency{"EUR", 978, 2}, "€", "€"},
	{Currency{"USD", 840, 2}, "$", "US$"},
	{Currency{"GBP", 826, 2}, "£", "£"},
	{Currency{"CHF", 756, 2}, "CHF ", "CHF "},
	{Currency{"CNY", 156, 2}, "CN¥", "¥"},
	{Currency{"JPY", 392, 0}, "¥", "JP¥"},
	// Receipts print Hong Kong dollars (terminal/receipt); a shop in HKD
	// must be able to start the kiosk too.
	{Currency{"HKD", 344, 2}, "HK$", "HK$"},
}

// ErrCurrency reports a currency the kiosk does not know.
var ErrCurrency = errors.New("unknown currency")

// CurrencyByAlpha returns the currency with an alphabetic code, e.g. "EUR".
func CurrencyByAlpha(alpha string) (Currency, error) {
	for _, c := range currencies {
		if c.Alpha == strings.ToUpper(alpha) {
			return c.Currency, nil
		}
	}
	return Currency{}, fmt.Errorf("%w %q", ErrCurrency, alpha)
}

// CurrencyByNumeric returns the currency with a numeric code, e.g. 978.
func CurrencyByNumeric(n int) (Currency, error) {
	for _, c := range currencies {
		if c.Numeric == n {
			return c.Currency, nil
		}
	}
	return Currency{}, fmt.Errorf("%w %03d", ErrCurrency, n)
}

func (c *Catalog) symbol(cur Currency) string {
	for _, k := range currencies {
		if k.Numeric == cur.Numeric {
			if c.lang == Chinese {
				return k.zh
			}
			return k.en
		}
	}
	return cur.Alpha + " "
}

// Money formats an amount in minor units the way the catalog's language
// writes it: "€1,234.50", "-€5.00", "JP¥1,200". It uses integer
// arithmetic only.
func (c *Catalog) Money(minor int64, cur Currency) string {
	var b strings.Builder
	u := uint64(minor)
	if minor < 0 {
		b.WriteByte('-')
		u = uint64(-minor) // two's complement: correct even for MinInt64
	}
	b.WriteString(c.symbol(cur))
	div := uint64(1)
	for range cur.Exponent {
		div *= 10
	}
	b.WriteString(group(strconv.FormatUint(u/div, 10)))
	if cur.Exponent > 0 {
		frac := strconv.FormatUint(u%div, 10)
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", cur.Exponent-len(frac)))
		b.WriteString(frac)
	}
	return b.String()
}

// group inserts thousands separators into a string of digits.
func group(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// ErrAmount reports an amount that does not parse.
var ErrAmount = errors.New("invalid amount")

// maxMinor keeps amounts within EMV's n12 amount field.
const maxMinor = 999_999_999_999

// ParseAmount reads an amount typed in major units of cur, strictly:
// digits, grouped by thousands with commas or not at all ("1,234" or
// "1234"), then at most cur.Exponent decimals after a single '.'. The
// currency's symbol as Money writes it in any language, or its
// alphabetic code, may come first. Anything else (a sign, letters,
// commas out of place) is ErrAmount: a typo must not become another
// amount.
func ParseAmount(s string, cur Currency) (int64, error) {
	num := strings.TrimSpace(trimSymbol(strings.TrimSpace(s), cur))
	whole, frac, hasDot := strings.Cut(num, ".")
	switch {
	case whole == "" && frac == "":
		return 0, fmt.Errorf("%w %q: no digits", ErrAmount, s)
	case hasDot && cur.Exponent == 0:
		return 0, fmt.Errorf("%w %q: %s has no decimals", ErrAmount, s, cur.Alpha)
	case !allDigits(frac):
		return 0, fmt.Errorf("%w %q: not a number", ErrAmount, s)
	case len(frac) > cur.Exponent:
		return 0, fmt.Errorf("%w %q: more than %d decimals", ErrAmount, s, cur.Exponent)
	}
	whole, ok := ungroup(whole)
	if !ok {
		return 0, fmt.Errorf("%w %q: not a number", ErrAmount, s)
	}
	digits := whole + frac + strings.Repeat("0", cur.Exponent-len(frac))
	if len(digits) > 12 {
		return 0, fmt.Errorf("%w %q: too large", ErrAmount, s)
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v > maxMinor {
		return 0, fmt.Errorf("%w %q: too large", ErrAmount, s)
	}
	return v, nil
}

// trimSymbol removes one leading symbol or code of cur, longest first so
// that "CN¥" is not read as "¥".
func trimSymbol(s string, cur Currency) string {
	prefixes := []string{cur.Alpha}
	for _, c := range currencies {
		if c.Numeric == cur.Numeric {
			prefixes = append(prefixes, strings.TrimSpace(c.en), strings.TrimSpace(c.zh))
		}
	}
	best := ""
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(s, p) && len(p) > len(best) {
			best = p
		}
	}
	return s[len(best):]
}

// ungroup checks the digits before the decimal point, either plain or in
// comma-separated groups of three after a first group of one to three,
// and returns them without the commas.
func ungroup(s string) (string, bool) {
	groups := strings.Split(s, ",")
	for i, g := range groups {
		switch {
		case !allDigits(g),
			len(groups) > 1 && i == 0 && (len(g) == 0 || len(g) > 3),
			i > 0 && len(g) != 3:
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
