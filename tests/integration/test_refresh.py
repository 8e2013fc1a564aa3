# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration tests of the refresh engine, against the fake token server."""

import json
import os
import socket
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import Gio, GLib  # noqa: E402

import harness  # noqa: E402
from harness import (BUS_NAME, INTERFACE, OBJECT_PATH, DaemonTestCase,  # noqa: E402
                     PrivateBus, apikey_record, chatgpt_record, make_jwt, pump,
                     token_response, wait_until)

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
VERSION_RE = r"^codex-authd/\d+\.\d+\.\d+$"

MESSAGES = {
    "refresh_token_expired": "Your access token could not be refreshed because your refresh token "
                             "has expired. Please log out and sign in again.",
    "refresh_token_reused": "Your access token could not be refreshed because your refresh token "
                            "was already used. Please log out and sign in again.",
    "refresh_token_invalidated": "Your access token could not be refreshed because your refresh "
                                 "token was revoked. Please log out and sign in again.",
    "invalid_grant": "Your access token could not be refreshed. Please log out and sign in again.",
    "unauthorized": "Your access token could not be refreshed. Please log out and sign in again.",
}

# name: (response spec, expected RefreshError)
PERMANENT_CASES = {
    "401_empty_body": ({"status": 401, "body": ""}, "unauthorized"),
    "401_not_json": ({"status": 401, "body": "<html>Unauthorized</html>"}, "unauthorized"),
    "401_other_code": ({"status": 401, "json": {"error": {"code": "token_expired"}}}, "unauthorized"),
    "400_expired": ({"status": 400, "json": {"error": {"message": "x", "code": "refresh_token_expired"}}},
                    "refresh_token_expired"),
    "401_expired": ({"status": 401, "json": {"error": "refresh_token_expired"}}, "refresh_token_expired"),
    "400_reused": ({"status": 400, "json": {"error": "REFRESH_TOKEN_REUSED"}}, "refresh_token_reused"),
    "401_reused": ({"status": 401, "json": {"error": {"message": "Your refresh token has already been used",
                                                      "type": "invalid_request_error", "param": None,
                                                      "code": "refresh_token_reused"}}},
                   "refresh_token_reused"),
    "400_invalidated": ({"status": 400, "json": {"code": "refresh_token_invalidated"}},
                        "refresh_token_invalidated"),
    "401_invalidated": ({"status": 401, "json": {"error": {"code": "refresh_token_invalidated"}}},
                        "refresh_token_invalidated"),
    "400_invalid_grant": ({"status": 400, "json": {"error": "invalid_grant"}}, "invalid_grant"),
}

# name: (response spec or None for a refused connection, RefreshError, minimum delay in s)
TRANSIENT_CASES = {
    "500": ({"status": 500, "json": {"error": "boom"}}, "server_error", 0),
    "503_retry_after": ({"status": 503, "headers": {"Retry-After": "3"}}, "server_error", 3),
    "429": ({"status": 429, "json": {"error": {"code": "rate_limit_exceeded"}}}, "rate_limited", 0),
    "connection_refused": (None, "network", 0),
    "connection_dropped": ({"action": "close"}, "network", 0),
    "never_answers": ({"action": "hang"}, "timeout", 0),
    "200_not_json": ({"status": 200, "body": "<html>maintenance</html>"}, "bad_response", 0),
    "200_no_tokens": ({"status": 200, "json": {"ok": True}}, "bad_response", 0),
    "200_oversized": ({"status": 200, "body_size": 2 * 1024 * 1024}, "bad_response", 0),
    "200_deeply_nested": ({"status": 200, "body": '{"refresh_token":"rt-x","x":' + "[" * 100000 + "]" * 100000 + "}"},
                          "bad_response", 0),
    "400_other": ({"status": 400, "json": {"error": "invalid_request"}}, "bad_response", 0),
}

POLL_SECONDS = 20
POLL_RATE = 50
REQUEST_TIMEOUT = 2


def backoff_bound(seconds, min_delay, jitter=0.2, initial=1.0, cap=600.0):
    """The most requests the schedule allows within @seconds: the first at
    once, then one after each delay, every delay being at least
    (1 - jitter) * initial * 2^(k-1) and at least @min_delay."""
    n, t, k = 1, 0.0, 1
    while True:
        t += max(min(initial * 2 ** (k - 1), cap) * (1 - jitter), min_delay)
        if t > seconds:
            return n
        n += 1
        k += 1


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RefreshTestCase(DaemonTestCase):
    daemon_args = ["--request-timeout", str(REQUEST_TIMEOUT)]

    def setUp(self):
        super().setUp()
        self.extra_conns = []

    def tearDown(self):
        for c in self.extra_conns:
            c.close_sync(None)
        super().tearDown()

    @property
    def failure_file(self):
        return os.path.join(self.tmp, "state", "codex-authd", "poison.json")

    def connections(self, n):
        while len(self.extra_conns) < n:
            self.extra_conns.append(self.bus.connect())
        return self.extra_conns[:n]

    def read_auth(self):
        with open(self.auth_json) as f:
            return json.load(f)

    def concurrent_calls(self, n, conns, include=True, refresh=True, method="GetAuthStatus"):
        """Sends @n calls at once over @conns; returns their answers."""
        results = []

        def done(conn, res):
            try:
                results.append(conn.call_finish(res).unpack())
            except GLib.Error as e:
                results.append(e)

        for i in range(n):
            conns[i % len(conns)].call(BUS_NAME, OBJECT_PATH, INTERFACE, method,
                                       GLib.Variant("(bb)", (include, refresh)), None,
                                       Gio.DBusCallFlags.NONE, 60000, None, done)
        wait_until(lambda: len(results) == n, timeout=60, what=f"{n} answers")
        return results

    def sequential_calls(self, n, conns, include=True, refresh=True):
        answers = set()
        for i in range(n):
            reply = conns[i % len(conns)].call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus",
                                                   GLib.Variant("(bb)", (include, refresh)), None,
                                                   Gio.DBusCallFlags.NONE, 60000, None)
            answers.add(reply.unpack())
        return answers

    def poll(self, seconds, rate, include=True, refresh=True):
        """A client calling GetAuthStatus(include, refresh) @rate times a
        second for @seconds, without waiting for answers (like a UI timer)."""
        answers = []
        sent = 0
        start = time.monotonic()

        def done(conn, res):
            try:
                answers.append(conn.call_finish(res).unpack())
            except GLib.Error as e:
                answers.append(e)

        while time.monotonic() - start < seconds:
            target = int((time.monotonic() - start) * rate) + 1
            while sent < target:
                self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus",
                               GLib.Variant("(bb)", (include, refresh)), None,
                               Gio.DBusCallFlags.NONE, 60000, None, done)
                sent += 1
            pump(0.01)
        wait_until(lambda: len(answers) == sent, timeout=30, what="the poll answers")
        return answers


class TestRefresh(RefreshTestCase):

    def test_partly_usable_answer_keeps_rotated_token(self):
        """A 2xx answer with an id_token that is not a JWT and an empty field
        beside a new refresh_token: the rotated token is used and saved."""
        record = chatgpt_record(refresh="rt-before")
        self.write_auth_atomically(record)
        new = token_response(tag="partly", refresh="rt-after", id_token="not-a-jwt")
        new["json"]["token_type"] = ""
        self.token_server.script([new, token_response(tag="next", refresh="rt-next")])
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, True)[1], new["json"]["access_token"])
        saved = self.read_auth()
        self.assertEqual(saved["tokens"]["refresh_token"], "rt-after")
        self.assertEqual(saved["tokens"]["id_token"], record["tokens"]["id_token"])
        self.assertEqual(self.prop("RefreshState"), "ok")
        self.assertIn("id_token that cannot be used", self.daemon_log())
        self.assertNotIn("not-a-jwt", self.daemon_log())
        self.assertNotIn("rt-after", self.daemon_log())
        # The next refresh sends the rotated token.
        time.sleep(31)
        self.get_auth_status(True, True)
        self.assertEqual(json.loads(self.token_server.requests()[1]["body"])["refresh_token"], "rt-after")

    def test_hanging_endpoint_answers_within_client_timeout(self):
        """A refresh that hangs does not make the client time out: the call is
        answered within the daemon's 15 s bound with what it has, and once
        the request has timed out a later call shows the backoff."""
        record = chatgpt_record(refresh="rt-slow")
        self.write_auth_atomically(record)
        self.token_server.script(default={"action": "hang"})
        self.daemon_args = []  # not the class's short request timeout
        self.start_daemon("--request-timeout", "20")
        start = time.monotonic()
        # -1: the client library's default timeout (25 s), as a GUI app uses.
        reply = self.get_auth_status(True, True, timeout_ms=-1)
        took = time.monotonic() - start
        print(f"answered after {took:.1f} s")
        self.assertLess(took, harness.ANSWER_BOUND + harness.SLACK)
        self.assertGreaterEqual(took, harness.ANSWER_BOUND - 1)
        self.assertEqual(reply, ("chatgpt", record["tokens"]["access_token"], True))
        self.assertEqual(self.prop("RefreshState"), "refreshing")
        wait_until(lambda: self.prop("RefreshState") == "backoff", timeout=10, what="the request to time out")
        self.assertEqual(self.prop("RefreshError"), "timeout")
        # In backoff, calls are answered at once.
        start = time.monotonic()
        self.assertEqual(self.get_auth_status(True, True)[1], record["tokens"]["access_token"])
        self.assertLess(time.monotonic() - start, harness.SLACK)

    def test_busy_lock_is_transient(self):
        """auth.lock held by another program past the wait: backoff with
        RefreshError=timeout, not a store error, and no second wait."""
        import fcntl
        record = chatgpt_record(refresh="rt-locked-out")
        self.write_auth_atomically(record)
        self.start_daemon()
        with open(os.path.join(self.codex_home, "auth.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.assertEqual(self.get_auth_status(True, True, timeout_ms=-1)[1], record["tokens"]["access_token"])
            props = self.all_props()
            self.assertEqual(props["RefreshState"], "backoff")
            self.assertEqual(props["RefreshError"], "timeout")
            self.assertEqual(props["StoreState"], "ok")
            start = time.monotonic()
            self.get_auth_status(True, True)
            self.assertLess(time.monotonic() - start, harness.SLACK)
        self.assertEqual(self.token_server.count(), 0)

    def test_success_merges_and_persists(self):
        record = chatgpt_record(refresh="rt-original", last_refresh="2026-01-01T00:00:00Z")
        record["future_field"] = {"kept": [1, 2, 3]}
        record["tokens"]["extra"] = "kept too"
        self.write_auth_atomically(record)
        new = token_response(tag="fresh", refresh="rt-rotated")
        self.token_server.script([new])
        self.start_daemon()
        self.clear_signals()
        before = time.time()
        method, token, _ = self.get_auth_status(True, True)
        self.assertEqual(method, "chatgpt")
        self.assertEqual(token, new["json"]["access_token"])

        reqs = self.token_server.requests()
        self.assertEqual(len(reqs), 1)
        # Exactly the body of the Codex CLI, member for member.
        self.assertEqual(reqs[0]["body"], json.dumps({"client_id": CLIENT_ID, "grant_type": "refresh_token",
                                                      "refresh_token": "rt-original"},
                                                     separators=(",", ":")))
        self.assertEqual(reqs[0]["content_type"], "application/json")
        self.assertRegex(reqs[0]["user_agent"], VERSION_RE)

        saved = self.read_auth()
        self.assertEqual(saved["tokens"]["access_token"], new["json"]["access_token"])
        self.assertEqual(saved["tokens"]["refresh_token"], "rt-rotated")
        # What the server did not send is kept.
        self.assertEqual(saved["tokens"]["id_token"], record["tokens"]["id_token"])
        self.assertEqual(saved["tokens"]["account_id"], record["tokens"]["account_id"])
        self.assertEqual(saved["tokens"]["extra"], "kept too")
        self.assertEqual(saved["future_field"], {"kept": [1, 2, 3]})
        self.assertEqual(saved["auth_mode"], "chatgpt")
        last = GLib.DateTime.new_from_iso8601(saved["last_refresh"], None).to_unix()
        self.assertGreaterEqual(last, int(before) - 1)
        self.assertEqual(stat.S_IMODE(os.stat(self.auth_json).st_mode), 0o600)
        self.assertEqual([n for n in os.listdir(self.codex_home) if n.startswith(".auth-")], [])

        # ok -> refreshing -> ok, one signal each.
        pump(0.3)
        states = [c.get("RefreshState") for _, c, _ in self.signals]
        self.assertEqual(states, ["refreshing", "ok"], self.signals)
        self.assertGreaterEqual(self.signals[1][1]["LastRefresh"], (int(before) - 1) * 1000000)
        self.assertEqual(self.prop("StoreState"), "ok")

        # Within 30 s, refresh_token=true is satisfied without a request.
        self.assertEqual(self.get_auth_status(True, True)[1], new["json"]["access_token"])
        self.assertEqual(self.token_server.count(), 1)

    def test_new_id_token_updates_claims(self):
        self.write_auth_atomically(chatgpt_record(plan="plus"))
        id_token = make_jwt({"email": "user@example.com",
                             "https://api.openai.com/auth": {"chatgpt_plan_type": "pro",
                                                             "chatgpt_account_id": "acc-123"}})
        self.token_server.script([token_response(id_token=id_token)])
        self.start_daemon()
        self.get_auth_status(True, True)
        self.assertEqual(self.prop("PlanType"), "pro")
        self.assertEqual(self.read_auth()["tokens"]["id_token"], id_token)

    def test_proactive_refresh(self):
        soon = int(time.time()) + 120  # expires in 2 minutes
        self.write_auth_atomically(chatgpt_record(access_exp=soon))
        new = token_response(tag="proactive")
        self.token_server.script([new])
        self.start_daemon()
        # Not handing out a token: no refresh.
        self.assertEqual(self.get_auth_status(False, False), ("chatgpt", "", True))
        self.assertEqual(self.token_server.count(), 0)
        # Handing it out: refreshed first.
        self.assertEqual(self.get_auth_status(True, False)[1], new["json"]["access_token"])
        self.assertEqual(self.token_server.count(), 1)

    def test_fresh_token_is_not_refreshed(self):
        self.write_auth_atomically(chatgpt_record(access_exp=int(time.time()) + 3600))
        self.start_daemon()
        for _ in range(20):
            self.get_auth_status(True, False)
        self.assertEqual(self.token_server.count(), 0)

    def test_concurrent_callers_share_one_request(self):
        record = chatgpt_record(refresh="rt-1")
        self.write_auth_atomically(record)
        first = token_response(tag="first", refresh="rt-2")
        first["delay"] = 0.5  # all callers arrive while it is out
        second = token_response(tag="second", refresh="rt-3")
        self.token_server.script([first, second])
        self.start_daemon()
        answers = self.concurrent_calls(200, self.connections(4))
        self.assertEqual(self.token_server.count(), 1)
        self.assertEqual(set(answers), {("chatgpt", first["json"]["access_token"], True)})
        # The next refresh (once the 30 s window passed) sends the rotated token.
        time.sleep(31)
        self.assertEqual(self.get_auth_status(True, True)[1], second["json"]["access_token"])
        reqs = self.token_server.requests()
        self.assertEqual([json.loads(r["body"])["refresh_token"] for r in reqs], ["rt-1", "rt-2"])

    def test_slow_server_does_not_block_other_calls(self):
        self.write_auth_atomically(chatgpt_record())
        slow = token_response(tag="slow")
        slow["delay"] = 5
        self.token_server.script([slow])
        self.start_daemon("--request-timeout", "30")
        pending = []
        self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                       None, Gio.DBusCallFlags.NONE, 60000, None,
                       lambda c, r: pending.append(c.call_finish(r).unpack()))
        wait_until(lambda: self.token_server.count() == 1, timeout=10, what="the request")
        other = self.connections(1)[0]
        started = time.monotonic()
        for _ in range(100):
            reply = other.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus",
                                    GLib.Variant("(bb)", (True, False)), None, Gio.DBusCallFlags.NONE,
                                    60000, None).unpack()
            self.assertEqual(reply[0], "chatgpt")
        props = other.call_sync(BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                                GLib.Variant("(s)", (INTERFACE,)), None, Gio.DBusCallFlags.NONE,
                                60000, None).unpack()[0]
        elapsed = time.monotonic() - started
        pump(0.01)
        # All of that was answered while the refresh was still out.
        self.assertEqual(pending, [], f"the refresh finished first ({elapsed:.2f} s)")
        self.assertEqual(props["RefreshState"], "refreshing")
        print(f"101 calls answered in {elapsed * 1000:.0f} ms during a pending refresh")
        wait_until(lambda: pending, timeout=20, what="the slow refresh")
        self.assertEqual(pending[0][1], slow["json"]["access_token"])

    def test_sigterm_during_refresh(self):
        # Stopping while a request is out answers the waiting caller at once
        # and exits once the request is over (here: its timeout).
        self.write_auth_atomically(chatgpt_record())
        self.token_server.script(default={"action": "hang"})
        self.daemon_args = []
        proc = self.start_daemon("--request-timeout", "4")
        pending = []
        self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                       None, Gio.DBusCallFlags.NONE, 60000, None,
                       lambda c, r: pending.append((time.monotonic(), c.call_finish(r).unpack())))
        wait_until(lambda: self.token_server.count() == 1, timeout=10, what="the request")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: pending, timeout=5, what="the waiting call's answer")
        self.assertLess(pending[0][0] - started, harness.SLACK, "the waiting caller was not answered at once")
        self.assertEqual(pending[0][1][0], "chatgpt")
        self.assertEqual(proc.wait(timeout=20), 0)
        print(f"answered {pending[0][0] - started:.2f} s and exited {time.monotonic() - started:.2f} s "
              "after SIGTERM with a request out")
        self.assertLess(time.monotonic() - started, 4 + harness.SLACK)  # the request timeout, then the exit
        self.assertIn("Finishing the token request in flight", self.daemon_log())

    def test_sigterm_saves_rotated_token(self):
        """SIGTERM while the server is rotating the token: the answer is
        awaited and saved, and the next start sends the new token."""
        self.write_auth_atomically(chatgpt_record(refresh="rt-old"))
        rotated = token_response(tag="rotated", refresh="rt-new")
        rotated["delay"] = 2
        self.token_server.script([rotated], default=token_response(tag="later", refresh="rt-later"))
        self.daemon_args = []  # the default request timeout, longer than the delay
        proc = self.start_daemon()
        self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                       None, Gio.DBusCallFlags.NONE, 60000, None, lambda c, r: None)
        wait_until(lambda: self.token_server.count() == 1, timeout=10, what="the request")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=20), 0)
        self.assertEqual(self.read_auth()["tokens"]["refresh_token"], "rt-new")
        self.start_daemon()
        time.sleep(31)  # past the window in which a fresh refresh satisfies refresh_token=true
        self.get_auth_status(True, True)
        sent = [json.loads(r["body"])["refresh_token"] for r in self.token_server.requests()]
        self.assertEqual(sent, ["rt-old", "rt-new"])

    def test_replace_during_refresh_never_resends_old_token(self):
        """--replace while the old instance's request is out: the new one
        waits for the lock, reads the rotated token, and never sends the
        old one."""
        self.write_auth_atomically(chatgpt_record(refresh="rt-old", last_refresh="2026-01-01T00:00:00Z"))
        rotated = token_response(tag="rotated", refresh="rt-new")
        rotated["delay"] = 3
        self.token_server.script([rotated], default={"status": 401, "json": {"error": {"code": "refresh_token_reused"}}})
        self.daemon_args = []  # the default request timeout, longer than the delay
        first = self.start_daemon()
        first_owner = self.name_owner()
        self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                       None, Gio.DBusCallFlags.NONE, 60000, None, lambda c, r: None)
        wait_until(lambda: self.token_server.count() == 1, timeout=10, what="the request")
        second = self.start_daemon("--replace")
        wait_until(lambda: self.name_owner() != first_owner, timeout=10, what="the new instance to own the name")
        # The new instance is asked for a refresh at once: it waits for the
        # lock the old one holds until its answer is saved.
        self.assertEqual(self.get_auth_status(True, True, timeout_ms=-1)[1], rotated["json"]["access_token"])
        self.assertEqual(first.wait(timeout=20), 0)
        self.assertEqual(self.prop("RefreshState"), "ok")
        sent = [json.loads(r["body"])["refresh_token"] for r in self.token_server.requests()]
        self.assertEqual(sent, ["rt-old"])
        self.assertEqual(self.read_auth()["tokens"]["refresh_token"], "rt-new")
        self.assertIsNone(second.poll())

    def test_readonly_store_keeps_rotated_token(self):
        if os.geteuid() == 0:
            # Root writes through permission bits; the immutable attribute
            # stops it. Check that this file system supports it.
            probe = os.path.join(self.tmp, "probe")
            os.mkdir(probe)
            if subprocess.run(["chattr", "+i", probe], capture_output=True).returncode != 0:
                self.skipTest("cannot make a directory read-only for root here (chattr +i failed)")
            subprocess.run(["chattr", "-i", probe], check=True)
        record = chatgpt_record(refresh="rt-1")
        self.write_auth_atomically(record)
        first = token_response(tag="first", refresh="rt-2")
        second = token_response(tag="second", refresh="rt-3")
        self.token_server.script([first, second])
        self.start_daemon()
        self.make_readonly(self.codex_home)
        try:
            self.assertEqual(self.get_auth_status(True, True)[1], first["json"]["access_token"])
            wait_until(lambda: self.prop("StoreState") == "error", timeout=5, what="StoreState=error")
            self.assertIn("Cannot save", self.details()["store-error-message"])
            # The store still has the old tokens; the new ones are served.
            self.assertEqual(self.read_auth()["tokens"]["refresh_token"], "rt-1")
            self.assertEqual(self.get_auth_status(True, False)[1], first["json"]["access_token"])
            # They are also in the rescue copy (0600), which a restart takes.
            rescue = os.path.join(self.tmp, "state", "codex-authd", "rescue-copy.json")
            self.assertEqual(stat.S_IMODE(os.stat(rescue).st_mode), 0o600)
            self.assertEqual(self.stop_daemon(self.daemons[-1][0]), 0)
            self.start_daemon()
            self.assertEqual(self.get_auth_status(True, False)[1], first["json"]["access_token"])
            self.assertIn("Recovered refreshed tokens", self.daemon_log())
            time.sleep(31)
            # The next refresh sends the rotated token, never the old one.
            self.assertEqual(self.get_auth_status(True, True)[1], second["json"]["access_token"])
            bodies = [json.loads(r["body"])["refresh_token"] for r in self.token_server.requests()]
            self.assertEqual(bodies, ["rt-1", "rt-2"])
        finally:
            self.make_writable(self.codex_home)
        # Writable again: the pending save goes through.
        wait_until(lambda: self.prop("StoreState") == "ok", timeout=30, what="the save to be retried")
        saved = self.read_auth()
        self.assertEqual(saved["tokens"]["refresh_token"], "rt-3")
        self.assertEqual(saved["tokens"]["access_token"], second["json"]["access_token"])
        wait_until(lambda: not os.path.exists(rescue), timeout=5, what="the rescue copy to go")

    def make_readonly(self, path):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", path], check=True)
        else:
            os.chmod(path, 0o500)

    def make_writable(self, path):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", path], check=True)
        else:
            os.chmod(path, 0o700)

    def test_guarded_reload_adopts_external_refresh(self):
        # Another program refreshed between our reads: its record is used
        # and no request is made.
        self.write_auth_atomically(chatgpt_record(refresh="rt-1", access_tag="old"))
        self.start_daemon()
        external = chatgpt_record(refresh="rt-external", access_tag="external",
                                  last_refresh=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        with open(self.auth_json, "w") as f:  # in place, so the watch may lag behind
            json.dump(external, f)
        self.assertEqual(self.get_auth_status(True, True)[1], external["tokens"]["access_token"])
        self.assertEqual(self.token_server.count(), 0)

    def test_token_url_validation(self):
        for url in ("http://example.com/oauth/token", "ftp://127.0.0.1/x", "not a url",
                    "https://user:pw@auth.example.com/token"):
            out = subprocess.run([self.binary, "--token-url", url], capture_output=True, text=True,
                                 env=self.env, timeout=30)
            self.assertEqual(out.returncode, 2, url)
            self.assertIn("token-url", out.stderr)
        out = subprocess.run([self.binary, "--request-timeout", "0"], capture_output=True, text=True,
                             env=self.env, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--request-timeout", out.stderr)

    def test_apikey_ignores_refresh(self):
        self.write_auth_atomically(apikey_record("sk-x"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, True), ("apikey", "sk-x", True))
        self.assertEqual(self.token_server.count(), 0)
        self.assertEqual(self.prop("RefreshState"), "none")


class TestPoison(RefreshTestCase):

    def poison(self, spec, code, record=None):
        record = record or chatgpt_record(refresh="rt-doomed")
        self.write_auth_atomically(record)
        self.token_server.script(default=spec)
        self.start_daemon()
        return record

    def check_poisoned(self, code):
        props = self.all_props()
        self.assertEqual(props["RefreshState"], "poisoned")
        self.assertEqual(props["RefreshError"], code)
        self.assertEqual(props["RefreshErrorMessage"], MESSAGES[code])
        self.assertEqual(props["RequiresLogin"], True)
        self.assertEqual(props["AuthMethod"], "chatgpt")
        self.assertEqual(props["NextRefreshAttempt"], 0)
        d = self.details(include_token=True, refresh_token=True)
        self.assertEqual(d["auth-token"], "")
        self.assertEqual(d["refresh-state"], "poisoned")

    def run_permanent_case(self, spec, code):
        self.poison(spec, code)
        conns = self.connections(4)
        answers = self.concurrent_calls(200, conns)
        answers += list(self.sequential_calls(1000, conns))
        self.assertEqual(self.token_server.count(), 1)
        wait_until(lambda: os.path.exists(self.failure_file), timeout=5, what="the failure record")
        self.assertEqual(set(answers), {("chatgpt", "", True)})
        self.check_poisoned(code)
        # Withheld without refresh_token too.
        self.assertEqual(self.get_auth_status(True, False), ("chatgpt", "", True))
        self.assertEqual(stat.S_IMODE(os.stat(self.failure_file).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.failure_file)).st_mode), 0o700)
        with open(self.failure_file) as f:
            saved = json.load(f)
        self.assertEqual(saved["code"], code)
        self.assertNotIn("rt-doomed", json.dumps(saved))

    def test_poison_survives_restart_and_second_instance(self):
        record = self.poison(PERMANENT_CASES["401_reused"][0], "refresh_token_reused")
        self.get_auth_status(True, True)
        self.assertEqual(self.token_server.count(), 1)
        wait_until(lambda: os.path.exists(self.failure_file), timeout=5, what="the failure record")
        self.stop_daemon(self.daemons[0][0])
        # Restarted: still poisoned, no new request.
        self.start_daemon()
        self.check_poisoned("refresh_token_reused")
        self.sequential_calls(100, self.connections(2))
        self.assertEqual(self.token_server.count(), 1)
        # A second instance on another bus, same user state: no request.
        other_bus = PrivateBus()
        try:
            env = dict(self.env, DBUS_SESSION_BUS_ADDRESS=other_bus.address)
            log = os.path.join(self.tmp, "second.log")
            with open(log, "w") as logf:
                proc = subprocess.Popen([self.binary, "-v", *self.daemon_args], env=env,
                                        stdout=logf, stderr=subprocess.STDOUT)
            self.daemons.append((proc, log))
            conn = other_bus.connect()
            wait_until(lambda: conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              "org.freedesktop.DBus", "NameHasOwner",
                                              GLib.Variant("(s)", (BUS_NAME,)), None, 0, 5000,
                                              None).unpack()[0], what="the second instance")
            for _ in range(100):
                reply = conn.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus",
                                       GLib.Variant("(bb)", (True, True)), None, 0, 5000, None).unpack()
                self.assertEqual(reply, ("chatgpt", "", True))
            conn.close_sync(None)
            self.assertEqual(self.token_server.count(), 1)
            self.stop_daemon(proc)
        finally:
            other_bus.stop()
        self.assertEqual(record["tokens"]["refresh_token"], self.read_auth()["tokens"]["refresh_token"])

    def test_identical_rewrite_keeps_poison(self):
        record = self.poison(PERMANENT_CASES["401_expired"][0], "refresh_token_expired")
        self.get_auth_status(True, True)
        self.clear_signals()
        self.write_auth_atomically(record)  # byte-identical
        pump(1.0)
        self.call("Reload")
        self.sequential_calls(50, [self.conn])
        self.assertEqual(self.token_server.count(), 1)
        self.check_poisoned("refresh_token_expired")
        self.assertTrue(os.path.exists(self.failure_file))
        self.assertEqual(self.signals, [])

    def test_new_record_clears_poison(self):
        self.poison(PERMANENT_CASES["401_reused"][0], "refresh_token_reused")
        self.get_auth_status(True, True)
        wait_until(lambda: os.path.exists(self.failure_file), timeout=5, what="the failure record")
        self.clear_signals()
        fresh = chatgpt_record(refresh="rt-new-login", access_tag="new-login")
        self.write_auth_atomically(fresh)
        wait_until(lambda: self.signals, timeout=5, what="PropertiesChanged")
        pump(0.3)
        self.assertEqual(len(self.signals), 1)
        changed = self.signals[0][1]
        self.assertEqual(changed["RefreshState"], "ok")
        self.assertEqual(changed["RequiresLogin"], False)
        self.assertEqual(changed["RefreshError"], "")
        wait_until(lambda: not os.path.exists(self.failure_file), timeout=5, what="the record's removal")
        self.assertEqual(self.get_auth_status(True, False)[1], fresh["tokens"]["access_token"])
        # The next refresh goes to the server again, with the new token.
        self.token_server.script([token_response(tag="after-login")])
        self.get_auth_status(True, True)
        reqs = self.token_server.requests()
        self.assertEqual(len(reqs), 2)
        self.assertEqual(json.loads(reqs[1]["body"])["refresh_token"], "rt-new-login")

    def test_logout_clears_poison(self):
        self.poison(PERMANENT_CASES["401_reused"][0], "refresh_token_reused")
        self.get_auth_status(True, True)
        wait_until(lambda: os.path.exists(self.failure_file), timeout=5, what="the failure record")
        os.unlink(self.auth_json)
        wait_until(lambda: self.prop("AuthMethod") == "", timeout=5, what="the logout")
        wait_until(lambda: not os.path.exists(self.failure_file), timeout=5, what="the record's removal")
        self.assertEqual(self.prop("RefreshState"), "none")

    def test_changed_during_request_is_not_poisoned(self):
        # The CLI logs in while the doomed request is out: the failure is
        # about a snapshot no longer stored, so nothing is poisoned.
        self.write_auth_atomically(chatgpt_record(refresh="rt-doomed"))
        spec = dict(PERMANENT_CASES["401_reused"][0], delay=1.5)
        self.token_server.script([spec])
        self.start_daemon()
        pending = []
        self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "GetAuthStatus", GLib.Variant("(bb)", (True, True)),
                       None, Gio.DBusCallFlags.NONE, 60000, None,
                       lambda c, r: pending.append(c.call_finish(r).unpack()))
        wait_until(lambda: self.token_server.count() == 1, what="the request")
        fresh = chatgpt_record(refresh="rt-fresh", access_tag="fresh")
        # Written without the lock the daemon holds, as a careless writer would.
        self.write_auth_atomically(fresh)
        wait_until(lambda: pending, timeout=20, what="the answer")
        pump(0.3)
        self.assertNotEqual(self.prop("RefreshState"), "poisoned")
        self.assertFalse(os.path.exists(self.failure_file))
        self.assertEqual(self.get_auth_status(True, False)[1], fresh["tokens"]["access_token"])


def _add_permanent(name, spec, code):
    def test(self):
        self.run_permanent_case(spec, code)
    test.__doc__ = f"{name}: 1200 refresh calls, one request, poisoned with {code}"
    setattr(TestPoison, f"test_permanent_{name}", test)


for _name, (_spec, _code) in PERMANENT_CASES.items():
    _add_permanent(_name, _spec, _code)


class TestHostileAnswers(RefreshTestCase):
    """Answers json-glib takes but JSON does not have: a comment or a
    single-quoted string that hid 150,000 levels of nesting from the depth
    bound overflowed the daemon's stack (SIGSEGV at every refresh)."""

    def test_nesting_hidden_by_comments_and_quotes(self):
        proc = None
        for i, (status, body) in enumerate(((200, '/*"*/' + "[" * 150000), (200, '//"\n' + "[" * 150000),
                                            (200, "'\"'" + "[" * 150000), (401, '/*"*/' + "{" * 150000))):
            with self.subTest(body=body[:8]):
                self.token_server.script(default={"status": status, "body": body})
                before = self.token_server.count()
                # New credentials each time: no backoff or poison from the last.
                self.write_auth_atomically(chatgpt_record(refresh=f"rt-{i}"))
                if proc is None:
                    proc = self.start_daemon()
                else:
                    self.call("Reload")
                self.get_auth_status(True, True)
                self.assertEqual(self.token_server.count(), before + 1)
                self.assertIsNone(proc.poll(), "the daemon died on the answer")
                self.assertIn(self.prop("RefreshState"), ("backoff", "poisoned"))


class TestBackoff(RefreshTestCase):

    def run_transient_case(self, spec, code, min_delay):
        record = chatgpt_record(refresh="rt-flaky")
        self.write_auth_atomically(record)
        if spec is None:
            port = closed_port()
            self.env["CODEX_REFRESH_TOKEN_URL_OVERRIDE"] = f"http://127.0.0.1:{port}/oauth/token"
        else:
            self.token_server.script(default=spec)
        self.start_daemon()
        access = record["tokens"]["access_token"]

        self.assertEqual(self.get_auth_status(True, True), ("chatgpt", access, True))
        props = self.all_props()
        self.assertEqual(props["RefreshState"], "backoff")
        self.assertEqual(props["RefreshError"], code)
        self.assertTrue(props["RefreshErrorMessage"])
        self.assertEqual(props["RequiresLogin"], False)
        self.assertGreater(props["NextRefreshAttempt"], int(time.time() * 1e6))
        if min_delay:
            self.assertGreaterEqual(props["NextRefreshAttempt"], int((time.time() + min_delay - 1) * 1e6))

        answers = self.poll(POLL_SECONDS, POLL_RATE)
        # Every answer is the cached token; the call never fails.
        self.assertEqual(set(answers), {("chatgpt", access, True)})
        if spec is None:
            # Nothing listens: count the attempts the daemon reports.
            attempts = self.daemon_log().count("Refreshing the ChatGPT tokens failed (network")
        else:
            attempts = self.token_server.count()
        bound = backoff_bound(POLL_SECONDS + 2 * REQUEST_TIMEOUT, min_delay)
        print(f"{code}: {len(answers)} polls, {attempts} requests (schedule allows at most {bound})")
        self.assertLessEqual(attempts, bound)
        self.assertGreaterEqual(attempts, 2, "the refresh was never retried")
        self.assertIn(self.prop("RefreshState"), ("backoff", "refreshing"))

    def test_backoff_resets_on_success(self):
        record = chatgpt_record(refresh="rt-1")
        self.write_auth_atomically(record)
        new = token_response(tag="recovered")
        self.token_server.script([{"status": 503}], default=new)
        self.start_daemon()
        self.get_auth_status(True, True)
        self.assertEqual(self.prop("RefreshState"), "backoff")
        wait_until(lambda: self.get_auth_status(True, True)[1] == new["json"]["access_token"],
                   timeout=10, what="the retry to succeed")
        props = self.all_props()
        self.assertEqual(props["RefreshState"], "ok")
        self.assertEqual(props["RefreshError"], "")
        self.assertEqual(props["NextRefreshAttempt"], 0)
        self.assertEqual(self.token_server.count(), 2)


def _add_transient(name, spec, code, min_delay):
    def test(self):
        self.run_transient_case(spec, code, min_delay)
    setattr(TestBackoff, f"test_transient_{name}", test)


for _name, (_spec, _code, _min) in TRANSIENT_CASES.items():
    _add_transient(_name, _spec, _code, _min)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestRefresh, TestPoison, TestHostileAnswers, TestBackoff]))
