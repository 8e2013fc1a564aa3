#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian package (dpkg-buildpackage -us -uc -b) and the RPM
# (rpmbuild; --nodeps on Debian, whose packages do not satisfy RPM build
# requirements) from this source tree, into OUTDIR (default build-packages/).
# The package test suites are skipped here (nocheck): the same tests run from
# scripts/run-tests.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
out=$(realpath -m "${1:-build-packages}")
version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" meson.build)

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree="$work/codex-authd-$version"
mkdir -p "$tree"

# The source: the files git knows (tracked, or new and not ignored), so no
# build directory ends up in a package.
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$src" ls-files -z --cached --others --exclude-standard |
    (cd "$src" && tar --null -T - -cf -) | tar -C "$tree" -xf -
else
  tar -C "$src" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$tree" -xf -
fi

# RPM: a source tarball and the spec meson generates from the .spec.in.
mkdir -p "$work/rpm/SOURCES"
tar -C "$work" -czf "$work/rpm/SOURCES/codex-authd-$version.tar.gz" "codex-authd-$version"
meson setup "$work/spec" "$tree" -Dtests=false >/dev/null
rpm_nodeps=()
if [ -f /etc/debian_version ]; then rpm_nodeps=(--nodeps); fi
rpmbuild -bb "${rpm_nodeps[@]}" --nocheck \
  --define "_topdir $work/rpm" \
  --define "debug_package %{nil}" \
  "$work/spec/packaging/codex-authd.spec"
cp "$work"/rpm/RPMS/*/codex-authd-*.rpm "$out/"   # the daemon and library, and -devel
if [ -f /etc/debian_version ]; then
  echo "Note: the RPM built here is a smoke test of the spec (Debian's rpmbuild: no Fedora"
  echo "compiler flags, dependencies not checked, empty systemd scriptlets); build it on"
  echo "Fedora or with mock for a package to ship."
fi

# Debian: the recipe lives in packaging/debian.
cp -a "$tree/packaging/debian" "$tree/debian"
(cd "$tree" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b)
# Everything the .changes lists (the debug symbols package included), so
# that lintian and dput can process it.
# The daemon's package, the library's three, and their debug symbols.
cp "$work"/*_"$version"_*.deb "$work"/codex-authd_"$version"_*.changes \
   "$work"/codex-authd_"$version"_*.buildinfo "$out/"
cp "$work"/*-dbgsym_"$version"_*.ddeb "$out/" 2>/dev/null || true

echo "Built:"
ls -1 "$out"
