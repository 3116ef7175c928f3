#!/usr/bin/env bash
# Debian packages the test suite needs (listed in tests/system-packages.txt, one per line),
# installed when missing: CI runs on a fresh machine.
set -euo pipefail
here="$(dirname "$0")"
need=()
while read -r pkg; do
  pkg="${pkg%%#*}"; pkg="${pkg// /}"
  [ -n "$pkg" ] || continue
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done < "$here/system-packages.txt"
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing system packages for the tests: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
