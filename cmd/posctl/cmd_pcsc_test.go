package main

import (
	"bytes"
	"strings"
	"testing"

	"tappos/internal/pcsctest"
	"tappos/terminal/vpcd"
)

func TestPCSCCommands(t *testing.T) {
	slot := pcsctest.Start(t)
	slot.Present(t, vpcd.NewCard([]byte{0x3B, 0x80, 0x80, 0x01, 0x01}, func([]byte) ([]byte, error) {
		return []byte{0x6A, 0x82}, nil
	}))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // lines expected in stdout
	}{
		{"readers", []string{"pcsc", "readers"}, 0, []string{slot.Reader + "\t(virtual: demo and tests only)"}},
		{"ping", []string{"pcsc", "ping", "--reader", slot.Reader, "--allow-virtual", "--wait", "5s"}, 0,
			[]string{"reader: " + slot.Reader, "atr: 3B80800101", "sw: 6A82", "response_bytes: 2"}},
		{"ping refuses virtual", []string{"pcsc", "ping", "--reader", slot.Reader}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := dispatch(tt.args, &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			lines := strings.Split(stdout.String(), "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
