#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what is needed, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer and warnings as errors, runs every unit and
# integration test, and ends with "N passed, N failed, N skipped" counted
# from meson's testlog.json. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test

builddir=${BUILDDIR:-build-tests}
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure "$builddir" -Db_sanitize=address,undefined -Dwerror=true -Dbuildtype=debug
else
  meson setup "$builddir" -Db_sanitize=address,undefined -Dwerror=true -Dbuildtype=debug
fi
meson compile -C "$builddir"

rm -f "$builddir/meson-logs/testlog.json"
status=0
meson test -C "$builddir" --print-errorlogs --num-processes "$(nproc)" || status=$?

counted=0
/usr/bin/python3 scripts/count-results.py "$builddir/meson-logs/testlog.json" || counted=$?
if [ "$status" -ne 0 ] || [ "$counted" -ne 0 ]; then
  exit 1
fi
