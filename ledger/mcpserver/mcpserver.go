// Package mcpserver serves chat checkout to shopping agents over the
// Model Context Protocol (streamable HTTP). An agent authenticates with
// its agent API key and may use the tools search_catalog,
// create_checkout, complete_checkout, wallet_balance and
// recent_purchases on the wallets it holds an active mandate for.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"tappos/ledger"
	"tappos/ledger/checkout"
	"tappos/ledger/internal/httpjson"
)

// Config configures [New].
type Config struct {
	Service *checkout.Service
	// PublicURL is the ledger's base URL as shoppers reach it, for the
	// confirmation instructions; e.g. "https://ledger.example".
	PublicURL string
	Logger    *slog.Logger // default: no logging
	Version   string       // of the server, for clients; default "dev"
	// Done ends agents' GET event streams when it is done. A stream lasts
	// until its agent hangs up, so without it an open one holds up the
	// server's graceful shutdown; tool calls (POSTs) are left to finish.
	// Nil: streams end only with their requests.
	Done context.Context
}

// sessionTimeout closes MCP sessions idle that long, so that agents that
// vanish do not hold memory.
const sessionTimeout = 15 * time.Minute

// toolDeadline gives tool calls the REST checkout's deadline: without it a
// call waits on a stuck ledger for as long as the agent's request lasts.
func toolDeadline(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "tools/call" {
			return next(ctx, method, req)
		}
		ctx, cancel := context.WithTimeout(ctx, checkout.Timeout)
		defer cancel()
		return next(ctx, method, req)
	}
}

// New returns the MCP endpoint. Requests without a valid agent key get
// 401, other keys 403.
func New(cfg Config) http.Handler {
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	t := &tools{s: cfg.Service, base: strings.TrimSuffix(cfg.PublicURL, "/")}
	srv := mcp.NewServer(&mcp.Implementation{Name: "tappos-checkout", Version: cfg.Version}, &mcp.ServerOptions{
		Instructions: "Shop for the user from tappos merchants' catalogs and pay from their wallet, " +
			"within the mandate they granted you. Search the catalog, create a checkout, complete it. " +
			"If a purchase needs the user's confirmation, tell them the code and where to confirm it, " +
			"then complete the checkout again.",
		Logger: cfg.Logger,
	})
	srv.AddReceivingMiddleware(toolDeadline)
	t.register(srv)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Logger: cfg.Logger, SessionTimeout: sessionTimeout})
	verify := func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		k, err := cfg.Service.Authenticate(ctx, token)
		if errors.Is(err, checkout.ErrUnauthorized) {
			return nil, fmt.Errorf("%w: unknown or revoked API key", auth.ErrInvalidToken)
		}
		if err != nil {
			return nil, err
		}
		if k.Role != ledger.RoleAgent {
			return &auth.TokenInfo{UserID: k.ID, Scopes: []string{k.Role}}, nil
		}
		return &auth.TokenInfo{UserID: k.ID, Scopes: []string{ledger.RoleAgent}, Extra: map[string]any{"key": k}}, nil
	}
	limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti := auth.TokenInfoFromContext(r.Context())
		if ti != nil {
			httpjson.ReportKey(w, ti.UserID)
		}
		if ti == nil || !cfg.Service.Allow(ti.UserID) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests for this API key", http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	})
	authed := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{
		Scopes:                 []string{ledger.RoleAgent},
		AllowMissingExpiration: true, // API keys last until revoked
	})(limited)
	if cfg.Done == nil {
		return authed
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			defer context.AfterFunc(cfg.Done, cancel)()
			r = r.WithContext(ctx)
		}
		authed.ServeHTTP(w, r)
	})
}
