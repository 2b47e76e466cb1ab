package cryptogram

import (
	"errors"
	"testing"
)

// FuzzDeriveVerify derives keys from arbitrary inputs and checks that
// nothing panics and that a generated cryptogram always verifies, an altered
// one never does, and the ARPCs have their fixed lengths.
func FuzzDeriveVerify(f *testing.F) {
	f.Add(byte(0), []byte("0123456789ABCDEF"), "1234567890123456", "00",
		[]byte{0x00, 0x1C}, []byte{0xAB, 0xCD, 0xEF, 0x12}, []byte("12345678"),
		[]byte("transaction data"), []byte{0x00, 0x00})
	f.Add(byte(1), []byte("0123456789ABCDEF"), "12345678901234567", "45",
		[]byte{0x0F, 0xFF}, []byte(nil), []byte(nil), []byte(nil), []byte{0x30, 0x30})
	f.Add(byte(2), []byte("short"), "54133300000F", "1", []byte{1}, []byte{2}, []byte{3}, []byte{4}, []byte{5})
	f.Fuzz(func(t *testing.T, si byte, imk []byte, pan, psn string, atc, un, r, data, extra []byte) {
		schemes := Schemes()
		s := schemes[int(si)%len(schemes)]
		k, err := Derive(s, imk, pan, psn, atc, un, r)
		if err != nil {
			return
		}
		ac, err := GenerateAC(s, k, data)
		if err != nil {
			t.Fatalf("GenerateAC after Derive: %v", err)
		}
		if len(ac) != 8 {
			t.Fatalf("AC is %d bytes", len(ac))
		}
		if err := VerifyAC(s, k, data, ac); err != nil {
			t.Fatalf("VerifyAC(own AC): %v", err)
		}
		ac[0] ^= 0x80
		if err := VerifyAC(s, k, data, ac); !errors.Is(err, ErrCryptogramMismatch) {
			t.Fatalf("VerifyAC(altered AC) = %v", err)
		}
		if a, err := ARPC1(s, k, ac, extra); err == nil && len(a) != 8 {
			t.Fatalf("ARPC1 is %d bytes", len(a))
		}
		if a, err := ARPC2(s, k, ac, un, extra); err == nil && len(a) != 4 {
			t.Fatalf("ARPC2 is %d bytes", len(a))
		}
		InputData(s, func(tag uint32) []byte {
			if tag == 0x9F10 {
				return extra
			}
			return data
		})
	})
}

func BenchmarkGenerateAC(b *testing.B) {
	k, err := Derive(MastercardCVN16, unhex(b, imk), "5413330000000345", "01",
		[]byte{0, 1}, []byte{1, 2, 3, 4}, nil)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 41)
	for b.Loop() {
		if _, err := GenerateAC(MastercardCVN16, k, data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "emv_cryptogram_arqc_ns")
}

// BenchmarkDeriveReady derives with an issuer master key made ready once,
// as the ledger does: compare with BenchmarkDerive.
func BenchmarkDeriveReady(b *testing.B) {
	m, err := NewIssuerMasterKey(unhex(b, imk))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := m.Derive(MastercardCVN16, "5413330000000345", "01",
			[]byte{0, 1}, []byte{1, 2, 3, 4}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "emv_cryptogram_derive_ready_ns")
}

func BenchmarkDerive(b *testing.B) {
	key := unhex(b, imk)
	for b.Loop() {
		if _, err := Derive(MastercardCVN16, key, "5413330000000345", "01",
			[]byte{0, 1}, []byte{1, 2, 3, 4}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "emv_cryptogram_derive_ns")
}
