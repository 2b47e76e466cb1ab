//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tappos/internal/needs"
)

// TestMain lets the tests run the kiosk itself in a child process: the
// test binary is the app when TAPPOS_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("TAPPOS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	stopXvfb()
	os.Exit(code)
}

var xvfb struct {
	once    sync.Once
	cmd     *exec.Cmd
	display string
	err     error
}

// display starts one Xvfb for the test binary and returns its DISPLAY.
// Without Xvfb the caller is skipped, loudly.
func display(tb testing.TB) string {
	tb.Helper()
	xvfb.once.Do(func() {
		bin, err := exec.LookPath("Xvfb")
		if err != nil {
			xvfb.err = err
			return
		}
		r, w, err := os.Pipe()
		if err != nil {
			xvfb.err = err
			return
		}
		defer r.Close()
		cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
		cmd.ExtraFiles = []*os.File{w}
		// Xvfb goes when the test binary does, even if it is killed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			w.Close()
			xvfb.err = err
			return
		}
		w.Close()
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			xvfb.err = fmt.Errorf("reading Xvfb's display number: %w", err)
			return
		}
		xvfb.cmd, xvfb.display = cmd, ":"+strings.TrimSpace(line)
	})
	if xvfb.err != nil {
		needs.Missing(tb, "Xvfb", xvfb.err)
	}
	return xvfb.display
}

func stopXvfb() {
	if xvfb.cmd != nil {
		xvfb.cmd.Process.Kill()
		xvfb.cmd.Wait()
	}
}

// runApp runs the kiosk in demo mode in a real window and calls line for
// each line it prints; it fails the test if the app fails.
func runApp(tb testing.TB, line func(string), args ...string) {
	tb.Helper()
	disp := display(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"--demo", "--data", tb.TempDir()}, args...)...)
	cmd.Env = append(os.Environ(), "TAPPOS_MAIN=1", "DISPLAY="+disp, "LANG=en_US.UTF-8")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("tappos %v: %v\n%s", args, err, stderr.String())
	}
}

func TestRealWindow(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"approved", "SELFTEST approved OK"}, // a sale through the window ends in Approved
		{"offline", "SELFTEST offline OK"},   // the ledger down: offline Approved, banner with the queued payment
		{"refund", "SELFTEST refund OK"},     // refund and void found by lookup
		{"tryagain", "SELFTEST tryagain OK"}, // a card pulled away mid-tap, then a good one
		{"batch", "SELFTEST batch OK"},       // online and offline sales, sync, a balanced batch close
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := false
			runApp(t, func(l string) { ok = ok || l == tt.want }, "--selftest", tt.name)
			if !ok {
				t.Errorf("the app did not report %q", tt.want)
			}
		})
	}
}

// BenchmarkUIFirstFrame measures from starting the process to its first
// frame in a real window (ledger seeding included).
func BenchmarkUIFirstFrame(b *testing.B) {
	display(b)
	var total time.Duration
	for range b.N {
		start := time.Now()
		var first time.Duration
		runApp(b, func(l string) {
			if strings.HasPrefix(l, "FIRST_FRAME") && first == 0 {
				first = time.Since(start)
			}
		}, "--bench", "first-frame")
		if first == 0 {
			b.Fatal("no first frame reported")
		}
		total += first
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ui_first_frame_ms")
}

// BenchmarkUITapToOutcome measures from a simulated card entering the
// field to the outcome frame drawn, and the part of it after the sale
// flow had its answer (the kiosk's own cost).
func BenchmarkUITapToOutcome(b *testing.B) {
	display(b)
	var total, overhead float64
	for range b.N {
		var got bool
		runApp(b, func(l string) {
			f := strings.Fields(l)
			if len(f) == 3 && f[0] == "TAP" {
				t, err1 := strconv.ParseFloat(f[1], 64)
				o, err2 := strconv.ParseFloat(f[2], 64)
				if err1 == nil && err2 == nil {
					total, overhead, got = total+t, overhead+o, true
				}
			}
		}, "--bench", "tap")
		if !got {
			b.Fatal("no tap figure reported")
		}
	}
	b.ReportMetric(total/float64(b.N), "ui_tap_to_outcome_ms")
	b.ReportMetric(overhead/float64(b.N), "ui_tap_overhead_ms")
}
