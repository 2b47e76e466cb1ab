package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"tappos/ledger"
	"tappos/ledger/internal/dbrow"
)

// This file keeps the chat checkout data of ledger/chat.go.

func (t *sqliteTx) CheckoutSession(ctx context.Context, id string) (ledger.CheckoutSession, error) {
	s, err := dbrow.ScanSession(t.tx.QueryRowContext(ctx, `SELECT `+dbrow.SessionCols+` FROM checkout_sessions WHERE id = ?`, id))
	return s, notFound(err, "checkout session")
}

func (t *sqliteTx) Mandate(ctx context.Context, id string) (ledger.Mandate, error) {
	m, err := dbrow.ScanMandate(t.tx.QueryRowContext(ctx, `SELECT `+dbrow.MandateCols+` FROM mandates WHERE id = ?`, id))
	return m, notFound(err, "mandate")
}

func (t *sqliteTx) MandateSpent(ctx context.Context, mandateID string, since time.Time) (int64, error) {
	var n int64
	err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM mandate_uses WHERE mandate_id = ? AND created_at > ?`,
		mandateID, micros(since)).Scan(&n)
	return n, err
}

func (t *sqliteTx) CatalogItems(ctx context.Context, merchantID string, skus []string) ([]ledger.CatalogItem, error) {
	var out []ledger.CatalogItem
	for _, sku := range skus {
		it, err := dbrow.ScanCatalogItem(t.tx.QueryRowContext(ctx, `SELECT `+dbrow.CatalogCols+` FROM catalog_items WHERE merchant_id = ? AND sku = ?`, merchantID, sku))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// ApplyChat writes inside a savepoint, so that a failure leaves the rest
// of the batch's transaction as it was.
func (t *sqliteTx) ApplyChat(ctx context.Context, c *ledger.ChatChanges) (err error) {
	t.other = true
	if _, err := t.tx.ExecContext(ctx, `SAVEPOINT chat`); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, rerr := t.tx.ExecContext(ctx, `ROLLBACK TO chat`)
			err = errors.Join(err, rerr)
		}
		if _, rerr := t.tx.ExecContext(ctx, `RELEASE chat`); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	for _, m := range c.Mandates {
		merchants, _ := json.Marshal(m.Merchants) // strings always encode
		_, err := t.tx.ExecContext(ctx, `INSERT OR REPLACE INTO mandates (`+dbrow.MandateCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.WalletID, m.AgentKeyID, m.Currency, m.MaxPerPurchase, m.Budget, m.Period.Microseconds(),
			string(merchants), micros(m.ExpiresAt), m.Status, micros(m.CreatedAt), micros(m.UpdatedAt))
		if err != nil {
			return fmt.Errorf("writing mandate: %w", mapErr(err))
		}
	}
	for _, s := range c.Sessions {
		items, _ := json.Marshal(s.Items) // line items always encode
		_, err := t.tx.ExecContext(ctx, `INSERT OR REPLACE INTO checkout_sessions (`+dbrow.SessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.AgentKeyID, s.MandateID, s.WalletID, s.MerchantID, string(items), s.Amount, s.Currency,
			s.Status, s.Reason, s.ConfirmationCode, s.AuthorizationID, micros(s.CreatedAt), micros(s.UpdatedAt))
		if err != nil {
			return fmt.Errorf("writing checkout session: %w", mapErr(err))
		}
	}
	for _, u := range c.Uses {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO mandate_uses (id, mandate_id, session_id, auth_id, amount, currency, confirmed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.MandateID, u.SessionID, u.AuthID, u.Amount, u.Currency, u.Confirmed, micros(u.CreatedAt))
		if err != nil {
			return fmt.Errorf("writing mandate use: %w", mapErr(err))
		}
	}
	for _, it := range c.Stock {
		_, err := t.tx.ExecContext(ctx, `UPDATE catalog_items SET stock = ? WHERE merchant_id = ? AND sku = ?`, it.Stock, it.MerchantID, it.SKU)
		if err != nil {
			return fmt.Errorf("writing stock: %w", err)
		}
	}
	return nil
}

func (t *sqliteTx) PutCatalogItem(ctx context.Context, it ledger.CatalogItem) error {
	t.other = true
	_, err := t.tx.ExecContext(ctx, `INSERT OR REPLACE INTO catalog_items (`+dbrow.CatalogCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		it.MerchantID, it.SKU, it.Name, it.Price, it.Currency, it.Stock)
	return mapErr(err)
}

func (t *sqliteTx) CreateOwnerKey(ctx context.Context, k ledger.APIKey, walletID string) error {
	t.other = true
	if err := t.CreateAPIKey(ctx, k); err != nil {
		return err
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO wallet_owner_keys (key_id, wallet_id) VALUES (?, ?)`, k.ID, walletID)
	return mapErr(err)
}

// CheckoutSession implements [ledger.ChatStore].
func (s *Store) CheckoutSession(ctx context.Context, id string) (ledger.CheckoutSession, error) {
	cs, err := dbrow.ScanSession(s.r.QueryRowContext(ctx, `SELECT `+dbrow.SessionCols+` FROM checkout_sessions WHERE id = ?`, id))
	return cs, notFound(err, "checkout session")
}

// Mandate implements [ledger.ChatStore].
func (s *Store) Mandate(ctx context.Context, id string) (ledger.Mandate, error) {
	m, err := dbrow.ScanMandate(s.r.QueryRowContext(ctx, `SELECT `+dbrow.MandateCols+` FROM mandates WHERE id = ?`, id))
	return m, notFound(err, "mandate")
}

// WalletMandates implements [ledger.ChatStore].
func (s *Store) WalletMandates(ctx context.Context, walletID string) ([]ledger.Mandate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+dbrow.MandateCols+` FROM mandates WHERE wallet_id = ? ORDER BY created_at DESC, id DESC LIMIT 1000`, walletID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Mandate
	for rows.Next() {
		m, err := dbrow.ScanMandate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SearchCatalog implements [ledger.ChatStore].
func (s *Store) SearchCatalog(ctx context.Context, merchantID, query string, limit int) ([]ledger.CatalogItem, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(query) + "%"
	rows, err := s.r.QueryContext(ctx, `SELECT `+dbrow.CatalogCols+` FROM catalog_items
WHERE merchant_id = ? AND (name LIKE ? ESCAPE '\' OR sku LIKE ? ESCAPE '\') ORDER BY sku LIMIT ?`, merchantID, like, like, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.CatalogItem
	for rows.Next() {
		it, err := dbrow.ScanCatalogItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// OwnerKeyWallet implements [ledger.ChatStore].
func (s *Store) OwnerKeyWallet(ctx context.Context, keyID string) (string, error) {
	var w string
	err := s.r.QueryRowContext(ctx, `SELECT wallet_id FROM wallet_owner_keys WHERE key_id = ?`, keyID).Scan(&w)
	return w, notFound(err, "wallet owner key")
}

var (
	_ ledger.ChatStore = (*Store)(nil)
	_ ledger.ChatTx    = (*sqliteTx)(nil)
)
