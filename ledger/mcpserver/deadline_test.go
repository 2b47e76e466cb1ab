package mcpserver

import (
	"context"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"tappos/ledger/checkout"
)

func TestToolDeadline(t *testing.T) {
	for _, tc := range []struct {
		method   string
		deadline bool
	}{
		{"tools/call", true},
		{"tools/list", false},
		{"initialize", false},
	} {
		t.Run(tc.method, func(t *testing.T) {
			var left time.Duration
			var has bool
			h := toolDeadline(func(ctx context.Context, _ string, _ mcp.Request) (mcp.Result, error) {
				var d time.Time
				d, has = ctx.Deadline()
				left = time.Until(d)
				return nil, nil
			})
			h(context.Background(), tc.method, nil)
			if has != tc.deadline || has && (left > checkout.Timeout || left < checkout.Timeout-time.Second) {
				t.Errorf("deadline %v, %v left; want one of %v: %v", has, left, checkout.Timeout, tc.deadline)
			}
		})
	}
}
