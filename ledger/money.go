package ledger

// Currency is an ISO 4217 currency.
type Currency struct {
	Alpha    string // "EUR"
	Numeric  uint16 // 978
	Exponent int    // minor units per major unit, as a power of ten
}

// currencies lists the currencies the ledger accepts.
var currencies = []Currency{
	{"AUD", 36, 2}, {"CAD", 124, 2}, {"CHF", 756, 2}, {"CNY", 156, 2},
	{"EUR", 978, 2}, {"GBP", 826, 2}, {"HKD", 344, 2}, {"JPY", 392, 0},
	{"SGD", 702, 2}, {"USD", 840, 2}, {"VND", 704, 0},
}

// CurrencyByAlpha returns the currency with the alphabetic code.
func CurrencyByAlpha(code string) (Currency, bool) {
	for _, c := range currencies {
		if c.Alpha == code {
			return c, true
		}
	}
	return Currency{}, false
}

// CurrencyByNumeric returns the currency with the numeric code.
func CurrencyByNumeric(code uint16) (Currency, bool) {
	for _, c := range currencies {
		if c.Numeric == code {
			return c, true
		}
	}
	return Currency{}, false
}

// MaxAmount is the largest amount the ledger accepts, the largest value
// the 12-digit EMV Amount, Authorised (9F02) can carry.
const MaxAmount = 999_999_999_999
