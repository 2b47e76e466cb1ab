package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmvTLVGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		// mock-visa-offline.json: GPO answer (format 2, fDDA, track 2).
		{"visa_gpo.txt", []string{"7781B69F4B7007C80CE709D528ABC39618AE71BB80BDA976AC4F220A2E77D96A03615C5ED6CCC18FB6F72F8D229C72CACEC29FBF1F1B233248F9D961E1887D009DC9AC146963137CC76ECC69C74399B339EEAC184B839D9220EAECCBA56774DD86EF74F07028DB37DD5EB621814BA71B7F8BB6AAE0F4940C1801010110010100100303009F10070601110390000057104761739001010010D191220111438825820220009F360200159F260820261203C3227D269F6C020000"}},
		// mock-visa-offline.json: SELECT PPSE answer, split over arguments with spaces.
		{"visa_ppse.txt", []string{"6F2D840E325041592E5359532E4444463031", "A51BBF0C1861164F07A0000000031010 500B56495341204352454449 54"}},
		// mock-msc-online.json: GPO answer and a record with the PAN, as JSON.
		{"msc_gpo_record.json", []string{"--json", "77 16 82 02 59 80 94 10 08010100 10010201 18010200 20010200", "700E5A0854133300896010345F340101"}},
		// A kernel's outcome data: TVR, TSI, CID, CVM Results.
		{"outcome.txt", []string{"950580000480029B02E8009F2701809F34031F0302"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runEmvTLV(tt.args, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			golden(t, filepath.Join("emv_tlv", tt.name), out.String())
			for _, secret := range []string{"4761739001010010", "5413330089601034"} {
				if strings.Contains(out.String(), secret) {
					t.Errorf("output shows a full PAN")
				}
			}
		})
	}
}

func TestEmvTLVErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"length overrun", []string{"9F0206000000"}, 1, "malformed TLV at offset 2"},
		{"nested overrun", []string{"7005", "9F02060001"}, 1, "malformed TLV at offset 4"},
		{"truncated tag", []string{"9F"}, 1, "malformed TLV at offset 0"},
		{"odd hex", []string{"9F0"}, 2, "odd number of digits"},
		{"bad hex", []string{"9F0G"}, 2, `'G' at digit 3`},
		{"no input", nil, 2, "usage: posctl emv tlv"},
		{"bad flag", []string{"--nope", "00"}, 2, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runEmvTLV(tt.args, &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), tt.code, tt.msg)
			}
		})
	}
}

func TestEmvTLVHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runEmvTLV([]string{"--help"}, &out, &errb); code != 0 {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "Example:") {
		t.Errorf("help lacks an example: %s", errb.String())
	}
}
