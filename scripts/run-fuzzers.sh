#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the libFuzzer targets (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer) in build-fuzz/ and runs each for SECONDS
# (default 30; the test command uses the default). A crash, a leak, a
# timeout or a failed check fails the run; the input that caused it is
# left in build-fuzz/tests/ as NAME-crash-* (or -leak-, -timeout-).
# New inputs found are kept in build-fuzz/tests/fuzz-corpus/NAME, so that
# a longer run starts where the last one stopped:
#   bash scripts/run-fuzzers.sh 3600
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
builddir=${FUZZ_BUILDDIR:-build-fuzz}
scripts/install-deps.sh test
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure "$builddir" -Dfuzz_seconds="$seconds" >/dev/null
else
  CC=clang CXX=clang++ meson setup "$builddir" -Dfuzzing=true -Dfuzz_seconds="$seconds" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true -Dbuildtype=debug
fi
meson compile -C "$builddir"
rm -f "$builddir/meson-logs/testlog.json"
status=0
meson test -C "$builddir" --suite fuzz --num-processes "$(nproc)" --print-errorlogs || status=$?
# Executions per target, from libFuzzer's final statistics.
/usr/bin/python3 - "$builddir/meson-logs/testlog.json" <<'PY'
import json, re, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = (t.get("stdout") or "") + (t.get("stderr") or "")  # libFuzzer reports on stderr
    runs = re.search(r"stat::number_of_executed_units: (\d+)", out)
    rate = re.search(r"stat::average_exec_per_sec:\s+(\d+)", out)
    print(f"{t['name']}: {t['result']}, {runs.group(1) if runs else '?'} executions "
          f"({rate.group(1) if rate else '?'}/s) in {t['duration']:.0f} s")
PY
exit "$status"
