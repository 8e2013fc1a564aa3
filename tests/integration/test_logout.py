# SPDX-License-Identifier: LGPL-2.1-or-later
"""Logout with revocation against the fake issuer: the refresh token is
revoked, a failed revocation still signs out, a sign-in during the
revocation is kept."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import Gio, GLib  # noqa: E402

import harness  # noqa: E402
from harness import BUS_NAME, INTERFACE, OBJECT_PATH, chatgpt_record, apikey_record, pump, wait_until  # noqa: E402

from login_harness import CLIENT_ID, EXIT_OK, LoginTestCase, browse  # noqa: E402


class TestLogout(LoginTestCase):

    def test_logout_revokes_the_refresh_token(self):
        self.write_auth_atomically(chatgpt_record(refresh="rt-to-revoke"))
        self.start_daemon()
        result = self.ctl("logout")
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        self.assertIn("The refresh token was revoked", result.stdout)
        revokes = self.issuer_log()["revokes"]
        self.assertEqual(len(revokes), 1)
        self.assertEqual(revokes[0]["json"], {"token": "rt-to-revoke", "token_type_hint": "refresh_token",
                                              "client_id": CLIENT_ID})
        self.assertEqual(revokes[0]["content_type"], "application/json")
        self.assertFalse(os.path.exists(self.auth_json))
        self.assertEqual(self.prop("AuthMethod"), "")

    def test_a_sign_in_during_the_logouts_revocation_is_kept(self):
        """Logout decides what it removes when called: a sign-in completed
        while its revocation is under way stays, and the logout says so."""
        self.write_auth_atomically(chatgpt_record(refresh="rt-old", email="old@example.com"))
        self.start_daemon()
        self.fake_login({"revoke": {"delay": 3, "status": 200}})
        answer = {}
        loop_done = threading.Event()

        def logout_done(conn, result):
            try:
                answer["reply"] = conn.call_finish(result).unpack()
            except GLib.Error as e:
                answer["error"] = (Gio.DBusError.get_remote_error(e), e.message)
            loop_done.set()

        self.conn.call(BUS_NAME, OBJECT_PATH, INTERFACE, "Logout", None, None, Gio.DBusCallFlags.NONE, -1, None,
                       logout_done)
        wait_until(lambda: self.issuer_log()["revokes"], timeout=5, what="the revocation to start")
        # The user signs in again while the revocation waits.
        login_id, url = self.start_browser()
        self.assertEqual(browse(url)[0], 200)
        self.assertTrue(self.wait_completed(login_id)[1])
        wait_until(loop_done.is_set, timeout=20, what="the logout's answer")
        self.assertEqual(answer.get("error", (None,))[0], "org.codex.Auth1.Error.CredentialsChanged", answer)
        self.assertIn("kept", answer["error"][1])
        pump(0.5)
        # The new login is in use and stored; its tokens were not revoked.
        self.assertEqual(self.prop("Email"), "signed-in@example.com")
        self.assertEqual(self.stored()["tokens"]["account_id"], "acc-login")
        revoked = [r["json"]["token"] for r in self.issuer_log()["revokes"]]
        new_refresh = self.stored()["tokens"]["refresh_token"]
        self.assertNotIn(new_refresh, revoked)
        self.assertIn("rt-old", revoked)
        # Asked again, the logout removes it.
        self.fake_login({})
        self.assertEqual(self.call("Logout", timeout_ms=-1)[0]["revocation"], "revoked")
        self.assertFalse(os.path.exists(self.auth_json))

    def test_logout_with_revoke_endpoint_down(self):
        for spec, expect in (({"status": 500, "json": {"error": "server_error"}}, "HTTP 500"),
                             # An endpoint that quotes the token back: not in the reply, not logged.
                             ({"status": 400, "body": "unknown token rt-x"}, "HTTP 400: unknown token ****"),
                             ({"delay": 60, "status": 200}, "no answer within 10 seconds")):
            with self.subTest(expect=expect):
                self.write_auth_atomically(chatgpt_record(refresh="rt-x"))
                proc = self.start_daemon()
                self.fake_login({"revoke": spec})
                start = time.monotonic()
                details = self.call("Logout", timeout_ms=-1)[0]
                took = time.monotonic() - start
                print(f"logout with the revoke endpoint answering {spec}: {took:.2f} s")
                self.assertLess(took, harness.REVOKE_TIMEOUT + harness.SLACK)
                self.assertEqual(details["revocation"], "failed")
                self.assertIn(expect, details["revocation-error"])
                self.assertNotIn("rt-x", details["revocation-error"])
                self.assertFalse(os.path.exists(self.auth_json))
                self.assertEqual(self.prop("AuthMethod"), "")
                self.stop_daemon(proc)
                self.assertNotIn("rt-x", self.daemon_log())

    def test_logout_with_revocation_off_or_nothing_to_revoke(self):
        self.write_config("revoke=false\n")
        self.write_auth_atomically(chatgpt_record())
        proc = self.start_daemon()
        result = self.ctl("logout")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Revocation is turned off", result.stdout)
        self.assertFalse(os.path.exists(self.auth_json))
        self.assertEqual(self.prop("AuthMethod"), "")
        self.assertEqual(self.issuer_log()["revokes"], [])
        self.stop_daemon(proc)
        self.write_auth_atomically(apikey_record())
        self.write_config("")
        self.start_daemon()
        self.assertEqual(self.call("Logout")[0]["revocation"], "none")
        self.assertEqual(self.issuer_log()["revokes"], [])


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestLogout]))
