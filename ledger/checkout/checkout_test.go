package checkout_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"tappos/ledger/checkout"
	"tappos/ledger/checkout/checkouttest"
)

// FuzzSessionBody sends arbitrary bodies to create, update and complete
// sessions: every answer is a client error or a result, never a server
// error, and the books stay balanced with no wallet below zero.
func FuzzSessionBody(f *testing.F) {
	f.Add([]byte(`{"wallet_id":"W","merchant_id":"M","items":[{"sku":"COF-250","quantity":1}]}`), uint8(0))
	f.Add([]byte(`{"items":[{"sku":"MUG-1","quantity":1000},{"sku":"GRD-1","quantity":1}]}`), uint8(1))
	f.Add([]byte(`{"items":[]}`), uint8(2))
	f.Add([]byte(`{"wallet_id":"W","merchant_id":"M","items":[{"sku":"COF-250","quantity":-1}]}`), uint8(0))
	e := checkouttest.Start(f, checkouttest.Options{})
	h := checkout.NewHandler(e.Service, nil)
	// One session to update and complete.
	var created checkout.Response
	if s := e.Do(f, e.AgentKey, "POST", "/v1/checkout_sessions", "seed", checkout.SessionRequest{WalletID: e.Wallet.ID,
		MerchantID: e.Merchant.ID}, &created); s != http.StatusOK {
		f.Fatalf("create: HTTP %d", s)
	}
	session := created.Object.(map[string]any)["id"].(string)
	n := 0
	f.Fuzz(func(t *testing.T, body []byte, route uint8) {
		body = bytes.ReplaceAll(body, []byte(`"W"`), []byte(`"`+e.Wallet.ID+`"`))
		body = bytes.ReplaceAll(body, []byte(`"M"`), []byte(`"`+e.Merchant.ID+`"`))
		path := []string{"/v1/checkout_sessions", "/v1/checkout_sessions/" + session,
			"/v1/checkout_sessions/" + session + "/complete"}[int(route)%3]
		n++
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.AgentKey)
		req.Header.Set("Idempotency-Key", fmt.Sprint("fuzz-", n))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("POST %s %q: HTTP %d %s", path, body, w.Code, w.Body)
		}
		a, err := e.Store.Account(context.Background(), e.Wallet.ID)
		if err != nil || a.Balance < 0 {
			t.Fatalf("wallet %+v %v", a, err)
		}
		e.Verify(t)
	})
}
