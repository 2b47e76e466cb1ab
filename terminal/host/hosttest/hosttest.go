// Package hosttest is a stand-in for the ledger's HTTP API in the
// terminal's tests: authorizations, refunds, voids, reversals, lookups,
// batch close (with dry runs, as ledger/openapi.yaml describes it) and
// readiness, with idempotency keys, in memory. It does not check
// cryptograms; tests of the real ledger's checks use the ledger itself.
package hosttest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
)

// Ledger is an in-memory ledger behind an httptest server.
type Ledger struct {
	*httptest.Server

	mu sync.Mutex
	// DeclineAbove declines authorizations of more than this amount
	// (insufficient_funds); 0 approves any amount.
	DeclineAbove int64
	// Down makes every request answer 503.
	Down  bool
	auths map[string]*Auth  // by authorization id
	byTxn map[string]string // terminal txn id → authorization id
	idem  map[string][]byte // idempotency key → answer
	next  int
	// Batches lists the ledger batch ids the fake settled, in order.
	Batches []string
	// Reversals lists the terminal txn ids reversed, in order.
	Reversals []string
}

// Auth is an authorization as the fake keeps it.
type Auth struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	TerminalTxnID string `json:"terminal_txn_id"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
	ApprovalCode  string `json:"approval_code,omitempty"`
	Refunded      int64  `json:"refunded"`
	BatchID       string `json:"batch_id,omitempty"`
}

// New starts a fake ledger; close it with Close.
func New() *Ledger {
	l := &Ledger{auths: map[string]*Auth{}, byTxn: map[string]string{}, idem: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /v1/authorizations", l.post(l.authorize))
	mux.HandleFunc("POST /v1/authorizations/{id}/refunds", l.post(l.refund))
	mux.HandleFunc("POST /v1/authorizations/{id}/void", l.post(l.void))
	mux.HandleFunc("POST /v1/reversals", l.post(l.reverse))
	mux.HandleFunc("POST /v1/batches", l.batches)
	mux.HandleFunc("GET /v1/authorizations/{id}", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		defer l.mu.Unlock()
		a, ok := l.auths[r.PathValue("id")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"not_found","message":"no such authorization"}}`)
			return
		}
		json.NewEncoder(w).Encode(a)
	})
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		down := l.Down
		l.mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return l
}

// SetDown switches the fake's outage on or off.
func (l *Ledger) SetDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Down = down
}

// Auth returns the authorization of a terminal transaction, if any.
func (l *Ledger) Auth(txnID string) (Auth, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.auths[l.byTxn[txnID]]
	if !ok {
		return Auth{}, false
	}
	return *a, true
}

// Alter changes the amount the fake holds for a terminal transaction, as
// a ledger that lost or mangled data would.
func (l *Ledger) Alter(txnID string, amount int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := l.auths[l.byTxn[txnID]]; ok {
		a.Amount = amount
	}
}

type result map[string]any

// post runs h under the request's idempotency key.
func (l *Ledger) post(h func(r *http.Request, body []byte) (int, result)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"code":"idempotency_key_required","message":"no key"}}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		defer l.mu.Unlock()
		if ans, ok := l.idem[key]; ok {
			w.Header().Set("Idempotent-Replayed", "true")
			w.Write(ans)
			return
		}
		code, res := h(r, body)
		ans, _ := json.Marshal(res)
		if code == http.StatusOK {
			l.idem[key] = ans
		}
		w.WriteHeader(code)
		w.Write(ans)
	}
}

func (l *Ledger) authorize(r *http.Request, body []byte) (int, result) {
	var b struct {
		Kind     string `json:"kind"`
		TxnID    string `json:"terminal_txn_id"`
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.TxnID == "" || b.Amount <= 0 {
		return http.StatusBadRequest, result{"error": result{"code": "invalid_request", "message": "bad body"}}
	}
	if _, dup := l.byTxn[b.TxnID]; dup {
		return http.StatusConflict, result{"outcome": "rejected", "reason": "duplicate_transaction"}
	}
	l.next++
	a := &Auth{ID: fmt.Sprintf("au_%04d", l.next), Kind: b.Kind, TerminalTxnID: b.TxnID, Amount: b.Amount,
		Currency: b.Currency, Status: "approved", ApprovalCode: fmt.Sprintf("A%05d", l.next)}
	if a.Kind == "" {
		a.Kind = "purchase"
	}
	res := result{"authorization_id": a.ID, "amount": a.Amount, "currency": a.Currency}
	if l.DeclineAbove > 0 && b.Amount > l.DeclineAbove && a.Kind != "offline" {
		a.Status, a.Reason, a.ApprovalCode = "declined", "insufficient_funds", ""
		res["outcome"], res["reason"], res["arc"], res["arpc"] = "declined", a.Reason, "3531", "0102030405060708"
	} else {
		res["outcome"], res["status"], res["approval_code"], res["arc"], res["arpc"] = "approved", "approved", a.ApprovalCode, "3030", "A1A2A3A4A5A6A7A8"
	}
	l.auths[a.ID], l.byTxn[b.TxnID] = a, a.ID
	return http.StatusOK, res
}

func (l *Ledger) refund(r *http.Request, body []byte) (int, result) {
	var b struct {
		Amount int64 `json:"amount"`
	}
	json.Unmarshal(body, &b)
	a, ok := l.auths[r.PathValue("id")]
	switch {
	case !ok:
		return http.StatusNotFound, result{"outcome": "rejected", "reason": "not_found"}
	case a.Status != "approved":
		return http.StatusConflict, result{"outcome": "rejected", "reason": "invalid_state"}
	case b.Amount <= 0 || a.Refunded+b.Amount > a.Amount:
		return http.StatusUnprocessableEntity, result{"outcome": "rejected", "reason": "amount_too_large"}
	}
	a.Refunded += b.Amount
	return http.StatusOK, result{"outcome": "ok", "authorization_id": a.ID, "amount": b.Amount, "currency": a.Currency}
}

func (l *Ledger) void(r *http.Request, body []byte) (int, result) {
	a, ok := l.auths[r.PathValue("id")]
	switch {
	case !ok:
		return http.StatusNotFound, result{"outcome": "rejected", "reason": "not_found"}
	case a.Status != "approved" || a.Refunded > 0:
		return http.StatusConflict, result{"outcome": "rejected", "reason": "invalid_state"}
	case a.BatchID != "":
		return http.StatusConflict, result{"outcome": "rejected", "reason": "already_settled"}
	}
	a.Status = "voided"
	return http.StatusOK, result{"outcome": "ok", "authorization_id": a.ID, "status": "voided"}
}

func (l *Ledger) reverse(r *http.Request, body []byte) (int, result) {
	var b struct {
		TxnID string `json:"terminal_txn_id"`
	}
	json.Unmarshal(body, &b)
	l.Reversals = append(l.Reversals, b.TxnID)
	if a, ok := l.auths[l.byTxn[b.TxnID]]; ok && a.Status == "approved" {
		a.Status = "reversed"
	}
	return http.StatusOK, result{"outcome": "ok"}
}

// batchBody is the body of POST /v1/batches.
type batchBody struct {
	Currency string   `json:"currency"`
	Count    int      `json:"count"`
	Amount   int64    `json:"amount"`
	Keys     []string `json:"keys"`
	DryRun   bool     `json:"dry_run"`
	Force    bool     `json:"force"`
}

// batches answers a batch close; a dry run is not kept under its key, as
// the real ledger does not keep it.
func (l *Ledger) batches(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var b batchBody
	if err := json.Unmarshal(body, &b); err != nil || b.Currency == "" && !b.DryRun {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":"invalid_request","message":"bad body"}}`)
		return
	}
	if !b.DryRun {
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		l.post(func(*http.Request, []byte) (int, result) { return l.closeBatch(b) })(w, r)
		return
	}
	l.mu.Lock()
	code, res := l.closeBatch(b)
	l.mu.Unlock()
	ans, _ := json.Marshal(res)
	w.WriteHeader(code)
	w.Write(ans)
}

type batchItem struct {
	Key             string `json:"key"`
	Type            string `json:"type"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	AuthorizationID string `json:"authorization_id"`
}

// closeBatch lists the fake's side of the batch as the ledger does (its
// unsettled payments with their refunds, then the terminal's other keys
// as they stand) and settles when the totals agree or b.Force.
func (l *Ledger) closeBatch(b batchBody) (int, result) {
	items := []batchItem{}
	listed := map[string]bool{}
	add := func(a *Auth, key, typ string, amount int64) {
		listed[key] = true
		items = append(items, batchItem{key, typ, amount, a.Currency, a.ID})
	}
	var unsettled []*Auth
	for _, id := range slices.Sorted(maps.Keys(l.auths)) {
		a := l.auths[id]
		if a.Status == "approved" && a.BatchID == "" && (b.Currency == "" || a.Currency == b.Currency) {
			unsettled = append(unsettled, a)
			add(a, a.TerminalTxnID, "purchase", a.Amount)
			if a.Refunded > 0 {
				add(a, a.TerminalTxnID+"/refunds", "refund", a.Refunded)
			}
		}
	}
	for _, key := range b.Keys {
		txn, refunds := strings.CutSuffix(key, "/refunds")
		a, ok := l.auths[l.byTxn[txn]]
		if !ok || listed[key] || b.Currency != "" && a.Currency != b.Currency {
			continue
		}
		switch {
		case refunds && a.Status == "approved" && a.Refunded > 0:
			add(a, key, "refund", a.Refunded)
		case refunds:
		case a.Status == "approved":
			add(a, key, "purchase", a.Amount)
		case a.Status == "voided":
			add(a, key, "void", a.Amount)
		default:
			add(a, key, a.Status, a.Amount)
		}
	}
	res := result{"outcome": "ok", "currency": b.Currency, "items": items}
	var count int
	var amount int64
	for _, it := range items {
		switch it.Type {
		case "purchase":
			count++
			amount += it.Amount
		case "refund":
			amount -= it.Amount
		}
	}
	res["count"], res["amount"] = count, amount
	mismatch := b.Currency != "" && (count != b.Count || amount != b.Amount)
	if mismatch {
		res["reason"] = "totals_mismatch"
	}
	switch {
	case b.DryRun:
		return http.StatusOK, res
	case mismatch && !b.Force:
		res["outcome"] = "rejected"
		return http.StatusConflict, res
	}
	l.next++
	id := fmt.Sprintf("bt_%04d", l.next)
	for _, a := range unsettled {
		a.BatchID = id
	}
	l.Batches = append(l.Batches, id)
	res["batch_id"] = id
	return http.StatusOK, res
}
