package sale

import (
	"path/filepath"
	"strings"
	"testing"

	"tappos/emv/kernel"
	"tappos/emv/tags"
	"tappos/terminal/batch"
	"tappos/terminal/receipt"
)

// checkNoPINSent fails a sale whose CVM is online PIN unless it was
// declined for want of a PIN pad without a request reaching the ledger:
// the terminal captures no PIN, so none can go online.
func checkNoPINSent(t *testing.T, r *rig, res *Result) {
	t.Helper()
	if res.Outcome.CVM != kernel.CVMOnlinePIN {
		return
	}
	if res.Record.Status != batch.Declined || res.Record.Reason != ReasonNoPINEntry {
		t.Errorf("online PIN outcome ended %s (%q), want declined: %s", res.Record.Status, res.Record.Reason, ReasonNoPINEntry)
	}
	if _, sent := r.fake.Auth(res.Record.TxnID); sent {
		t.Errorf("online PIN request reached the ledger without a PIN")
	}
}

// TestAboveCVMLimit taps every card and phone above the CVM required
// limit of each shipped terminal configuration: cards are verified by
// signature (kernel 2 by the card's CVM list, kernel 3 by the CTQ), phones
// by CDCVM, and none is approved or sent online with online PIN.
func TestAboveCVMLimit(t *testing.T) {
	usd := receipt.Currency{Numeric: 840, Alpha: "USD", Exponent: 2, Symbol: "$"}
	shops := []struct {
		name     string
		currency receipt.Currency
		amount   int64 // above the shop's CVM required limit
	}{
		{"cn-shop", cny, 150000},
		{"us-shop", usd, 15000},
	}
	profiles := []struct {
		profile string
		want    kernel.CVM
	}{
		{"visa-credit", kernel.CVMSignature},
		{"visa-offline", kernel.CVMSignature},
		{"mastercard-credit", kernel.CVMSignature},
		{"phone-visa", kernel.CVMCDCVM},
		{"phone-mastercard", kernel.CVMCDCVM},
	}
	for _, shop := range shops {
		cfg, err := kernel.LoadConfig(filepath.Join("..", "..", "testdata", "terminal", shop.name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range profiles {
			t.Run(shop.name+"/"+p.profile, func(t *testing.T) {
				r := newRig(t, nil)
				r.fake.DeclineAbove = 0
				r.t.Kernel.Config, r.t.Currency = cfg, shop.currency
				res, err := r.tap(t, p.profile, shop.amount)
				if err != nil {
					t.Fatal(err)
				}
				checkNoPINSent(t, r, res)
				if res.Outcome.CVM != p.want {
					t.Fatalf("CVM %s, want %s", res.Outcome.CVM, p.want)
				}
				if res.Record.Status != batch.Approved {
					t.Fatalf("status %s (%q), want approved", res.Record.Status, res.Record.Reason)
				}
				if tags.TVR(res.Outcome.TVR).Has(tags.TVROnlinePINEntered) {
					t.Errorf("TVR %s claims an online PIN was entered", res.Record.TVR)
				}
				var b strings.Builder
				if err := res.Receipt.WriteText(&b); err != nil {
					t.Fatal(err)
				}
				signed := strings.Contains(b.String(), "SIGNATURE")
				last := r.events[len(r.events)-1]
				if p.want == kernel.CVMSignature {
					if !signed || !strings.HasSuffix(string(last.Message), "please sign") {
						t.Errorf("signature not asked for: message %q, receipt:\n%s", last.Message, b.String())
					}
				} else if signed {
					t.Errorf("receipt asks a %s tap for a signature", p.want)
				}
			})
		}
	}
}

// TestOnlinePINNotAvailable configures the terminal to advertise online
// PIN, as the shipped configurations once did, so that the kernels choose
// it: the sale declines with ReasonNoPINEntry, shows the decline, prints
// the reason and sends nothing to the ledger, where it used to approve
// the tap while telling the issuer a PIN was entered.
func TestOnlinePINNotAvailable(t *testing.T) {
	tests := []struct {
		name    string
		profile string
	}{
		{"kernel 3 by the CTQ", "visa-credit"},
		{"kernel 2 by the CVM list", "mastercard-credit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.fake.DeclineAbove = 0
			cfg := r.t.Kernel.Config
			cfg.Capabilities[1] |= 0x40 // enciphered PIN for online verification
			for i := range cfg.AIDs {
				if a := &cfg.AIDs[i]; a.Kernel == 3 {
					a.TTQ[0] |= 0x04 // online PIN supported
				} else {
					a.CVMCapabilityCVMRequired[0] |= 0x40
				}
			}
			res, err := r.tap(t, tt.profile, 150000)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome.CVM != kernel.CVMOnlinePIN {
				t.Fatalf("CVM %s: the kernel did not choose online PIN", res.Outcome.CVM)
			}
			checkNoPINSent(t, r, res)
			if got := kinds(r.events); got != "present_card processing remove_card declined" {
				t.Errorf("events: %s", got)
			}
			var b strings.Builder
			if err := res.Receipt.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), ReasonNoPINEntry) || strings.Contains(b.String(), "SIGNATURE") {
				t.Errorf("receipt:\n%s", b.String())
			}
		})
	}
}
