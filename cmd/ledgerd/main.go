// Command ledgerd serves tappos's online ledger over HTTP.
//
// Usage:
//
//	ledgerd [flags]          serve (default database ./ledger.db)
//	ledgerd --dev [flags]    seed a demo merchant, terminals, wallets and the
//	                         card simulator's cards once, print the keys, serve
//	ledgerd verify [flags]   check every invariant of the books; exit 1 if any breaks
//	ledgerd merchant|terminal|key|wallet|catalog ...   administration, on the database
//
// --db postgres://... uses PostgreSQL; several ledgerd may share one.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is ledgerd; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return verify(ctx, args[1:], stdout, stderr)
		case "merchant", "terminal", "key", "wallet", "catalog":
			return admin(ctx, args[0], args[1:], stdin, stdout, stderr)
		case "help", "-h", "--help":
			fmt.Fprintf(stdout, "usage: ledgerd [--dev] [flags]\n       ledgerd verify [flags]\n%s\n", adminUsage)
			return 0
		}
	}
	return serve(ctx, args, stdout, stderr)
}
