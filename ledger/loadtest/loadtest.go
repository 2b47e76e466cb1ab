// Package loadtest drives ledgerd servers with many concurrent terminals:
// the concurrency test and the authorization benchmark of the ledger.
package loadtest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tappos/emv/cryptogram"
	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/client"
	"tappos/ledger/ledgertest"
	"tappos/ledger/storetest"
)

// Env is a set of ledgerd servers sharing one database, with a merchant,
// one terminal per client, and wallets with cards.
type Env struct {
	Ledgers  []*ledger.Ledger
	URLs     []string
	Merchant ledger.Merchant
	Keys     []string           // terminal API key of each client
	Cards    []*ledgertest.Card // card of each client
	Wallets  []ledger.Account
	HTTP     *http.Client
	Balance  int64 // opening balance of each wallet
	runs     atomic.Int64
}

// NewEnv starts one server per store (the stores share one database) and
// seeds it: wallets with balance, and one terminal and one card per
// client, the card linked to wallet client%wallets.
func NewEnv(t testing.TB, stores []ledger.Store, clients, wallets int, balance int64) *Env {
	t.Helper()
	ctx := context.Background()
	schemes := cryptogram.Schemes()
	var issuers []ledger.IssuerKey
	for i, s := range schemes {
		imk := slices.Clone(ledgertest.IMK)
		imk[0] ^= byte(i)
		issuers = append(issuers, ledger.IssuerKey{Prefix: fmt.Sprintf("4%d", i), Scheme: string(s), IMK: imk})
	}
	e := &Env{Balance: balance}
	for i, s := range stores {
		l, err := ledger.New(ledger.Config{Store: s, TokenSecret: storetest.Secret, Issuers: issuers,
			Rand: storetest.Rand(uint64(100 + i))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		srv := httptest.NewServer(api.New(api.Config{Ledger: l, Rate: -1, Logger: quiet}))
		t.Cleanup(srv.Close)
		e.Ledgers = append(e.Ledgers, l)
		e.URLs = append(e.URLs, srv.URL)
	}
	l := e.Ledgers[0]
	var err error
	if e.Merchant, err = l.CreateMerchant(ctx, "Load Shop"); err != nil {
		t.Fatal(err)
	}
	for range wallets {
		w, err := l.CreateWallet(ctx, "shopper", "EUR", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Deposit(ctx, nil, w.ID, balance, "EUR", ""); err != nil {
			t.Fatal(err)
		}
		e.Wallets = append(e.Wallets, w)
	}
	for i := range clients {
		term, err := l.CreateTerminal(ctx, e.Merchant.ID, fmt.Sprintf("till %d", i))
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := l.CreateAPIKey(ctx, ledger.RoleTerminal, e.Merchant.ID, term.ID)
		if err != nil {
			t.Fatal(err)
		}
		k := issuers[i%len(issuers)]
		c := &ledgertest.Card{PAN: fmt.Sprintf("%s%014d", k.Prefix, i), PSN: 1, Scheme: k.Scheme, IMK: k.IMK, ATC: 1}
		if _, err := l.LinkCard(ctx, e.Wallets[i%wallets].ID, c.PAN); err != nil {
			t.Fatal(err)
		}
		e.Keys = append(e.Keys, key)
		e.Cards = append(e.Cards, c)
	}
	e.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * clients, MaxIdleConnsPerHost: 2 * clients},
		Timeout: 30 * time.Second}
	t.Cleanup(e.HTTP.CloseIdleConnections)
	return e
}

// client returns the API client of client i on server s.
func (e *Env) client(i, s int) *client.Client {
	return &client.Client{BaseURL: e.URLs[s%len(e.URLs)], Key: e.Keys[i], HTTP: e.HTTP}
}

// tap makes the authorization request of client i's next tap.
func (e *Env) tap(i int, kind, txn string, amount int64, un uint32) (api.AuthorizationRequest, error) {
	emv, err := e.Cards[i].Tap(amount, 978, ledgertest.Options{UN: [4]byte{byte(un >> 24), byte(un >> 16), byte(un >> 8), byte(un)}})
	if err != nil {
		return api.AuthorizationRequest{}, err
	}
	return api.AuthorizationRequest{Kind: kind, TerminalTxnID: txn, Amount: amount, Currency: "EUR", EMV: hex.EncodeToString(emv)}, nil
}

// quiet discards the servers' request logs.
var quiet = slog.New(slog.DiscardHandler)

// Latencies summarises request durations.
type Latencies []time.Duration

// Quantile returns the q-quantile (0 < q <= 1).
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// A BenchRun is a prepared round of [Env.Bench]: n purchase
// authorizations, their cards' cryptograms computed (the terminals' work,
// not the ledger's), client c to send taps c, c+clients, and so on.
type BenchRun struct {
	e    *Env
	taps [][]benchTap
}

type benchTap struct {
	txn  string
	body []byte // the request, JSON-encoded
}

// PrepareBench makes the requests of a round of n authorizations.
func (e *Env) PrepareBench(n int) (*BenchRun, error) {
	clients := len(e.Keys)
	run := e.runs.Add(1)
	r := &BenchRun{e: e, taps: make([][]benchTap, clients)}
	for i := range n {
		c := i % clients
		txn := fmt.Sprintf("b%d-%d-%d", run, c, i)
		req, err := e.tap(c, ledger.AuthPurchase, txn, 100+int64(i%900), uint32(i))
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		r.taps[c] = append(r.taps[c], benchTap{txn, body})
	}
	return r, nil
}

// Run sends the round's authorizations from all clients at once, each
// client waiting for its answer before its next tap, and returns the
// authorizations per second and their latencies. Every answer must be an
// approval.
func (r *BenchRun) Run(ctx context.Context) (perSecond float64, lat Latencies, err error) {
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for c, taps := range r.taps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialBench(r.e.URLs[c%len(r.e.URLs)], r.e.Keys[c])
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			defer conn.Close()
			mine := make(Latencies, 0, len(taps))
			for _, t := range taps {
				t0 := time.Now()
				res, err := conn.authorize(t.txn, t.body)
				mine = append(mine, time.Since(t0))
				if err == nil && res.Outcome != ledger.OutcomeApproved {
					err = fmt.Errorf("authorization %s: %s %s", t.txn, res.Outcome, res.Reason)
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return float64(len(lat)) / elapsed.Seconds(), lat, firstErr
}

// Bench prepares and runs a round of n authorizations.
func (e *Env) Bench(ctx context.Context, n int) (perSecond float64, lat Latencies, err error) {
	r, err := e.PrepareBench(n)
	if err != nil {
		return 0, nil, err
	}
	return r.Run(ctx)
}

// Mix configures [Env.Mixed].
type Mix struct {
	Ops    int     // operations in all
	Resend float64 // share of operations followed by a re-send with the same key
	Seed   uint64
}

// Outcome is what the clients of [Env.Mixed] saw.
type Outcome struct {
	Purchases   int   // approved purchases
	Preauths    int   // approved pre-authorizations
	Refunds     int   // refunds done
	Voids       int   // purchases voided
	HoldVoids   int   // holds voided
	Declines    int   // authorizations declined
	Rejected    int   // refunds and voids refused
	Resends     int   // re-sends answered with the original response
	InFlight    int   // re-sends answered 409, in flight
	WalletMoney int64 // what the wallets should hold in all, held or not
	Held        int64 // what should be held
}

type sent struct {
	path string
	body any
	kind string // purchase, preauth, refund, void
	res  ledger.Result
}

// Mixed sends a mix of authorizations, pre-authorizations, refunds and
// voids from all clients at once, over all servers, re-sending some
// requests with the same idempotency key (some while the first is still
// in flight, to any server), and returns what the clients saw.
func (e *Env) Mixed(ctx context.Context, m Mix) (Outcome, error) {
	clients := len(e.Keys)
	var mu sync.Mutex
	var out Outcome
	out.WalletMoney = int64(len(e.Wallets)) * e.Balance
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(m.Seed, uint64(c)))
			ops := m.Ops / clients
			if c < m.Ops%clients {
				ops++
			}
			var approved []sent // this client's purchases and holds still open
			done := make(map[string]*sent)
			var keys []string
			for i := range ops {
				key := fmt.Sprintf("c%d-%d", c, i)
				s := &sent{}
				switch p := rng.IntN(100); {
				case p < 10 && len(approved) > 0:
					a := approved[rng.IntN(len(approved))]
					s.kind, s.path = "void", "/v1/authorizations/"+a.res.AuthorizationID+"/void"
					s.body = struct{}{}
				case p < 20 && len(approved) > 0:
					a := approved[rng.IntN(len(approved))]
					s.kind, s.path = "refund", "/v1/authorizations/"+a.res.AuthorizationID+"/refunds"
					s.body = api.AmountRequest{Amount: 1 + rng.Int64N(a.res.Amount)}
				default:
					s.kind = ledger.AuthPurchase
					if p >= 90 {
						s.kind = ledger.AuthPreauth
					}
					req, err := e.tap(c, s.kind, key, 1+rng.Int64N(2_000), rng.Uint32())
					if err != nil {
						fail(err)
						return
					}
					s.path, s.body = "/v1/authorizations", req
				}
				res, err := e.send(ctx, c, rng.IntN(len(e.URLs)), key, s, rng.Float64() < m.Resend/2, &mu, &out)
				if err != nil {
					fail(err)
					return
				}
				s.res = res
				done[key] = s
				keys = append(keys, key)
				mu.Lock()
				out.count(s)
				mu.Unlock()
				if (s.kind == ledger.AuthPurchase || s.kind == ledger.AuthPreauth) && res.Outcome == ledger.OutcomeApproved {
					approved = append(approved, *s)
				}
				if s.kind == "void" && res.Outcome == ledger.OutcomeOK {
					approved = slices.DeleteFunc(approved, func(a sent) bool { return a.res.AuthorizationID == res.AuthorizationID })
				}
				// A later re-send of an earlier request.
				if rng.Float64() < m.Resend/2 {
					old := keys[rng.IntN(len(keys))]
					if err := e.resend(ctx, c, rng.IntN(len(e.URLs)), old, done[old], &mu, &out); err != nil {
						fail(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

func (o *Outcome) count(s *sent) {
	r := s.res
	switch {
	case s.kind == ledger.AuthPurchase && r.Outcome == ledger.OutcomeApproved:
		o.Purchases++
		o.WalletMoney -= r.Amount
	case s.kind == ledger.AuthPreauth && r.Outcome == ledger.OutcomeApproved:
		o.Preauths++
		o.Held += r.Amount
	case r.Outcome == ledger.OutcomeDeclined:
		o.Declines++
	case s.kind == "refund" && r.Outcome == ledger.OutcomeOK:
		o.Refunds++
		o.WalletMoney += r.Amount
	case s.kind == "void" && r.Outcome == ledger.OutcomeOK && r.JournalID != "":
		o.Voids++
		o.WalletMoney += r.Amount
	case s.kind == "void" && r.Outcome == ledger.OutcomeOK:
		o.HoldVoids++
		o.Held -= r.Amount
	default:
		o.Rejected++
	}
}

// send posts a request until it has a final answer; with concurrent, a
// twin goes at the same time to another server, which must answer 409 (in
// flight) or the same result.
func (e *Env) send(ctx context.Context, c, server int, key string, s *sent, concurrent bool, mu *sync.Mutex, out *Outcome) (ledger.Result, error) {
	type answer struct {
		r   client.Response
		err error
	}
	var twin chan answer
	if concurrent {
		twin = make(chan answer, 1)
		go func() {
			r, err := e.client(c, server+1).Post(ctx, s.path, key, s.body)
			twin <- answer{r, err}
		}()
	}
	var res ledger.Result
	var a *answer // the twin's, once it came
	for {
		r, err := e.client(c, server).Post(ctx, s.path, key, s.body)
		if err != nil {
			return res, fmt.Errorf("%s: %w", key, err)
		}
		if r.Status == http.StatusConflict && r.Code == "idempotency_key_in_flight" && twin != nil && a == nil {
			// The twin holds the key: once it is answered, the key is
			// free and this request gets its result, replayed. No
			// deadline: a loaded machine may take seconds.
			got := <-twin
			a = &got
			continue
		}
		if r.Code != "" {
			return res, fmt.Errorf("%s: status %d %s: %s", key, r.Status, r.Code, r.Message)
		}
		res = r.Result
		break
	}
	if twin == nil {
		return res, nil
	}
	if a == nil {
		got := <-twin
		a = &got
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case a.err != nil:
		return res, fmt.Errorf("twin of %s: %w", key, a.err)
	case a.r.Status == http.StatusConflict && a.r.Code == "idempotency_key_in_flight":
		out.InFlight++
	case a.r.Code != "":
		return res, fmt.Errorf("twin of %s: status %d %s: %s", key, a.r.Status, a.r.Code, a.r.Message)
	case a.r.Result != res:
		return res, fmt.Errorf("twin of %s: got %+v, the other %+v", key, a.r.Result, res)
	default:
		out.Resends++
	}
	return res, nil
}

// resend posts an answered request again with its key, to any server:
// the answer must be the original result, replayed.
func (e *Env) resend(ctx context.Context, c, server int, key string, s *sent, mu *sync.Mutex, out *Outcome) error {
	r, err := e.client(c, server).Post(ctx, s.path, key, s.body)
	if err != nil {
		return fmt.Errorf("re-send of %s: %w", key, err)
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case r.Code != "":
		return fmt.Errorf("re-send of %s: status %d %s: %s", key, r.Status, r.Code, r.Message)
	case !r.Replayed || r.Result != s.res:
		return fmt.Errorf("re-send of %s: got %+v (replayed %v), first answer %+v", key, r.Result, r.Replayed, s.res)
	default:
		out.Resends++
	}
	return nil
}
