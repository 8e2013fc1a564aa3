# SPDX-License-Identifier: LGPL-2.1-or-later
"""The client library and the example apps, as app developers meet them.

TestLibrary: libcodex-auth-1 installed into a scratch prefix is found by
pkg-config and links; the Python one-liner of the README prints the state.

TestGtkExample, TestPythonExample, TestQtExample: each example app runs
under Xvfb against the daemon on the private bus through one scenario
(logged out, login, token, refresh, poisoning, logout, daemon gone and
back). The app prints what its window shows (--print-state) and the test
checks it, and a screenshot of each step is saved in
CODEX_AUTHD_ARTIFACTS (meson-logs/screenshots)."""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import DaemonTestCase, chatgpt_record, wait_until  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CODEX_AUTHD_BUILD_ROOT", "")
LIBDIR = os.path.join(BUILD, "src", "libcodex-auth")
ARTIFACTS = os.environ.get("CODEX_AUTHD_ARTIFACTS") or os.path.join(tempfile.gettempdir(), "codex-authd-screenshots")


def library_env(env):
    """@env for a process that loads the built library through GI."""
    env = dict(env)
    env["GI_TYPELIB_PATH"] = LIBDIR + (":" + env["GI_TYPELIB_PATH"] if env.get("GI_TYPELIB_PATH") else "")
    env["LD_LIBRARY_PATH"] = LIBDIR + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    preload = os.environ.get("CODEX_AUTHD_ASAN_PRELOAD")
    if preload:
        # The library is built with AddressSanitizer; the interpreter is not.
        env["LD_PRELOAD"] = preload
        env["ASAN_OPTIONS"] = "detect_leaks=0:halt_on_error=1"
    return env


class TestLibrary(DaemonTestCase):
    daemon_args = ["--store", "file"]

    def setUp(self):
        if not os.path.exists(os.path.join(LIBDIR, "CodexAuth-1.0.typelib")):
            harness.missing_peer("libcodex-auth-1 was built without introspection (-Dintrospection=false)", self)
        super().setUp()

    def test_pkg_config_from_an_install(self):
        if shutil.which("pkg-config") is None:
            harness.missing_peer("pkg-config is not installed", self)
        dest = os.path.join(self.tmp, "root")
        out = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", dest, "--no-rebuild", "--quiet"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        pcs = glob.glob(os.path.join(dest, "**", "pkgconfig", "codex-auth-1.pc"), recursive=True)
        self.assertEqual(len(pcs), 1, pcs)
        # The scratch prefix stands in for the installed one: a copy of the
        # .pc with its prefix moved there.
        pcdir = os.path.join(self.tmp, "pkgconfig")
        os.makedirs(pcdir)
        with open(pcs[0]) as f:
            text = re.sub(r"^prefix=(.*)$", lambda m: f"prefix={dest}{m.group(1)}", f.read(), flags=re.M)
        with open(os.path.join(pcdir, "codex-auth-1.pc"), "w") as f:
            f.write(text)
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "codex-auth-1"],
                               capture_output=True, text=True, env=env)
        self.assertEqual(flags.returncode, 0, flags.stderr)
        print("pkg-config --cflags --libs codex-auth-1:", flags.stdout.strip())
        self.assertIn("-lcodex-auth-1", flags.stdout)
        program = os.path.join(self.tmp, "state.c")
        with open(program, "w") as f:
            f.write('#include <codex-auth.h>\n#include <stdio.h>\n'
                    'int main (void) { puts (codex_auth_state_describe (CODEX_AUTH_STATE_READY));'
                    ' return codex_auth_error_quark () == 0; }\n')
        exe = os.path.join(self.tmp, "state-program")
        cc = subprocess.run(["cc", program, "-o", exe, *flags.stdout.split()], capture_output=True, text=True)
        self.assertEqual(cc.returncode, 0, cc.stderr)
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "codex-auth-1"],
                                capture_output=True, text=True, env=env).stdout.strip()
        run = subprocess.run([exe], capture_output=True, text=True,
                             env=dict(library_env(os.environ), LD_LIBRARY_PATH=libdir))
        self.assertEqual((run.returncode, run.stdout.strip()), (0, "Ready"), run.stderr)

    def one_liner(self):
        code = ("import gi; gi.require_version('CodexAuth', '1.0'); from gi.repository import CodexAuth; "
                "print(CodexAuth.Client.new_sync(None).props.state.value_nick)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                             env=library_env(self.env))
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.strip()

    def test_python_one_liner(self):
        self.start_daemon()
        self.assertEqual(self.one_liner(), "logged-out")
        self.call("LoginWithApiKey", GLib.Variant("(s)", ("sk-one-liner",)))
        self.assertEqual(self.one_liner(), "ready")

    def test_errors_times_and_signals_from_python(self):
        self.write_auth_atomically(chatgpt_record(last_refresh="2026-11-01T12:00:00Z"))
        # The daemon's issuer: the fake one, whose device-code sign-in is off.
        self.token_server._control("/_control/login", {"usercode": {"status": 404}})
        self.env["CODEX_AUTHD_ISSUER"] = self.token_server.base
        self.start_daemon()
        code = r"""
import gi, json
gi.require_version('CodexAuth', '1.0')
from gi.repository import CodexAuth, GLib
c = CodexAuth.Client.new_sync(None)
loop = GLib.MainLoop()
out = {"state": c.props.state.value_nick, "email": c.props.email,
       "last_refresh": c.props.last_refresh.format_iso8601(), "expires": c.props.access_token_expires.to_unix()}
def token_done(c, res):
    out["token_len"] = len(c.get_token_finish(res))
    c.cancel_login_async("no-such-login", None, cancel_done)
def cancel_done(c, res):
    try:
        c.cancel_login_finish(res)
    except GLib.Error as e:
        out["cancel_error"] = [e.matches(CodexAuth.error_quark(), CodexAuth.Error.NO_SUCH_LOGIN), e.message]
    c.start_device_code_login_async(None, device_done)
def device_done(c, res):
    try:
        c.start_device_code_login_finish(res)
    except GLib.Error as e:
        out["device_error"] = e.matches(CodexAuth.error_quark(), CodexAuth.Error.DEVICE_LOGIN_DISABLED)
    loop.quit()
c.get_token_async(False, None, token_done)
loop.run()
print(json.dumps(out))
"""
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                             env=library_env(self.env))
        self.assertEqual(out.returncode, 0, out.stderr)
        result = json.loads(out.stdout)
        self.assertEqual(result["state"], "ready")
        self.assertEqual(result["email"], "user@example.com")
        self.assertEqual(result["last_refresh"], "2026-11-01T12:00:00Z")
        self.assertEqual(result["expires"], 1893456000)
        self.assertGreater(result["token_len"], 10)
        self.assertEqual(result["cancel_error"][0], True, result)
        self.assertNotIn("org.codex.Auth1.Error", result["cancel_error"][1])
        self.assertEqual(result.get("device_error"), True, result)


class Xvfb:
    def __init__(self):
        read, write = os.pipe()
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "640x360x24", "-nolisten",
                                      "tcp"], pass_fds=[write], stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as f:
            self.display = ":" + f.readline().strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class ExampleScenario(DaemonTestCase):
    """One example app through the scenario; subclasses say how to run it."""

    daemon_args = ["--store", "file"]
    name = None

    def command(self):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        if shutil.which("Xvfb") is None:
            harness.missing_peer("Xvfb is not installed (package xvfb)")
        super().setUpClass()
        cls.xvfb = Xvfb()

    @classmethod
    def tearDownClass(cls):
        cls.xvfb.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.env["CODEX_AUTHD_TEST_RECENT_REFRESH_MS"] = "0"
        self.shows = []
        self.app = None

    def tearDown(self):
        if self.app is not None and self.app.poll() is None:
            self.app.terminate()
            try:
                self.app.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.app.kill()
                self.app.wait()
        super().tearDown()

    def app_env(self):
        env = library_env(self.env)
        env.update({"DISPLAY": self.xvfb.display, "GDK_BACKEND": "x11", "QT_QPA_PLATFORM": "xcb",
                    "NO_AT_BRIDGE": "1", "GSETTINGS_BACKEND": "memory", "GTK_A11Y": "none",
                    "XDG_RUNTIME_DIR": os.path.join(self.tmp, "runtime")})
        return env

    def launch(self):
        self.app = subprocess.Popen([*self.command(), "--print-state"], stdout=subprocess.PIPE,
                                    stderr=open(os.path.join(self.tmp, "app.log"), "w"), text=True,
                                    env=self.app_env())
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.app.stdout:
            if line.startswith("SHOW "):
                fields = dict(part.split("=", 1) for part in line[5:].rstrip("\n").split("|"))
                self.shows.append(fields)

    def wait_show(self, what, timeout=20, **expected):
        def matches():
            if not self.shows:
                return False
            last = self.shows[-1]
            return all(re.fullmatch(v, last.get(k, "")) for k, v in expected.items())
        try:
            wait_until(matches, timeout=timeout, what=f"{self.name} to show {what}")
        except AssertionError:
            with open(os.path.join(self.tmp, "app.log"), errors="replace") as f:
                log = f.read()[-3000:]
            self.fail(f"{self.name} did not show {what} {expected}; last shown: "
                      f"{self.shows[-1] if self.shows else None}; app log:\n{log}")
        return self.shows[-1]

    def screenshot(self, step):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, f"{self.name}-{step}.png")
        time.sleep(0.3)  # let the window draw what it just printed
        out = subprocess.run(["import", "-window", "root", "-display", self.xvfb.display, path],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        print(f"screenshot: {path}")

    def test_scenario(self):
        daemon = self.start_daemon()
        self.launch()
        self.wait_show("logged out", state="Not signed in", account="No account")
        self.screenshot("1-logged-out")

        # A login made elsewhere shows up by itself.
        record = chatgpt_record(email="ada@example.com", plan="plus", refresh="rt-scenario",
                                last_refresh="2026-11-01T12:00:00Z")
        tokens = record["tokens"]
        self.call("ImportChatGptTokens", GLib.Variant("(sss)", (tokens["id_token"], tokens["access_token"],
                                                                tokens["refresh_token"])))
        shown = self.wait_show("the account", state="Ready", account=r"ada@example\.com \(plus\)",
                               detail="Last refreshed .*")
        self.screenshot("2-logged-in")

        # The button fetches a token without blocking the window.
        self.app.send_signal(signal.SIGUSR1)
        self.wait_show("a token", token=r"Got a token \(\d+ characters\)")
        self.screenshot("3-token")

        # A refresh (rotating endpoint): the time shown changes.
        self.token_server.rotating(current="rt-scenario")
        before = shown["detail"]
        time.sleep(1.1)  # the time shown has seconds
        self.get_auth_status(True, True)
        self.wait_show("the refresh", state="Ready", detail=f"(?!{re.escape(before)}$)Last refreshed .*")
        self.screenshot("4-refreshed")

        # Poisoned: the refresh token fails for good.
        self.token_server.script(default={"status": 401, "json": {"error": {"code": "refresh_token_reused"}}})
        self.token_server._control("/_control/rotating", {"current": "rt-other"})
        self.get_auth_status(True, True)
        self.wait_show("log in again", state="Sign in again", detail=".*log out and sign in again.*", token="")
        self.screenshot("5-log-in-again")

        # Logged out.
        self.call("Logout")
        self.wait_show("logged out", state="Not signed in", account="No account")
        self.screenshot("6-logged-out")

        # The daemon goes away and comes back: followed.
        self.call("LoginWithApiKey", GLib.Variant("(s)", ("sk-scenario",)))
        self.wait_show("the API key", state="Ready", account="API key")
        self.stop_daemon(daemon)
        self.wait_show("the service gone", state="Codex login service not running")
        self.screenshot("7-not-running")
        self.start_daemon()
        self.wait_show("the service back", state="Ready", account="API key")
        self.app.send_signal(signal.SIGUSR1)
        self.wait_show("a token after the restart", token=r"Got a token \(11 characters\)")
        self.screenshot("8-back")
        print(f"{self.name}: {len(self.shows)} states shown")


class TestGtkExample(ExampleScenario):
    name = "gtk"

    def command(self):
        path = os.path.join(BUILD, "examples", "codex-auth-gtk")
        if not os.path.exists(path):
            harness.missing_peer("the examples are not built (meson setup -Dexamples=true)", self)
        return [path]


class TestPythonExample(ExampleScenario):
    name = "python"

    def command(self):
        if not os.path.exists(os.path.join(LIBDIR, "CodexAuth-1.0.typelib")):
            harness.missing_peer("libcodex-auth-1 was built without introspection", self)
        check = subprocess.run([sys.executable, "-c", "import gi; gi.require_version('Gtk', '4.0')"],
                               capture_output=True)
        if check.returncode != 0:
            harness.missing_peer("GTK 4 for Python is not installed (gir1.2-gtk-4.0)", self)
        return [sys.executable, os.path.join(SRC, "examples", "python", "codex-auth-example.py")]


class TestQtExample(ExampleScenario):
    name = "qt"

    def command(self):
        if shutil.which("cmake") is None:
            harness.missing_peer("cmake is not installed", self)
        build = os.path.join(BUILD, "examples-qt")
        # Built as a Qt developer would: CMake, qt_add_dbus_interface on the XML.
        xml = os.path.join(SRC, "dbus-interfaces", "org.codex.Auth1.xml")
        configure = subprocess.run(["cmake", "-S", os.path.join(SRC, "examples", "qt"), "-B", build,
                                    f"-DCODEX_AUTH_XML={xml}"], capture_output=True, text=True)
        if configure.returncode != 0:
            if "Qt6" in configure.stdout + configure.stderr:
                harness.missing_peer("Qt 6 is not installed (qt6-base-dev)", self)
            self.fail(configure.stdout + configure.stderr)
        make = subprocess.run(["cmake", "--build", build, "-j", "2"], capture_output=True, text=True)
        self.assertEqual(make.returncode, 0, make.stdout + make.stderr)
        return [os.path.join(build, "codex-auth-qt")]


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__],
                          [TestLibrary, TestGtkExample, TestPythonExample, TestQtExample]))
