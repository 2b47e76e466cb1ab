#!/usr/bin/env bash
# Runs the Go benchmarks and prints a "BENCH <name> <value> <unit>" line for
# every custom metric whose unit is <name>_<ns|us|ms|s|per_s>[{labels}].
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# One package at a time (-p 1): benchmarks must not share the two cores.
go test -p 1 -run '^$' -bench . -benchtime "${BENCHTIME:-1s}" ./... 2>&1 | tee "$out" | grep -E '^(ok|FAIL|---)|_test\.go:[0-9]+:' || true
awk '/^Benchmark/ {
  for (i = 3; i < NF; i += 2) {
    v = $i; u = $(i+1)
    if (u ~ /^[a-z0-9_]+_(ns|us|ms|s|per_s)(\{[^}]*\})?$/) {
      base = u; sub(/\{.*$/, "", base)
      n = split(base, parts, "_"); unit = parts[n]
      if (unit == "s" && parts[n-1] == "per") unit = "/s"
      printf "BENCH %s %s %s\n", u, v, unit
    }
  }
}' "$out"
grep -q '^FAIL' "$out" && exit 1 || exit 0
