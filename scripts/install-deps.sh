#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the Debian 12 packages codex-authd needs to build and run
# ("run") or to build and run its tests ("test"), from the one list in
# packaging/dependencies. Does nothing when they are all present already.
set -euo pipefail
list="$(dirname "$0")/../packaging/dependencies"

case "${1:-}" in
  run) kinds='^(build|toolchain|dev)$' ;;
  test) kinds='^(build|toolchain|dev|check|checkessential|ci)$' ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

# The first alternative of each wanted row, once each.
mapfile -t wanted < <(awk -v kinds="$kinds" '!/^#/ && NF >= 2 && $1 ~ kinds { split($2, alt, "|"); if (alt[1] != "-") print alt[1] }' "$list" | sort -u)

missing=()
for pkg in "${wanted[@]}"; do
  # Node.js from another source brings its own npm (and conflicts with
  # Debian's): an npm command on PATH is enough.
  if [ "$pkg" = npm ] && command -v npm >/dev/null; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    SUDO=sudo
  else
    echo "Run as root, or install these packages first: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
${SUDO:-} apt-get update -q
${SUDO:-} apt-get install -y -q --no-install-recommends "${missing[@]}"
