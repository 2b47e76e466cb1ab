package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"tappos/ledger/checkout/checkouttest"
)

func TestChatBuy(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{})
	base := []string{"chat", "buy", "--ledger", e.URL, "--key", e.AgentKey, "--merchant", e.Merchant.ID}
	tests := []struct {
		name    string
		args    []string
		code    int
		out     string // in stdout
		errText string // in stderr
	}{
		{"WithinMandate", []string{"--wallet", e.Wallet.ID, "--sku", "COF-250", "--qty", "1"}, 0, "paid     EUR 12.50", ""},
		{"AboveMandate", []string{"--wallet", e.Wallet.ID, "--sku", "GRD-1"}, 3, "posctl chat confirm", "confirm code"},
		{"UnknownSKU", []string{"--wallet", e.Wallet.ID, "--sku", "NOPE"}, 1, "", "sells no NOPE"},
		{"OtherWallet", []string{"--wallet", e.Other.ID, "--sku", "COF-250"}, 1, "", "403"},
		{"MissingFlags", []string{"--wallet", e.Wallet.ID}, 2, "", "usage:"},
		{"Help", []string{"--help"}, 0, "", "Example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := dispatch(append(append([]string{}, base...), tt.args...), &out, &errs)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errs.String(), tt.errText) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errs.String(), tt.code, tt.out, tt.errText)
			}
		})
	}
}

func TestChatConfirm(t *testing.T) {
	e := checkouttest.Start(t, checkouttest.Options{})
	var out, errs bytes.Buffer
	if code := dispatch([]string{"chat", "buy", "--ledger", e.URL, "--key", e.AgentKey, "--merchant", e.Merchant.ID,
		"--wallet", e.Wallet.ID, "--sku", "GRD-1"}, &out, &errs); code != 3 {
		t.Fatalf("buy above the mandate: exit %d %s %s", code, out.String(), errs.String())
	}
	m := regexp.MustCompile(`confirm code (\S+) at POST \S+/v1/checkout_sessions/(\S+)/confirm`).FindStringSubmatch(errs.String())
	if m == nil {
		t.Fatalf("no code in %q", errs.String())
	}
	confirm := func(key, code string) (int, string) {
		var out, errs bytes.Buffer
		c := dispatch([]string{"chat", "confirm", "--ledger", e.URL, "--key", key, "--session", m[2], "--code", code}, &out, &errs)
		return c, out.String() + errs.String()
	}
	tests := []struct {
		name, key, code string
		exit            int
		want            string
	}{
		{"AgentKey", e.AgentKey, m[1], 1, "HTTP 403"},
		{"WrongCode", e.OwnerKey, "AAAAAA", 1, "HTTP 409"},
		{"Owner", e.OwnerKey, m[1], 0, "paid EUR 89.00"},
		{"Again", e.OwnerKey, m[1], 0, "paid EUR 89.00"}, // an idempotent replay
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, text := confirm(tt.key, tt.code); code != tt.exit || !strings.Contains(text, tt.want) {
				t.Errorf("exit %d %q, want %d %q", code, text, tt.exit, tt.want)
			}
		})
	}
	if got := e.Balance(t, e.Wallet.ID); got != 100_00-89_00 {
		t.Errorf("balance %d", got)
	}
}
