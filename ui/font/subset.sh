#!/usr/bin/env bash
# Regenerates cjk.ttf: WenQuanYi Micro Hei (Debian fonts-wqy-microhei,
# Apache-2.0 or GPL-3) cut down to Latin-1, currency signs and the
# characters the translations use, so the kiosk ships ~100 KB instead
# of 5 MB. Needs python3-fonttools. Run after changing a translation.
set -euo pipefail
cd "$(dirname "$0")"
src=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
chars=$(mktemp)
trap 'rm -f "$chars"' EXIT
cat ../i18n/translations/*.json > "$chars"
echo "简体中文" >> "$chars"
/usr/bin/python3 -m fontTools.subset "$src" --font-number=0 --text-file="$chars" \
  --unicodes='U+0020-007E,U+00A0-00FF,U+20AC,U+2026,U+2190-2193,U+2022' \
  --layout-features='*' --output-file=cjk.ttf
