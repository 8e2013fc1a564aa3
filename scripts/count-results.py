#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Counts the results of `meson test` runs from their JSON logs.

    count-results.py LOG.json... [--reruns LOG.json...]

The logs before --reruns hold the distinct tests (the main run, the fuzz
targets); those after it hold reruns of the same tests (under valgrind).
A test of the unit suite reports TAP: it counts once per test case ("ok",
"not ok", "# SKIP"), and one that crashed after its last report counts one
failure more; every other test counts once, as meson classed it (exit 77:
skipped). Prints what failed and what was skipped (with the reason the test
gave), then

    N distinct passed (+ M reruns under valgrind), F failed, S skipped
    N passed, F failed, S skipped

and exits 1 if anything failed or a log is missing."""

import json
import os
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b(.*)$")
SKIP_REASON = re.compile(r"^SKIP[: ](.*)$|#\s*SKIP\s*(.*)$", re.M)


def is_tap(name):
    # "codex-authd:unit / test-auth-record": the suite decides, not the output.
    return ":unit / " in name


def count_one(path):
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures, skips = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            name, result = entry["name"], entry["result"]
            out = entry.get("stdout", "") or ""
            if is_tap(name):
                tap = [m for m in (TAP_LINE.match(l) for l in out.splitlines()) if m]
                for m in tap:
                    directive = m.group(2)
                    if "# SKIP" in directive.upper():
                        counts["skipped"] += 1
                        skips.append(f"{name}:{directive.strip()}")
                    elif m.group(1) == "ok":
                        counts["passed"] += 1
                    else:
                        counts["failed"] += 1
                        failures.append(f"{name}:{directive.strip()}")
                if result not in ("OK", "SKIP") and not any(m.group(1) == "not ok" for m in tap):
                    counts["failed"] += 1  # crashed after its last report (or before any)
                    failures.append(f"{name} ({result})")
                continue
            if result == "OK":
                counts["passed"] += 1
            elif result == "SKIP":
                counts["skipped"] += 1
                reason = SKIP_REASON.search(out)
                why = next((g for g in reason.groups() if g), "").strip() if reason else "no reason given"
                skips.append(f"{name}: {why}")
            else:
                counts["failed"] += 1
                failures.append(f"{name} ({result})")
    return counts, failures, skips


def total(paths):
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures, skips, missing = [], [], []
    for path in paths:
        if not os.path.exists(path):
            missing.append(path)
            continue
        c, f, s = count_one(path)
        for k in counts:
            counts[k] += c[k]
        failures += f
        skips += s
    return counts, failures, skips, missing


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    if "--reruns" in args:
        i = args.index("--reruns")
        distinct_logs, rerun_logs = args[:i], args[i + 1:]
    else:
        distinct_logs, rerun_logs = args, []
    distinct, d_fail, d_skip, d_missing = total(distinct_logs)
    reruns, r_fail, r_skip, r_missing = total(rerun_logs)
    missing = d_missing + r_missing
    for p in missing:
        print(f"FAILED: no test log {p}")
    for s in d_skip:
        print(f"SKIPPED: {s}")
    for s in r_skip:
        print(f"SKIPPED (rerun): {s}")
    for f in d_fail:
        print(f"FAILED: {f}")
    for f in r_fail:
        print(f"FAILED (rerun under valgrind): {f}")
    failed = distinct["failed"] + reruns["failed"] + len(missing)
    skipped = distinct["skipped"] + reruns["skipped"]
    if distinct["passed"] + failed + skipped == 0:
        print("no test results found", file=sys.stderr)
        failed = 1
    print(f"{distinct['passed']} distinct passed (+ {reruns['passed']} reruns under valgrind), "
          f"{failed} failed, {skipped} skipped")
    print(f"{distinct['passed']} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
