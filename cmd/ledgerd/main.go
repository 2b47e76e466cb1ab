// Command ledgerd serves tappos's online ledger over HTTP.
//
// Usage:
//
//	ledgerd [flags]          serve (default database ./ledger.db)
//	ledgerd --dev [flags]    seed a demo merchant, terminals, wallets and the
//	                         card simulator's cards once, print the keys, serve
//	ledgerd verify [flags]   check every invariant of the books; exit 1 if any breaks
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
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is ledgerd; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "verify" {
		return verify(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stdout, "usage: ledgerd [--dev] [flags] | ledgerd verify [flags]; ledgerd -flags for the flags")
		return 0
	}
	return serve(ctx, args, stdout, stderr)
}
