package loadtest

import (
	"io"
	"log/slog"
)

func newQuiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
