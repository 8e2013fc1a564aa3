#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fetches the real Codex CLI, at the version the interoperability tests
# are written against, from the npm registry into DIR (the build
# directory's codex-cli/), for tests/integration/test_codex_cli.py. Does
# nothing when that version is there already. When npm cannot fetch it,
# says why in DIR/install-error.txt and exits 0: those tests are then
# reported as skipped, with that reason, never as passed.
set -uo pipefail
version=0.171.0
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
rm -f "$dir/install-error.txt"
installed=$(cd "$dir" && node -p "require('@openai/codex/package.json').version" 2>/dev/null || true)
if [ "$installed" = "$version" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm is not installed" > "$dir/install-error.txt"
  echo "Cannot fetch the Codex CLI: npm is not installed" >&2
  exit 0
fi
echo "Fetching the Codex CLI $version from the npm registry into $dir"
if ! out=$(npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
             "@openai/codex@$version" 2>&1); then
  printf 'npm install @openai/codex@%s failed: %s\n' "$version" "$(echo "$out" | tail -n 3)" > "$dir/install-error.txt"
  cat "$dir/install-error.txt" >&2
fi
exit 0
