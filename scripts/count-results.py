#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Counts the results of `meson test` runs from their JSON logs
(testlog.json, or LOGBASE.json with --logbase); several logs are added up.

A TAP test (the GLib unit tests) counts once per test case it reports
("ok" / "not ok" lines); a TAP binary that crashed before reporting counts
as one failure. Every other test counts once. Prints a summary line
"N passed, N failed, N skipped" and exits 1 if anything failed."""

import json
import os
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b(.*)$")


def count(paths):
    passed = failed = skipped = 0
    failures = []
    for path in paths:
        p, f_, s_, fl = count_one(path)
        passed += p
        failed += f_
        skipped += s_
        failures += fl
    return passed, failed, skipped, failures


def count_one(path):
    passed = failed = skipped = 0
    failures = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            name, result = entry["name"], entry["result"]
            tap = [TAP_LINE.match(l) for l in entry.get("stdout", "").splitlines()]
            tap = [m for m in tap if m]
            if tap:
                for m in tap:
                    directive = m.group(2)
                    if "# SKIP" in directive.upper():
                        skipped += 1
                    elif m.group(1) == "ok":
                        passed += 1
                    else:
                        failed += 1
                        failures.append(f"{name}:{directive.strip()}")
                if result not in ("OK", "SKIP") and not any(m.group(1) == "not ok" for m in tap):
                    failed += 1  # crashed after its last report
                    failures.append(f"{name} ({result})")
            elif result == "OK":
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
                failures.append(f"{name} ({result})")
    return passed, failed, skipped, failures


def main():
    if len(sys.argv) < 2:
        print("usage: count-results.py BUILDDIR/meson-logs/testlog.json [MORE.json ...]", file=sys.stderr)
        return 2
    missing = [p for p in sys.argv[1:] if not os.path.exists(p)]
    for p in missing:
        print(f"FAILED: no test log {p}")
    passed, failed, skipped, failures = count([p for p in sys.argv[1:] if p not in missing])
    failed += len(missing)
    for f in failures:
        print(f"FAILED: {f}")
    if passed + failed + skipped == 0:
        print("no test results found", file=sys.stderr)
        failed = 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
