package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/path, rewriting the file first under
// -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s", path, got)
	}
}

func TestEveryCommandHasHelpWithExample(t *testing.T) {
	for _, c := range commands {
		name := strings.Join(c.path, " ")
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := c.run([]string{"--help"}, &out, &errb)
			help := out.String() + errb.String()
			if code != 0 && code != 2 {
				t.Errorf("--help exit code %d", code)
			}
			if !strings.Contains(help, "posctl "+name) || !strings.Contains(strings.ToLower(help), "example") {
				t.Errorf("--help lacks usage with an example:\n%s", help)
			}
		})
	}
}

func TestDispatchUnknown(t *testing.T) {
	var errb bytes.Buffer
	if code := dispatch([]string{"no-such-command"}, io.Discard, &errb); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "usage: posctl") {
		t.Errorf("no usage: %s", errb.String())
	}
}
