# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the built codex-authd on a private dbus-daemon for integration tests.

Each test module gets its own dbus-daemon; each test gets fresh HOME,
CODEX_HOME and XDG_* directories and its own daemon process. The hooks are
environment variables, documented in tests/README.md:

  CODEX_AUTHD            path of the daemon binary under test (required)
  CODEX_AUTHD_XML        path of dbus-interfaces/org.codex.Auth1.xml
  CODEX_AUTHD_TEST_KEEP  keep the temporary directories (for debugging)
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import base64
import urllib.request

from gi.repository import Gio, GLib

# The fakes (token server, keyring helper) live beside this directory.
FAKES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes")
if FAKES_DIR not in sys.path:
    sys.path.insert(0, FAKES_DIR)

BUS_NAME = "org.codex.Auth1"
OBJECT_PATH = "/org/codex/Auth1"
INTERFACE = "org.codex.Auth1"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir={tmpdir}</listen>
  <auth>EXTERNAL</auth>
  <!-- The limits of a desktop session bus (session.conf). -->
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">1000000000</limit>
  <limit name="max_replies_per_connection">50000</limit>
  <limit name="max_connections_per_user">100000</limit>
  <limit name="max_pending_service_starts">10000</limit>
  <limit name="max_names_per_connection">50000</limit>
  <limit name="max_match_rules_per_connection">50000</limit>
  <!-- No <servicedir> unless a test asks: nothing is activated behind the
       tests' back. -->{servicedir}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <!-- Lets a test connect as another user, to check that the daemon
         refuses callers with a different UID. -->
    <allow user="*"/>{extra_policy}
  </policy>
</busconfig>
"""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def make_jwt(payload: dict) -> str:
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return f"{header}.{body}.c2lnbmF0dXJl"


def chatgpt_record(email="user@example.com", plan="plus", account="acc-123",
                   access_exp=1893456000, access_tag="A1", refresh="rt-secret-1",
                   last_refresh="2026-11-01T12:00:00Z"):
    id_token = make_jwt({
        "email": email,
        "https://api.openai.com/auth": {
            "chatgpt_plan_type": plan,
            "chatgpt_account_id": account,
            "chatgpt_user_id": "user-42",
        },
    })
    access = make_jwt({"exp": access_exp, "tag": access_tag})
    return {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": id_token,
            "access_token": access,
            "refresh_token": refresh,
            "account_id": account,
        },
        "last_refresh": last_refresh,
    }


def apikey_record(key="sk-test-key-1"):
    return {"auth_mode": "apikey", "OPENAI_API_KEY": key}


class PrivateBus:
    """A dbus-daemon of our own, with an address to hand to the daemon."""

    def __init__(self, activatable=None):
        """@activatable: {bus name: (Exec command line, environment)}, made
        activatable through a service directory of this bus."""
        self.dir = tempfile.mkdtemp(prefix="codex-authd-bus-")
        # The socket lives here; a test connects as another user too.
        os.chmod(self.dir, 0o755)
        servicedir = ""
        if activatable:
            services = os.path.join(self.dir, "services")
            os.makedirs(services)
            for name, (command, env) in activatable.items():
                wrapper = os.path.join(services, name + ".sh")
                log = self.activation_log_path(name)
                with open(wrapper, "w") as f:
                    f.write("#!/bin/sh\n")
                    for k, v in env.items():
                        f.write(f"export {k}='{v}'\n")
                    # Each start and each exit status is noted, and the
                    # output kept, for the checks of stop().
                    f.write(f"echo $$ >>'{self.dir}/started'\n")
                    f.write(f"{command} >>'{log}' 2>&1\n")
                    f.write(f"echo $? >>'{self.dir}/exits'\n")
                os.chmod(wrapper, 0o755)
                with open(os.path.join(services, name + ".service"), "w") as f:
                    f.write(f"[D-BUS Service]\nName={name}\nExec={wrapper}\n")
            servicedir = f"\n  <servicedir>{services}</servicedir>"
        self.servicedir = servicedir
        config = self.write_config()
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--config-file", config, "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not start")

    def write_config(self, extra_policy=""):
        config = os.path.join(self.dir, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(tmpdir=self.dir, servicedir=self.servicedir, extra_policy=extra_policy))
        return config

    def set_policy(self, conn, extra_policy):
        """Rewrites the bus's default policy with @extra_policy (XML rules)
        added, and makes the running dbus-daemon read it again."""
        self.write_config(extra_policy)
        conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                       "ReloadConfig", None, None, Gio.DBusCallFlags.NONE, 5000, None)

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)

    def activation_log_path(self, name):
        return os.path.join(self.dir, "services", name + ".log")

    def activation_log(self, name):
        """What the daemons the bus started as @name printed."""
        try:
            with open(self.activation_log_path(name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _lines(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def stop(self):
        """Stops the bus; the daemons it started see it go and must exit 0,
        with no sanitizer report (else AssertionError)."""
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        problems = []
        if self.servicedir:
            end = time.monotonic() + 30
            while len(self._lines("exits")) < len(self._lines("started")) and time.monotonic() < end:
                time.sleep(0.05)
            started, exits = self._lines("started"), self._lines("exits")
            if len(exits) < len(started):
                problems.append(f"{len(started) - len(exits)} activated daemon(s) did not exit with the bus")
            problems += [f"an activated daemon exited {code}" for code in exits if code != "0"]
            for log in os.listdir(os.path.join(self.dir, "services")):
                if log.endswith(".log"):
                    with open(os.path.join(self.dir, "services", log), errors="replace") as f:
                        text = f.read()
                    if "AddressSanitizer" in text or "LeakSanitizer" in text or "runtime error:" in text:
                        problems.append(f"a sanitizer report in {log}:\n{text}")
        shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            raise AssertionError("; ".join(problems))


class FakeTokenServer:
    """tests/fakes/fake-token-server.py in a subprocess, driven over HTTP."""

    def __init__(self):
        script = os.path.join(FAKES_DIR, "fake-token-server.py")
        self.proc = subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError("the fake token server did not start")
        self.port = int(line[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/oauth/token"

    def _control(self, path, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.base + path, data=data, method="POST" if data is not None else "GET")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def script(self, responses=(), default=None):
        payload = {"responses": list(responses)}
        if default is not None:
            payload["default"] = default
        self._control("/_control/script", payload)

    def requests(self):
        return self._control("/_control/requests")

    def rotating(self, current=None, hold=False, delay=0):
        """Switches to the rotating server (see fake-token-server.py)."""
        payload = {"hold": hold, "delay": delay}
        if current is not None:
            payload["current"] = current
        self._control("/_control/rotating", payload)

    def rotation_state(self):
        return self._control("/_control/rotating")

    def count(self):
        return len(self.requests())

    def reset(self):
        self._control("/_control/reset", {})
        self.script()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def token_response(access_exp=1893456000, tag="new", refresh="rt-rotated", id_token=None):
    """A successful refresh answer, as the real endpoint sends it."""
    body = {"access_token": make_jwt({"exp": access_exp, "tag": tag}), "refresh_token": refresh}
    if id_token is not None:
        body["id_token"] = id_token
    return {"status": 200, "json": body}


def pump(timeout=0.05):
    """Runs the default main context for @timeout seconds."""
    ctx = GLib.MainContext.default()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ctx.iteration(False)
        time.sleep(0.005)
    while ctx.pending():
        ctx.iteration(False)


# How much later than a configured bound (a timeout, an interval) a call
# may end on a loaded machine before a test calls it late: the bounds the
# tests assert are the configured ones plus this.
SLACK = float(os.environ.get("CODEX_AUTHD_TEST_SLACK", "5"))
# The daemon's bounds the tests meet (src/auth-bus.h, src/revoke.h).
ANSWER_BOUND = 15
REVOKE_TIMEOUT = 10


def wait_until(predicate, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        pump(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class DaemonTestCase(unittest.TestCase):
    """Base class: one private bus per module (class), one daemon per test."""

    bus = None
    daemon_args = []

    @classmethod
    def setUpClass(cls):
        cls.binary = os.environ["CODEX_AUTHD"]
        cls.bus = PrivateBus()
        cls.token_server = FakeTokenServer()

    @classmethod
    def tearDownClass(cls):
        if cls.bus is not None:
            cls.bus.stop()
        cls.token_server.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="codex-authd-test-")
        self.home = os.path.join(self.tmp, "home")
        self.codex_home = os.path.join(self.home, ".codex")
        os.makedirs(self.codex_home, mode=0o700)
        self.env = dict(os.environ)
        self.env.update({
            "HOME": self.home,
            "CODEX_HOME": self.codex_home,
            "XDG_CONFIG_HOME": os.path.join(self.tmp, "config"),
            "XDG_STATE_HOME": os.path.join(self.tmp, "state"),
            "XDG_DATA_HOME": os.path.join(self.tmp, "data"),
            "XDG_CACHE_HOME": os.path.join(self.tmp, "cache"),
            "XDG_RUNTIME_DIR": os.path.join(self.tmp, "runtime"),
            "DBUS_SESSION_BUS_ADDRESS": self.bus.address,
            # Every test talks to the fake endpoint, never to the network.
            "CODEX_REFRESH_TOKEN_URL_OVERRIDE": self.token_server.url,
            # The local token endpoint only where a test asks for it (it
            # would take the fixed default port).
            "CODEX_AUTHD_LOCAL_TOKEN_ENDPOINT": "off",
        })
        self.token_server.reset()
        for d in ("config", "state", "data", "cache", "runtime"):
            os.makedirs(os.path.join(self.tmp, d), mode=0o700)
        self.conn = self.bus.connect()
        self.daemons = []
        self.signals = []
        self._sub = self.conn.signal_subscribe(
            None, "org.freedesktop.DBus.Properties", "PropertiesChanged",
            OBJECT_PATH, None, Gio.DBusSignalFlags.NONE, self._on_signal)

    def tearDown(self):
        self.conn.signal_unsubscribe(self._sub)
        for proc, log in self.daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    self.fail("the daemon did not exit on SIGTERM")
        self.conn.close_sync(None)
        for proc, log in self.daemons:
            with open(log, errors="replace") as f:
                text = f.read()
            expected = getattr(proc, "expected_returncode", 0)
            bad = (proc.returncode != expected or "AddressSanitizer" in text
                   or "LeakSanitizer" in text or "runtime error:" in text)
            if bad:
                print(f"--- daemon log {log} (exit {proc.returncode}) ---\n{text}")
            self.assertFalse(bad, f"daemon exited {proc.returncode} (expected {expected}) "
                                  "or reported a sanitizer error; log above")
        if not os.environ.get("CODEX_AUTHD_TEST_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- daemon ------------------------------------------------------------

    def start_daemon(self, *extra, wait=True):
        log = os.path.join(self.tmp, f"daemon-{len(self.daemons)}.log")
        # CODEX_AUTHD_VALGRIND: a valgrind command line to run the daemon under.
        wrapper = os.environ.get("CODEX_AUTHD_VALGRIND", "").split()
        with open(log, "w") as logf:
            proc = subprocess.Popen([*wrapper, self.binary, "--verbose", *self.daemon_args, *extra],
                                    env=self.env, stdout=logf, stderr=subprocess.STDOUT)
        self.daemons.append((proc, log))
        if wait:
            wait_until(lambda: self.name_has_owner() or proc.poll() is not None,
                       timeout=60 if wrapper else 10, what="the daemon to own " + BUS_NAME)
            if proc.poll() is not None:
                with open(log) as f:
                    self.fail(f"daemon exited early ({proc.returncode}):\n{f.read()}")
        return proc

    def stop_daemon(self, proc):
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        return proc.returncode

    def daemon_log(self, index=-1):
        with open(self.daemons[index][1], errors="replace") as f:
            return f.read()

    def name_owner(self):
        """The unique name owning BUS_NAME, None when nobody does."""
        try:
            reply = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "GetNameOwner", GLib.Variant("(s)", (BUS_NAME,)), None,
                                        Gio.DBusCallFlags.NONE, 5000, None)
        except GLib.Error:
            return None
        return reply.unpack()[0]

    def name_has_owner(self):
        reply = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "NameHasOwner",
                                    GLib.Variant("(s)", (BUS_NAME,)), None,
                                    Gio.DBusCallFlags.NONE, 5000, None)
        return reply.unpack()[0]

    # -- calls -------------------------------------------------------------

    def call(self, method, params=None, iface=INTERFACE, timeout_ms=10000):
        reply = self.conn.call_sync(BUS_NAME, OBJECT_PATH, iface, method, params, None,
                                    Gio.DBusCallFlags.NONE, timeout_ms, None)
        return reply.unpack() if reply is not None else None

    def call_error(self, method, params=None, iface=INTERFACE):
        """Makes a call that must fail; returns (D-Bus error name, message)."""
        try:
            self.call(method, params, iface)
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e)
            Gio.DBusError.strip_remote_error(e)
            return name, e.message
        self.fail(f"{method} succeeded but was expected to fail")

    def get_auth_status(self, include_token=False, refresh_token=False, timeout_ms=10000):
        """-1 for @timeout_ms: the client library's default (25 s), as apps use."""
        return self.call("GetAuthStatus", GLib.Variant("(bb)", (include_token, refresh_token)),
                         timeout_ms=timeout_ms)

    def details(self, **options):
        opts = {k.replace("_", "-"): GLib.Variant("b", v) for k, v in options.items()}
        return self.call("GetAuthStatusDetails", GLib.Variant("(a{sv})", (opts,)))[0]

    def prop(self, name):
        return self.call("Get", GLib.Variant("(ss)", (INTERFACE, name)),
                         iface="org.freedesktop.DBus.Properties")[0]

    def all_props(self):
        return self.call("GetAll", GLib.Variant("(s)", (INTERFACE,)),
                         iface="org.freedesktop.DBus.Properties")[0]

    # -- signals -----------------------------------------------------------

    def _on_signal(self, conn, sender, path, iface, member, params):
        interface, changed, invalidated = params.unpack()
        if interface != INTERFACE:
            return
        # Who is signed in is announced by name only (invalidated): read
        # as a client would (GDBusProxy, libcodex-auth), and recorded with
        # the values that came in the signal.
        changed = dict(changed)
        for name in invalidated:
            self.assertNotIn(name, changed)
            try:
                changed[name] = self.prop(name)
            except GLib.Error:
                pass  # the daemon went away meanwhile
        self.signals.append((time.monotonic(), changed, invalidated))

    def clear_signals(self):
        pump(0.05)
        self.signals.clear()

    # -- credentials on disk -----------------------------------------------

    @property
    def auth_json(self):
        return os.path.join(self.codex_home, "auth.json")

    def write_codex_config(self, store, extra=""):
        """Sets the Codex CLI's cli_auth_credentials_store in config.toml
        (None: a config.toml without it), as the CLI's user would."""
        text = extra
        if store is not None:
            text = f'cli_auth_credentials_store = "{store}"\n' + extra
        tmp = os.path.join(self.codex_home, ".config.toml.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.codex_home, "config.toml"))

    def write_auth_atomically(self, record):
        """Writes auth.json the way the Codex CLI does: temp file + rename."""
        data = record if isinstance(record, (bytes, str)) else json.dumps(record, separators=(",", ":"))
        if isinstance(data, str):
            data = data.encode()
        fd, tmp = tempfile.mkstemp(prefix=".auth-", dir=self.codex_home)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.rename(tmp, self.auth_json)


# Exit status meson reads as "skipped".
EXIT_SKIPPED = 77


def http_raw(host, port, data, timeout=10):
    """Sends @data on a new connection to @host:@port; what came back until
    EOF (a reset or a timeout ends it too)."""
    import socket
    out = b""
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(data)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            pass
    return out


def http_status(answer):
    """The status code of a raw HTTP answer, None when there is none."""
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None


# A raw HTTP client as a program of its own: @data on stdin, the answer
# (until EOF, a reset ends it too) on stdout.
_RAW_CLIENT = """import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
out = b""
with socket.create_connection((host, port), timeout=10) as s:
    try:
        s.sendall(sys.stdin.buffer.read())
        while True:
            c = s.recv(4096)
            if not c:
                break
            out += c
    except (ConnectionResetError, BrokenPipeError):
        pass
sys.stdout.buffer.write(out)
"""


def http_raw_as_other_user(host, port, data, uid=65534):
    """http_raw() from a process of user @uid (setpriv): what came back.
    Raises when the client itself fails (no connection, say)."""
    import subprocess
    out = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                          "/usr/bin/python3", "-c", _RAW_CLIENT, host, str(port)],
                         input=data, capture_output=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"the client of UID {uid} failed: {out.stderr.decode(errors='replace')}")
    return out.stdout


def stream_chunked_body(port, head, mib=1024):
    """Sends @head (a request line and headers ending in chunked transfer
    encoding) to 127.0.0.1:@port, then up to @mib MiB of body in 1 MiB
    chunks without reading; stops where the server closes. The bytes sent."""
    import socket
    chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head)
            for _ in range(mib):
                s.sendall(chunk)
                sent += len(chunk)
    except OSError:
        pass  # refused and closed: the rest could not be sent
    return sent


def rss_kib(pid):
    """The resident set of process @pid, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def peers_required():
    """$CODEX_AUTHD_REQUIRE_PEERS (set by the test command, which installs
    every peer): a missing peer program is then a failure, not a skip."""
    return os.environ.get("CODEX_AUTHD_REQUIRE_PEERS", "") not in ("", "0")


def missing_peer(why, test=None):
    """A peer the test needs is missing: skip with @why, or fail when peers
    are required. Without @test (in setUpClass), raises."""
    if peers_required():
        raise AssertionError(f"a required peer is missing ($CODEX_AUTHD_REQUIRE_PEERS): {why}")
    if test is not None:
        test.skipTest(why)
    raise unittest.SkipTest(why)


def main(module, classes):
    """`--list` prints the test ids; `ID...` runs them. A run in which every
    test was skipped exits 77, so meson reports it as skipped (with the
    reason printed), never as passed."""
    import sys
    args = sys.argv[1:]
    if args == ["--list"]:
        loader = unittest.TestLoader()
        for cls in classes:
            for name in loader.getTestCaseNames(cls):
                print(f"{cls.__name__}.{name}")
        return 0
    suite = unittest.TestLoader().loadTestsFromNames(args or [c.__name__ for c in classes], module)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    # Everything skipped (setUpClass skipping counts as one skip with no
    # test run): skipped, never passed.
    if result.skipped and len(result.skipped) >= result.testsRun:
        for test, reason in result.skipped:
            print(f"SKIP {test.id()}: {reason}")
        return EXIT_SKIPPED
    if result.testsRun == 0:
        print("no test ran")
        return 1
    return 0
