// Command posctl is tappos's headless tool: taps, sync, batches, EMV tools
// and the card simulator. Each subcommand lives in its own cmd_*.go file
// and registers itself; main only dispatches.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one posctl subcommand, addressed by its words (e.g. "emv tlv").
type command struct {
	path  []string
	short string
	run   func(args []string, stdout, stderr io.Writer) int
}

var commands []command

// register adds a subcommand; called from init functions.
func register(c command) { commands = append(commands, c) }

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch finds the longest registered path that prefixes args and runs it.
func dispatch(args []string, stdout, stderr io.Writer) int {
	var best *command
	for i := range commands {
		c := &commands[i]
		if len(c.path) <= len(args) && equal(c.path, args[:len(c.path)]) &&
			(best == nil || len(c.path) > len(best.path)) {
			best = c
		}
	}
	if best == nil {
		usage(args, stderr)
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		return 2
	}
	return best.run(args[len(best.path):], stdout, stderr)
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// usage lists the commands under the words given so far.
func usage(args []string, w io.Writer) {
	fmt.Fprintln(w, "usage: posctl <command> [flags]   (posctl <command> --help for details)")
	fmt.Fprintln(w)
	var lines []string
	for _, c := range commands {
		name := strings.Join(c.path, " ")
		if len(args) > 0 && !strings.HasPrefix(name, args[0]) {
			continue
		}
		lines = append(lines, fmt.Sprintf("  %-22s %s", name, c.short))
	}
	if len(lines) == 0 {
		for _, c := range commands {
			lines = append(lines, fmt.Sprintf("  %-22s %s", strings.Join(c.path, " "), c.short))
		}
	}
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}
