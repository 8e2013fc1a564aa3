# SPDX-License-Identifier: LGPL-2.1-or-later
"""The sign-in callback server's guards: only the user's own processes,
only loopback Host names, no cross-site /cancel, no request body, both
loopback addresses or none."""

import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


import harness  # noqa: E402
from harness import pump  # noqa: E402

from login_harness import OPENER, LoginTestCase, browse, ipv6_loopback  # noqa: E402


class TestCallbackGuards(LoginTestCase):
    """The callback server serves the browser of this user only: bodiless
    GETs on its two paths, a loopback Host, no other user, no web page
    ending the sign-in; and its port counts as taken unless both loopback
    families are free."""

    def raw(self, data, host="127.0.0.1", read_timeout=10):
        """Sends @data to the callback port; what came back until EOF."""
        return harness.http_raw(host, self.ports[0], data, read_timeout)

    def status_of(self, answer):
        return harness.http_status(answer)

    def get(self, path, headers=()):
        head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        return self.status_of(self.raw(head.encode()))

    def assert_still_pending(self, login_id, url):
        pump(0.3)
        self.assertEqual(self.prop("PendingLogin"), "browser")
        self.assertEqual(self.completed, [])
        # The user's own browser still completes it.
        self.assertEqual(browse(url)[0], 200)
        self.assertTrue(self.wait_completed(login_id)[1])

    def test_streaming_a_gigabyte_at_the_callback_does_not_grow_the_daemon(self):
        proc = self.start_daemon()
        login_id, url = self.start_browser()
        port = self.ports[0]
        # Announced as 1 GB: refused at once, unread.
        start = time.monotonic()
        answer = self.raw(f"POST /auth/callback HTTP/1.1\r\nHost: localhost:{port}\r\n"
                          "Content-Length: 1000000000\r\n\r\nx".encode())
        self.assertEqual(self.status_of(answer), 405, answer[:200])
        self.assertLess(time.monotonic() - start, 5)
        # Streamed (chunked), as a page's fetch() would: refused before a
        # byte of it is read.
        head = (f"POST /auth/callback HTTP/1.1\r\nHost: localhost:{port}\r\n"
                "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        sent = harness.stream_chunked_body(port, head)
        rss_kib = harness.rss_kib(proc.pid)
        print(f"sent {sent >> 20} MiB of a streamed body to the callback; daemon RSS {rss_kib} KiB")
        self.assertLess(rss_kib, 50 * 1024)
        # A GET with a body is refused too.
        answer = self.raw(f"GET /auth/callback HTTP/1.1\r\nHost: localhost:{port}\r\n"
                          "Content-Length: 5\r\n\r\nhello".encode())
        self.assertEqual(self.status_of(answer), 400, answer[:200])
        self.assert_still_pending(login_id, url)

    def test_web_pages_and_foreign_hosts_are_refused(self):
        self.start_daemon()
        login_id, url = self.start_browser()
        port = self.ports[0]
        # <img src="http://localhost:1455/cancel"> on any page; a fetch().
        self.assertEqual(self.get("/cancel", [("Host", f"localhost:{port}"), ("Sec-Fetch-Site", "cross-site"),
                                              ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Dest", "image")]), 403)
        self.assertEqual(self.get("/cancel", [("Host", f"localhost:{port}"), ("Origin", "https://evil.example")]), 403)
        # A page navigating to /cancel is not the issuer's redirect either.
        self.assertEqual(self.get("/cancel", [("Host", f"localhost:{port}"), ("Sec-Fetch-Site", "cross-site"),
                                              ("Sec-Fetch-Mode", "navigate")]), 403)
        # DNS rebinding: a page's own name, or another port.
        self.assertEqual(self.get("/cancel", [("Host", f"evil.example:{port}")]), 421)
        self.assertEqual(self.get("/auth/callback?code=x&state=y", [("Host", f"evil.example:{port}")]), 421)
        self.assertEqual(self.get("/cancel", [("Host", "localhost:1")]), 421)
        self.assertIn(self.get("/cancel", []), (400, 421))  # HTTP/1.1 needs a Host: libsoup says 400
        self.assertEqual(self.get("/elsewhere", [("Host", f"localhost:{port}")]), 404)
        self.assertIn("refused a request from a web page", self.daemon_log())
        # The issuer's redirect is a cross-site navigation: it is served.
        status, _, location = browse(url, follow=False)
        self.assertEqual(status, 302)
        request = urllib.request.Request(location, headers={"Sec-Fetch-Site": "cross-site",
                                                            "Sec-Fetch-Mode": "navigate"})
        pump(0.2)
        self.assertEqual(self.prop("PendingLogin"), "browser")
        with OPENER.open(request, timeout=20) as resp:
            self.assertEqual(resp.status, 200)
        self.assertTrue(self.wait_completed(login_id)[1])

    def test_other_users_reach_neither_the_callback_nor_cancel(self):
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            harness.missing_peer("needs root and setpriv to connect as another user", self)
        self.start_daemon()
        login_id, url = self.start_browser()
        state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["state"]
        # The attacker's own code with the victim's state (readable from the
        # browser's command line): login CSRF. And /cancel.
        paths = [f"/auth/callback?code=attacker-code&state={state}", "/cancel"]
        hosts = ["127.0.0.1"] + (["::1"] if ipv6_loopback() else [])
        for host in hosts:
            for path in paths:
                with self.subTest(host=host, path=path):
                    request = f"GET {path} HTTP/1.1\r\nHost: localhost:{self.ports[0]}\r\n\r\n".encode()
                    answer = harness.http_raw_as_other_user(host, self.ports[0], request)
                    self.assertEqual(answer, b"", "another user got an answer")
        self.assertIn("refused a connection from UID 65534", self.daemon_log())
        self.assertEqual(self.issuer_log()["exchanges"], [])
        self.assert_still_pending(login_id, url)

    def test_a_port_taken_on_ipv6_loopback_counts_as_busy(self):
        if not ipv6_loopback():
            self.skipTest("this machine has no IPv6 loopback (::1)")
        # Another program listening on [::1] only would get the browser's
        # callback (code and state) if the daemon took 127.0.0.1 alone.
        squatter = socket.socket(socket.AF_INET6)
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        squatter.bind(("::1", self.ports[0]))
        squatter.listen(4)
        try:
            self.start_daemon()
            login_id, url = self.start_browser()
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            self.assertEqual(params["redirect_uri"], f"http://localhost:{self.ports[1]}/auth/callback")
            # And the daemon is on both families of the port it took.
            for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                with socket.socket(family) as probe:
                    with self.assertRaises(OSError):
                        probe.bind((host, self.ports[1]))
        finally:
            squatter.close()
        self.assertEqual(browse(url)[0], 200)
        self.assertTrue(self.wait_completed(login_id)[1])


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestCallbackGuards]))
