#!/usr/bin/env bash
# make demo: a shop's day on virtual cards, from a fresh machine.
#
# Starts pcscd (if needed) with the vpcd virtual readers, ledgerd --dev on a
# temporary SQLite file, and card simulators, then runs a scripted day and
# prints it as a story. Exits 0 only if every step ends as expected; cleans
# up what it started.
set -uo pipefail
cd "$(dirname "$0")/.."

export TAPPOS_MODE=demo # admits the vpcd virtual readers
BIN=${BIN:-$PWD/bin}
WORK=$(mktemp -d /tmp/tappos-demo.XXXXXX)
PORT=${DEMO_PORT:-18181}
LEDGER=http://127.0.0.1:$PORT
READER="Virtual PCD 00 00"
VPCD=127.0.0.1:35963
STARTED=$(date +%s)
pids=()
step=0
failed=0

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${STARTED_PCSCD:-}" ] && pkill -x pcscd
  [ -n "${KEEP:-}" ] && echo "(kept $WORK)" || rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
clock() { date +%H:%M:%S; }
ok() { say "      ✔ $*"; }
bad() { say "      ✘ $*"; failed=$((failed + 1)); }
next() { step=$((step + 1)); say ""; say "$(clock) [$step] $*"; }
die() { say "demo: $*"; exit 1; }

# --- setup ---------------------------------------------------------------
say "== tappos demo: a day at Demo Café (cn-shop, CNY) =="
mkdir -p "$BIN"
go build -o "$BIN/" ./cmd/posctl ./cmd/ledgerd || die "build failed"

readers_up() { "$BIN/posctl" pcsc readers 2>"$WORK/pcsc.err" | grep -q "$READER"; }
wait_readers() { for _ in $(seq "$1"); do readers_up && return 0; sleep 0.2; done; return 1; }
if ! wait_readers 25; then
  # pcscd is missing, or not answering: (re)start it. It stays up; the
  # demo stops the one it started.
  [ "$(id -u)" -eq 0 ] || die "pcscd does not answer and only root can start it: $(cat "$WORK/pcsc.err")"
  pkill -x pcscd && sleep 1
  PATH=$PATH:/usr/sbin pcscd >/dev/null 2>&1 && STARTED_PCSCD=1
  wait_readers 50 || die "virtual reader '$READER' not found (is vsmartcard-vpcd installed? run make deps): $(cat "$WORK/pcsc.err")"
fi

start_ledger() {
  "$BIN/ledgerd" --dev --db "$WORK/ledger.db" --addr "127.0.0.1:$PORT" --dev-keys "$WORK/keys.json" \
    >>"$WORK/ledgerd.log" 2>&1 &
  LEDGER_PID=$!
  pids+=("$LEDGER_PID")
  for _ in $(seq 100); do
    curl -fsS "$LEDGER/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "ledgerd did not become ready (see $WORK/ledgerd.log)"
}

start_ledger
K=$WORK/keys.json
TERMINAL_KEY=$(jq -r '.terminals | to_entries | sort_by(.key) | .[0].value' "$K")
MERCHANT=$(jq -r '.merchant_id' "$K")
WALLET=$(jq -r '.demo_wallet' "$K")
ADMIN_KEY=$(jq -r '.admin_key' "$K")
AGENT_KEY=$(jq -r '.agent_key' "$WORK/keys.chat.json")
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/terminal.key"
chmod 600 "$WORK/terminal.key"
POS=(--config testdata/terminal/cn-shop.json --journal "$WORK/journal.db" --queue "$WORK/offline.db"
  --terminal-key "$WORK/terminal.key" --ledger "$LEDGER" --key "$TERMINAL_KEY")
say "$(clock) ledgerd is up on $LEDGER (SQLite $WORK/ledger.db); till 1 signed in"
say "         the shopper's wallet $WALLET holds $(jq -r '.balance_text' <<<"$("$BIN/posctl" wallet show --wallet "$WALLET" --ledger "$LEDGER" --key "$ADMIN_KEY" --json)");" \
  "it pays with $(jq -r '.demo_wallet as $w | [.wallets[] | select(.id == $w) | .cards[].profile] | join(", ")' "$K") and a chat assistant's mandate"

# ATCs per card across the day: each simulator run continues the card's counter.
declare -A atc=([visa-credit]=1 [phone-visa]=1 [visa-offline]=1 [mastercard-credit]=1)

# tap PROFILE AMOUNT [extra posctl tap flags]: presents the card, runs one
# sale, leaves its JSON in $TAP.
tap() {
  local profile=$1 amount=$2
  shift 2
  "$BIN/posctl" cardsim --profile "$profile" --vpcd "$VPCD" --once --atc "${atc[$profile]}" \
    >>"$WORK/cardsim.log" 2>&1 &
  local sim=$!
  TAP=$("$BIN/posctl" tap --amount "$amount" --reader "$READER" --json --wait 10s --display-log "$WORK/display.log" \
    "${POS[@]}" "$@" 2>>"$WORK/tap.log")
  wait "$sim" 2>/dev/null
  atc[$profile]=$((atc[$profile] + 1))
}
field() { jq -r "if .$1 == null then \"\" else .$1 end" <<<"$TAP"; }
describe() {
  say "      $(field label) $(field pan) via kernel $(field kernel), $(field apdus) APDUs in $(field elapsed_ms) ms;" \
    "cardholder verification: $(field cvm); cryptogram $(field cryptogram_type) $(field cryptogram)"
}

# --- the day ---------------------------------------------------------------
next "A customer taps a Visa card for CNY 12.50; the till asks the ledger"
tap visa-credit 12.50
describe
FIRST_TXN=$(field txn_id)
if [ "$(field result)" = APPROVED ] && [ "$(field offline)" = false ]; then
  ok "APPROVED online, approval code $(field approval_code); the ledger verified the ARQC and answered with an ARPC"
else
  bad "expected an online approval, got $(field result) $(field decline_reason) $(field error)"
fi

next "The same shopper pays CNY 1,200.00 with a Visa phone (above the CVM limit)"
tap phone-visa 1200.00
describe
if [ "$(field result)" = APPROVED ] && [ "$(field cvm)" = CDCVM ]; then
  ok "APPROVED online with the phone's own verification (CDCVM), approval code $(field approval_code)"
else
  bad "expected an online approval with CDCVM, got $(field result) cvm=$(field cvm) $(field error)"
fi

next "At home, the shopper asks a chat assistant to buy coffee beans from the shop"
if CHAT=$("$BIN/posctl" chat buy --wallet "$WALLET" --merchant "$MERCHANT" --sku COF-250 --qty 2 \
  --ledger "$LEDGER" --key "$AGENT_KEY" 2>>"$WORK/chat.log"); then
  sed 's/^/      | /' <<<"$CHAT"
  ok "paid through the MCP server within the shopper's mandate, no prompt needed"
else
  sed 's/^/      | /' <<<"$CHAT"
  bad "expected the chat purchase to be paid"
fi

next "The ledger goes down (ledgerd stopped)"
kill "$LEDGER_PID"
wait "$LEDGER_PID" 2>/dev/null
curl -fsS "$LEDGER/healthz" >/dev/null 2>&1 && bad "the ledger still answers" || ok "the ledger no longer answers"

next "Offline: a Visa card taps CNY 20.00"
tap visa-offline 20.00
describe
[ "$(field result)" = OFFLINE_APPROVED ] && [ "$(field oda.ok)" = true ] &&
  ok "APPROVED OFFLINE: the card approved it, its fDDA signature verified; in the queue before the till said so" ||
  bad "expected an offline approval, got $(field result) $(field decline_reason) $(field error)"

next "Offline: a Mastercard taps CNY 35.00"
tap mastercard-credit 35.00
describe
[ "$(field result)" = OFFLINE_APPROVED ] && [ "$(field oda.ok)" = true ] &&
  ok "APPROVED OFFLINE: the card approved it, its CDA signature verified" ||
  bad "expected an offline approval, got $(field result) $(field decline_reason) $(field error)"

next "Offline: the Visa card tries CNY 80.00, above the offline limit per tap"
tap visa-offline 80.00
describe
if [ "$(field result)" = DECLINED ] && grep -q per_transaction <<<"$(field decline_reason)"; then
  ok "DECLINED offline: $(field decline_reason)"
else
  bad "expected an offline decline by the per-transaction limit, got $(field result) $(field decline_reason) $(field error)"
fi
QUEUE=$("$BIN/posctl" queue status --queue "$WORK/offline.db" --json)
say "      offline queue: $(jq -r '[.by_currency[]? | "\(.count) taps, \(.currency) \(.amount / 100 | floor).\(.amount % 100 + 100 | tostring | .[1:])"] | join("; ")' <<<"$QUEUE") waiting for the ledger"

next "The ledger is back"
start_ledger
ok "ledgerd is ready again on the same books"

next "The till forwards its offline taps (posctl sync)"
SYNC=$("$BIN/posctl" sync --queue "$WORK/offline.db" --display-log "$WORK/display.log" --terminal-key "$WORK/terminal.key" \
  --ledger "$LEDGER" --key "$TERMINAL_KEY" --json)
if [ "$(jq -r '.status.unsent' <<<"$SYNC")" = 0 ] && [ "$(jq -r '.status.accepted' <<<"$SYNC")" -ge 2 ]; then
  ok "$(jq -r '.answered' <<<"$SYNC") taps forwarded and accepted by the ledger, each exactly once; nothing left in the queue"
else
  bad "expected the queue to drain, got: $SYNC"
fi

next "The first customer returns the goods: refund CNY 12.50"
if REFUND=$("$BIN/posctl" refund --txn "$FIRST_TXN" --receipt=false "${POS[@]}" 2>>"$WORK/tap.log"); then
  ok "refund approved by the ledger; the shopper's wallet gets CNY 12.50 back"
else
  bad "refund failed: $REFUND"
fi

next "Close of day: batch close and reconciliation with the ledger"
if Z=$("$BIN/posctl" batch close "${POS[@]}" 2>&1); then
  if grep -q -i "balanced" <<<"$Z" && ! grep -q -i "not balanced" <<<"$Z"; then
    ok "the batch balances to the cent with the ledger"
  else
    bad "the batch does not balance"
  fi
  sed 's/^/      | /' <<<"$Z"
else
  bad "batch close failed"
  sed 's/^/      | /' <<<"$Z"
fi

next "The shopper's statement: in-store and chat purchases on one wallet"
STATEMENT=$("$BIN/posctl" wallet history --wallet "$WALLET" --ledger "$LEDGER" --key "$ADMIN_KEY")
sed 's/^/      | /' <<<"$STATEMENT"
if grep -q in_store <<<"$STATEMENT" && grep -q chat <<<"$STATEMENT"; then
  ok "both channels on one wallet"
else
  bad "expected in_store and chat entries"
fi

next "The books: ledgerd verify"
kill "$LEDGER_PID"
wait "$LEDGER_PID" 2>/dev/null
if V=$("$BIN/ledgerd" verify --db "$WORK/ledger.db" 2>&1); then ok "$(tail -n1 <<<"$V")"; else bad "$V"; fi

# --- the end -------------------------------------------------------------
say ""
if [ $failed -eq 0 ]; then
  say "== demo passed: $step steps as expected in $(($(date +%s) - STARTED)) s =="
  exit 0
fi
say "== demo FAILED: $failed of $step steps did not end as expected (logs in $WORK, kept) =="
KEEP=1
exit 1
