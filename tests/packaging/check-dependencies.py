#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks that packaging/dependencies (the one list) agrees with the Debian
control file, the RPM spec and the README's list of packages. Prints each
difference and exits 1 if there is any."""
import os
import re
import sys

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*path):
    with open(os.path.join(SRC, *path)) as f:
        return f.read()


def load_list():
    rows = []
    for line in read("packaging", "dependencies").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, deb, rpm = line.split()
        rows.append((kind, deb, [] if rpm == "-" else rpm.split(",")))
    return rows


def control_field(text, name):
    """The comma-separated entries of a control field (first stanza that has it)."""
    m = re.search(rf"^{name}:(.*(?:\n[ \t].*)*)", text, re.M)
    if not m:
        return []
    return [e.strip() for e in m.group(1).replace("\n", " ").split(",") if e.strip()]


def debian(text):
    build, check = set(), set()
    for entry in control_field(text, "Build-Depends"):
        name = re.sub(r"\s*\(.*?\)", "", entry)
        if name.startswith("debhelper-compat"):
            continue
        if "<!nocheck>" in name:
            check.add(name.replace("<!nocheck>", "").strip())
        else:
            build.add(name.strip())
    alts = lambda e: "|".join(a.strip() for a in e.split("|"))  # noqa: E731
    depends = {alts(e) for e in control_field(text, "Depends") if not e.startswith("${")}
    recommends = {alts(e) for e in control_field(text, "Recommends")}
    return build, check, depends, recommends


def rpm(text):
    build = set(re.findall(r"^BuildRequires:\s*(\S+)", text, re.M))
    # The main package's Requires (the -devel package requires the main one).
    preamble = text.split("\n%description", 1)[0]
    requires = set(re.findall(r"^Requires:\s*(\S+)", preamble, re.M))
    return build, requires


def rpm_recommends(text):
    return set(re.findall(r"^Recommends:\s*(\S+)", text, re.M))


def readme(text):
    lists = {}
    for label in ("to build", "at run time", "for the tests"):
        m = re.search(rf"^- {label}: (.*)$", text, re.M)
        lists[label] = set(re.findall(r"`([^`]+)`", m.group(1))) if m else None
    return lists


def main():
    rows = load_list()
    of = lambda *kinds: [r for r in rows if r[0] in kinds]  # noqa: E731
    deb = lambda *kinds: {r[1] for r in of(*kinds) if r[1] != "-"}  # noqa: E731
    first = lambda *kinds: {r[1].split("|")[0] for r in of(*kinds) if r[1] != "-"}  # noqa: E731
    rpms = lambda *kinds: {n for r in of(*kinds) for n in r[2]}  # noqa: E731
    problems = []

    def compare(what, got, expected):
        if got != expected:
            problems.append(f"{what}: only in the file: {sorted(got - expected)}; "
                            f"only in packaging/dependencies: {sorted(expected - got)}")

    build, check, depends, recommends = debian(read("packaging", "debian", "control"))
    compare("debian/control Build-Depends", build, deb("build"))
    compare("debian/control Build-Depends <!nocheck>", check, deb("check"))
    compare("debian/control Depends", depends, deb("depends"))
    compare("debian/control Recommends", recommends, deb("recommends"))
    compare("spec Recommends", rpm_recommends(read("packaging", "rpm", "codex-authd.spec.in")), rpms("recommends"))

    build_requires, requires = rpm(read("packaging", "rpm", "codex-authd.spec.in"))
    compare("spec BuildRequires", build_requires, rpms("build", "toolchain", "check", "checkessential"))
    compare("spec Requires", requires, rpms("depends"))

    lists = readme(read("README.md"))
    for label, expected in (("to build", deb("build", "toolchain")), ("at run time", first("depends")),
                            ("for the tests", deb("check"))):
        if lists[label] is None:
            problems.append(f"README.md: no '- {label}:' line")
        else:
            compare(f"README.md '{label}'", lists[label], expected)

    for p in problems:
        print(p)
    print(f"{len(rows)} dependencies; {len(problems)} disagreement(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
