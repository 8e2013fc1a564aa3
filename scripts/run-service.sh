#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what is needed, builds codex-authd and runs it in the foreground
# on the session bus (Ctrl+C stops it). Without a session bus (a server, a
# container, CI) it starts a private one and prints the address to export
# so that `busctl --user` works from another terminal.
# Extra arguments go to the daemon (for example --codex-home DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh run

builddir=${BUILDDIR:-build}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir"
meson compile -C "$builddir"

daemon=("$builddir/src/codex-authd" --replace --no-idle-exit "$@")

have_session_bus() {
  if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    busctl --user status >/dev/null 2>&1 && return 0
    return 1
  fi
  local socket="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/bus"
  if [ -S "$socket" ]; then
    export DBUS_SESSION_BUS_ADDRESS="unix:path=$socket"
    return 0
  fi
  return 1
}

if have_session_bus; then
  exec "${daemon[@]}"
fi

busdir=${XDG_RUNTIME_DIR:-/tmp/codex-authd-$(id -u)}
mkdir -p -m 0700 "$busdir"
address="unix:path=$busdir/bus"
rm -f "$busdir/bus"
dbus-daemon --session --address="$address" --nofork --nopidfile &
bus_pid=$!
trap 'kill "$bus_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -S "$busdir/bus" ] && break; sleep 0.1; done

cat <<MSG
No session bus here: started a private one. In another terminal run

  export DBUS_SESSION_BUS_ADDRESS=$address

and then, for example,

  busctl --user call org.codex.Auth1 /org/codex/Auth1 org.codex.Auth1 GetAuthStatus bb true false

MSG
export DBUS_SESSION_BUS_ADDRESS=$address
"${daemon[@]}"
