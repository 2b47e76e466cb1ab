// Package dbrow holds what the SQLite and PostgreSQL stores share in
// reading rows: times kept as microseconds, and for chat checkout the
// column lists of mandates, checkout sessions and catalog items with the
// code that scans a row of each.
package dbrow

import (
	"encoding/json"
	"fmt"
	"time"

	"tappos/ledger"
)

// Scanner is a row of either database driver.
type Scanner interface{ Scan(...any) error }

// MandateCols are the columns ScanMandate reads, in order.
const MandateCols = `id, wallet_id, agent_key_id, currency, max_per_purchase, budget, period_us, merchants,
	expires_at, status, created_at, updated_at`

// ScanMandate reads a row of MandateCols.
func ScanMandate(sc Scanner) (ledger.Mandate, error) {
	var m ledger.Mandate
	var period, exp, created, updated int64
	var merchants string
	err := sc.Scan(&m.ID, &m.WalletID, &m.AgentKeyID, &m.Currency, &m.MaxPerPurchase, &m.Budget, &period,
		&merchants, &exp, &m.Status, &created, &updated)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(merchants), &m.Merchants); err != nil {
		return m, fmt.Errorf("decoding merchants of mandate %s: %w", m.ID, err)
	}
	m.Period = time.Duration(period) * time.Microsecond
	m.ExpiresAt, m.CreatedAt, m.UpdatedAt = FromMicros(exp), FromMicros(created), FromMicros(updated)
	return m, nil
}

// SessionCols are the columns ScanSession reads, in order.
const SessionCols = `id, agent_key_id, mandate_id, wallet_id, merchant_id, items, amount, currency, status, reason,
	confirmation_code, authorization_id, created_at, updated_at`

// ScanSession reads a row of SessionCols.
func ScanSession(sc Scanner) (ledger.CheckoutSession, error) {
	var s ledger.CheckoutSession
	var items string
	var created, updated int64
	err := sc.Scan(&s.ID, &s.AgentKeyID, &s.MandateID, &s.WalletID, &s.MerchantID, &items, &s.Amount, &s.Currency,
		&s.Status, &s.Reason, &s.ConfirmationCode, &s.AuthorizationID, &created, &updated)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(items), &s.Items); err != nil {
		return s, fmt.Errorf("decoding items of checkout session %s: %w", s.ID, err)
	}
	s.CreatedAt, s.UpdatedAt = FromMicros(created), FromMicros(updated)
	return s, nil
}

// CatalogCols are the columns ScanCatalogItem reads, in order.
const CatalogCols = `merchant_id, sku, name, price, currency, stock`

// ScanCatalogItem reads a row of CatalogCols.
func ScanCatalogItem(sc Scanner) (ledger.CatalogItem, error) {
	var it ledger.CatalogItem
	err := sc.Scan(&it.MerchantID, &it.SKU, &it.Name, &it.Price, &it.Currency, &it.Stock)
	return it, err
}

// FromMicros turns the stores' microseconds since the epoch into a time,
// zero for 0.
func FromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}
