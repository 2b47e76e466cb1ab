package sale

import (
	"strings"
	"testing"

	"tappos/emv/kernel"
	"tappos/terminal/batch"
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
