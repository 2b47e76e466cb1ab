package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"tappos/ledger"
	"tappos/ledger/api"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ledgerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	tlsCert := fs.String("tls-cert", "", "TLS certificate `file` (PEM); serves HTTPS with --tls-key")
	tlsKey := fs.String("tls-key", "", "TLS private key `file` (PEM)")
	issuers := fs.String("issuers", "", "issuer keys `file`: JSON [{\"pan_prefix\", \"scheme\", \"imk\"}]")
	cards := fs.String("cards", "", "card simulator profiles `dir` whose issuer keys to trust (default testdata/cards with --dev)")
	writers := fs.Int("writers", 0, "write transactions at once (default 1 on SQLite, 2 on PostgreSQL)")
	dev := fs.Bool("dev", false, "seed demo data once and print its keys")
	devKeys := fs.String("dev-keys", "ledger.dev-keys.json", "with --dev: `file` where the demo keys are kept")
	devCurrency := fs.String("dev-currency", "CNY", "with --dev: the demo wallets' and catalog's ISO 4217 `currency`")
	publicURL := fs.String("public-url", "", "the ledger's externally reachable base `URL`, e.g. https://ledger.example, given to shoppers to confirm chat purchases (default with --dev: the listen address)")
	rate := fs.Float64("rate", 200, "requests per second per API key, a batch item counting as one; bursts of twice that, at least a full batch of 1000 (negative: no limit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(api.GCPercent)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	fail := func(err error) int {
		log.Error("ledgerd failed", "err", err)
		return 1
	}
	if err := checkPublicURL(*publicURL); err != nil {
		return fail(err)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fail(errors.New("--tls-cert and --tls-key go together"))
	}
	if *dev && *cards == "" {
		*cards = "testdata/cards"
	}
	var keys []ledger.IssuerKey
	if *issuers != "" {
		k, err := loadIssuers(*issuers)
		if err != nil {
			return fail(err)
		}
		keys = k
	}
	var profiles []profile
	if *cards != "" {
		p, err := loadProfiles(*cards)
		if err != nil {
			return fail(err)
		}
		profiles = p
		keys = append(keys, profileIssuers(p)...)
	}
	secret, err := c.tokenSecret()
	if err != nil {
		return fail(err)
	}
	store, err := openStore(ctx, c.db, true)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	if *writers < 0 {
		return fail(errors.New("--writers must not be negative"))
	}
	l, err := ledger.New(ledger.Config{Store: store, TokenSecret: secret, Issuers: keys, Logger: log, Writers: *writers})
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	if *dev {
		if err := seedDev(ctx, l, profiles, *devCurrency, *devKeys, stdout); err != nil {
			return fail(fmt.Errorf("seeding demo data: %w", err))
		}
		if err := seedChat(ctx, l, *devKeys, time.Now(), stdout); err != nil {
			return fail(fmt.Errorf("seeding chat checkout demo: %w", err))
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(err)
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	switch {
	case *publicURL == "" && *dev:
		*publicURL = scheme + "://" + ln.Addr().String()
	case *publicURL == "":
		// Shoppers are told a path alone rather than an address they
		// likely cannot reach, such as http://[::]:8080.
		log.Warn("--public-url is not set: shoppers confirming a chat purchase are told a path without the ledger's address; set it to the ledger's externally reachable base URL")
	}
	// Agents' event streams end when shutdown starts: Shutdown waits for
	// every request, and a stream lasts as long as its agent keeps it.
	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	handler := api.New(api.Config{Ledger: l, Logger: log, Rate: *rate})
	if err := withChat(streams, l, handler, *publicURL, *rate, log); err != nil {
		return fail(err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// TLS handshake and protocol errors, otherwise printed unstructured
		// to stderr among the JSON lines.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(endStreams)
	go maintain(ctx, l, log)
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	fmt.Fprintf(stdout, "ledgerd: listening on %s://%s\n", scheme, ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "issuer_keys", len(keys), "postgres", isPostgres(c.db))
	select {
	case err := <-errc:
		return fail(err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		// Requests still running when Close cuts them off get no answer
		// and are retried under their idempotency keys; the deferred
		// ledger Close answers or drops the writer's batch whole.
		log.Warn("requests outlived the shutdown timeout; closing their connections", "err", err)
		srv.Close()
	}
	return 0
}

// checkPublicURL accepts an empty --public-url or an absolute http(s)
// URL, which shoppers are sent to as it is.
func checkPublicURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--public-url %q: want an absolute http or https URL, such as https://ledger.example", s)
	}
	return nil
}

// idempotencyKeep is how long idempotency keys are kept: at least the
// 24 hours promised, with a margin for clients in other time zones of
// retrying.
const idempotencyKeep = 48 * time.Hour

// maintain expires holds and forgets old idempotency keys every minute.
func maintain(ctx context.Context, l *ledger.Ledger, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := l.ExpireHolds(ctx); err != nil {
			log.Warn("expiring holds", "err", err)
		} else if n > 0 {
			log.Info("holds expired", "count", n)
		}
		if _, err := l.PurgeIdempotency(ctx, idempotencyKeep); err != nil {
			log.Warn("purging idempotency keys", "err", err)
		}
	}
}
