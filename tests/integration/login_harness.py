# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the sign-in tests share: the test case that points the daemon at
the fake issuer (tests/fakes/fake-token-server.py) on two free login ports,
a scripted "browser" (an HTTP client that follows the authorize redirect),
a listener that holds a port, and the PKCE and port helpers."""

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import Gio, GLib  # noqa: E402

from harness import BUS_NAME, INTERFACE, OBJECT_PATH, DaemonTestCase, wait_until  # noqa: E402


EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def free_port():
    """A port nobody listens on now, on either loopback address."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET6) as s6:
                s6.bind(("::1", port))
        except OSError as e:
            if e.errno == 98:  # in use on ::1
                continue
        return port


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def browse(url, follow=True):
    """GETs @url as a browser would (following redirects unless told not
    to): (status, body text, final URL or Location)."""
    if not follow:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
    else:
        opener = OPENER
    try:
        with opener.open(url, timeout=20) as resp:
            return resp.status, resp.read().decode(), resp.geturl()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Location")


class HeldPort:
    """A listener on 127.0.0.1:@port that answers every request (/cancel
    included) with 404 and keeps the port; @release_on_cancel: like the
    Codex CLI's login server, it closes when asked to /cancel."""

    def __init__(self, port, release_on_cancel=False):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.release_on_cancel = release_on_cancel
        self.requests = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    data = conn.recv(4096).decode(errors="replace")
                except OSError:
                    continue
                line = data.split("\r\n", 1)[0]
                self.requests.append(line)
                if line.startswith("GET /cancel") and self.release_on_cancel:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\nLogin cancelled\n")
                    self.close()
                    return
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self):
        self.closed.set()
        self.sock.close()


class LoginTestCase(DaemonTestCase):
    daemon_args = ["--store", "file"]
    config_extra = ""

    def setUp(self):
        super().setUp()
        self.ports = [free_port(), free_port()]
        self.env["CODEX_AUTHD_ISSUER"] = self.token_server.base
        self.env.pop("DISPLAY", None)
        self.env.pop("WAYLAND_DISPLAY", None)
        self.write_config(self.config_extra)
        self.completed = []
        self._login_sub = self.conn.signal_subscribe(
            None, INTERFACE, "LoginCompleted", OBJECT_PATH, None, Gio.DBusSignalFlags.NONE,
            lambda *a: self.completed.append((time.monotonic(), a[-1].unpack())))

    def tearDown(self):
        self.conn.signal_unsubscribe(self._login_sub)
        super().tearDown()

    def write_config(self, extra=""):
        d = os.path.join(self.tmp, "config", "codex-authd")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "codex-authd.conf"), "w") as f:
            f.write(f"[daemon]\nlogin-ports={self.ports[0]},{self.ports[1]}\n{extra}")

    # -- helpers -------------------------------------------------------------

    def fake_login(self, script):
        self.token_server._control("/_control/login", script)

    def issuer_log(self):
        return self.token_server._control("/_control/login")

    def start_browser(self, conn=None):
        conn = conn or self.conn
        reply = conn.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, "StartChatGptLogin",
                               GLib.Variant("(a{sv})", ({},)), None, Gio.DBusCallFlags.NONE, -1, None)
        return reply.unpack()

    def start_device(self):
        return self.call("StartDeviceCodeLogin", GLib.Variant("(a{sv})", ({},)), timeout_ms=-1)

    def wait_completed(self, login_id, timeout=15):
        def found():
            return [c for _, c in self.completed if c[0] == login_id]
        wait_until(lambda: found(), timeout=timeout, what=f"LoginCompleted for {login_id}")
        return found()[0]

    def ctl(self, *args, env=None):
        return subprocess.run([os.environ["CODEX_AUTHCTL"], *args], capture_output=True, text=True,
                              timeout=60, env=env or self.env)

    def ctl_background(self, *args):
        return subprocess.Popen([os.environ["CODEX_AUTHCTL"], *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)

    def read_until(self, stream, pattern, timeout=15):
        """Lines of @stream until one matches @pattern: the match."""
        end = time.monotonic() + timeout
        seen = []
        while time.monotonic() < end:
            line = stream.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        self.fail(f"no line matching {pattern!r} in {seen!r}")

    def stored(self):
        with open(self.auth_json) as f:
            return json.load(f)

    def assert_no_problems(self):
        self.assertEqual(self.issuer_log()["problems"], [])
