package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tappos/ledger"
)

// TestMapErr: errors of a database out of reach become ErrUnavailable,
// lost races ErrConflict, and the rest stay as they are.
func TestMapErr(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, c := range []struct {
		name string
		err  error
		want error // nil: neither sentinel
	}{
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, ledger.ErrUnavailable},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, ledger.ErrUnavailable},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, ledger.ErrUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, ledger.ErrUnavailable},
		{"connect error", &pgconn.ConnectError{Config: &pgconn.Config{}}, ledger.ErrUnavailable},
		{"refused, wrapped", fmt.Errorf("beginning transaction: %w", refused), ledger.ErrUnavailable},
		{"reset", fmt.Errorf("reading: %w", syscall.ECONNRESET), ledger.ErrUnavailable},
		{"dropped mid-answer", fmt.Errorf("receiving: %w", io.ErrUnexpectedEOF), ledger.ErrUnavailable},
		{"unique violation", &pgconn.PgError{Code: "23505"}, ledger.ErrConflict},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, ledger.ErrConflict},
		{"syntax error", &pgconn.PgError{Code: "42601"}, nil},
		{"query canceled", &pgconn.PgError{Code: "57014"}, nil},
		{"no rows", pgx.ErrNoRows, nil},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), nil},
		{"other", errors.New("boom"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := mapErr(c.err)
			if !errors.Is(got, c.err) && c.want != ledger.ErrConflict {
				t.Errorf("mapErr(%v) = %v, lost the cause", c.err, got)
			}
			for _, s := range []error{ledger.ErrUnavailable, ledger.ErrConflict} {
				if errors.Is(got, s) != (s == c.want) {
					t.Errorf("mapErr(%v) = %v: errors.Is %v is %v", c.err, got, s, !(s == c.want))
				}
			}
		})
	}
	if mapErr(nil) != nil {
		t.Error("mapErr(nil) is not nil")
	}
}
