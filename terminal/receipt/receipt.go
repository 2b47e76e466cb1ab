// Package receipt prints what a card receipt carries — merchant, date and
// time, masked PAN, application label and AID, CVM, TVR and TSI, ATC,
// approval code or "OFFLINE APPROVED", amount and currency — as text, and
// makes the e-receipt link a shopper can scan (shown as a QR code by the
// kiosk and by posctl tap --qr). It also parses and formats amounts in
// minor units for a currency, without floating point.
//
// A receipt never holds a full PAN: the caller hands it the masked one.
package receipt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Result is the line a receipt prints in capitals under the amount.
type Result string

// Results a receipt shows.
const (
	ApprovedOnline  Result = "APPROVED"
	ApprovedOffline Result = "OFFLINE APPROVED"
	Declined        Result = "DECLINED"
	Voided          Result = "VOIDED"
	Reversed        Result = "REVERSED"
)

// A Receipt is one transaction as printed.
type Receipt struct {
	ID         string // the terminal's transaction id
	Merchant   string // the shop's name
	MerchantID string
	TerminalID string
	Time       time.Time // printed in its own location
	Type       string    // "SALE", "REFUND", "VOID"
	Result     Result
	Amount     int64 // minor units of Currency
	Currency   Currency

	MaskedPAN    string // 541333******0345; never a full PAN
	Label        string // application label (50)
	AID          string // hex
	CVM          string // e.g. "no CVM", "CDCVM", "signature"
	TVR          string // hex, 5 bytes
	TSI          string // hex, 2 bytes
	ATC          string // hex
	ApprovalCode string
	Reason       string // why it was declined, in words
	OrigTxnID    string // the sale a refund or void refers to
	Link         string // the e-receipt link; "" prints none
}

// width is the paper width in characters of a typical 58 mm printer.
const width = 32

// WriteText prints the receipt as plain text, width characters a line.
func (r *Receipt) WriteText(w io.Writer) error {
	var b strings.Builder
	center := func(s string) {
		if pad := (width - len([]rune(s))) / 2; pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	pair := func(k, v string) {
		if v == "" {
			return
		}
		pad := width - len([]rune(k)) - len([]rune(v))
		if pad < 1 {
			pad = 1
		}
		b.WriteString(k + strings.Repeat(" ", pad) + v + "\n")
	}
	rule := strings.Repeat("-", width) + "\n"

	center(r.Merchant)
	pair("MERCHANT", r.MerchantID)
	pair("TERMINAL", r.TerminalID)
	pair("DATE", r.Time.Format("2006-01-02"))
	pair("TIME", r.Time.Format("15:04:05"))
	pair("TXN", r.ID)
	if r.OrigTxnID != "" {
		pair("ORIG TXN", r.OrigTxnID)
	}
	b.WriteString(rule)
	center(r.Type)
	pair("CARD", r.MaskedPAN)
	pair("APP", r.Label)
	pair("AID", r.AID)
	pair("CVM", r.CVM)
	pair("TVR", r.TVR)
	pair("TSI", r.TSI)
	pair("ATC", r.ATC)
	b.WriteString(rule)
	amount := r.Amount
	if r.Type == "REFUND" {
		amount = -amount
	}
	pair("AMOUNT "+r.Currency.Alpha, r.Currency.Format(amount))
	b.WriteString(rule)
	center(string(r.Result))
	if r.ApprovalCode != "" {
		pair("APPROVAL CODE", r.ApprovalCode)
	}
	if r.Reason != "" {
		center(r.Reason)
	}
	if r.CVM == "signature" && (r.Result == ApprovedOnline || r.Result == ApprovedOffline) {
		b.WriteString("\n\nSIGNATURE\n" + strings.Repeat(".", width) + "\n")
	}
	if r.Link != "" {
		b.WriteString(rule)
		center("E-RECEIPT")
		b.WriteString(r.Link + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// macLen is the length of the link's MAC in bytes: 128 bits stops forgery,
// and the link stays short enough for a small QR code.
const macLen = 16

// A Linker makes and checks e-receipt links: base URL, receipt id and a
// MAC under the merchant's key, so nobody can enumerate receipts. The link
// carries no card data.
type Linker struct {
	Base string // e.g. "https://r.tappos.example"
	Key  []byte // at least 16 bytes
}

// ErrBadLink reports a link that is malformed or whose MAC does not match.
var ErrBadLink = errors.New("bad e-receipt link")

// Link returns the e-receipt link for a receipt id.
func (l Linker) Link(id string) string {
	return strings.TrimRight(l.Base, "/") + "/r/" + url.PathEscape(id) + "?m=" + hex.EncodeToString(l.mac(id))
}

// Check verifies a link and returns its receipt id.
func (l Linker) Check(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadLink, err)
	}
	id, ok := strings.CutPrefix(u.EscapedPath(), strings.TrimRight(mustPath(l.Base), "/")+"/r/")
	if !ok || id == "" {
		return "", fmt.Errorf("%w: not under %s", ErrBadLink, l.Base)
	}
	if id, err = url.PathUnescape(id); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadLink, err)
	}
	got, err := hex.DecodeString(u.Query().Get("m"))
	if err != nil || !hmac.Equal(got, l.mac(id)) {
		return "", fmt.Errorf("%w: MAC does not match", ErrBadLink)
	}
	return id, nil
}

func mustPath(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.EscapedPath()
}

func (l Linker) mac(id string) []byte {
	m := hmac.New(sha256.New, l.Key)
	m.Write([]byte("tappos e-receipt\x00" + id))
	return m.Sum(nil)[:macLen]
}
