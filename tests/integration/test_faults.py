#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fault injection: the daemon killed at random moments and its store made
unwritable, while clients keep asking for fresh tokens, against a token
server that rotates the refresh token on every success and answers
refresh_token_reused to any token it has rotated already.

Asserted throughout: the server never sees a reused (or unknown) token, the
daemon never poisons the good login, every call to a running daemon is
answered with a token, and after each kill the token the server issued last
is in the store or in the daemon's rescue copy. At the end, with the faults
gone, the store holds that token.

The kills: SIGTERM at a random moment (the request in flight is finished
and saved); SIGKILL while the server holds a request (mid-request: the
answer never goes out, so the server does not rotate); SIGKILL right after
an answer has been made durable (mid-save: between the rescue copy, the
store write and the copy's removal); SIGKILL while idle. A SIGKILL in the
microseconds between the server sending an answer and the daemon's first
durable write of it would lose that token whatever the client does; the
test does not aim there (it waits until the newest token is durable), and
the server counts an answer it could not deliver as no rotation.

CODEX_AUTHD_FAULT_CYCLES (default 150 per test) and CODEX_AUTHD_FAULT_SEED
(default: from the clock, printed) make a run longer or repeatable."""

import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import Gio, GLib  # noqa: E402

import harness  # noqa: E402
from harness import BUS_NAME, INTERFACE, OBJECT_PATH, DaemonTestCase, chatgpt_record, pump, wait_until  # noqa: E402
from keyring_helper import KeyringFixture, codex_attributes  # noqa: E402

CYCLES = int(os.environ.get("CODEX_AUTHD_FAULT_CYCLES", "150"))
IN_FLIGHT = 4


class FaultTestCase(KeyringFixture, DaemonTestCase):
    start_keyring = False
    # A fault stays until the next fault event of its kind clears it.
    lasting_faults = True

    def setUp(self):
        super().setUp()
        seed = int(os.environ.get("CODEX_AUTHD_FAULT_SEED", str(int(time.time() * 1000) % 1000000)))
        print(f"seed {seed} (CODEX_AUTHD_FAULT_SEED={seed} repeats this run)")
        self.rng = random.Random(seed)
        # Every forced call refreshes (no 30 s window): many rotations.
        self.env["CODEX_AUTHD_TEST_RECENT_REFRESH_MS"] = "0"
        self.counts = collections.Counter()
        self.proc = None
        # On disk for the file store; in the session's runtime directory
        # for the keyring (never on disk).
        self.rescue_paths = [os.path.join(self.tmp, "state", "codex-authd", "rescue-copy.json"),
                             os.path.join(self.env["XDG_RUNTIME_DIR"], "codex-authd", "rescue-copy.json")]

    # -- clients -------------------------------------------------------------

    def poll(self, seconds):
        """Keeps IN_FLIGHT GetAuthStatus(true, true) calls going for @seconds;
        every answer must carry a token."""
        state = {"out": 0, "errors": []}

        def done(conn, result):
            state["out"] -= 1
            try:
                method, token, _ = conn.call_finish(result).unpack()
                self.counts["calls answered"] += 1
                if method != "chatgpt" or not token:
                    state["errors"].append(f"answer without a token: {method!r}")
            except GLib.Error as e:
                state["errors"].append(e.message)

        end = time.monotonic() + seconds
        while time.monotonic() < end or state["out"] > 0:
            while state["out"] < IN_FLIGHT and time.monotonic() < end:
                state["out"] += 1
                self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                               None, Gio.DBusCallFlags.NONE, -1, None, done)
            pump(0.005)
        if state["errors"]:
            self.report()
        self.assertEqual(state["errors"], [], "a running daemon failed to answer")

    def report(self):
        """What the daemon said lately and what the server holds, for a
        failure's diagnosis."""
        lines = [line for line in self.daemon_log().splitlines() if "-DEBUG" not in line]
        print("--- daemon log (last lines) ---\n" + "\n".join(lines[-40:]))
        print("--- server ---\n" + json.dumps(self.token_server.rotation_state())[:2000])

    # -- what the server and the stores hold -----------------------------------

    def server(self):
        state = self.token_server.rotation_state()
        if state["reused"] or state["unknown"]:
            self.report()
        self.assertEqual(state["reused"], 0, "the server saw a reused refresh token")
        self.assertEqual(state["unknown"], 0, "the server saw a refresh token it never issued")
        return state

    def stored_token(self):
        raise NotImplementedError

    def rescued_tokens(self):
        tokens = []
        for path in self.rescue_paths:
            try:
                with open(path) as f:
                    tokens.append(json.loads(json.loads(f.read())["record"])["tokens"]["refresh_token"])
            except (OSError, ValueError, KeyError):
                pass
        return tokens

    def rescued_token(self):
        tokens = self.rescued_tokens()
        return tokens[0] if tokens else None

    def durable(self, token):
        return token == self.stored_token() or token in self.rescued_tokens()

    def wait_durable(self, timeout=10):
        """Waits until the token the server issued last is in the store or the
        rescue copy (never long: the copy is written as the answer arrives)."""
        wait_until(lambda: self.durable(self.server()["current"]), timeout=timeout,
                   what="the newest token to be written")

    # -- the daemon ----------------------------------------------------------

    def ensure_daemon(self):
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self.start_daemon("--store", self.store_mode)
            self.counts["daemon starts"] += 1

    def kill(self, kind):
        sig = signal.SIGTERM if kind.startswith("SIGTERM") else signal.SIGKILL
        self.proc.expected_returncode = 0 if sig == signal.SIGTERM else -signal.SIGKILL
        self.proc.send_signal(sig)
        self.assertEqual(self.proc.wait(timeout=60), self.proc.expected_returncode)
        self.counts[f"kills: {kind}"] += 1
        # Whatever the moment, the newest token the server gave out is kept.
        current = self.server()["current"]
        self.assertTrue(self.durable(current),
                        f"{kind}: the server's newest token {current} is neither stored "
                        f"({self.stored_token()}) nor rescued ({self.rescued_token()})")

    def kill_during_calls(self):
        """SIGTERM with calls in flight: each one the daemon read is answered
        with a token before it exits (the refresh it waits for is finished
        first); one it had not read yet finds the daemon gone."""
        results = []

        def done(conn, result):
            try:
                results.append(("answer",) + tuple(conn.call_finish(result).unpack()[:2]))
            except GLib.Error as e:
                results.append(("error", Gio.DBusError.get_remote_error(e) or e.message))

        for _ in range(IN_FLIGHT):
            self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                           None, Gio.DBusCallFlags.NONE, -1, None, done)
        pump(self.rng.uniform(0, 0.05))
        self.kill("SIGTERM during calls")
        wait_until(lambda: len(results) == IN_FLIGHT, timeout=30, what="every call in flight to end")
        gone = ("org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.ServiceUnknown",
                "org.freedesktop.DBus.Error.NameHasNoOwner")
        for r in results:
            if r[0] == "answer":
                self.assertEqual(r[1], "chatgpt", r)
                self.assertTrue(r[2], f"a call in flight at SIGTERM was answered without a token: {r}")
                self.counts["calls in flight at SIGTERM: answered"] += 1
            else:
                self.assertIn(r[1], gone, f"a call in flight at SIGTERM failed: {r}")
                self.counts["calls in flight at SIGTERM: not read before the exit"] += 1

    def kill_mid_request(self):
        self.wait_durable()
        self.token_server.rotating(hold=True)
        self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                       None, Gio.DBusCallFlags.NONE, -1, None, lambda c, r: None)
        try:
            wait_until(lambda: self.server()["held"] > 0, timeout=10, what="a request to hold")
            self.kill("SIGKILL mid-request")
        finally:
            self.token_server.rotating(hold=False)

    def kill_after_answer(self):
        # Right after the newest answer is durable: the daemon is then between
        # its rescue copy, the store write and the copy's removal.
        before = self.server()["rotations"]
        self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                       None, Gio.DBusCallFlags.NONE, -1, None, lambda c, r: None)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            state = self.server()
            if state["rotations"] > before and self.durable(state["current"]):
                break
            time.sleep(0.0005)
        self.kill("SIGKILL mid-save")

    # -- the run ---------------------------------------------------------------

    def run_cycles(self, faults):
        self.token_server.rotating(current="rt-rot-0")
        self.write_initial(chatgpt_record(refresh="rt-rot-0", last_refresh="2026-01-01T00:00:00Z"))
        active = set()
        for cycle in range(CYCLES):
            self.counts["cycles"] += 1
            self.ensure_daemon()
            self.poll(self.rng.uniform(0.02, 0.2))
            event = self.rng.choice(["SIGTERM", "SIGTERM during calls", "SIGKILL mid-request", "SIGKILL mid-save",
                                     "SIGKILL idle", "fault", "fault", "nothing"])
            if event == "SIGTERM":
                self.kill("SIGTERM")
            elif event == "SIGTERM during calls":
                self.kill_during_calls()
            elif event == "SIGKILL mid-request":
                self.kill_mid_request()
            elif event == "SIGKILL mid-save":
                self.kill_after_answer()
            elif event == "SIGKILL idle":
                # The clients have stopped: nothing is started any more.
                wait_until(self.idle, timeout=30, what="the daemon to be idle")
                self.wait_durable()
                self.kill("SIGKILL idle")
            elif event == "fault":
                kind = self.rng.choice(faults)
                # One fault at a time: a fault event clears the one in force,
                # or injects one.
                if active and self.lasting_faults:
                    self.clear_fault(active.pop())
                else:
                    self.inject_fault(kind)
                    self.counts[f"store faults: {kind}"] += 1
                    if self.lasting_faults:
                        active.add(kind)
            self.server()
        for kind in list(active):
            self.clear_fault(kind)
        # Faults gone: the daemon saves the newest token and keeps working.
        self.ensure_daemon()
        self.poll(0.5)
        wait_until(lambda: self.stored_token() == self.server()["current"], timeout=30,
                   what="the store to hold the newest token")
        props = self.call("GetAll", GLib.Variant("(s)", (INTERFACE,)), iface="org.freedesktop.DBus.Properties")[0]
        self.assertNotEqual(props["RefreshState"], "poisoned")
        self.assertFalse(props["RequiresLogin"])
        state = self.server()
        self.counts["rotations"] = state["rotations"]
        self.counts["answers not delivered (no rotation)"] = state["undelivered"]
        self.counts["reused tokens"] = state["reused"]
        self.counts["unknown tokens"] = state["unknown"]
        print("\n".join(f"{k}: {v}" for k, v in sorted(self.counts.items())))
        self.assertGreater(state["rotations"], CYCLES, "too few refreshes to mean anything")

    def idle(self):
        props = self.call("GetAll", GLib.Variant("(s)", (INTERFACE,)), iface="org.freedesktop.DBus.Properties")[0]
        return props["RefreshState"] != "refreshing" and self.server()["held"] == 0


class TestFileStore(FaultTestCase):
    """auth.json, on a small tmpfs that is made full or read-only (root),
    else made read-only with the immutable attribute or its mode."""

    store_mode = "file"

    def setUp(self):
        super().setUp()
        self.mounted = False
        if os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs",
                                                 self.codex_home], capture_output=True).returncode == 0:
            self.mounted = True
            self.addCleanup(subprocess.run, ["umount", "-l", self.codex_home])
        else:
            print("no tmpfs could be mounted here (not root?): the full-disk fault is left out")

    def write_initial(self, record):
        self.write_auth_atomically(record)

    def stored_token(self):
        try:
            with open(self.auth_json) as f:
                return json.load(f)["tokens"]["refresh_token"]
        except (OSError, ValueError, KeyError):
            return None

    def inject_fault(self, kind):
        if kind == "full disk":
            fd = os.open(os.path.join(self.codex_home, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(fd, b"\0" * 4096) > 0:
                    pass
            except OSError:
                pass  # full
            finally:
                os.close(fd)
        elif self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", self.codex_home], check=True)
        elif os.geteuid() == 0:
            subprocess.run(["chattr", "+i", self.codex_home], check=True)
        else:
            os.chmod(self.codex_home, 0o500)

    def clear_fault(self, kind):
        if kind == "full disk":
            os.unlink(os.path.join(self.codex_home, "filler"))
        elif self.mounted:
            subprocess.run(["mount", "-o", "remount,rw", self.codex_home], check=True)
        elif os.geteuid() == 0:
            subprocess.run(["chattr", "-i", self.codex_home], check=True)
        else:
            os.chmod(self.codex_home, 0o700)

    def test_kills_and_store_faults(self):
        self.run_cycles(["full disk", "read-only"] if self.mounted else ["read-only"])


class TestKeyringStore(FaultTestCase):
    """The Codex keyring item, with the keyring daemon killed and started
    again."""

    store_mode = "secret-service"
    lasting_faults = False  # each keyring outage ends within its cycle

    def setUp(self):
        super().setUp()
        self.keyring.start()

    def write_initial(self, record):
        self.keyring.store(codex_attributes(self.codex_home), json.dumps(record, separators=(",", ":")))

    def stored_token(self):
        try:
            unlocked, locked = self.keyring.search(codex_attributes(self.codex_home))
            if not unlocked:
                return None
            return json.loads(self.keyring.secret(unlocked[0]))["tokens"]["refresh_token"]
        except (GLib.Error, ValueError, KeyError):
            return None

    def inject_fault(self, kind):
        # The keyring goes away for a while, then comes back (its items are
        # on disk): the daemon keeps serving and saves when it returns.
        self.keyring.kill()
        self.poll(self.rng.uniform(0.05, 0.3))
        self.keyring.start()

    def clear_fault(self, kind):
        pass

    def test_kills_and_store_faults(self):
        self.run_cycles(["keyring killed"])


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestFileStore, TestKeyringStore]))
