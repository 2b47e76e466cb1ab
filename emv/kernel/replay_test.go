package kernel

import (
	"context"
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
	return keys
}

func TestReplayTraces(t *testing.T) {
	for _, name := range []string{"mock-visa-online", "mock-visa-offline", "mock-msc-online", "mock-msc-offline", "mock-msc-offline-2", "mock-msc-ms-mode"} {
		t.Run(name, func(t *testing.T) {
			tr := loadTrace(t, name)
			k, tx, err := Replay(tr, testKeys(t))
			if err != nil {
				t.Fatal(err)
			}
			out, err := k.Run(context.Background(), trace.NewCard(tr), tx)
			t.Logf("%v err=%v oda=%v", out, err, out.ODA.Err)
		})
	}
}
