package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/sqlitestore"
	"tappos/terminal/cardsim"
)

// demoWallets are the simulated cards and phones the embedded ledger
// knows, with their opening balances in minor units of the shop's
// currency. The empty one makes the demo's declined card.
var demoWallets = []struct {
	profile string
	balance int64
}{
	{"visa-credit", 50_000},
	{"visa-offline", 50_000},
	{"mastercard-credit", 50_000},
	{"phone-visa", 50_000},
	{"phone-mastercard", 0},
}

// embeddedLedger is a ledger served over HTTP on a loopback port inside
// the kiosk process, for the demo. Down makes it drop every connection,
// as a network outage would.
type embeddedLedger struct {
	URL  string
	Key  string // the terminal's API key
	down atomic.Bool
	srv  *http.Server
	l    *ledger.Ledger
	s    *sqlitestore.Store
}

// startLedger opens a ledger on a SQLite file in dir, seeds the demo
// merchant, terminal and wallets, and serves it on 127.0.0.1.
func startLedger(ctx context.Context, dir, currency string, logger *slog.Logger) (*embeddedLedger, error) {
	var issuers []ledger.IssuerKey
	for _, w := range demoWallets {
		p, err := cardsim.LoadProfile(w.profile)
		if err != nil {
			return nil, err
		}
		imk, err := hex.DecodeString(p.IMK)
		if err != nil {
			return nil, fmt.Errorf("profile %s: issuer key: %w", w.profile, err)
		}
		issuers = append(issuers, ledger.IssuerKey{Prefix: p.PAN, Scheme: p.Scheme, IMK: imk})
	}
	s, err := sqlitestore.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, secret); err != nil {
		return nil, err
	}
	l, err := ledger.New(ledger.Config{Store: s, TokenSecret: secret, Issuers: issuers, Logger: logger})
	if err != nil {
		s.Close()
		return nil, err
	}
	e := &embeddedLedger{l: l, s: s}
	if err := e.seed(ctx, currency); err != nil {
		e.Close()
		return nil, fmt.Errorf("seeding the demo ledger: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.Close()
		return nil, err
	}
	h := api.New(api.Config{Ledger: l, Logger: logger})
	e.srv = &http.Server{Handler: e.outage(h), ReadHeaderTimeout: 5 * time.Second}
	e.URL = "http://" + ln.Addr().String()
	go e.srv.Serve(ln)
	return e, nil
}

func (e *embeddedLedger) seed(ctx context.Context, currency string) error {
	m, err := e.l.CreateMerchant(ctx, "Demo Café")
	if err != nil {
		return err
	}
	t, err := e.l.CreateTerminal(ctx, m.ID, "till 1")
	if err != nil {
		return err
	}
	if _, e.Key, err = e.l.CreateAPIKey(ctx, ledger.RoleTerminal, m.ID, t.ID); err != nil {
		return err
	}
	for _, w := range demoWallets {
		p, err := cardsim.LoadProfile(w.profile)
		if err != nil {
			return err
		}
		acct, err := e.l.CreateWallet(ctx, w.profile, currency, 0)
		if err != nil {
			return err
		}
		if _, err := e.l.LinkCard(ctx, acct.ID, p.PAN); err != nil {
			return err
		}
		if w.balance > 0 {
			if _, err := e.l.Deposit(ctx, nil, acct.ID, w.balance, currency, "demo opening balance"); err != nil {
				return err
			}
		}
	}
	return nil
}

// outage wraps the API so that, while the ledger is "down", connections
// close without an answer.
func (e *embeddedLedger) outage(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.down.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// SetDown simulates an outage.
func (e *embeddedLedger) SetDown(down bool) { e.down.Store(down) }

// Down reports whether an outage is simulated.
func (e *embeddedLedger) Down() bool { return e.down.Load() }

// Close stops the server and the ledger.
func (e *embeddedLedger) Close() error {
	var errs []error
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		errs = append(errs, e.srv.Shutdown(ctx))
		cancel()
	}
	errs = append(errs, e.l.Close(), e.s.Close())
	return errors.Join(errs...)
}
