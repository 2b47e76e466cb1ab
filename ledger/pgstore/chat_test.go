package pgstore

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"tappos/internal/pgtest"
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

// TestChatTwoLedgers completes sessions through two ledgers on one
// database at once, as two ledgerd processes would: the budget, the stock
// and the wallet hold across them.
func TestChatTwoLedgers(t *testing.T) {
	url := pgtest.URL(t)
	stores := make([]*Store, 2)
	for i := range stores {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	const price, n, fit = 9_00, 16, 5
	e := checkouttest.Start(t, checkouttest.Options{Balance: 1000_00, MaxPerPurchase: price, Budget: fit * price, Store: stores[0],
		Catalog: []ledger.CatalogItem{{SKU: "MUG-1", Name: "Stoneware mug", Price: price, Currency: "EUR", Stock: 1000}}})
	other, err := ledger.New(ledger.Config{Store: stores[1], TokenSecret: []byte(strings.Repeat("k", 32)), Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	svc2, err := checkout.New(checkout.Config{Ledger: other, Now: e.Clock.Now, Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	services := []*checkout.Service{e.Service, svc2}
	ids := make([]string, n)
	for i := range ids {
		s, _, err := services[i%2].CreateCheckout(ctx, nil, e.Agent, e.Wallet.ID, e.Merchant.ID, []ledger.ItemRequest{{SKU: "MUG-1", Quantity: 1}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID
	}
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			svc := services[i%2]
			s, _, err := svc.CompleteCheckout(ctx, nil, e.Agent, id)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			count[s.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if count[ledger.SessionCompleted] != fit || count[ledger.SessionAuthRequired] != n-fit {
		t.Errorf("sessions ended %v; want %d completed", count, fit)
	}
	if got := e.Balance(t, e.Wallet.ID); got != 1000_00-fit*price {
		t.Errorf("balance %d", got)
	}
	items, err := e.Service.Catalog(ctx, e.Merchant.ID, "MUG", 1)
	if err != nil || items[0].Stock != 1000-fit {
		t.Errorf("stock %+v %v", items, err)
	}
	e.Verify(t)
}
