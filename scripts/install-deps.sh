#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the Debian 12 packages codex-authd needs to build and run
# ("run") or to build and run its tests ("test"). Does nothing when they are
# all present already.
set -euo pipefail

build=(meson ninja-build gcc pkg-config
       libsystemd-dev libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libsecret-1-dev)
run=(dbus-daemon systemd glib-networking)   # systemd provides busctl; glib-networking TLS
test=(dbus-daemon systemd python3 python3-gi util-linux e2fsprogs glib-networking gnome-keyring libsecret-tools
      debhelper dpkg-dev fakeroot rpm lintian valgrind libasan8 libubsan1)

case "${1:-}" in
  run) wanted=("${build[@]}" "${run[@]}") ;;
  test) wanted=("${build[@]}" "${test[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
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
