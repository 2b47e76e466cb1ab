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
# end-to-end tests through pcscd/vpcd, SQLite and PostgreSQL.
test: deps
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

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
