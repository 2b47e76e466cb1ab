package needs

import (
	"errors"
	"os"
	"testing"
)

// fakeTB records how a test was stopped.
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Name() string          { return "TestFake" }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
func (f *fakeTB) Skip(...any)           { f.skipped = true }

func TestMissing(t *testing.T) {
	f := &fakeTB{}
	Missing(f, "PostgreSQL", errors.New("no initdb"))
	root := os.Geteuid() == 0
	if f.failed != root || f.skipped == root {
		t.Errorf("as root=%v: failed %v, skipped %v; want a failure as root, a skip otherwise", root, f.failed, f.skipped)
	}
}
