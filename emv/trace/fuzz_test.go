package trace

import (
	"encoding/binary"
	"testing"
)

// encodeExchanges packs exchanges as FuzzAnalyze reads them: each command
// and response behind a two-byte length.
func encodeExchanges(ex []Exchange) []byte {
	var b []byte
	for _, e := range ex {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Command)))
		b = append(b, e.Command...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Response)))
		b = append(b, e.Response...)
	}
	return b
}

// decodeExchanges is the inverse of encodeExchanges, cutting a field short
// where the input ends.
func decodeExchanges(b []byte) []Exchange {
	next := func() []byte {
		if len(b) < 2 {
			b = nil
			return nil
		}
		n := min(int(binary.BigEndian.Uint16(b)), len(b)-2)
		v := b[2 : 2+n]
		b = b[2+n:]
		return v
	}
	var ex []Exchange
	for len(b) > 0 {
		ex = append(ex, Exchange{Command: next(), Response: next()})
	}
	return ex
}

// FuzzAnalyze runs the analysis over hostile card answers, in the
// terminal context of the recorded traces: it must never panic, and a
// report that says ODA passed carries no error.
func FuzzAnalyze(f *testing.F) {
	keys := loadKeys(f)
	base := load(f, "mock-msc-online.json")
	for _, name := range []string{"mock-msc-online.json", "mock-msc-offline.json", "mock-visa-offline.json", "mock-msc-ms-mode.json"} {
		f.Add(encodeExchanges(load(f, name).Exchanges))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := *base
		tr.Exchanges = decodeExchanges(b)
		rep, err := Analyze(&tr, keys)
		if err != nil {
			return
		}
		if rep.ODA.OK && rep.ODA.Error != "" {
			t.Fatalf("ODA ok with error %q", rep.ODA.Error)
		}
		if !rep.ODA.OK && rep.ODA.Error == "" {
			t.Fatal("ODA failed without naming a step")
		}
	})
}
