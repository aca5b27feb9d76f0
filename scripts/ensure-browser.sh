#!/usr/bin/env bash
# Browser tests need Debian's Chromium and a CJK font. Install them when missing and we are root;
# otherwise say what is missing (the browser tests then fail loudly rather than skip).
# The tests launch ${CHROMIUM_PATH:-/usr/bin/chromium} (never `playwright install`), so that is what we check.
set -euo pipefail
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
missing=()
[ -x "$chromium" ] || missing+=(chromium)
# No `grep -q` on a pipe: it exits at the first match, fc-list dies of SIGPIPE and pipefail reports failure.
fonts="$(fc-list 2>/dev/null || true)"
grep -i "WenQuanYi Micro Hei" <<<"$fonts" >/dev/null || [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] \
  || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Browser tests need these Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "Installing ${missing[*]} for the browser tests ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
