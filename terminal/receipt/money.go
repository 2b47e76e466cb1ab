package receipt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A Currency is an ISO 4217 currency as a terminal prints it.
type Currency struct {
	Numeric  int    // 5F2A, e.g. 156
	Alpha    string // e.g. "CNY"
	Exponent int    // minor-unit digits (5F36), e.g. 2
	Symbol   string // e.g. "¥"; "" prints the alphabetic code
}

// currencies are the ones tappos's shops use; others are looked up by
// the caller's configuration.
var currencies = []Currency{
	{156, "CNY", 2, "¥"},
	{840, "USD", 2, "$"},
	{978, "EUR", 2, "€"},
	{826, "GBP", 2, "£"},
	{392, "JPY", 0, "¥"},
	{344, "HKD", 2, "HK$"},
}

// ErrUnknownCurrency reports a currency code not in the table.
var ErrUnknownCurrency = errors.New("unknown currency")

// LookupCurrency finds a currency by ISO 4217 numeric ("156") or
// alphabetic ("CNY") code.
func LookupCurrency(code string) (Currency, error) {
	for _, c := range currencies {
		if strings.EqualFold(code, c.Alpha) || code == strconv.Itoa(c.Numeric) || code == fmt.Sprintf("%03d", c.Numeric) {
			return c, nil
		}
	}
	return Currency{}, fmt.Errorf("%w %q", ErrUnknownCurrency, code)
}

// ErrAmount reports an amount that does not parse.
var ErrAmount = errors.New("bad amount")

// maxAmount is the largest amount an EMV n12 field (9F02) holds.
const maxAmount = 999_999_999_999

// ParseAmount reads a decimal amount such as "12.50" into minor units of
// c, without floating point: "12.5" and "12.50" are 1250 for a currency
// with two decimals, "12.505" is an error, as is a negative amount.
func (c Currency) ParseAmount(s string) (int64, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	switch {
	case whole == "" && frac == "", !digits(whole), hasDot && (frac == "" || !digits(frac)):
		return 0, fmt.Errorf("%w %q: want digits with an optional decimal point", ErrAmount, s)
	case len(frac) > c.Exponent:
		return 0, fmt.Errorf("%w %q: %s has %d decimals", ErrAmount, s, c.Alpha, c.Exponent)
	case len(whole)+c.Exponent > 12:
		return 0, fmt.Errorf("%w %q: too large", ErrAmount, s)
	}
	frac += strings.Repeat("0", c.Exponent-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || v > maxAmount {
		return 0, fmt.Errorf("%w %q: too large", ErrAmount, s)
	}
	return v, nil
}

// digits reports whether s is ASCII digits only ("" is).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decimal writes minor units as a decimal number: 1250 → "12.50".
func (c Currency) Decimal(minor int64) string {
	sign := ""
	u := uint64(minor)
	if minor < 0 {
		sign, u = "-", uint64(-minor)
	}
	s := strconv.FormatUint(u, 10)
	if c.Exponent <= 0 {
		return sign + s
	}
	if len(s) <= c.Exponent {
		s = strings.Repeat("0", c.Exponent-len(s)+1) + s
	}
	return sign + s[:len(s)-c.Exponent] + "." + s[len(s)-c.Exponent:]
}

// Format writes an amount with its symbol: "¥12.50", "-$3.00", or
// "CNY 12.50" for a currency without a symbol.
func (c Currency) Format(minor int64) string {
	d := c.Decimal(minor)
	if c.Symbol == "" {
		return c.Alpha + " " + d
	}
	if strings.HasPrefix(d, "-") {
		return "-" + c.Symbol + d[1:]
	}
	return c.Symbol + d
}
