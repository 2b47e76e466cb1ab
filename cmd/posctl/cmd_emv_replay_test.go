package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmvReplayGolden(t *testing.T) {
	for _, name := range []string{"mock-visa-online", "mock-visa-offline", "mock-msc-online", "mock-msc-offline", "mock-msc-offline-2", "mock-msc-ms-mode"} {
		for _, format := range []string{"txt", "json"} {
			t.Run(name+"."+format, func(t *testing.T) {
				args := []string{"--accept-expired-ca-keys", "--capk", "../../testdata/capk/capk-test.json", "../../testdata/traces/" + name + ".json"}
				if format == "json" {
					args = append(args, "--json")
				}
				var out, errb bytes.Buffer
				if code := runEmvReplay(args, &out, &errb); code != 0 {
					t.Fatalf("exit %d: %s", code, errb.String())
				}
				golden(t, filepath.Join("emv_replay", name+"."+format), out.String())
			})
		}
	}
}

// TestEmvReplayExpiredCAKey replays a recording signed under a scheme test
// key that had expired: without --accept-expired-ca-keys the kernel treats
// the key as withdrawn, as a live terminal must, and sets CDA failed
// (TVR 04..) before GENERATE AC. It then asks without CDA, which the
// recorded card was never asked, so the replay ends there.
func TestEmvReplayExpiredCAKey(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"--capk", "../../testdata/capk/capk-test.json", "../../testdata/traces/mock-msc-online.json"}
	if code := runEmvReplay(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"CA public key expired", "0400040001", "GENERATE AC"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestEmvReplayErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no trace", nil, 2, "give one TRACE.json"},
		{"two traces", []string{"a.json", "b.json"}, 2, "give one TRACE.json"},
		{"missing trace", []string{"no-such.json"}, 1, "no-such.json"},
		{"missing key file", []string{"--capk", "no-such-keys.json", "../../testdata/traces/mock-visa-online.json"}, 1, "no-such-keys.json"},
		{"bad flag", []string{"--nope"}, 2, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runEmvReplay(tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, errb.String(), tc.code, tc.want)
			}
		})
	}
}
