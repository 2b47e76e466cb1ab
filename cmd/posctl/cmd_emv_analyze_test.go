package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmvAnalyzeGolden(t *testing.T) {
	for _, name := range []string{"mock-visa-online", "mock-visa-offline", "mock-msc-online", "mock-msc-offline", "mock-msc-offline-2", "mock-msc-ms-mode"} {
		for _, format := range []string{"txt", "json"} {
			t.Run(name+"."+format, func(t *testing.T) {
				args := []string{"--accept-expired-ca-keys", "--capk", "../../testdata/capk/capk-test.json", "../../testdata/traces/" + name + ".json"}
				if format == "json" {
					args = append([]string{"--json"}, args...)
				}
				var out, errb bytes.Buffer
				if code := runEmvAnalyze(args, &out, &errb); code != 0 {
					t.Fatalf("exit %d: %s", code, errb.String())
				}
				golden(t, filepath.Join("emv_analyze", name+"."+format), out.String())
			})
		}
	}
}

// TestEmvAnalyzeTamperedRecord changes one byte of a signed record in a
// copy of the Mastercard online trace: ODA must fail, naming the step.
func TestEmvAnalyzeTamperedRecord(t *testing.T) {
	b, err := os.ReadFile("../../testdata/traces/mock-msc-online.json")
	if err != nil {
		t.Fatal(err)
	}
	// A byte inside the ICC public key certificate 9F46.
	tampered := strings.Replace(string(b), "9F46708D7E6C", "9F46708D7E6D", 1)
	if tampered == string(b) {
		t.Fatal("certificate not found in the trace")
	}
	path := filepath.Join(t.TempDir(), "tampered.json")
	os.WriteFile(path, []byte(tampered), 0o644)
	var out, errb bytes.Buffer
	if code := runEmvAnalyze([]string{"--json", "--accept-expired-ca-keys", "--capk", "../../testdata/capk/capk-test.json", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep struct {
		ODA struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"oda"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.ODA.OK || !strings.Contains(rep.ODA.Error, "ICC certificate") {
		t.Errorf("oda = %+v, want a failure naming the ICC certificate", rep.ODA)
	}
}

func TestEmvAnalyzeErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no capk":      {"../../testdata/traces/mock-msc-online.json"},
		"no trace":     {"--capk", "../../testdata/capk/capk-test.json"},
		"missing file": {"--capk", "../../testdata/capk/capk-test.json", "nope.json"},
		"bad capk":     {"--capk", "../../testdata/traces/mock-msc-online.json", "../../testdata/traces/mock-msc-online.json"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runEmvAnalyze(args, &out, &errb); code == 0 {
				t.Errorf("exit 0, want failure; stdout %s", out.String())
			}
		})
	}
}
