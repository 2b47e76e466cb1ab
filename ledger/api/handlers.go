package api

import (
	"cmp"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"

	"tappos/ledger"
	"tappos/ledger/internal/httpjson"
)

// actFor checks that the caller may act for a merchant's terminal and
// returns the merchant id to pass to the ledger ("" for admins, who act
// for all). Captures, voids and refunds name no terminal: a terminal key
// makes them on any payment of its merchant, as a shop takes returns at
// any till.
func (s *Server) actFor(q *request, merchant, terminal string) (string, error) {
	p := q.p
	switch p.Role {
	case ledger.RoleAdmin:
		return merchant, nil
	case ledger.RoleTerminal:
		if terminal != "" && terminal != p.TerminalID || merchant != "" && merchant != p.MerchantID {
			return "", forbidden("this key acts only for its own terminal and merchant")
		}
		return p.MerchantID, nil
	case ledger.RoleManager:
		if merchant != "" && merchant != p.MerchantID {
			return "", forbidden("this key acts only for its own merchant")
		}
		if terminal != "" {
			m, err := s.terminalMerchant(q, terminal)
			if err != nil || m != p.MerchantID {
				return "", forbidden("the terminal is not one of this merchant's")
			}
		}
		return p.MerchantID, nil
	}
	return "", forbidden("this key may not do that")
}

func (s *Server) terminalMerchant(q *request, id string) (string, error) {
	s.termMu.Lock()
	m, ok := s.terms[id]
	s.termMu.Unlock()
	if ok {
		return m, nil
	}
	t, err := s.l.Store().Terminal(q.r.Context(), id)
	if err != nil {
		return "", err
	}
	s.termMu.Lock()
	s.terms[id] = t.MerchantID
	s.termMu.Unlock()
	return t.MerchantID, nil
}

// AuthorizationRequest is the body of POST /v1/authorizations.
type AuthorizationRequest struct {
	Kind          string `json:"kind,omitempty"`
	Channel       string `json:"channel,omitempty"`
	MerchantID    string `json:"merchant_id,omitempty"`
	TerminalID    string `json:"terminal_id,omitempty"`
	TerminalTxnID string `json:"terminal_txn_id"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	EMV           string `json:"emv"` // hex BER-TLV
}

func (s *Server) authorize(q *request) (ledger.Result, error) {
	var b AuthorizationRequest
	if err := q.decode(&b); err != nil {
		return ledger.Result{}, err
	}
	q.idem.Hash = authorizationHash(b)
	merchant, err := s.actFor(q, b.MerchantID, b.TerminalID)
	if err != nil {
		return ledger.Result{}, err
	}
	if merchant == "" {
		merchant = b.MerchantID
	}
	terminal := cmp.Or(b.TerminalID, q.p.TerminalID) // a terminal's key names its terminal
	emv, err := hex.DecodeString(b.EMV)
	if err != nil {
		return ledger.Result{}, errors.Join(ledger.ErrInvalid, errors.New("emv is not hex"))
	}
	return s.l.Authorize(q.r.Context(), q.idem, ledger.AuthorizeRequest{
		Kind: b.Kind, Channel: b.Channel, MerchantID: merchant, TerminalID: terminal, TxnID: b.TerminalTxnID,
		Amount: b.Amount, Currency: b.Currency, EMV: emv})
}

// AmountRequest is the body of captures and refunds.
type AmountRequest struct {
	Amount int64 `json:"amount"`
}

func (s *Server) capture(q *request) (ledger.Result, error) {
	var b AmountRequest
	// The body is optional: without one, the whole hold is captured.
	if len(q.body) > 0 {
		if err := q.decode(&b); err != nil {
			return ledger.Result{}, err
		}
	}
	merchant, err := s.actFor(q, "", "")
	if err != nil {
		return ledger.Result{}, err
	}
	return s.l.Capture(q.r.Context(), q.idem, merchant, q.r.PathValue("id"), b.Amount)
}

func (s *Server) refund(q *request) (ledger.Result, error) {
	var b AmountRequest
	if err := q.decode(&b); err != nil {
		return ledger.Result{}, err
	}
	merchant, err := s.actFor(q, "", "")
	if err != nil {
		return ledger.Result{}, err
	}
	return s.l.Refund(q.r.Context(), q.idem, merchant, q.r.PathValue("id"), b.Amount)
}

func (s *Server) void(q *request) (ledger.Result, error) {
	merchant, err := s.actFor(q, "", "")
	if err != nil {
		return ledger.Result{}, err
	}
	return s.l.Void(q.r.Context(), q.idem, merchant, q.r.PathValue("id"))
}

// ReversalRequest is the body of POST /v1/reversals.
type ReversalRequest struct {
	TerminalID    string `json:"terminal_id,omitempty"`
	TerminalTxnID string `json:"terminal_txn_id"`
}

func (s *Server) reverse(q *request) (ledger.Result, error) {
	var b ReversalRequest
	if err := q.decode(&b); err != nil {
		return ledger.Result{}, err
	}
	terminal := cmp.Or(b.TerminalID, q.p.TerminalID) // a terminal's key names its terminal
	merchant, err := s.actFor(q, "", terminal)
	if err != nil {
		return ledger.Result{}, err
	}
	if merchant == "" {
		// An admin reverses for the terminal's own merchant.
		if merchant, err = s.terminalMerchant(q, terminal); err != nil {
			return ledger.Result{}, errors.Join(ledger.ErrInvalid, errors.New("unknown terminal"))
		}
	}
	return s.l.Reverse(q.r.Context(), q.idem, merchant, terminal, b.TerminalTxnID)
}

// BatchCloseRequest is the body of POST /v1/batches: the terminal's own
// totals of the batch it closes (or, with dry_run, only reconciles), and
// the keys of its items. The terminal's batch number is in the
// Idempotency-Key; the ledger keeps its own batch ids.
type BatchCloseRequest struct {
	TerminalID string `json:"terminal_id,omitempty"`
	// MerchantID is the merchant whose payments the batch holds: the
	// key's own, or for an admin any ("" for all but in the chat batch).
	MerchantID string   `json:"merchant_id,omitempty"`
	Currency   string   `json:"currency,omitempty"`
	Count      int      `json:"count"`
	Amount     int64    `json:"amount"` // net of refunds
	Keys       []string `json:"keys,omitempty"`
	DryRun     bool     `json:"dry_run,omitempty"`
	Force      bool     `json:"force,omitempty"`
}

func (s *Server) closeBatch(q *request) (ledger.Result, error) {
	var b BatchCloseRequest
	if err := q.decode(&b); err != nil {
		return ledger.Result{}, err
	}
	terminal := cmp.Or(b.TerminalID, q.p.TerminalID) // a terminal's key names its terminal
	// No merchant owns the chat terminal: a manager closes its merchant's
	// chat sales on it. Terminal keys act only for their own terminal.
	owned := terminal
	if terminal == ledger.ChatTerminal && q.p.Role == ledger.RoleManager {
		owned = ""
	}
	merchant, err := s.actFor(q, b.MerchantID, owned)
	if err != nil {
		return ledger.Result{}, err
	}
	return s.l.CloseBatch(q.r.Context(), q.idem, merchant, ledger.BatchRequest{TerminalID: terminal,
		Currency: b.Currency, Count: b.Count, Amount: b.Amount, Keys: b.Keys, DryRun: b.DryRun, Force: b.Force})
}

// DepositRequest is the body of POST /v1/wallets/{id}/deposits.
type DepositRequest struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Memo     string `json:"memo,omitempty"`
}

func (s *Server) deposit(q *request) (ledger.Result, error) {
	if q.p.Role != ledger.RoleAdmin {
		return ledger.Result{}, forbidden("only admins top wallets up")
	}
	var b DepositRequest
	if err := q.decode(&b); err != nil {
		return ledger.Result{}, err
	}
	return s.l.Deposit(q.r.Context(), q.idem, q.r.PathValue("id"), b.Amount, b.Currency, b.Memo)
}

// Authorization is the JSON of GET /v1/authorizations/{id}.
type Authorization struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	Channel       string `json:"channel"`
	MerchantID    string `json:"merchant_id"`
	TerminalID    string `json:"terminal_id"`
	TerminalTxnID string `json:"terminal_txn_id"`
	WalletID      string `json:"wallet_id,omitempty"`
	MaskedPAN     string `json:"masked_pan,omitempty"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
	ApprovalCode  string `json:"approval_code,omitempty"`
	Held          int64  `json:"held"`
	Captured      int64  `json:"captured"`
	Refunded      int64  `json:"refunded"`
	CreatedAt     string `json:"created_at"`
}

func (s *Server) getAuthorization(w http.ResponseWriter, r *http.Request) {
	p := r.Context().Value(ctxKey{}).(principal)
	a, err := s.l.Store().Authorization(r.Context(), r.PathValue("id"))
	// A terminal reads 404 as "never happened": an outage must not say so.
	if errors.Is(err, ledger.ErrUnavailable) {
		s.unavailable(w, r, err)
		return
	}
	if err != nil || (p.Role != ledger.RoleAdmin && a.MerchantID != p.MerchantID) {
		httpjson.WriteError(w, http.StatusNotFound, "not_found", "no such authorization")
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, Authorization{ID: a.ID, Kind: a.Kind, Channel: a.Channel, MerchantID: a.MerchantID,
		TerminalID: a.TerminalID, TerminalTxnID: a.TxnID, WalletID: a.WalletID, MaskedPAN: a.MaskedPAN,
		Amount: a.Amount, Currency: a.Currency, Status: a.Status, Reason: a.Reason, ApprovalCode: a.ApprovalCode,
		Held: a.Held, Captured: a.Captured, Refunded: a.Refunded, CreatedAt: a.CreatedAt.Format("2006-01-02T15:04:05.000000Z07:00")})
}

// Wallet is the JSON of GET /v1/wallets/{id}.
type Wallet struct {
	ID        string `json:"id"`
	Currency  string `json:"currency"`
	Balance   int64  `json:"balance"`
	Held      int64  `json:"held"`
	Available int64  `json:"available"`
}

func (s *Server) getWallet(w http.ResponseWriter, r *http.Request) {
	if p := r.Context().Value(ctxKey{}).(principal); p.Role != ledger.RoleAdmin {
		httpjson.WriteError(w, http.StatusForbidden, "forbidden", "only admins read wallets")
		return
	}
	a, err := s.l.Store().Account(r.Context(), r.PathValue("id"))
	if errors.Is(err, ledger.ErrUnavailable) {
		s.unavailable(w, r, err)
		return
	}
	if err != nil || a.Kind != ledger.KindWallet {
		httpjson.WriteError(w, http.StatusNotFound, "not_found", "no such wallet")
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, Wallet{ID: a.ID, Currency: a.Currency, Balance: a.Balance, Held: a.Held, Available: a.Available()})
}

// HistoryItem is one line of GET /v1/wallets/{id}/history.
type HistoryItem struct {
	JournalID       string `json:"journal_id"`
	Kind            string `json:"kind"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	MerchantID      string `json:"merchant_id,omitempty"`
	Channel         string `json:"channel,omitempty"`
	Memo            string `json:"memo,omitempty"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	CreatedAt       string `json:"created_at"`
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) {
	if p := r.Context().Value(ctxKey{}).(principal); p.Role != ledger.RoleAdmin {
		httpjson.WriteError(w, http.StatusForbidden, "forbidden", "only admins read wallets")
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			httpjson.WriteError(w, http.StatusBadRequest, "invalid_request", "limit must be 1 to 1000")
			return
		}
		limit = n
	}
	h, err := s.l.Store().History(r.Context(), r.PathValue("id"), limit)
	if errors.Is(err, ledger.ErrUnavailable) {
		s.unavailable(w, r, err)
		return
	}
	if err != nil {
		httpjson.WriteError(w, http.StatusInternalServerError, "internal", "reading history failed")
		return
	}
	out := make([]HistoryItem, 0, len(h))
	for _, x := range h {
		out = append(out, HistoryItem{JournalID: x.JournalID, Kind: x.Kind, AuthorizationID: x.AuthID,
			MerchantID: x.MerchantID, Channel: x.Channel, Memo: x.Memo, Amount: x.Amount, Currency: x.Currency,
			CreatedAt: x.CreatedAt.Format("2006-01-02T15:04:05.000000Z07:00")})
	}
	httpjson.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
}
