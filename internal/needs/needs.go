// Package needs stops a test that lacks a system package or service.
//
// Run as root, `make deps` installs everything the tests use, so a
// missing piece there is a broken install and fails the test. Without
// root nothing could have been installed: the test is skipped, with a
// banner that `go test` prints even without -v.
package needs

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Missing stops tb for want of what (e.g. "PostgreSQL"), because of err:
// it fails as root and skips loudly otherwise.
func Missing(tb testing.TB, what string, err error) {
	tb.Helper()
	if os.Geteuid() == 0 {
		tb.Fatalf("%s is not available (%v): run make deps", what, err)
	} else {
		SkipLoudly(tb, fmt.Sprintf("%s is not available (%v)", what, err))
	}
}

// SkipLoudly skips tb with a banner on standard error, which `go test`
// shows for a passing package too, and in the skip message.
func SkipLoudly(tb testing.TB, why string) {
	tb.Helper()
	bar := strings.Repeat("#", 72)
	msg := fmt.Sprintf("%s\n# SKIPPING %s: %s\n# Run 'sudo make deps' and run the tests as root.\n%s", bar, tb.Name(), why, bar)
	fmt.Fprintln(os.Stderr, "\n"+msg)
	tb.Skip("\n" + msg)
}
