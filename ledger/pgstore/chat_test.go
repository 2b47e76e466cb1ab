package pgstore

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"tappos/ledger"
	"tappos/ledger/checkout"
	"tappos/ledger/checkout/checkouttest"
)

// TestChatCheckout runs chat checkout on PostgreSQL: concurrent
// purchases against a budget that holds two, and one above the mandate
// confirmed by the owner.
func TestChatCheckout(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{Balance: 200_00, MaxPerPurchase: 12_50, Budget: 20_00, Store: open(t)})
	ctx := context.Background()
	items := func(sku string) []ledger.ItemRequest { return []ledger.ItemRequest{{SKU: sku, Quantity: 1}} }
	buy := func(sku string) ledger.CheckoutSession {
		t.Helper()
		s, _, err := e.Service.CreateCheckout(ctx, nil, e.Agent, e.Wallet.ID, e.Merchant.ID, items(sku))
		if err != nil {
			t.Fatal(err)
		}
		if s, _, err = e.Service.CompleteCheckout(ctx, nil, e.Agent, s.ID); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Two mugs fit the 20.00 budget: of eight racing, two are paid and
	// six wait for the shopper.
	var wg sync.WaitGroup
	statuses := make([]string, 8)
	for i := range statuses {
		s, _, err := e.Service.CreateCheckout(ctx, nil, e.Agent, e.Wallet.ID, e.Merchant.ID, items("MUG-1"))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			done, _, err := e.Service.CompleteCheckout(ctx, nil, e.Agent, s.ID)
			if err != nil {
				t.Error(err)
			}
			statuses[i] = done.Status
		})
	}
	wg.Wait()
	count := map[string]int{}
	for _, st := range statuses {
		count[st]++
	}
	if count[ledger.SessionCompleted] != 2 || count[ledger.SessionAuthRequired] != 6 {
		t.Errorf("racing purchases ended %v", count)
	}
	s := buy("GRD-1")
	if s.Status != ledger.SessionAuthRequired || s.Reason != ledger.ReasonAboveMaxPerPurchase {
		t.Fatalf("above the mandate: %+v", s)
	}
	var r checkout.Response
	if st := e.Do(t, e.OwnerKey, "POST", "/v1/checkout_sessions/"+s.ID+"/confirm", "c1", checkout.ConfirmRequest{Code: s.ConfirmationCode}, &r); st != http.StatusOK ||
		r.Result.Status != ledger.SessionCompleted {
		t.Fatalf("confirmation: HTTP %d %+v", st, r)
	}
	items2, err := e.Service.Catalog(ctx, e.Merchant.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items2 {
		if want := map[string]int64{"COF-250": 1000, "GRD-1": 4, "MUG-1": 1}[it.SKU]; it.Stock != want {
			t.Errorf("stock of %s: %d, want %d", it.SKU, it.Stock, want)
		}
	}
	if got := e.Balance(t, e.Wallet.ID); got != 200_00-2*9_00-89_00 {
		t.Errorf("balance %d", got)
	}
	e.Verify(t)
}
