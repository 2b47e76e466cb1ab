package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

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
