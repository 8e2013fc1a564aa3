#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds an optimised codex-authd (no sanitizers) and runs the benchmark:
# GetAuthStatus against Peer.Ping throughput, and token requests caused by
# refresh storms. Prints figures; it has no pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test

builddir=${BUILDDIR:-build-bench}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" --buildtype=release -Db_sanitize=none
meson compile -C "$builddir"
# The pinned Codex CLI for the fleet scenarios (a failure is reported there).
scripts/install-codex-cli.sh "$builddir/codex-cli"
exec /usr/bin/python3 tests/bench/benchmark.py "$builddir"
