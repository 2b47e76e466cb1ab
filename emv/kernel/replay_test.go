package kernel

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tappos/emv/oda"
	"tappos/emv/trace"
)

func loadTrace(tb testing.TB, name string) *trace.Trace {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "traces", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

func testKeys(tb testing.TB) *oda.CAKeyStore {
	tb.Helper()
	keys, err := LoadCAKeyFiles(filepath.Join("..", "..", "testdata", "capk", "capk-test.json"))
	if err != nil {
		tb.Fatal(err)
	}
	// The recordings were signed under scheme test keys that had expired
	// (12/17) before they were made (2020).
	keys.AcceptExpired = true
	return keys
}

// strictCard is a recorded card that fails the test on any command the
// recording does not hold: the kernel must repeat the recording exactly.
type strictCard struct {
	tb testing.TB
	tr *trace.Trace
	c  *trace.Card
}

func (s strictCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if _, ok := s.tr.Find(cmd); !ok || !recorded(s.tr, cmd) {
		s.tb.Errorf("command %X not in the recording", cmd)
	}
	return s.c.Transmit(ctx, cmd)
}

func recorded(tr *trace.Trace, cmd []byte) bool {
	for _, e := range tr.Exchanges {
		if bytes.Equal(e.Command, cmd) {
			return true
		}
	}
	return false
}

func TestReplayTraces(t *testing.T) {
	for _, tc := range []struct {
		trace      string
		status     Status
		ctype      CryptogramType
		cryptogram string
		cvm        CVM
		oda        oda.Method
		odaOK      bool
		tvr        string
		apdus      int
	}{
		{"mock-visa-online", OnlineRequest, ARQC, "48325309BE82CBA2", CVMOnlinePIN, oda.MethodNone, false, "0000000000", 3},
		{"mock-visa-offline", Approved, TC, "20261203C3227D26", CVMNone, oda.MethodFDDA, true, "0000000000", 6},
		{"mock-msc-online", OnlineRequest, ARQC, "675B759BB5350F8C", CVMOnlinePIN, oda.MethodCDA, true, "0000040001", 10},
		{"mock-msc-offline", Approved, TC, "49C27A9F8E4BF538", CVMNone, oda.MethodCDA, true, "0000000001", 9},
		// The recording is signed under Mastercard test key F8, which the
		// published test key list lacks: CDA cannot verify.
		{"mock-msc-offline-2", Declined, ARQC, "", CVMNone, oda.MethodCDA, false, "0400000001", 9},
		{"mock-msc-ms-mode", TryAnotherInterface, 0, "", CVMNone, oda.MethodNone, false, "0000000000", 3},
	} {
		t.Run(tc.trace, func(t *testing.T) {
			tr := loadTrace(t, tc.trace)
			k, tx, err := Replay(tr, testKeys(t))
			if err != nil {
				t.Fatal(err)
			}
			out, err := k.Run(context.Background(), strictCard{t, tr, trace.NewCard(tr)}, tx)
			if out.Status != tc.status {
				t.Fatalf("got %v, %v; want %v", out, err, tc.status)
			}
			if tc.status == TryAnotherInterface && !errors.Is(err, ErrMagStripe) {
				t.Errorf("err = %v, want ErrMagStripe", err)
			}
			if out.CryptogramType != tc.ctype || hexUpper(out.Cryptogram) != tc.cryptogram {
				t.Errorf("cryptogram %v %X, want %v %s", out.CryptogramType, out.Cryptogram, tc.ctype, tc.cryptogram)
			}
			if out.CVM != tc.cvm || out.ODA.Method != tc.oda || out.ODA.OK != tc.odaOK {
				t.Errorf("CVM %v ODA %v %v (%v), want %v %v %v", out.CVM, out.ODA.Method, out.ODA.OK, out.ODA.Err, tc.cvm, tc.oda, tc.odaOK)
			}
			if hexUpper(out.TVR[:]) != tc.tvr || out.APDUs != tc.apdus {
				t.Errorf("TVR %X apdus %d, want %s %d", out.TVR, out.APDUs, tc.tvr, tc.apdus)
			}
			checkNoCardData(t, out, err)
		})
	}
}

// TestReplayWithoutKeys declines the CDA trace: no CA key, no offline
// trust.
func TestReplayWithoutKeys(t *testing.T) {
	tr := loadTrace(t, "mock-msc-offline")
	k, tx, err := Replay(tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := k.Run(context.Background(), trace.NewCard(tr), tx)
	if out.Status != Declined || out.ODA.OK {
		t.Errorf("got %v", out)
	}
}

// BenchmarkKernelTap replays each recorded trace in memory. The simulated
// cards' profiles have their own kernel_tap_us{profile=...} figures, in
// terminal/cardsim (emv packages do not import the simulator).
func BenchmarkKernelTap(b *testing.B) {
	for _, name := range []string{"mock-visa-online", "mock-visa-offline", "mock-msc-online", "mock-msc-offline", "mock-msc-offline-2", "mock-msc-ms-mode"} {
		b.Run(name, func(b *testing.B) {
			tr := loadTrace(b, name)
			k, tx, err := Replay(tr, testKeys(b))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				if _, err := k.Run(ctx, trace.NewCard(tr), tx); err != nil && !errors.Is(err, ErrMagStripe) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "kernel_tap_us{trace="+name+"}")
		})
	}
}
