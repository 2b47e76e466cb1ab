package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tappos/emv/tlv"
	"tappos/emv/trace"
)

// tracePANs returns the PANs a recorded card gave, as digits: from 5A,
// track 2 (57, Mastercard's 9F6B) and track 1 (56, 9F1F is discretionary).
func tracePANs(t *testing.T, tr *trace.Trace) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range tr.Exchanges {
		l, err := tlv.Decode(e.Response[:len(e.Response)-2])
		if err != nil {
			continue
		}
		l.Walk(func(o tlv.TLV, _ int) {
			digits := strings.ToUpper(hex.EncodeToString(o.Value))
			switch o.Tag {
			case 0x5A:
				seen[strings.TrimRight(digits, "F")] = true
			case 0x57, 0x9F6B:
				pan, _, _ := strings.Cut(digits, "D")
				seen[pan] = true
			case 0x56:
				if m := regexp.MustCompile(`^B?([0-9]{12,19})\^`).FindSubmatch(o.Value); m != nil {
					seen[string(m[1])] = true
				}
			}
		})
	}
	var pans []string
	for p := range seen {
		if len(p) >= 12 {
			pans = append(pans, p)
		}
	}
	if len(pans) == 0 {
		t.Fatal("trace holds no PAN")
	}
	return pans
}

// TestEmvNoFullPAN runs the emv commands over every recorded trace and
// checks that no full PAN reaches standard output or standard error: not
// in the analysis, not in a decoded answer (text or JSON), not in an
// error about a tampered trace or a cryptogram computed for that PAN.
func TestEmvNoFullPAN(t *testing.T) {
	files, err := filepath.Glob("../../testdata/traces/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no traces: %v", err)
	}
	const capk = "../../testdata/capk/capk-test.json"
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := trace.Read(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			pans := tracePANs(t, tr)

			type run struct {
				name string
				cmd  func(args []string, stdout, stderr *bytes.Buffer) int
				args []string
				pans []string // nil: the trace's
			}
			analyze := func(args []string, o, e *bytes.Buffer) int { return runEmvAnalyze(args, o, e) }
			tlvCmd := func(args []string, o, e *bytes.Buffer) int { return runEmvTLV(args, o, e) }
			arqc := func(args []string, o, e *bytes.Buffer) int { return runEMVARQC(args, o, e) }
			runs := []run{
				{"analyze", analyze, []string{"--accept-expired-ca-keys", "--capk", capk, file}, nil},
				{"analyze --json", analyze, []string{"--json", "--accept-expired-ca-keys", "--capk", capk, file}, nil},
			}
			// A changed last PAN digit wherever the trace holds it makes
			// ODA fail on signed data that holds the PAN.
			tampered, tamperedPANs := string(raw), make([]string, len(pans))
			for i, p := range pans {
				tamperedPANs[i] = p[:len(p)-1] + string(rune('0'+(p[len(p)-1]-'0'+1)%10))
				tampered = strings.ReplaceAll(tampered, p, tamperedPANs[i])
			}
			tamperedPath := filepath.Join(t.TempDir(), "tampered.json")
			if err := os.WriteFile(tamperedPath, []byte(tampered), 0o644); err != nil {
				t.Fatal(err)
			}
			runs = append(runs, run{"analyze tampered", analyze, []string{"--json", "--accept-expired-ca-keys", "--capk", capk, tamperedPath}, tamperedPANs})
			for i, e := range tr.Exchanges {
				for _, h := range [][]byte{e.Command, e.Response[:len(e.Response)-2]} {
					x := hex.EncodeToString(h)
					runs = append(runs,
						run{"tlv", tlvCmd, []string{x}, nil},
						run{"tlv --json", tlvCmd, []string{"--json", x}, nil},
					)
					if i == 0 {
						// Truncated: the error names an offset, not the data.
						runs = append(runs, run{"tlv truncated", tlvCmd, []string{x[:len(x)-2]}, nil})
					}
				}
			}
			for _, p := range pans {
				runs = append(runs,
					run{"arqc", arqc, []string{"--scheme", "mc-cvn16", "--imk", pyemvIMK, "--pan", p,
						"--psn", "01", "--atc", "0001", "--un", "01020304", "--data", "00", "--arc", "3030"}, nil},
					run{"arqc bad PSN", arqc, []string{"--scheme", "visa-cvn10", "--imk", pyemvIMK, "--pan", p,
						"--psn", "1A", "--data", "00"}, nil},
					run{"arqc short IMK", arqc, []string{"--scheme", "visa-cvn10", "--imk", "0123", "--pan", p,
						"--data", "00"}, nil},
				)
			}
			for _, r := range runs {
				var out, errb bytes.Buffer
				r.cmd(r.args, &out, &errb)
				if r.pans == nil {
					r.pans = pans
				}
				for _, p := range r.pans {
					for what, s := range map[string]string{"stdout": out.String(), "stderr": errb.String()} {
						if strings.Contains(strings.ToUpper(s), p) {
							t.Errorf("%s: %s holds the full PAN:\n%s", r.name, what, s)
						}
					}
				}
			}
		})
	}
}
