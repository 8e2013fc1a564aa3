#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The installed interface XML serves every generator: gdbus-codegen (C code
# and DocBook) and qdbusxml2cpp (Qt 6 and Qt 5) run on it, and what they
# generate compiles. Usage: test-codegen.sh BUILDDIR GENERATOR, GENERATOR
# one of gdbus, qt6, qt5: one meson test each. A generator that is not
# installed is a skip (exit 77), or a failure when $CODEX_AUTHD_REQUIRE_PEERS
# is set.
set -uo pipefail

builddir=$1
generator=${2:?usage: $0 BUILDDIR gdbus|qt6|qt5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 skipped=0
check() { # check NAME COMMAND...
  local name=$1; shift
  if "$@" > "$work/out.txt" 2>&1; then
    echo "PASS: $name"; passed=$((passed + 1))
  else
    echo "FAIL: $name"; sed 's/^/    /' "$work/out.txt" | tail -30; failed=$((failed + 1))
  fi
}
skip() {
  if [ -n "${CODEX_AUTHD_REQUIRE_PEERS:-}" ] && [ "${CODEX_AUTHD_REQUIRE_PEERS}" != 0 ]; then
    echo "FAIL: a required peer is missing: $1"; failed=$((failed + 1))
  else
    echo "SKIP: $1"; skipped=$((skipped + 1))
  fi
}

meson install -C "$builddir" --destdir "$work/root" --no-rebuild --quiet > "$work/install.log" 2>&1 ||
  { cat "$work/install.log"; exit 1; }
xml=$(find "$work/root" -path '*/dbus-1/interfaces/org.codex.Auth1.xml' | head -n 1)
[ -n "$xml" ] || { echo "the XML was not installed"; exit 1; }
echo "installed XML: ${xml#"$work/root"}"

# -- gdbus-codegen ---------------------------------------------------------
gdbus_check() {
if command -v gdbus-codegen > /dev/null; then
  mkdir -p "$work/gdbus" && cd "$work/gdbus"
  check "gdbus-codegen generates C code and DocBook" \
    gdbus-codegen --interface-prefix org.codex. --c-namespace CodexAuthDBus --generate-c-code auth1 \
      --generate-docbook doc "$xml"
  check "the generated C code compiles" sh -c "cc -c -Wall -Werror auth1.c \$(pkg-config --cflags gio-2.0 gio-unix-2.0)"
  check "generated names read well (import_chatgpt_tokens, start_chatgpt_login)" \
    sh -c 'grep -q codex_auth_dbus_auth1_call_import_chatgpt_tokens auth1.h &&
           grep -q codex_auth_dbus_auth1_call_start_chatgpt_login auth1.h &&
           ! grep -q chat_gpt auth1.h'
  # Every argument's description arrives whole in the documentation: one
  # line in the XML, the same words in the DocBook.
  check "every @arg description is whole in the DocBook" /usr/bin/python3 - "$xml" doc-org.codex.Auth1.xml <<'PY'
import re, sys
xml = open(sys.argv[1]).read()
doc = re.sub(r"<[^>]+>", "", open(sys.argv[2]).read())
doc = " ".join(doc.split())
args = re.findall(r"^\s+@([a-z_]+): (.+)$", xml, re.M)
assert args, "no @arg descriptions"
bad = []
for name, text in args:
    words = re.sub(r"@[a-z_]+", "", text)
    words = " ".join(w for w in words.replace("&quot;", '"').split())
    plain = re.sub(r'[^A-Za-z0-9 ]', '', words)
    docplain = re.sub(r'[^A-Za-z0-9 ]', '', doc)
    if " ".join(plain.split()) not in " ".join(docplain.split()):
        bad.append(f"{name}: {text}")
print(f"{len(args)} argument descriptions checked")
assert not bad, "\n".join(bad)
# And no continuation line: each description is one line.
for m in re.finditer(r"^( +)@[a-z_]+: .+\n( +)\S", xml, re.M):
    assert len(m.group(2)) <= len(m.group(1)), "a wrapped @arg description: " + m.group(0)
PY
  check "the interface has a short description" grep -q "The Codex credentials, shared with the Codex CLI" doc-org.codex.Auth1.xml
else
  skip "gdbus-codegen is not installed (libglib2.0-dev-bin)"
fi
}

# -- qdbusxml2cpp ----------------------------------------------------------
qt_check() { # qt_check LABEL QDBUSXML2CPP MOC PKGCONFIG
  local label=$1 tool=$2 moc=$3 pc=$4
  if [ ! -x "$tool" ] || ! pkg-config --exists "$pc"; then
    skip "$label: $tool or $pc is not installed"
    return
  fi
  mkdir -p "$work/$label" && cd "$work/$label"
  check "$label: qdbusxml2cpp generates a proxy and an adaptor" \
    sh -c "'$tool' -p auth1_proxy '$xml' && '$tool' -a auth1_adaptor '$xml'"
  check "$label: the a{sv} arguments are QVariantMap" grep -q "QVariantMap" auth1_proxy.h
  check "$label: the proxy and the adaptor compile and link" sh -c "
    '$moc' auth1_proxy.h -o moc_auth1_proxy.cpp && '$moc' auth1_adaptor.h -o moc_auth1_adaptor.cpp &&
    c++ -std=c++17 -fPIC -shared -o libauth1.so auth1_proxy.cpp auth1_adaptor.cpp moc_auth1_proxy.cpp \
      moc_auth1_adaptor.cpp \$(pkg-config --cflags --libs $pc)"
}
case "$generator" in
  gdbus) gdbus_check ;;
  qt6) qt_check qt6 /usr/lib/qt6/bin/qdbusxml2cpp /usr/lib/qt6/libexec/moc Qt6DBus ;;
  qt5) qt_check qt5 /usr/lib/qt5/bin/qdbusxml2cpp /usr/lib/qt5/bin/moc Qt5DBus ;;
  *) echo "unknown generator $generator"; exit 2 ;;
esac

echo "codegen ($generator): $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
[ "$skipped" -eq 0 ] || exit 77
[ "$passed" -gt 0 ] || exit 1
