# tappos — the front door. See README.md.
GO       ?= go
FUZZTIME ?= 60s

.PHONY: all deps build test bench fuzz demo run

all: build

# System packages the tests, the demo and the kiosk need (apt-get, as root).
deps:
	@scripts/deps.sh

build: deps
	$(GO) build ./...

# The whole suite: vet, formatting, unit tests, committed fuzz corpora,
# end-to-end tests through pcscd/vpcd, SQLite and PostgreSQL; all under
# the race detector but the fyne packages, whose race build would add
# minutes of cgo on a fresh machine.
GUI_PKGS = ./cmd/tappos ./ui/...
test: deps
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 25m $$($(GO) list ./... | grep -v -x -F -e "$$($(GO) list $(GUI_PKGS))")
	$(GO) test -count=1 -timeout 25m $(GUI_PKGS)

# Benchmarks; prints one "BENCH <name> <value> <unit>" line per headline figure.
bench: deps
	@scripts/bench.sh

# Runs every fuzz target for FUZZTIME each (default 60s).
fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# A shop's day on virtual cards: ledgerd --dev, card simulators through
# pcscd and vpcd, online, chat, offline, sync, refund, batch close.
demo: deps
	@scripts/demo.sh

run: deps
	$(GO) run ./cmd/tappos --demo $(ARGS)

# PNGs of the kiosk's main screens in docs/screens, from the real window under Xvfb.
screenshots: deps
	xvfb-run -a -s "-screen 0 1280x800x24" $(GO) run ./cmd/tappos --demo --lang en --screenshots docs/screens
