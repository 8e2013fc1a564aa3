#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shape of the code: every source file of the project is at most 900
lines, and its first comment (after the licence line) says its one job.
Prints each file that breaks a rule, and exits 1 if any does."""

import os
import re
import subprocess
import sys

MAX_LINES = 900
SOURCE = re.compile(r"\.(c|h|cc|cpp|py|sh|js|vala)$")


def first_comment(path, text):
    """The first comment after the licence line, or None."""
    lines = text.splitlines()
    body = [l for l in lines if "SPDX-License-Identifier" not in l]
    if path.endswith((".py", ".sh")):
        for l in body:
            s = l.strip()
            if not s or s.startswith("#!"):
                continue
            if s.startswith("#") or s.startswith('"""') or s.startswith("'''"):
                return s.lstrip("#\"' ")
            if s.startswith(("import", "from", "set ", "cd ")):
                return None
            return None
        return None
    in_block = False
    for l in body:
        s = l.strip()
        if not s or s.startswith("#pragma") or s.startswith("#include") or s.startswith("#if") \
                or s.startswith("#endif") or s.startswith("#error") or s.startswith("#define G_LOG_DOMAIN"):
            continue
        if s.startswith("/*") or s.startswith("//"):
            return s.lstrip("/* ")
        return None
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    listed = subprocess.run(["git", "-C", root, "ls-files", "src", "tests", "examples", "scripts"],
                            capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout:
        files = listed.stdout.split()
    else:
        # Not a git checkout (a release tarball): every file below.
        files = [os.path.relpath(os.path.join(d, f), root)
                 for top in ("src", "tests", "examples", "scripts")
                 for d, _, names in os.walk(os.path.join(root, top)) for f in names]
    problems = []
    checked = 0
    for rel in files:
        if not SOURCE.search(rel) or "/corpus/" in rel:
            continue
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        checked += 1
        n = text.count("\n")
        if n > MAX_LINES:
            problems.append(f"{rel}: {n} lines, more than {MAX_LINES}")
        if not first_comment(rel, text):
            problems.append(f"{rel}: no first comment saying its job")
    for p in problems:
        print(p)
    print(f"{checked} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
