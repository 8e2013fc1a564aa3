#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The packaging suite: builds the .deb and the .rpm (scripts/build-packages.sh),
# checks the .deb and the .changes with lintian (nothing, pedantic
# included) and both file lists, installs the
# .deb, checks that a plain busctl call on a fresh private session bus
# activates the installed daemon and gets an answer, then removes the package.
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
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q codex-authd >/dev/null || true
  fi
  rm -rf "$out"
}
trap cleanup EXIT

echo "== building the packages"
bash "$src/scripts/build-packages.sh" "$out" > "$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
deb=$(ls "$out"/codex-authd_*.deb)
rpm=$(ls "$out"/codex-authd-*.rpm)

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
lintian --allow-root --fail-on error,warning,info,pedantic -EvIL +pedantic "$deb" "$changes"
echo "lintian: no errors, warnings, notes or pedantic tags"

echo "== contents"
deb_files=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\.||')
rpm_files=$(rpm -qlp "$rpm" 2>/dev/null)
for f in $expected; do
  grep -qx "$f" <<<"$deb_files" || { echo "missing from the .deb: $f"; exit 1; }
  grep -qx "$f" <<<"$rpm_files" || { echo "missing from the .rpm: $f"; exit 1; }
done
echo "both packages hold the daemon, the client, the unit, the activation file and the XML"

echo "== installing $deb"
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" > "$out/install.log" 2>&1 || { cat "$out/install.log"; exit 1; }
for f in $expected; do
  test -e "$f" || { echo "not installed: $f"; exit 1; }
done
grep -qx 'Exec=/usr/libexec/codex-authd' /usr/share/dbus-1/services/org.codex.Auth1.service
grep -qx 'ExecStart=/usr/libexec/codex-authd' /usr/lib/systemd/user/codex-authd.service

echo "== activation on a fresh private session bus"
sh "$src/packaging/debian/tests/activation"

echo "== removing"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q codex-authd > "$out/remove.log" 2>&1 || { cat "$out/remove.log"; exit 1; }
installed=0
test ! -e /usr/libexec/codex-authd
test ! -e /usr/share/dbus-1/services/org.codex.Auth1.service
echo "removed"
