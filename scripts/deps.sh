#!/usr/bin/env bash
# Installs the Debian packages tappos's tests, demo and kiosk need.
# Idempotent and quiet: it only calls apt-get when something is missing.
set -euo pipefail

pkgs=(
  # PC/SC stack and the virtual reader driver the card simulator plugs into.
  pcscd libpcsclite-dev vsmartcard-vpcd
  # cgo for github.com/mattn/go-sqlite3 and github.com/ebfe/scard.
  gcc pkg-config
  # The ledger's PostgreSQL store is tested against a real server.
  postgresql
  # make demo drives the binaries and reads their JSON.
  curl jq
  # The kiosk (fyne): GL and X11 headers, Xvfb for its real-window tests,
  # xwd (x11-apps) for `make screenshots`. Its CJK font is in the repo.
  libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
  xvfb x11-apps
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "########################################################################" >&2
  echo "# make deps: NOT ROOT, cannot install: ${missing[*]}" >&2
  echo "# Run 'sudo make deps' or install them by hand; tests that need them are SKIPPED." >&2
  echo "########################################################################" >&2
  exit 0
fi

echo "make deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
