package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"tappos/ledger"
	"tappos/ledger/internal/dbrow"
)

// This file keeps the chat checkout data of ledger/chat.go.

func (t *pgTx) CheckoutSession(ctx context.Context, id string) (ledger.CheckoutSession, error) {
	s, err := dbrow.ScanSession(t.tx.QueryRow(ctx, `SELECT `+dbrow.SessionCols+` FROM checkout_sessions WHERE id = $1 FOR UPDATE`, id))
	return s, notFound(err, "checkout session")
}

func (t *pgTx) Mandate(ctx context.Context, id string) (ledger.Mandate, error) {
	m, err := dbrow.ScanMandate(t.tx.QueryRow(ctx, `SELECT `+dbrow.MandateCols+` FROM mandates WHERE id = $1 FOR UPDATE`, id))
	return m, notFound(err, "mandate")
}

func (t *pgTx) MandateSpent(ctx context.Context, mandateID string, since time.Time) (int64, error) {
	var n int64
	// The mandate's row is locked: its uses cannot change under us.
	err := t.tx.QueryRow(ctx, `SELECT COALESCE(SUM(amount), 0)::BIGINT FROM mandate_uses WHERE mandate_id = $1 AND created_at > $2`,
		mandateID, micros(since)).Scan(&n)
	return n, err
}

func (t *pgTx) CatalogItems(ctx context.Context, merchantID string, skus []string) ([]ledger.CatalogItem, error) {
	if len(skus) == 0 {
		return nil, nil
	}
	rows, err := t.tx.Query(ctx, `SELECT `+dbrow.CatalogCols+` FROM catalog_items WHERE merchant_id = $1 AND sku = ANY($2) ORDER BY sku FOR UPDATE`, merchantID, skus)
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

// ApplyChat writes inside a savepoint, so that a failure leaves the rest
// of the batch's transaction as it was.
func (t *pgTx) ApplyChat(ctx context.Context, c *ledger.ChatChanges) (err error) {
	if _, err := t.tx.Exec(ctx, `SAVEPOINT chat`); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, rerr := t.tx.Exec(ctx, `ROLLBACK TO SAVEPOINT chat`)
			err = errors.Join(err, rerr)
		}
		if _, rerr := t.tx.Exec(ctx, `RELEASE SAVEPOINT chat`); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	for _, m := range c.Mandates {
		merchants, _ := json.Marshal(m.Merchants) // strings always encode
		_, err := t.tx.Exec(ctx, `INSERT INTO mandates (`+dbrow.MandateCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at`,
			m.ID, m.WalletID, m.AgentKeyID, m.Currency, m.MaxPerPurchase, m.Budget, m.Period.Microseconds(),
			string(merchants), micros(m.ExpiresAt), m.Status, micros(m.CreatedAt), micros(m.UpdatedAt))
		if err != nil {
			return fmt.Errorf("writing mandate: %w", mapErr(err))
		}
	}
	for _, s := range c.Sessions {
		items, _ := json.Marshal(s.Items) // line items always encode
		_, err := t.tx.Exec(ctx, `INSERT INTO checkout_sessions (`+dbrow.SessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (id) DO UPDATE SET items = EXCLUDED.items, amount = EXCLUDED.amount, status = EXCLUDED.status,
	reason = EXCLUDED.reason, confirmation_code = EXCLUDED.confirmation_code,
	authorization_id = EXCLUDED.authorization_id, updated_at = EXCLUDED.updated_at`,
			s.ID, s.AgentKeyID, s.MandateID, s.WalletID, s.MerchantID, string(items), s.Amount, s.Currency,
			s.Status, s.Reason, s.ConfirmationCode, s.AuthorizationID, micros(s.CreatedAt), micros(s.UpdatedAt))
		if err != nil {
			return fmt.Errorf("writing checkout session: %w", mapErr(err))
		}
	}
	for _, u := range c.Uses {
		_, err := t.tx.Exec(ctx, `INSERT INTO mandate_uses (id, mandate_id, session_id, auth_id, amount, currency, confirmed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			u.ID, u.MandateID, u.SessionID, u.AuthID, u.Amount, u.Currency, u.Confirmed, micros(u.CreatedAt))
		if err != nil {
			return fmt.Errorf("writing mandate use: %w", mapErr(err))
		}
	}
	for _, it := range c.Stock {
		_, err := t.tx.Exec(ctx, `UPDATE catalog_items SET stock = $1 WHERE merchant_id = $2 AND sku = $3`, it.Stock, it.MerchantID, it.SKU)
		if err != nil {
			return fmt.Errorf("writing stock: %w", err)
		}
	}
	return nil
}

func (t *pgTx) PutCatalogItem(ctx context.Context, it ledger.CatalogItem) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO catalog_items (`+dbrow.CatalogCols+`) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (merchant_id, sku) DO UPDATE SET name = EXCLUDED.name, price = EXCLUDED.price, currency = EXCLUDED.currency, stock = EXCLUDED.stock`,
		it.MerchantID, it.SKU, it.Name, it.Price, it.Currency, it.Stock)
	return mapErr(err)
}

func (t *pgTx) CreateOwnerKey(ctx context.Context, k ledger.APIKey, walletID string) error {
	if err := t.CreateAPIKey(ctx, k); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO wallet_owner_keys (key_id, wallet_id) VALUES ($1, $2)`, k.ID, walletID)
	return mapErr(err)
}

// CheckoutSession implements [ledger.ChatStore].
func (s *Store) CheckoutSession(ctx context.Context, id string) (ledger.CheckoutSession, error) {
	cs, err := dbrow.ScanSession(s.pool.QueryRow(ctx, `SELECT `+dbrow.SessionCols+` FROM checkout_sessions WHERE id = $1`, id))
	return cs, notFound(err, "checkout session")
}

// Mandate implements [ledger.ChatStore].
func (s *Store) Mandate(ctx context.Context, id string) (ledger.Mandate, error) {
	m, err := dbrow.ScanMandate(s.pool.QueryRow(ctx, `SELECT `+dbrow.MandateCols+` FROM mandates WHERE id = $1`, id))
	return m, notFound(err, "mandate")
}

// WalletMandates implements [ledger.ChatStore].
func (s *Store) WalletMandates(ctx context.Context, walletID string) ([]ledger.Mandate, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+dbrow.MandateCols+` FROM mandates WHERE wallet_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1000`, walletID)
	if err != nil {
		return nil, mapErr(err)
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
	return out, mapErr(rows.Err())
}

// SearchCatalog implements [ledger.ChatStore].
func (s *Store) SearchCatalog(ctx context.Context, merchantID, query string, limit int) ([]ledger.CatalogItem, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(query) + "%"
	rows, err := s.pool.Query(ctx, `SELECT `+dbrow.CatalogCols+` FROM catalog_items
WHERE merchant_id = $1 AND (name ILIKE $2 ESCAPE '\' OR sku ILIKE $2 ESCAPE '\') ORDER BY sku LIMIT $3`, merchantID, like, limit)
	if err != nil {
		return nil, mapErr(err)
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
	return out, mapErr(rows.Err())
}

// OwnerKeyWallet implements [ledger.ChatStore].
func (s *Store) OwnerKeyWallet(ctx context.Context, keyID string) (string, error) {
	var w string
	err := s.pool.QueryRow(ctx, `SELECT wallet_id FROM wallet_owner_keys WHERE key_id = $1`, keyID).Scan(&w)
	return w, notFound(err, "wallet owner key")
}

var (
	_ ledger.ChatStore = (*Store)(nil)
	_ ledger.ChatTx    = (*pgTx)(nil)
)
