#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The packaging suite: builds the .debs (codex-authd and the client
# library's libcodex-auth-1-0, libcodex-auth-1-dev, gir1.2-codexauth-1.0) and
# the .rpms (codex-authd, codex-authd-devel) with scripts/build-packages.sh,
# checks the .debs and the .changes with lintian (nothing, pedantic
# included) and the file lists, installs the .debs, checks that a plain
# busctl call on a fresh private session bus activates the installed daemon
# and gets an answer, that an app builds with pkg-config codex-auth-1 and
# that Python reads the state through the installed typelib, then removes
# the packages.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: installing the .deb needs root"
  exit 77
fi
for tool in dpkg-buildpackage rpmbuild lintian busctl dbus-run-session apt-get; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is missing (scripts/install-deps.sh test installs it)"
    exit 77
  fi
done
if dpkg-query -W -f='${Status}' codex-authd 2>/dev/null | grep -q 'ok installed'; then
  echo "SKIP: codex-authd is already installed on this machine; not touching it"
  exit 77
fi

out=$(mktemp -d)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q codex-authd libcodex-auth-1-0 libcodex-auth-1-dev \
      gir1.2-codexauth-1.0 >/dev/null || true
  fi
  rm -rf "$out"
}
trap cleanup EXIT

echo "== building the packages"
bash "$src/scripts/build-packages.sh" "$out" > "$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
deb=$(ls "$out"/codex-authd_*.deb)
lib_debs=$(ls "$out"/libcodex-auth-1-0_*.deb "$out"/libcodex-auth-1-dev_*.deb "$out"/gir1.2-codexauth-1.0_*.deb)
rpm=$(ls "$out"/codex-authd-[0-9]*.rpm)
rpm_devel=$(ls "$out"/codex-authd-devel-[0-9]*.rpm)

expected="/usr/bin/codex-authctl
/usr/lib/systemd/user/codex-authd.service
/usr/libexec/codex-authd
/usr/share/dbus-1/interfaces/org.codex.Auth1.xml
/usr/share/dbus-1/services/org.codex.Auth1.service"

echo "== lintian -EvIL +pedantic, the .deb and the .changes (with everything it lists)"
changes=$(ls "$out"/codex-authd_*.changes)
# lintian skips a .changes whose files are not all there, and says nothing.
for f in $(awk '/^Files:/ {in_files = 1; next} /^[^ ]/ {in_files = 0} in_files {print $5}' "$changes"); do
  [ -e "$out/$f" ] || { echo "$changes lists $f, which is not beside it"; exit 1; }
done
# shellcheck disable=SC2086
lintian --allow-root --fail-on error,warning,info,pedantic -EvIL +pedantic "$deb" $lib_debs "$changes"
echo "lintian: no errors, warnings, notes or pedantic tags"

echo "== contents"
deb_files=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\.||')
rpm_files=$(rpm -qlp "$rpm" 2>/dev/null)
for f in $expected; do
  grep -qx "$f" <<<"$deb_files" || { echo "missing from the .deb: $f"; exit 1; }
  grep -qx "$f" <<<"$rpm_files" || { echo "missing from the .rpm: $f"; exit 1; }
done
echo "both packages hold the daemon, the client, the unit, the activation file and the XML"
contains() { # contains PACKAGE-FILE REGEX...: the package holds a path matching each
  local list
  case $1 in
    *.deb) list=$(dpkg-deb --fsys-tarfile "$1" | tar -t | sed 's|^\.||') ;;
    *.rpm) list=$(rpm -qlp "$1" 2>/dev/null) ;;
  esac
  shift
  for re in "$@"; do
    grep -qE "$re" <<<"$list" || { echo "no path matching $re"; return 1; }
  done
}
contains "$out"/libcodex-auth-1-0_*.deb '^/usr/lib/[^/]+/libcodex-auth-1\.so\.0\.'
contains "$out"/libcodex-auth-1-dev_*.deb '^/usr/include/codex-auth-1/codex-auth\.h$' \
  '^/usr/lib/[^/]+/libcodex-auth-1\.so$' '^/usr/lib/[^/]+/pkgconfig/codex-auth-1\.pc$' \
  '^/usr/share/gir-1\.0/CodexAuth-1\.0\.gir$'
contains "$out"/gir1.2-codexauth-1.0_*.deb '^/usr/lib/[^/]+/girepository-1\.0/CodexAuth-1\.0\.typelib$'
contains "$rpm" '/libcodex-auth-1\.so\.0\.' '/girepository-1\.0/CodexAuth-1\.0\.typelib$'
contains "$rpm_devel" '/include/codex-auth-1/codex-auth\.h$' '/pkgconfig/codex-auth-1\.pc$' \
  '/gir-1\.0/CodexAuth-1\.0\.gir$'
echo "the library's packages hold the library, its development files and its typelib"

echo "== installing $deb and the library's packages"
installed=1
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" $lib_debs > "$out/install.log" 2>&1 ||
  { cat "$out/install.log"; exit 1; }
for f in $expected; do
  test -e "$f" || { echo "not installed: $f"; exit 1; }
done
grep -qx 'Exec=/usr/libexec/codex-authd' /usr/share/dbus-1/services/org.codex.Auth1.service
grep -qx 'ExecStart=/usr/libexec/codex-authd' /usr/lib/systemd/user/codex-authd.service

echo "== activation on a fresh private session bus"
sh "$src/packaging/debian/tests/activation"

echo "== an app against the installed library"
cat > "$out/app.c" <<'C'
#include <codex-auth.h>
#include <stdio.h>
int main (void) { puts (codex_auth_state_describe (CODEX_AUTH_STATE_LOG_IN_AGAIN)); return 0; }
C
echo "pkg-config --cflags --libs codex-auth-1: $(pkg-config --cflags --libs codex-auth-1)"
# shellcheck disable=SC2046
cc "$out/app.c" -o "$out/app" $(pkg-config --cflags --libs codex-auth-1)
test "$("$out/app")" = "Sign in again"
state=$(HOME=$out XDG_CONFIG_HOME=$out/config XDG_STATE_HOME=$out/state dbus-run-session -- /usr/bin/python3 -c \
  "import gi; gi.require_version('CodexAuth', '1.0'); from gi.repository import CodexAuth; print(CodexAuth.Client.new_sync(None).props.state.value_nick)" |
  tail -n 1)
echo "the Python one-liner through the installed typelib: $state"
test "$state" = logged-out

echo "== removing"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q codex-authd libcodex-auth-1-0 libcodex-auth-1-dev \
  gir1.2-codexauth-1.0 > "$out/remove.log" 2>&1 || { cat "$out/remove.log"; exit 1; }
installed=0
test ! -e /usr/libexec/codex-authd
test ! -e /usr/share/dbus-1/services/org.codex.Auth1.service
echo "removed"
