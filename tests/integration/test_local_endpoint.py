# SPDX-License-Identifier: LGPL-2.1-or-later
"""The local token endpoint (docs/local-endpoint.md), spoken to as a Codex
process would (HTTP on loopback), with the rotating fake issuer behind the
daemon: one upstream request however many callers, rotated and coalesced
tokens answered locally, poison and backoff replayed, other tokens
forwarded, revocations turned into the logout they are; and what it
refuses before reading a body: other users, other hosts, web pages,
streamed and oversized bodies."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import DaemonTestCase, chatgpt_record, missing_peer, wait_until  # noqa: E402

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


def refresh_body(token):
    return json.dumps({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": token})


class EndpointTestCase(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.env["CODEX_AUTHD_LOCAL_TOKEN_ENDPOINT"] = "localhost:0"

    def start(self, record=None, *extra):
        self.write_auth_atomically(record or chatgpt_record(refresh="rt-0"))
        proc = self.start_daemon(*extra)
        url = self.prop("LocalTokenEndpoint")
        self.assertRegex(url, r"^http://127\.0\.0\.1:\d+/oauth/token$")
        self.port = urllib.parse.urlsplit(url).port
        return proc

    def post(self, body, path="/oauth/token", headers=None, host="127.0.0.1", timeout=20):
        """(status, parsed JSON body or raw text, headers)."""
        conn = http.client.HTTPConnection(host, self.port, timeout=timeout)
        try:
            hdrs = {"Content-Type": "application/json"}
            hdrs.update(headers or {})
            conn.request("POST", path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = data.decode(errors="replace")
            return resp.status, parsed, dict(resp.getheaders())
        finally:
            conn.close()

    def refresh(self, token):
        return self.post(refresh_body(token))

    def refresh_at_once(self, token, n):
        """@n refreshes with @token sent together; their answers."""
        results = [None] * n

        def one(i):
            results[i] = self.refresh(token)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return results

    def stored_refresh_token(self):
        with open(self.auth_json) as f:
            return json.load(f)["tokens"]["refresh_token"]


class TestRelay(EndpointTestCase):
    def test_refresh_rotates_once_and_saves(self):
        self.token_server.rotating(current="rt-0")
        self.start()
        status, body, _ = self.refresh("rt-0")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["refresh_token"], "rt-rot-1")
        self.assertIn("access_token", body)
        self.assertIn("id_token", body)
        self.assertEqual(self.stored_refresh_token(), "rt-rot-1")
        self.assertEqual(len(self.token_server.rotation_state()["issued"]), 1)

    def test_concurrent_callers_share_one_rotation(self):
        # Each request is decided 0.5 s after it arrives: all 16 are in flight together.
        self.token_server.rotating(current="rt-0", delay=0.5)
        self.start()
        results = self.refresh_at_once("rt-0", 16)
        self.assertEqual([r[0] for r in results], [200] * len(results), results)
        self.assertEqual({r[1]["refresh_token"] for r in results}, {"rt-rot-1"})
        state = self.token_server.rotation_state()
        self.assertEqual(len(state["issued"]), 1, state)
        self.assertEqual(state["reused"], 0, state)
        self.assertEqual(self.token_server.count(), 1)

    def test_rotated_and_fresh_tokens_are_answered_locally(self):
        self.token_server.rotating(current="rt-0")
        self.start()
        self.assertEqual(self.refresh("rt-0")[0], 200)
        # A process that read the store before the rotation, then one that
        # has the new token and forces a refresh within the window.
        for token in ("rt-0", "rt-rot-1", "rt-0", "rt-rot-1"):
            status, body, _ = self.refresh(token)
            self.assertEqual((status, body["refresh_token"]), (200, "rt-rot-1"), body)
        self.assertEqual(self.token_server.count(), 1)

    def test_permanent_failure_is_replayed_across_restarts(self):
        reused = {"error": {"message": "used", "type": "invalid_request_error", "param": None,
                            "code": "refresh_token_reused"}}
        self.token_server.script(default={"status": 401, "json": reused})
        proc = self.start(chatgpt_record(refresh="rt-0"), "--verbose")
        for _ in range(5):
            status, body, _ = self.refresh("rt-0")
            self.assertEqual(status, 401, body)
            self.assertEqual(body["error"]["code"], "refresh_token_reused")
        self.assertEqual(self.prop("RefreshState"), "poisoned")
        self.stop_daemon(proc)
        self.start(chatgpt_record(refresh="rt-0"))
        status, body, _ = self.refresh("rt-0")
        self.assertEqual((status, body["error"]["code"]), (401, "refresh_token_reused"))
        # One request in all: the daemon's reuse check reads the store, not the issuer.
        self.assertEqual(self.token_server.count(), 1)

    def test_transient_failure_backs_off_with_retry_after(self):
        self.token_server.script(default={"status": 503, "json": {"error": "unavailable"}})
        self.start()
        answers = [self.refresh("rt-0") for _ in range(10)]
        for status, body, headers in answers:
            self.assertEqual(status, 503, body)
            self.assertGreaterEqual(int(headers["Retry-After"]), 1)
        self.assertEqual(self.token_server.count(), 1)
        self.assertEqual(self.prop("RefreshState"), "backoff")

    def test_foreign_token_is_forwarded_once_and_never_stored(self):
        self.token_server.rotating(current="rt-other", delay=0.5)
        self.start()
        results = self.refresh_at_once("rt-other", 6)
        self.assertEqual([r[0] for r in results], [200] * len(results), results)
        self.assertEqual({r[1]["refresh_token"] for r in results}, {"rt-rot-1"})
        self.assertEqual(self.token_server.count(), 1)
        self.assertEqual(self.stored_refresh_token(), "rt-0")
        # The issuer's refusal is passed on as it came.
        status, body, _ = self.refresh("rt-unknown")
        self.assertEqual((status, body["error"]["code"]), (401, "refresh_token_invalidated"))

    def test_revoking_this_login_logs_out(self):
        self.start()
        self.assertEqual(self.prop("AuthMethod"), "chatgpt")
        status, body, _ = self.post(json.dumps({"token": "rt-0", "token_type_hint": "refresh_token",
                                                "client_id": CLIENT_ID}), path="/oauth/revoke")
        self.assertEqual(status, 200, body)
        revokes = self.token_server._control("/_control/login")["revokes"]
        self.assertEqual([r["json"]["token"] for r in revokes], ["rt-0"])
        wait_until(lambda: self.prop("AuthMethod") == "", what="the logout")
        self.assertFalse(os.path.exists(self.auth_json))

    def test_revoking_another_token_keeps_the_login(self):
        self.start()
        status, _, _ = self.post(json.dumps({"token": "rt-else"}), path="/oauth/revoke")
        self.assertEqual(status, 200)
        time.sleep(0.5)
        self.assertEqual(self.prop("AuthMethod"), "chatgpt")

    def test_bad_requests_get_clear_errors(self):
        self.start()
        status, body, _ = self.post("{not json")
        self.assertEqual((status, body["error"]["code"]), (400, "invalid_request"))
        status, body, _ = self.post(json.dumps({"grant_type": "authorization_code", "code": "c"}))
        self.assertEqual((status, body["error"]["code"]), (400, "unsupported_grant_type"))
        # A form is read too; the token is not this login's: forwarded, and
        # the fake issuer's form endpoint refuses it.
        status, body, _ = self.post("grant_type=refresh_token&refresh_token=rt-other",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 400)
        self.assertNotIn("invalid_request_error", json.dumps(body))
        # json-glib's extensions (comments, single quotes) and deep nesting.
        self.assertEqual(self.post("[" * 100000)[0], 413)
        status, _, _ = self.post("/*\"*/" + "[" * 8000)
        self.assertEqual(status, 400)
        status, _, _ = self.post("{'grant_type': 'refresh_token', /* c */ 'refresh_token': 7}")
        self.assertEqual(status, 400)
        self.assertEqual(self.prop("AuthMethod"), "chatgpt")

    def test_authctl_says_whether_codex_routes_here(self):
        self.start()
        url = self.prop("LocalTokenEndpoint")
        ctl = os.environ["CODEX_AUTHCTL"]
        routed = subprocess.run([ctl, "status"], env=dict(self.env, CODEX_REFRESH_TOKEN_URL_OVERRIDE=url),
                                capture_output=True, text=True, timeout=30)
        self.assertIn("Codex refreshes: through codex-authd", routed.stdout)
        direct = subprocess.run([ctl, "status", "--json"], env=dict(self.env, CODEX_REFRESH_TOKEN_URL_OVERRIDE=""),
                                capture_output=True, text=True, timeout=30)
        self.assertIs(json.loads(direct.stdout)["codex_refreshes_through_daemon"], False)
        self.assertEqual(json.loads(direct.stdout)["local_token_endpoint"], url)

    def test_never_refreshes_through_itself(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.env["CODEX_AUTHD_LOCAL_TOKEN_ENDPOINT"] = f"localhost:{port}"
        self.env["CODEX_REFRESH_TOKEN_URL_OVERRIDE"] = f"http://localhost:{port}/oauth/token"
        self.start()
        self.assertIn("is this daemon's own local endpoint", self.daemon_log())

    def test_first_refresh_starts_the_daemon_by_socket_activation(self):
        # As codex-authd.socket does: the listening socket is handed over on
        # the first connection, whose refresh the new daemon must answer
        # (not with a 503 while it still reads the store).
        tool = shutil.which("systemd-socket-activate")
        if tool is None:
            missing_peer("systemd-socket-activate (package systemd) is not installed", self)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token_server.rotating(current="rt-0")
        self.write_auth_atomically(chatgpt_record(refresh="rt-0"))
        env = dict(self.env, CODEX_AUTHD_LOCAL_TOKEN_ENDPOINT=f"localhost:{self.port}")
        log = open(os.path.join(self.tmp, "activated.log"), "w")
        proc = subprocess.Popen([tool, "-l", f"127.0.0.1:{self.port}", "--fdname=token-endpoint",
                                 *[f"-E{k}={v}" for k, v in env.items()], self.binary, "--verbose"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", self.port)) == 0, timeout=10,
                       what="systemd-socket-activate to listen")
            self.assertFalse(self.name_has_owner())
            status, body, _ = self.refresh("rt-0")
            self.assertEqual(status, 200, body)
            self.assertEqual(body["refresh_token"], "rt-rot-1")
            self.assertEqual(self.stored_refresh_token(), "rt-rot-1")
            self.assertTrue(self.name_has_owner())
            self.assertEqual(self.prop("LocalTokenEndpoint"), f"http://127.0.0.1:{self.port}/oauth/token")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            log.close()
        with open(log.name) as f:
            self.assertIn("(socket activation)", f.read())


class TestGuards(EndpointTestCase):
    """What is refused, and that it is refused before the body is read."""

    def raw(self, data, read_timeout=10):
        return harness.http_raw("127.0.0.1", self.port, data, read_timeout)

    def status_of(self, answer):
        return harness.http_status(answer)

    def test_foreign_host_and_pages_are_refused(self):
        self.start()
        body = refresh_body("rt-0")
        self.assertEqual(self.post(body, headers={"Host": f"evil.example:{self.port}"})[0], 421)
        self.assertEqual(self.post(body, headers={"Host": "127.0.0.1:1"})[0], 421)
        self.assertEqual(self.post(body, headers={"Origin": "https://evil.example"})[0], 403)
        self.assertEqual(self.post(body, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})[0],
                         403)
        self.assertEqual(self.token_server.count(), 0)
        # A GET, an unknown path.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/oauth/token")
        self.assertEqual(conn.getresponse().status, 405)
        conn.close()
        self.assertEqual(self.post(body, path="/elsewhere")[0], 404)

    def test_streamed_and_oversized_bodies_are_refused_unread(self):
        self.start()
        head = (f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                "Content-Type: application/json\r\n").encode()
        # A body announced as 1 GB: answered at once, without waiting for it.
        start = time.monotonic()
        answer = self.raw(head + b"Content-Length: 1000000000\r\n\r\n{")
        self.assertEqual(self.status_of(answer), 413, answer[:200])
        self.assertLess(time.monotonic() - start, 5)
        answer = self.raw(head + b"Transfer-Encoding: chunked\r\n\r\n10\r\n" + b"x" * 16 + b"\r\n")
        self.assertEqual(self.status_of(answer), 411, answer[:200])
        self.assertEqual(self.token_server.count(), 0)

    def test_streaming_a_gigabyte_does_not_grow_the_daemon(self):
        proc = self.start()
        head = (f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        sent = harness.stream_chunked_body(self.port, head)
        rss_kib = harness.rss_kib(proc.pid)
        print(f"sent {sent >> 20} MiB of a streamed body; daemon RSS {rss_kib} KiB")
        self.assertLess(rss_kib, 50 * 1024)
        self.assertEqual(self.prop("AuthMethod"), "chatgpt")

    def test_oversized_headers_are_refused(self):
        """libsoup caps the header section (64 KiB in libsoup 3.2): 1 MiB of
        header lines is refused, not buffered, and the endpoint goes on."""
        self.token_server.rotating(current="rt-0")
        proc = self.start()
        body = refresh_body("rt-0").encode()
        head = (f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n").encode()
        filler = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 1000) for i in range(1024))
        # A request that would be served (a refresh of the current token)
        # but for its headers.
        answer = self.raw(head + filler + b"\r\n" + body)
        status = self.status_of(answer)
        print(f"1 MiB of headers: {answer[:40]!r}")
        self.assertTrue(status is None or status >= 400, answer[:200])
        self.assertEqual(self.token_server.count(), 0)
        with open(f"/proc/{proc.pid}/status") as f:
            rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        self.assertLess(rss_kib, 50 * 1024)
        self.assertEqual(self.refresh("rt-0")[0], 200)

    def test_connections_over_the_cap_are_closed(self):
        self.start()
        idle = [socket.create_connection(("127.0.0.1", self.port), timeout=10) for _ in range(32)]
        try:
            time.sleep(0.3)
            # The 33rd is closed at once, with no answer.
            self.assertEqual(self.raw(f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                                      "Content-Length: 2\r\n\r\n{}".encode()), b"")
        finally:
            for s in idle:
                s.close()
        time.sleep(0.3)
        self.token_server.rotating(current="rt-0")
        self.assertEqual(self.refresh("rt-0")[0], 200)

    def test_idle_connection_is_closed_after_the_timeout(self):
        self.start()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            start = time.monotonic()
            s.sendall(b"POST /oauth/token HTTP/1.1\r\n")
            self.assertEqual(s.recv(100), b"")
            elapsed = time.monotonic() - start
        print(f"a connection that stopped sending was closed after {elapsed:.1f} s")
        self.assertLess(elapsed, 25)

    def test_other_users_are_refused(self):
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            missing_peer("needs root and setpriv to connect as another user", self)
        self.token_server.rotating(current="rt-0")
        self.start()
        body = refresh_body("rt-0").encode()
        request = (f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        answer = harness.http_raw_as_other_user("127.0.0.1", self.port, request)
        self.assertEqual(answer, b"", "another user got an answer")
        self.assertEqual(self.token_server.count(), 0)
        self.assertIn("refused a connection from UID 65534", self.daemon_log())
        # The same request as this user is served.
        self.assertEqual(self.refresh("rt-0")[0], 200)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestRelay, TestGuards]))
