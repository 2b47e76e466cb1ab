// Package storetest is the contract test suite every ledger.Store passes:
// it drives a ledger.Ledger on the store through the payment life cycle.
package storetest

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tappos/emv/cryptogram"
	"tappos/emv/tags"
	"tappos/ledger"
	"tappos/ledger/ledgertest"
)

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at a fixed instant.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Rand returns a deterministic random source for ids and keys.
func Rand(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.NewChaCha8(s)
}

// Secret is the token secret of the tests.
var Secret = []byte("storetest-token-secret-0123456789abcdef")

// Env is a ledger with a merchant, a terminal, funded wallets and cards.
type Env struct {
	Ledger   *ledger.Ledger
	Clock    *Clock
	Merchant ledger.Merchant
	Terminal ledger.Terminal
	Other    ledger.Merchant // another merchant
	Wallets  []ledger.Account
	Cards    []*ledgertest.Card // Cards[i] is linked to Wallets[i]
	Stranger *ledgertest.Card   // a card in a known range, linked to no wallet
}

// Setup makes an Env of n wallets, each with balance in EUR, with one
// card of each scheme in turn.
func Setup(t testing.TB, store ledger.Store, n int, balance int64) *Env {
	t.Helper()
	ctx := context.Background()
	clock := NewClock()
	schemes := cryptogram.Schemes()
	var cards []*ledgertest.Card
	var issuers []ledger.IssuerKey
	for i := range n + 1 {
		c := ledgertest.Cards(i+1, string(schemes[i%len(schemes)]), ledgertest.IMK)[i]
		cards = append(cards, c)
		issuers = append(issuers, c.Issuer())
	}
	l, err := ledger.New(ledger.Config{Store: store, TokenSecret: Secret, Issuers: issuers,
		Now: clock.Now, Rand: Rand(1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e := &Env{Ledger: l, Clock: clock, Cards: cards[:n], Stranger: cards[n]}
	if e.Merchant, err = l.CreateMerchant(ctx, "Corner Shop"); err != nil {
		t.Fatal(err)
	}
	if e.Other, err = l.CreateMerchant(ctx, "Other Shop"); err != nil {
		t.Fatal(err)
	}
	if e.Terminal, err = l.CreateTerminal(ctx, e.Merchant.ID, "till 1"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		w, err := l.CreateWallet(ctx, "shopper", "EUR", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.LinkCard(ctx, w.ID, cards[i].PAN); err != nil {
			t.Fatal(err)
		}
		if balance > 0 {
			if _, err := l.Deposit(ctx, nil, w.ID, balance, "EUR", "opening balance"); err != nil {
				t.Fatal(err)
			}
		}
		e.Wallets = append(e.Wallets, w)
	}
	return e
}

// Tap makes EMV data for a card, failing the test on error.
func Tap(t testing.TB, c *ledgertest.Card, amount int64, cid byte) []byte {
	t.Helper()
	emv, err := c.Tap(amount, 978, ledgertest.Options{CID: cid, UN: [4]byte{1, 2, 3, byte(c.ATC)}})
	if err != nil {
		t.Fatal(err)
	}
	return emv
}

// Auth sends an authorization from the Env's terminal.
func (e *Env) Auth(t testing.TB, kind, txn string, amount int64, emv []byte) ledger.Result {
	t.Helper()
	r, err := e.Ledger.Authorize(context.Background(), nil, ledger.AuthorizeRequest{
		Kind: kind, MerchantID: e.Merchant.ID, TerminalID: e.Terminal.ID, TxnID: txn,
		Amount: amount, Currency: "EUR", EMV: emv})
	if err != nil {
		t.Fatalf("authorize %s: %v", txn, err)
	}
	return r
}

// Balance returns an account's balance and held amount.
func (e *Env) Balance(t testing.TB, id string) (balance, held int64) {
	t.Helper()
	a, err := e.Ledger.Store().Account(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance, a.Held
}

// MustVerify fails the test if the books break an invariant.
func (e *Env) MustVerify(t testing.TB) {
	t.Helper()
	v, err := e.Ledger.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		t.Errorf("invariant %s broken by %s: %s", x.Check, x.Object, x.Detail)
	}
}

func want(t *testing.T, r ledger.Result, outcome, reason string) {
	t.Helper()
	if r.Outcome != outcome || r.Reason != reason {
		t.Fatalf("got %s/%s, want %s/%s", r.Outcome, r.Reason, outcome, reason)
	}
}

// Execer is a store that runs raw SQL; the suite uses it to break the
// books on purpose and check that Verify and the triggers notice.
type Execer interface {
	Exec(ctx context.Context, query string, args ...any) error
}

// Run runs the contract suite; open returns an empty store, closed by
// the caller's cleanup.
func Run(t *testing.T, open func(t *testing.T) ledger.Store) {
	ctx := context.Background()
	setup := func(t *testing.T) *Env { return Setup(t, open(t), 5, 10_000) }
	execer := func(t *testing.T) (Execer, *Env) {
		s, ok := open(t).(Execer)
		if !ok {
			t.Skip("the store runs no raw SQL")
		}
		return s, Setup(t, s.(ledger.Store), 1, 1_000)
	}

	t.Run("VerifyFindsTampering", func(t *testing.T) {
		tests := []struct {
			name, sql, check string
		}{
			{"balance", `UPDATE accounts SET balance = balance + 1 WHERE kind = 'wallet'`, "account_balance"},
			{"floor", `UPDATE accounts SET held = balance + 1 WHERE kind = 'wallet'`, "wallet_floor"},
			{"unbalanced journal", `INSERT INTO entries VALUES ((SELECT id FROM journals LIMIT 1), 9, (SELECT id FROM accounts LIMIT 1), 5, 'EUR')`, "journal_balanced"},
			{"refund of money the wallet never paid", `
INSERT INTO journals (id, kind, auth_id, merchant_id, channel, memo, created_at) VALUES ('jr_x', 'refund', 'au_x', '', 'in_store', '', 0);
INSERT INTO entries VALUES ('jr_x', 0, (SELECT id FROM accounts WHERE kind = 'wallet'), 5, 'EUR');
INSERT INTO entries VALUES ('jr_x', 1, (SELECT id FROM accounts WHERE kind = 'funding'), -5, 'EUR')`, "authorization_wallet_gain"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, e := execer(t)
				e.MustVerify(t)
				if err := s.Exec(ctx, tt.sql); err != nil {
					t.Fatal(err)
				}
				v, err := e.Ledger.Verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, x := range v {
					found = found || x.Check == tt.check
				}
				if !found {
					t.Errorf("violations %+v, want %s", v, tt.check)
				}
			})
		}
	})

	t.Run("HouseAccountDeltas", func(t *testing.T) {
		// Deltas add to balances written by other transactions; they do
		// not overwrite them. HouseAccounts reads what Accounts reads.
		e := setup(t)
		store := e.Ledger.Store()
		ids := []string{e.Wallets[0].ID, e.Wallets[1].ID}
		for _, d := range []int64{7, -3} {
			err := store.Write(ctx, func(tx ledger.Tx) error {
				return tx.Apply(ctx, &ledger.Changes{Deltas: []ledger.Delta{{AccountID: ids[0], Amount: d}, {AccountID: ids[1], Amount: 2 * d}}})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		err := store.Write(ctx, func(tx ledger.Tx) error {
			locked, err := tx.Accounts(ctx, ids)
			if err != nil {
				return err
			}
			house, err := tx.HouseAccounts(ctx, ids)
			if err != nil {
				return err
			}
			byID := func(a, b ledger.Account) int { return strings.Compare(a.ID, b.ID) }
			slices.SortFunc(locked, byID)
			slices.SortFunc(house, byID)
			if len(locked) != 2 || !reflect.DeepEqual(locked, house) {
				t.Errorf("Accounts %+v, HouseAccounts %+v", locked, house)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []int64{10_004, 10_008} {
			if bal, _ := e.Balance(t, ids[i]); bal != want {
				t.Errorf("wallet %d: balance %d, want %d", i, bal, want)
			}
		}
	})

	t.Run("JournalsImmutable", func(t *testing.T) {
		s, _ := execer(t)
		for _, q := range []string{`UPDATE entries SET amount = 0`, `DELETE FROM journals`} {
			if err := s.Exec(ctx, q); err == nil {
				t.Errorf("%s: succeeded", q)
			}
		}
	})

	t.Run("PurchaseEachScheme", func(t *testing.T) {
		e := setup(t)
		for i, c := range e.Cards[:4] {
			r := e.Auth(t, ledger.AuthPurchase, "p"+c.Scheme, 1_250, Tap(t, c, 1_250, 0x80))
			want(t, r, ledger.OutcomeApproved, "")
			if r.ARC != "3030" || r.ARPC == "" || len(r.ApprovalCode) != 6 || r.MaskedPAN != tags.MaskPAN(c.PAN) {
				t.Errorf("%s: response %+v", c.Scheme, r)
			}
			if bal, _ := e.Balance(t, e.Wallets[i].ID); bal != 8_750 {
				t.Errorf("%s: balance %d, want 8750", c.Scheme, bal)
			}
		}
		e.MustVerify(t)
	})

	t.Run("Declines", func(t *testing.T) {
		e := setup(t)
		c := e.Cards[0]
		tests := []struct {
			name, reason string
			amount       int64
			emv          func() []byte
		}{
			{"insufficient funds", ledger.ReasonInsufficientFunds, 10_001, func() []byte { return Tap(t, c, 10_001, 0x80) }},
			{"bad cryptogram", ledger.ReasonBadCryptogram, 100, func() []byte { return ledgertest.FlipBit(Tap(t, c, 100, 0x80)) }},
			{"unknown card", ledger.ReasonUnknownCard, 100, func() []byte { return Tap(t, e.Stranger, 100, 0x80) }},
			{"unknown range", ledger.ReasonUnknownCard, 100, func() []byte {
				x := *c
				x.PAN = "4000000000000002"
				return Tap(t, &x, 100, 0x80)
			}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.Auth(t, ledger.AuthPurchase, "d"+string(rune('a'+i)), tt.amount, tt.emv())
				want(t, r, ledger.OutcomeDeclined, tt.reason)
			})
		}
		t.Run("replay", func(t *testing.T) {
			emv := Tap(t, c, 100, 0x80)
			want(t, e.Auth(t, ledger.AuthPurchase, "r1", 100, emv), ledger.OutcomeApproved, "")
			want(t, e.Auth(t, ledger.AuthPurchase, "r2", 100, emv), ledger.OutcomeDeclined, ledger.ReasonReplay)
		})
		t.Run("limit", func(t *testing.T) {
			w, err := e.Ledger.CreateWallet(ctx, "kid", "EUR", 500)
			if err != nil {
				t.Fatal(err)
			}
			card := &ledgertest.Card{PAN: e.Stranger.PAN, PSN: 1, Scheme: e.Stranger.Scheme, IMK: e.Stranger.IMK, ATC: 1}
			if _, err := e.Ledger.LinkCard(ctx, w.ID, card.PAN); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Ledger.Deposit(ctx, nil, w.ID, 5_000, "EUR", ""); err != nil {
				t.Fatal(err)
			}
			want(t, e.Auth(t, ledger.AuthPurchase, "l1", 501, Tap(t, card, 501, 0x80)), ledger.OutcomeDeclined, ledger.ReasonLimit)
			want(t, e.Auth(t, ledger.AuthPurchase, "l2", 500, Tap(t, card, 500, 0x80)), ledger.OutcomeApproved, "")
		})
		if bal, _ := e.Balance(t, e.Wallets[0].ID); bal != 9_900 {
			t.Errorf("balance %d, want 9900", bal)
		}
		e.MustVerify(t)
	})

	t.Run("Idempotency", func(t *testing.T) {
		e := setup(t)
		c := e.Cards[0]
		req := ledger.AuthorizeRequest{MerchantID: e.Merchant.ID, TerminalID: e.Terminal.ID, TxnID: "i1",
			Amount: 300, Currency: "EUR", EMV: Tap(t, c, 300, 0x80)}
		idem := &ledger.Idempotency{IdemKey: ledger.IdemKey{Scope: "k1", Key: "abc"}, Hash: "h1"}
		first, err := e.Ledger.Authorize(ctx, idem, req)
		if err != nil {
			t.Fatal(err)
		}
		want(t, first, ledger.OutcomeApproved, "")
		again, err := e.Ledger.Authorize(ctx, idem, req)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed || again.AuthorizationID != first.AuthorizationID || again.ARPC != first.ARPC {
			t.Errorf("replay %+v, first %+v", again, first)
		}
		other := *idem
		other.Hash = "h2"
		if _, err := e.Ledger.Authorize(ctx, &other, req); !errors.Is(err, ledger.ErrKeyReused) {
			t.Errorf("same key, other request: %v, want ErrKeyReused", err)
		}
		// The same key in another scope is another request.
		scoped := *idem
		scoped.Scope = "k2"
		r, err := e.Ledger.Authorize(ctx, &scoped, req)
		if err != nil {
			t.Fatal(err)
		}
		want(t, r, ledger.OutcomeRejected, ledger.ReasonDuplicateTxn)
		if bal, _ := e.Balance(t, e.Wallets[0].ID); bal != 9_700 {
			t.Errorf("balance %d, want 9700", bal)
		}
		e.Clock.Advance(25 * time.Hour)
		n, err := e.Ledger.PurgeIdempotency(ctx, 24*time.Hour)
		if err != nil || n != 2 {
			t.Errorf("purge: %d, %v; want 2", n, err)
		}
		e.MustVerify(t)
	})

	t.Run("PreauthCapture", func(t *testing.T) {
		e := setup(t)
		w := e.Wallets[1].ID
		r := e.Auth(t, ledger.AuthPreauth, "h1", 4_000, Tap(t, e.Cards[1], 4_000, 0x80))
		want(t, r, ledger.OutcomeApproved, "")
		if bal, held := e.Balance(t, w); bal != 10_000 || held != 4_000 {
			t.Fatalf("after hold: %d held %d", bal, held)
		}
		want(t, e.Auth(t, ledger.AuthPurchase, "h2", 6_001, Tap(t, e.Cards[1], 6_001, 0x80)), ledger.OutcomeDeclined, ledger.ReasonInsufficientFunds)
		if r, _ := e.Ledger.Capture(ctx, nil, e.Merchant.ID, r.AuthorizationID, 4_001); r.Reason != ledger.ReasonAmountTooLarge {
			t.Errorf("over-capture: %+v", r)
		}
		if r, _ := e.Ledger.Capture(ctx, nil, e.Other.ID, r.AuthorizationID, 0); r.Reason != ledger.ReasonNotFound {
			t.Errorf("capture by another merchant: %+v", r)
		}
		c, err := e.Ledger.Capture(ctx, nil, e.Merchant.ID, r.AuthorizationID, 3_500)
		if err != nil {
			t.Fatal(err)
		}
		want(t, c, ledger.OutcomeOK, "")
		if bal, held := e.Balance(t, w); bal != 6_500 || held != 0 {
			t.Fatalf("after capture: %d held %d", bal, held)
		}
		if r, _ := e.Ledger.Void(ctx, nil, e.Merchant.ID, r.AuthorizationID); r.Outcome != ledger.OutcomeOK {
			t.Errorf("void of a capture: %+v", r)
		}
		if bal, _ := e.Balance(t, w); bal != 10_000 {
			t.Fatalf("after void: %d", bal)
		}
		e.MustVerify(t)
	})

	t.Run("HoldVoidAndExpiry", func(t *testing.T) {
		e := setup(t)
		w := e.Wallets[2].ID
		h1 := e.Auth(t, ledger.AuthPreauth, "v1", 1_000, Tap(t, e.Cards[2], 1_000, 0x80))
		h2 := e.Auth(t, ledger.AuthPreauth, "v2", 2_000, Tap(t, e.Cards[2], 2_000, 0x80))
		v, err := e.Ledger.Void(ctx, nil, e.Merchant.ID, h1.AuthorizationID)
		if err != nil || v.Status != ledger.StatusVoided {
			t.Fatalf("void: %+v %v", v, err)
		}
		if n, err := e.Ledger.ExpireHolds(ctx); err != nil || n != 0 {
			t.Fatalf("early expiry: %d %v", n, err)
		}
		e.Clock.Advance(8 * 24 * time.Hour)
		if n, err := e.Ledger.ExpireHolds(ctx); err != nil || n != 1 {
			t.Fatalf("expiry: %d %v", n, err)
		}
		if r, _ := e.Ledger.Capture(ctx, nil, e.Merchant.ID, h2.AuthorizationID, 0); r.Reason != ledger.ReasonInvalidState {
			t.Errorf("capture after expiry: %+v", r)
		}
		a, err := e.Ledger.Store().Authorization(ctx, h2.AuthorizationID)
		if err != nil || a.Status != ledger.StatusExpired {
			t.Errorf("expired hold: %+v %v", a, err)
		}
		if bal, held := e.Balance(t, w); bal != 10_000 || held != 0 {
			t.Errorf("after expiry: %d held %d", bal, held)
		}
		e.MustVerify(t)
	})

	t.Run("RefundAndVoid", func(t *testing.T) {
		e := setup(t)
		w := e.Wallets[3].ID
		p := e.Auth(t, ledger.AuthPurchase, "f1", 2_000, Tap(t, e.Cards[3], 2_000, 0x80))
		tests := []struct {
			name     string
			merchant string
			amount   int64
			reason   string
			balance  int64
		}{
			{"other merchant", e.Other.ID, 100, ledger.ReasonNotFound, 8_000},
			{"partial", e.Merchant.ID, 500, "", 8_500},
			{"too much", e.Merchant.ID, 1_501, ledger.ReasonAmountTooLarge, 8_500},
			{"rest", e.Merchant.ID, 1_500, "", 10_000},
			{"nothing left", e.Merchant.ID, 1, ledger.ReasonAmountTooLarge, 10_000},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, err := e.Ledger.Refund(ctx, nil, tt.merchant, p.AuthorizationID, tt.amount)
				if err != nil {
					t.Fatal(err)
				}
				if r.Reason != tt.reason {
					t.Errorf("reason %q, want %q", r.Reason, tt.reason)
				}
				if bal, _ := e.Balance(t, w); bal != tt.balance {
					t.Errorf("balance %d, want %d", bal, tt.balance)
				}
			})
		}
		if r, _ := e.Ledger.Void(ctx, nil, e.Merchant.ID, p.AuthorizationID); r.Reason != ledger.ReasonInvalidState {
			t.Errorf("void after refund: %+v", r)
		}
		p2 := e.Auth(t, ledger.AuthPurchase, "f2", 700, Tap(t, e.Cards[3], 700, 0x80))
		if r, _ := e.Ledger.Void(ctx, nil, e.Other.ID, p2.AuthorizationID); r.Reason != ledger.ReasonNotFound {
			t.Errorf("void by another merchant: %+v", r)
		}
		if r, _ := e.Ledger.Void(ctx, nil, e.Merchant.ID, p2.AuthorizationID); r.Status != ledger.StatusVoided {
			t.Errorf("void: %+v", r)
		}
		if bal, _ := e.Balance(t, w); bal != 10_000 {
			t.Errorf("balance %d after void", bal)
		}
		e.MustVerify(t)
	})

	t.Run("Reversal", func(t *testing.T) {
		e := setup(t)
		c, w := e.Cards[4], e.Wallets[4].ID
		e.Auth(t, ledger.AuthPurchase, "x1", 900, Tap(t, c, 900, 0x80))
		r, err := e.Ledger.Reverse(ctx, nil, e.Merchant.ID, e.Terminal.ID, "x1")
		if err != nil || r.Status != ledger.StatusReversed {
			t.Fatalf("reversal: %+v %v", r, err)
		}
		again, err := e.Ledger.Reverse(ctx, nil, e.Merchant.ID, e.Terminal.ID, "x1")
		if err != nil || again.Status != ledger.StatusReversed || again.JournalID != "" {
			t.Fatalf("second reversal: %+v %v", again, err)
		}
		// The reversal overtakes its authorization: the late
		// authorization is refused.
		if _, err := e.Ledger.Reverse(ctx, nil, e.Merchant.ID, e.Terminal.ID, "x2"); err != nil {
			t.Fatal(err)
		}
		want(t, e.Auth(t, ledger.AuthPurchase, "x2", 900, Tap(t, c, 900, 0x80)), ledger.OutcomeRejected, ledger.ReasonDuplicateTxn)
		if bal, _ := e.Balance(t, w); bal != 10_000 {
			t.Errorf("balance %d", bal)
		}
		e.MustVerify(t)
	})

	t.Run("Settlement", func(t *testing.T) {
		e := setup(t)
		p1 := e.Auth(t, ledger.AuthPurchase, "s1", 1_000, Tap(t, e.Cards[0], 1_000, 0x80))
		p2 := e.Auth(t, ledger.AuthPurchase, "s2", 500, Tap(t, e.Cards[1], 500, 0x80))
		hold := e.Auth(t, ledger.AuthPreauth, "s3", 700, Tap(t, e.Cards[2], 700, 0x80))
		if r, _ := e.Ledger.Refund(ctx, nil, e.Merchant.ID, p2.AuthorizationID, 200); r.Outcome != ledger.OutcomeOK {
			t.Fatalf("refund: %+v", r)
		}
		if r, _ := e.Ledger.Void(ctx, nil, e.Merchant.ID, p2.AuthorizationID); r.Outcome != ledger.OutcomeRejected {
			t.Fatalf("void of a refunded payment: %+v", r)
		}
		tests := []struct {
			name    string
			req     ledger.BatchRequest
			outcome string
			reason  string
			want    int  // payments in the batch
			settled bool // a batch id was given
			items   int
		}{
			{"dry run", ledger.BatchRequest{Currency: "EUR", Count: 2, Amount: 1_300, Keys: []string{"s1", "s2", "s2/refunds", "s3"}, DryRun: true},
				ledger.OutcomeOK, "", 2, false, 4}, // s1, s2, s2/refunds, the hold s3
			{"dry run, every currency", ledger.BatchRequest{DryRun: true}, ledger.OutcomeOK, "", 2, false, 3},
			{"terminal disagrees", ledger.BatchRequest{Currency: "EUR", Count: 2, Amount: 1_500},
				ledger.OutcomeRejected, ledger.ReasonTotalsMismatch, 2, false, 3},
			{"matching", ledger.BatchRequest{Currency: "EUR", Count: 2, Amount: 1_300}, ledger.OutcomeOK, "", 2, true, 3},
			{"empty batch, terminal disagrees, forced", ledger.BatchRequest{Currency: "EUR", Count: 1, Amount: 10, Force: true},
				ledger.OutcomeOK, ledger.ReasonTotalsMismatch, 0, true, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req.TerminalID = e.Terminal.ID
				r, err := e.Ledger.CloseBatch(ctx, nil, e.Merchant.ID, tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if r.Outcome != tt.outcome || r.Reason != tt.reason || r.Count != tt.want ||
					(r.BatchID != "") != tt.settled || r.Items == nil || len(*r.Items) != tt.items {
					t.Errorf("got %+v", r)
				}
			})
		}
		if r, _ := e.Ledger.Void(ctx, nil, e.Merchant.ID, p1.AuthorizationID); r.Reason != ledger.ReasonSettled {
			t.Errorf("void after settlement: %+v", r)
		}
		if r, _ := e.Ledger.Refund(ctx, nil, e.Merchant.ID, p1.AuthorizationID, 1_000); r.Outcome != ledger.OutcomeOK {
			t.Errorf("refund after settlement: %+v", r)
		}
		if r, _ := e.Ledger.Void(ctx, nil, e.Merchant.ID, hold.AuthorizationID); r.Status != ledger.StatusVoided {
			t.Errorf("hold void after settlement: %+v", r)
		}
		e.MustVerify(t)
	})

	t.Run("RefundsAcrossBatches", func(t *testing.T) {
		e := setup(t)
		p := e.Auth(t, ledger.AuthPurchase, "r1", 1_000, Tap(t, e.Cards[0], 1_000, 0x80))
		refund := func(amount int64) {
			t.Helper()
			if r, _ := e.Ledger.Refund(ctx, nil, e.Merchant.ID, p.AuthorizationID, amount); r.Outcome != ledger.OutcomeOK {
				t.Fatalf("refund: %+v", r)
			}
		}
		closeBatch := func(count int, amount int64, keys []string, dry bool) ledger.Result {
			t.Helper()
			r, err := e.Ledger.CloseBatch(ctx, nil, e.Merchant.ID, ledger.BatchRequest{TerminalID: e.Terminal.ID,
				Currency: "EUR", Count: count, Amount: amount, Keys: keys, DryRun: dry})
			if err != nil || r.Outcome != ledger.OutcomeOK || r.Reason != "" {
				t.Fatalf("batch close: %+v %v", r, err)
			}
			return r
		}
		closeBatch(1, 1_000, []string{"r1"}, false)
		// Each later batch holds the refunds made since the last close,
		// not all of the payment's.
		refund(300)
		second := closeBatch(0, -300, []string{"r1/refunds"}, false)
		refund(200)
		closeBatch(0, -200, []string{"r1/refunds"}, false)
		// A terminal that lost the second close's answer finds the
		// refunds it named settled by it, were it the last.
		refund(100)
		dry := closeBatch(0, -100, []string{"r1/refunds"}, true)
		if items := *dry.Items; len(items) != 1 || items[0].Amount != 100 || items[0].BatchID != "" {
			t.Errorf("unsettled refund items %+v", items)
		}
		last := closeBatch(0, -100, []string{"r1/refunds"}, false)
		again := closeBatch(0, -100, []string{"r1/refunds"}, true)
		if items := *again.Items; len(items) != 1 || items[0].BatchID != last.BatchID || last.BatchID == second.BatchID {
			t.Errorf("settled refund items %+v, want batch %s", items, last.BatchID)
		}
		e.MustVerify(t)
	})

	t.Run("ChatBatchPerMerchant", func(t *testing.T) {
		// Every merchant's chat sales are on one terminal id; a close
		// settles the acting merchant's only.
		e := setup(t)
		chat := func(merchant, txn string, card int, amount int64) ledger.Result {
			t.Helper()
			r, err := e.Ledger.Authorize(ctx, nil, ledger.AuthorizeRequest{Channel: ledger.ChannelChat,
				MerchantID: merchant, TerminalID: ledger.ChatTerminal, TxnID: txn, Amount: amount, Currency: "EUR",
				EMV: Tap(t, e.Cards[card], amount, 0x80)})
			if err != nil {
				t.Fatal(err)
			}
			want(t, r, ledger.OutcomeApproved, "")
			return r
		}
		ours := chat(e.Merchant.ID, "cs1", 0, 1_250)
		theirs := chat(e.Other.ID, "cs2", 1, 700)
		if _, err := e.Ledger.CloseBatch(ctx, nil, "", ledger.BatchRequest{TerminalID: ledger.ChatTerminal,
			Currency: "EUR", Force: true}); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("a close of every merchant's chat sales: %v, want ErrInvalid", err)
		}
		tests := []struct {
			name    string
			req     ledger.BatchRequest
			outcome string
			items   int
		}{
			// The other merchant's session named by its id is not listed.
			{"dry run", ledger.BatchRequest{Keys: []string{"cs1", "cs2"}, DryRun: true}, ledger.OutcomeOK, 1},
			{"the other merchant's totals", ledger.BatchRequest{Currency: "EUR", Count: 2, Amount: 1_950}, ledger.OutcomeRejected, 1},
			{"own totals", ledger.BatchRequest{Currency: "EUR", Count: 1, Amount: 1_250}, ledger.OutcomeOK, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req.TerminalID = ledger.ChatTerminal
				r, err := e.Ledger.CloseBatch(ctx, nil, e.Merchant.ID, tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if r.Outcome != tt.outcome || r.Items == nil || len(*r.Items) != tt.items {
					t.Errorf("got %+v", r)
				}
			})
		}
		if r, _ := e.Ledger.Void(ctx, nil, e.Merchant.ID, ours.AuthorizationID); r.Reason != ledger.ReasonSettled {
			t.Errorf("void of a settled chat sale: %+v", r)
		}
		if r, _ := e.Ledger.Void(ctx, nil, e.Other.ID, theirs.AuthorizationID); r.Status != ledger.StatusVoided {
			t.Errorf("void of the other merchant's unsettled chat sale: %+v", r)
		}
		e.MustVerify(t)
	})

	t.Run("RevokeAPIKeys", func(t *testing.T) {
		e := setup(t)
		store := e.Ledger.Store()
		var keys []ledger.APIKey
		for range 3 {
			k, _, err := e.Ledger.CreateAPIKey(ctx, ledger.RoleTerminal, e.Merchant.ID, e.Terminal.ID)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		manager, _, err := e.Ledger.CreateAPIKey(ctx, ledger.RoleManager, e.Merchant.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		revoked := func(k ledger.APIKey) bool {
			t.Helper()
			got, err := store.APIKey(ctx, k.Hash)
			if err != nil {
				t.Fatal(err)
			}
			return got.Revoked
		}
		steps := []struct {
			name         string
			id, terminal string
			want         int64
		}{
			{"one key", keys[0].ID, "", 1},
			{"the same again", keys[0].ID, "", 0},
			{"the terminal's others", "", e.Terminal.ID, 2},
			{"unknown key", "key_nope", "", 0},
		}
		for _, st := range steps {
			if n, err := e.Ledger.RevokeAPIKeys(ctx, st.id, st.terminal); err != nil || n != st.want {
				t.Errorf("%s: revoked %d, %v; want %d", st.name, n, err, st.want)
			}
		}
		for _, k := range keys {
			if !revoked(k) {
				t.Errorf("key %s not revoked", k.ID)
			}
		}
		if revoked(manager) {
			t.Error("the manager key was revoked with the terminal's")
		}
		if _, err := e.Ledger.RevokeAPIKeys(ctx, "", ""); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("revoking nothing named: %v", err)
		}
	})

	t.Run("TerminalKeyOfItsMerchant", func(t *testing.T) {
		e := setup(t)
		theirs, err := e.Ledger.CreateTerminal(ctx, e.Other.ID, "their till")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			merchant string
			terminal string
			ok       bool
		}{
			{"own terminal", e.Merchant.ID, e.Terminal.ID, true},
			{"another merchant's terminal", e.Merchant.ID, theirs.ID, false},
			{"unknown terminal", e.Merchant.ID, "t_nope", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := e.Ledger.CreateAPIKey(ctx, ledger.RoleTerminal, tt.merchant, tt.terminal)
				if tt.ok && err != nil || !tt.ok && !errors.Is(err, ledger.ErrInvalid) {
					t.Errorf("got %v, want ok %v", err, tt.ok)
				}
			})
		}
	})

	t.Run("OfflineOverdraft", func(t *testing.T) {
		e := setup(t)
		c, w := e.Cards[0], e.Wallets[0].ID
		offline := Tap(t, c, 4_000, 0x40) // ATC 1, spent offline first
		online := Tap(t, c, 7_000, 0x80)  // ATC 2
		want(t, e.Auth(t, ledger.AuthPurchase, "o1", 7_000, online), ledger.OutcomeApproved, "")
		r := e.Auth(t, ledger.AuthOffline, "o2", 4_000, offline)
		want(t, r, ledger.OutcomeApproved, ledger.ReasonOverdraft)
		if r.Overdraft != 1_000 {
			t.Errorf("overdraft %d, want 1000", r.Overdraft)
		}
		want(t, e.Auth(t, ledger.AuthOffline, "o3", 4_000, offline), ledger.OutcomeDeclined, ledger.ReasonReplay)
		want(t, e.Auth(t, ledger.AuthOffline, "o4", 4_000, ledgertest.FlipBit(Tap(t, c, 4_000, 0x40))), ledger.OutcomeDeclined, ledger.ReasonBadCryptogram)
		if bal, _ := e.Balance(t, w); bal != 0 {
			t.Errorf("wallet %d, want 0", bal)
		}
		if bal, _ := e.Balance(t, "offline_receivable:EUR"); bal != -1_000 {
			t.Errorf("receivable %d, want -1000", bal)
		}
		if bal, _ := e.Balance(t, "settle:"+e.Merchant.ID+":EUR"); bal != 11_000 {
			t.Errorf("merchant %d, want 11000", bal)
		}
		e.MustVerify(t)
	})

	t.Run("OverdraftRefunds", func(t *testing.T) {
		// The wallet pays 10,000 of an offline booking of 15,000; the
		// offline receivable carries the 5,000 short. Refunds give the
		// receivable its 5,000 back first, then the wallet its 10,000.
		e := setup(t)
		w, recv := e.Wallets[0].ID, "offline_receivable:EUR"
		r := e.Auth(t, ledger.AuthOffline, "od1", 15_000, Tap(t, e.Cards[0], 15_000, 0x40))
		want(t, r, ledger.OutcomeApproved, ledger.ReasonOverdraft)
		steps := []struct {
			name       string
			refund     int64
			wallet     int64
			receivable int64
		}{
			{"within the shortfall", 3_000, 0, -2_000},
			{"across it", 4_000, 2_000, 0},
			{"the rest", 8_000, 10_000, 0},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				res, err := e.Ledger.Refund(ctx, nil, e.Merchant.ID, r.AuthorizationID, st.refund)
				if err != nil {
					t.Fatal(err)
				}
				want(t, res, ledger.OutcomeOK, "")
				if bal, _ := e.Balance(t, w); bal != st.wallet {
					t.Errorf("wallet %d, want %d", bal, st.wallet)
				}
				if bal, _ := e.Balance(t, recv); bal != st.receivable {
					t.Errorf("receivable %d, want %d", bal, st.receivable)
				}
				e.MustVerify(t)
			})
		}
		if bal, _ := e.Balance(t, "settle:"+e.Merchant.ID+":EUR"); bal != 0 {
			t.Errorf("merchant %d, want 0", bal)
		}
	})

	t.Run("History", func(t *testing.T) {
		e := setup(t)
		e.Auth(t, ledger.AuthPurchase, "y1", 100, Tap(t, e.Cards[0], 100, 0x80))
		e.Clock.Advance(time.Second)
		r, err := e.Ledger.Authorize(ctx, nil, ledger.AuthorizeRequest{Channel: ledger.ChannelChat,
			MerchantID: e.Merchant.ID, TerminalID: ledger.ChatTerminal, TxnID: "y2", Amount: 200, Currency: "EUR",
			EMV: Tap(t, e.Cards[0], 200, 0x80)})
		if err != nil {
			t.Fatal(err)
		}
		want(t, r, ledger.OutcomeApproved, "")
		h, err := e.Ledger.Store().History(ctx, e.Wallets[0].ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 3 || h[0].Channel != ledger.ChannelChat || h[0].Amount != -200 ||
			h[1].Channel != ledger.ChannelInStore || h[2].Kind != "deposit" {
			t.Errorf("history %+v", h)
		}
	})

	t.Run("InvalidRequests", func(t *testing.T) {
		e := setup(t)
		c := e.Cards[0]
		good := Tap(t, c, 100, 0x80)
		tests := []struct {
			name string
			req  ledger.AuthorizeRequest
		}{
			{"amount differs from 9F02", ledger.AuthorizeRequest{Amount: 101, Currency: "EUR", EMV: good}},
			{"currency differs from 5F2A", ledger.AuthorizeRequest{Amount: 100, Currency: "USD", EMV: good}},
			{"unknown currency", ledger.AuthorizeRequest{Amount: 100, Currency: "XXX", EMV: good}},
			{"zero amount", ledger.AuthorizeRequest{Amount: 0, Currency: "EUR", EMV: good}},
			{"TC online", ledger.AuthorizeRequest{Amount: 100, Currency: "EUR", EMV: Tap(t, c, 100, 0x40)}},
			{"garbage", ledger.AuthorizeRequest{Amount: 100, Currency: "EUR", EMV: []byte{0x9F, 0x26, 0x09}}},
			{"no txn id", ledger.AuthorizeRequest{Amount: 100, Currency: "EUR", EMV: good, TxnID: "-"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := tt.req
				r.MerchantID, r.TerminalID = e.Merchant.ID, e.Terminal.ID
				if r.TxnID == "-" {
					r.TxnID = ""
				} else {
					r.TxnID = "bad"
				}
				if _, err := e.Ledger.Authorize(ctx, nil, r); !errors.Is(err, ledger.ErrInvalid) {
					t.Errorf("got %v, want ErrInvalid", err)
				}
			})
		}
	})
}
