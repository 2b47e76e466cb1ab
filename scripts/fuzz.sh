#!/usr/bin/env bash
# Runs every Fuzz target in the module for FUZZTIME each; new crashers are
# written by go test to the package's testdata/fuzz/<Target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${FUZZTIME:=60s}"
fail=0
while IFS=: read -r file line; do
  dir=$(dirname "$file")
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
  echo "== fuzz ./$dir $name ($FUZZTIME)"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$dir"; then
    fail=1
  fi
done < <(grep -rE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' . | sed 's#^\./##' | sort)
exit $fail
