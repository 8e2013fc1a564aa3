# SPDX-License-Identifier: LGPL-2.1-or-later
"""Idle exit and bus activation: the daemon leaves when nobody calls, the
next call starts it again, and nothing is lost on the way."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import (BUS_NAME, INTERFACE, OBJECT_PATH, DaemonTestCase,  # noqa: E402
                     PrivateBus, apikey_record, chatgpt_record, wait_until)

IDLE = 2


class TestIdle(DaemonTestCase):

    def activatable_bus(self, *extra, idle=IDLE):
        env = {k: self.env[k] for k in ("HOME", "CODEX_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
                                        "XDG_RUNTIME_DIR", "CODEX_REFRESH_TOKEN_URL_OVERRIDE")}
        idle_option = f"--idle-timeout {idle}" if idle is not None else ""
        command = f"{self.binary} -v --store file {idle_option} {' '.join(extra)}"
        bus = PrivateBus(activatable={BUS_NAME: (command, env)})
        self.addCleanup(bus.stop)
        self.activation_log_path = bus.activation_log_path(BUS_NAME)
        return bus, bus.connect()

    def owned(self, conn):
        return conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                              "NameHasOwner", GLib.Variant("(s)", (BUS_NAME,)), None, 0, 5000,
                              None).unpack()[0]

    def status(self, conn, include=True, refresh=True):
        return conn.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus",
                              GLib.Variant("(bb)", (include, refresh)), None, 0, 30000, None).unpack()

    def test_idle_exit_and_reactivation_keep_poison(self):
        self.write_auth_atomically(chatgpt_record(refresh="rt-doomed"))
        self.token_server.script(default={"status": 401, "json": {"error": "refresh_token_reused"}})
        bus, conn = self.activatable_bus()
        try:
            self.assertFalse(self.owned(conn))
            # The first call starts it; the refresh fails for good.
            self.assertEqual(self.status(conn), ("chatgpt", "", True))
            self.assertEqual(self.token_server.count(), 1)
            for cycle in range(2):
                started = time.monotonic()
                wait_until(lambda: not self.owned(conn), timeout=IDLE + 15, what="the idle exit")
                print(f"cycle {cycle}: exited {time.monotonic() - started:.1f} s after the last call")
                # Started again by the next call: still poisoned, no request.
                self.assertEqual(self.status(conn), ("chatgpt", "", True))
                self.assertEqual(self.token_server.count(), 1)
            with open(self.activation_log_path) as f:
                log = f.read()
            self.assertEqual(log.count("No activity for"), 2, log)
            # It released the name itself: no instance took it over.
            self.assertNotIn("Another instance took over", log)
            self.assertNotIn("CRITICAL", log)
            self.assertNotIn("AddressSanitizer", log)
        finally:
            conn.close_sync(None)

    def test_default_stays_for_the_session(self):
        # The shipped unit and activation file start it with the defaults:
        # no idle timer. A client that only listens, after the call that
        # started the daemon, sees a login made long after.
        data = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data")
        for name in ("codex-authd.service", "org.codex.Auth1.service"):
            with open(os.path.join(data, name)) as f:
                self.assertNotIn("idle-timeout", f.read(), name)
        bus, conn = self.activatable_bus(idle=None)
        other = bus.connect()
        seen = []
        sub = conn.signal_subscribe(None, "org.freedesktop.DBus.Properties", "PropertiesChanged", OBJECT_PATH,
                                    None, 0, lambda *a: seen.append(a[-1].unpack()))
        try:
            self.assertEqual(self.status(conn, False, False), ("", "", True))
            with open(self.activation_log_path) as f:
                log = f.read()
            self.assertIn("Idle exit off: no idle timer", log)
            # Longer than the idle timeout of the other tests, with no call.
            harness.pump(IDLE + 3)
            self.assertTrue(self.owned(other))
            other.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, "LoginWithApiKey", GLib.Variant("(s)", ("sk-late",)),
                            None, 0, 10000, None)
            # The identity is announced by name only (invalidates): the
            # listener reads the new value itself.
            wait_until(lambda: any("AuthMethod" in invalidated for _, _, invalidated in seen), timeout=5,
                       what="the listener to see the login")
            method = conn.call_sync(BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get",
                                    GLib.Variant("(ss)", (INTERFACE, "AuthMethod")), None, 0, 10000, None)
            self.assertEqual(method.unpack()[0], "apikey")
            with open(self.activation_log_path) as f:
                log = f.read()
            self.assertEqual(log.count("Serving org.codex.Auth1"), 1)
            self.assertNotIn("No activity for", log)
        finally:
            conn.signal_unsubscribe(sub)
            conn.close_sync(None)
            other.close_sync(None)

    def test_calls_keep_it_alive(self):
        self.write_auth_atomically(apikey_record("sk-busy"))
        bus, conn = self.activatable_bus()
        try:
            end = time.monotonic() + IDLE * 3
            while time.monotonic() < end:
                self.assertEqual(self.status(conn, True, False), ("apikey", "sk-busy", True))
                time.sleep(0.5)
            with open(self.activation_log_path) as f:
                self.assertEqual(f.read().count("Serving org.codex.Auth1"), 1)
        finally:
            conn.close_sync(None)

    def test_no_idle_exit(self):
        self.write_auth_atomically(apikey_record("sk-dev"))
        proc = self.start_daemon("--idle-timeout", "1", "--no-idle-exit")
        time.sleep(3)
        self.assertIsNone(proc.poll())
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-dev")


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestIdle]))
