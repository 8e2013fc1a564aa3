#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what is needed, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer and warnings as errors, runs every test, runs
# the unit tests and the daemon of the interface and sign-in tests again
# under valgrind, runs the fuzz targets, and ends with the counts from
# meson's logs (scripts/count-results.py):
#   N distinct passed (+ M reruns under valgrind), F failed, S skipped
#   N passed, F failed, S skipped
# Exits non-zero on any failure. Everything a test needs is installed
# here, so a missing peer (the pinned Codex CLI, Xvfb, gnome-keyring, a
# code generator) is a failure, not a skip: CODEX_AUTHD_REQUIRE_PEERS=0
# allows skips on a machine without them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CODEX_AUTHD_REQUIRE_PEERS=${CODEX_AUTHD_REQUIRE_PEERS:-1}

scripts/install-deps.sh test

builddir=${BUILDDIR:-build-tests}
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure "$builddir" -Db_sanitize=address,undefined -Dwerror=true -Dbuildtype=debug \
    -Dexamples=true
else
  meson setup "$builddir" -Db_sanitize=address,undefined -Dwerror=true -Dbuildtype=debug -Dexamples=true
fi
meson compile -C "$builddir"
# The real Codex CLI for the interoperability tests (skipped without it).
scripts/install-codex-cli.sh "$builddir/codex-cli"

rm -f "$builddir/meson-logs/testlog.json"
status=0
meson test -C "$builddir" --print-errorlogs --num-processes "$(nproc)" || status=$?

# The same code under valgrind's memcheck (a build without sanitizers):
# the unit tests, and the daemon in the interface and login tests.
vgdir=${VALGRIND_BUILDDIR:-build-valgrind}
if [ -f "$vgdir/build.ninja" ]; then
  meson setup --reconfigure "$vgdir" -Dbuildtype=debug -Dwerror=true
else
  meson setup "$vgdir" -Dbuildtype=debug -Dwerror=true
fi
meson compile -C "$vgdir"
rm -f "$vgdir"/meson-logs/valgrind-*.json "$vgdir"/meson-logs/testlog*.json
meson test -C "$vgdir" --setup valgrind --suite unit --logbase valgrind-unit --print-errorlogs || status=$?
mapfile -t vg_tests < <(meson test -C "$vgdir" --list 2>/dev/null |
                        sed -n -E 's#.*integration / ((test_bus|test_authctl\.TestMethods|(test_login\.Test(BrowserLogin|PendingLogin)|test_logout\.TestLogout))\..*)$#\1#p')
meson test -C "$vgdir" --setup valgrinddaemon --logbase valgrind-daemon --print-errorlogs \
  --num-processes "$(nproc)" "${vg_tests[@]}" || status=$?

# The fuzz targets, each for a fixed time (scripts/run-fuzzers.sh; a crash,
# a leak or a timeout fails).
FUZZ_BUILDDIR=${FUZZ_BUILDDIR:-build-fuzz} bash scripts/run-fuzzers.sh || status=$?

counted=0
# The distinct tests, then the reruns under valgrind (meson names a
# --logbase log after the setup too).
/usr/bin/python3 scripts/count-results.py "$builddir/meson-logs/testlog.json" \
  "${FUZZ_BUILDDIR:-build-fuzz}/meson-logs/testlog.json" \
  --reruns "$vgdir/meson-logs/valgrind-unit-valgrind.json" \
  "$vgdir/meson-logs/valgrind-daemon-valgrinddaemon.json" || counted=$?
if [ "$status" -ne 0 ] || [ "$counted" -ne 0 ]; then
  exit 1
fi
