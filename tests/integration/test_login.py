# SPDX-License-Identifier: LGPL-2.1-or-later
"""ChatGPT sign-in through the daemon (browser and device code) against
the fake issuer on loopback, driven over D-Bus and through codex-authctl:
the exchange, the workspace and CLI login rules, one pending sign-in at a
time, its timeouts."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import Gio, GLib  # noqa: E402

import harness  # noqa: E402
from harness import BUS_NAME, INTERFACE, OBJECT_PATH, chatgpt_record, apikey_record, pump, wait_until  # noqa: E402

from login_harness import (CLIENT_ID, EXIT_ERROR, EXIT_OK, HeldPort, LoginTestCase, browse, ipv6_loopback,  # noqa: E402
                           s256)


class TestBrowserLogin(LoginTestCase):

    def test_authctl_login_with_scripted_browser(self):
        self.start_daemon()
        self.clear_signals()
        ctl = self.ctl_background("login")
        m = self.read_until(ctl.stdout, r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)")
        url = m.group(1)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(params["redirect_uri"], f"http://localhost:{self.ports[0]}/auth/callback")
        wait_until(lambda: self.prop("PendingLogin") == "browser", timeout=5, what="PendingLogin")
        status, page, final = browse(url)
        self.assertEqual(status, 200, page)
        self.assertIn("Signed in to Codex", page)
        self.assertIn("signed-in@example.com", page)
        out, err = ctl.communicate(timeout=20)
        self.assertEqual(ctl.returncode, EXIT_OK, err)
        self.assertIn("Signed in as signed-in@example.com.", out)
        self.assertEqual(self.prop("Email"), "signed-in@example.com")
        self.assertEqual(self.prop("PlanType"), "pro")
        self.assertEqual(self.prop("AccountId"), "acc-login")
        self.assertEqual(self.prop("PendingLogin"), "")
        # The exchange carried the verifier whose S256 is the challenge of
        # the URL the user opened, and the same redirect_uri.
        log = self.issuer_log()
        self.assertEqual(len(log["exchanges"]), 1)
        ex = log["exchanges"][0]
        self.assertEqual(s256(ex["code_verifier"]), params["code_challenge"])
        self.assertEqual(len(ex["code_verifier"]), 86)
        self.assertRegex(ex["code_verifier"], r"^[A-Za-z0-9_-]{86}$")
        self.assertEqual(ex["redirect_uri"], params["redirect_uri"])
        self.assertEqual(ex["client_id"], CLIENT_ID)
        self.assertEqual(len(params["state"]), 43)
        self.assertEqual(params["originator"], "codex_cli_rs")
        self.assertEqual(len(log["api_key_exchanges"]), 1)
        self.assertEqual(log["api_key_exchanges"][0]["requested_token"], "openai-api-key")
        self.assert_no_problems()
        # The record as `codex login` writes it, mode 0600.
        record = self.stored()
        self.assertEqual(set(record), {"auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"})
        self.assertEqual(record["auth_mode"], "chatgpt")
        self.assertEqual(record["OPENAI_API_KEY"], "sk-from-exchange")
        self.assertEqual(set(record["tokens"]), {"id_token", "access_token", "refresh_token", "account_id"})
        self.assertEqual(record["tokens"]["account_id"], "acc-login")
        self.assertRegex(record["last_refresh"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertEqual(stat.S_IMODE(os.stat(self.auth_json).st_mode), 0o600)
        # One PropertiesChanged carries the new account and the end of the
        # pending sign-in.
        pump(0.2)
        with_email = [(c, inv) for _, c, inv in self.signals if "Email" in c]
        self.assertEqual(len(with_email), 1, self.signals)
        self.assertEqual(with_email[0][0]["Email"], "signed-in@example.com")
        self.assertIn("Email", with_email[0][1])  # named, its value read by Get
        self.assertEqual(with_email[0][0].get("PendingLogin"), "")

    def test_other_users_see_no_identity_in_the_signals(self):
        """On a bus that admits other users, every subscriber receives the
        signals: they name what changed, never who signed in."""
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            harness.missing_peer("needs root and setpriv to listen as another user", self)
        self.start_daemon()
        listener = ("import sys\n"
                    "from gi.repository import Gio, GLib\n"
                    "conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1],\n"
                    "    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,"
                    " None, None)\n"
                    "loop = GLib.MainLoop()\n"
                    "def seen(c, sender, path, iface, member, params):\n"
                    "    print(member, params.print_(True), flush=True)\n"
                    "    if member == 'LoginCompleted':\n"
                    "        GLib.timeout_add(500, loop.quit)\n"
                    "conn.signal_subscribe(None, None, None, '/org/codex/Auth1', None, 0, seen)\n"
                    "conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId',"
                    " None, None, 0, 5000, None)\n"
                    "print('READY', flush=True)\n"
                    "GLib.timeout_add_seconds(20, loop.quit)\n"
                    "loop.run()\n")
        other = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  "/usr/bin/python3", "-c", listener, self.bus.address],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={"PATH": os.environ["PATH"], "HOME": "/"})
        try:
            self.assertEqual(other.stdout.readline().strip(), "READY")
            login_id, url = self.start_browser()
            self.assertEqual(browse(url)[0], 200)
            completed = self.wait_completed(login_id)
            out, err = other.communicate(timeout=30)
        finally:
            if other.poll() is None:
                other.kill()
                other.wait()
        print(out)
        self.assertEqual(other.returncode, 0, err)
        # It did receive the signals ...
        self.assertIn("LoginCompleted", out)
        self.assertRegex(out, r"PropertiesChanged .*'Email'")
        # ... and learnt nothing of the account from them.
        for secret in ("signed-in@example.com", "acc-login", "'chatgpt'", "'pro'"):
            self.assertNotIn(secret, out)
        self.assertEqual(completed[3], "Signed in.")
        # The user's own processes read it.
        self.assertEqual(self.prop("Email"), "signed-in@example.com")

    def test_callback_on_ipv6_loopback(self):
        if not ipv6_loopback():
            self.skipTest("this machine has no IPv6 loopback (::1)")
        self.start_daemon()
        login_id, url = self.start_browser()
        status, _, location = browse(url, follow=False)
        self.assertEqual(status, 302)
        callback = location.replace("http://localhost:", "http://[::1]:")
        status, page, _ = browse(callback)
        self.assertEqual(status, 200, page)
        self.assertEqual(self.wait_completed(login_id)[1], True)

    def test_wrong_state_is_refused_and_login_goes_on(self):
        self.start_daemon()
        login_id, url = self.start_browser()
        self.fake_login({"authorize": "wrong_state"})
        status, body, _ = browse(url)
        self.assertEqual(status, 400)
        self.assertEqual(body, "State mismatch")
        pump(0.3)
        self.assertEqual(self.completed, [])
        self.assertEqual(self.prop("PendingLogin"), "browser")
        # The real callback still completes it.
        self.fake_login({})
        status, _, _ = browse(url)
        self.assertEqual(status, 200)
        self.assertEqual(self.wait_completed(login_id)[1], True)

    def test_provider_errors_and_missing_code(self):
        self.write_auth_atomically(apikey_record("sk-before"))
        self.start_daemon()
        cases = [
            ({"authorize": "error", "error": "access_denied", "error_description": "missing_codex_entitlement"},
             "access-denied", "Codex is not enabled for your workspace"),
            ({"authorize": "error", "error": "server_error", "error_description": "try later"},
             "provider-error", "Sign-in failed: try later"),
            ({"authorize": "no_code"}, "missing-code", "Missing authorization code"),
        ]
        for script, code, text in cases:
            with self.subTest(code=code):
                login_id, url = self.start_browser()
                self.fake_login(script)
                status, page, _ = browse(url)
                self.assertEqual(status, 200)
                self.assertIn("Sign-in could not be completed", page)
                self.assertIn(text, page)
                _, success, error, message = self.wait_completed(login_id)
                self.assertEqual((success, error), (False, code))
                self.assertIn(text, message)
                # Nothing stored: the key held before stays.
                self.assertEqual(self.stored(), apikey_record("sk-before"))
                self.assertEqual(self.prop("PendingLogin"), "")

    def test_exchange_failures_store_nothing(self):
        self.write_auth_atomically(apikey_record("sk-before"))
        self.start_daemon()
        cases = [
            {"status": 400, "json": {"error": "invalid_grant", "error_description": "code expired"}},
            {"status": 503, "body": "Service Unavailable"},
            {"status": 200, "json": {"access_token": "a", "refresh_token": "r"}},
            {"status": 200, "json": {"id_token": "not-a-jwt", "access_token": "a", "refresh_token": "r"}},
        ]
        expected = ["status 400: code expired", "status 503: Service Unavailable", "id_token", "id_token"]
        for spec, text in zip(cases, expected):
            with self.subTest(spec=spec):
                login_id, url = self.start_browser()
                self.fake_login({"exchange": spec})
                status, page, _ = browse(url)
                self.assertEqual(status, 200)
                self.assertIn("Sign-in could not be completed", page)
                _, success, error, message = self.wait_completed(login_id)
                self.assertEqual((success, error), (False, "exchange-failed"))
                self.assertIn(text, message)
                self.assertEqual(self.stored(), apikey_record("sk-before"))

    def test_an_error_quoting_the_request_shows_no_secret(self):
        """A token endpoint whose error quotes the request (code,
        code_verifier): neither reaches the journal, LoginCompleted or the
        page, in the browser and the device-code flows."""
        self.start_daemon()
        self.fake_login({"exchange": {"quote_request": True, "status": 400}})
        login_id, url = self.start_browser()
        status, page, _ = browse(url)
        self.assertEqual(status, 200)
        _, success, error, message = self.wait_completed(login_id)
        self.assertEqual((success, error), (False, "exchange-failed"))
        # Device code: its exchange carries the code and verifier of the grant.
        self.fake_login({"exchange": {"quote_request": True, "status": 400}, "interval": "1"})
        device_id, _, _ = self.start_device()
        self.token_server._control("/_control/approve", {})
        _, d_success, _, d_message = self.wait_completed(device_id)
        self.assertFalse(d_success)
        log = self.issuer_log()
        secrets = [v for ex in log["exchanges"] for v in (ex["code"], ex["code_verifier"])]
        self.assertEqual(len(secrets), 4)
        self.assertIn("cannot use grant_type=authorization_code", message)  # the quote is there ...
        self.assertIn("code=*", message)
        signals = [c[3] for _, c in self.completed]
        for secret in secrets:
            with self.subTest(secret=secret[:6]):
                self.assertNotIn(secret, message)  # ... without the secrets
                self.assertNotIn(secret, d_message)
                self.assertNotIn(secret, page)
                self.assertFalse(any(secret in m for m in signals))
                self.assertNotIn(secret, self.daemon_log())

    def test_api_key_exchange_is_best_effort(self):
        self.start_daemon()
        self.fake_login({"api_key": None})
        login_id, url = self.start_browser()
        self.assertEqual(browse(url)[0], 200)
        self.assertTrue(self.wait_completed(login_id)[1])
        self.assertIsNone(self.stored()["OPENAI_API_KEY"])
        self.assertEqual(len(self.issuer_log()["api_key_exchanges"]), 1)

    def test_login_ends_poison_and_revokes_the_replaced_token(self):
        self.write_auth_atomically(chatgpt_record(refresh="rt-doomed"))
        self.token_server.script(default={"status": 401, "json": {"error": {"code": "refresh_token_reused"}}})
        self.start_daemon()
        self.get_auth_status(True, True)
        wait_until(lambda: self.prop("RefreshState") == "poisoned", timeout=10, what="poisoning")
        login_id, url = self.start_browser()
        self.assertEqual(browse(url)[0], 200)
        self.assertTrue(self.wait_completed(login_id)[1])
        self.assertEqual(self.prop("RefreshState"), "ok")
        self.assertFalse(self.prop("RequiresLogin"))
        self.assertNotEqual(self.get_auth_status(True, False)[1], "")
        # `codex login` revokes the refresh token it replaced.
        wait_until(lambda: self.issuer_log()["revokes"], timeout=10, what="the revocation of the old token")
        revokes = self.issuer_log()["revokes"]
        self.assertEqual(len(revokes), 1)
        self.assertEqual(revokes[0]["json"]["token"], "rt-doomed")


class TestWorkspace(LoginTestCase):
    config_extra = "allowed-workspaces=ws-allowed,ws-other\n"

    def test_other_workspace_is_refused(self):
        self.start_daemon()
        login_id, url = self.start_browser()
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(params["allowed_workspace_id"], "ws-allowed,ws-other")
        status, page, _ = browse(url)
        self.assertIn("restricted to workspace id(s) ws-allowed, ws-other", page)
        _, success, error, _ = self.wait_completed(login_id)
        self.assertEqual((success, error), (False, "workspace-restricted"))
        self.assertFalse(os.path.exists(self.auth_json))
        # An account of an allowed workspace is taken.
        self.fake_login({"claims": {"https://api.openai.com/auth": {"chatgpt_account_id": "ws-other",
                                                                   "chatgpt_plan_type": "team"}}})
        login_id, url = self.start_browser()
        self.assertEqual(browse(url)[0], 200)
        self.assertTrue(self.wait_completed(login_id)[1])
        self.assertEqual(self.stored()["tokens"]["account_id"], "ws-other")


class TestCliLoginRules(LoginTestCase):
    """The Codex CLI's forced_login_method and forced_chatgpt_workspace_id in
    its config.toml: sign-ins through the daemon obey them as `codex login`
    does, read again at every start."""

    def write_cli_config(self, text):
        with open(os.path.join(self.codex_home, "config.toml"), "w") as f:
            f.write(text)

    def test_forced_api_refuses_chatgpt_sign_ins(self):
        self.write_cli_config('# set by the administrator\nforced_login_method = "api"\n')
        self.start_daemon()
        for method in ("StartChatGptLogin", "StartDeviceCodeLogin"):
            name, message = self.call_error(method, GLib.Variant("(a{sv})", ({},)))
            self.assertEqual(name, "org.codex.Auth1.Error.NotSupported", method)
            self.assertIn("ChatGPT login is disabled", message)
            self.assertIn("Use API key login instead", message)
        self.assertEqual(self.issuer_log()["usercode"], [])
        self.assertEqual(self.prop("PendingLogin"), "")
        # An API key is still taken.
        self.call("LoginWithApiKey", GLib.Variant("(s)", ("sk-allowed-key",)))
        self.assertEqual(self.stored()["OPENAI_API_KEY"], "sk-allowed-key")
        # The rule is read again at the next start: lifted, the sign-in starts.
        self.write_cli_config("")
        login_id, url = self.start_browser()
        self.assertIn("/oauth/authorize", url)
        self.call("CancelLogin", GLib.Variant("(s)", (login_id,)))

    def test_forced_chatgpt_refuses_api_keys(self):
        self.write_cli_config('forced_login_method = "chatgpt"\n')
        self.start_daemon()
        name, message = self.call_error("LoginWithApiKey", GLib.Variant("(s)", ("sk-refused-key",)))
        self.assertEqual(name, "org.codex.Auth1.Error.NotSupported")
        self.assertIn("API key login is disabled", message)
        self.assertNotIn("sk-refused-key", message)
        self.assertFalse(os.path.exists(self.auth_json))
        result = subprocess.run([os.environ["CODEX_AUTHCTL"], "login", "--api-key"], input="sk-refused-key\n",
                                capture_output=True, text=True, timeout=60, env=self.env)
        self.assertNotEqual(result.returncode, EXIT_OK)
        self.assertIn("API key login is disabled", result.stderr)

    def test_forced_workspace_list(self):
        self.write_cli_config('forced_chatgpt_workspace_id = ["ws-cli", "ws-allowed"]\n')
        self.start_daemon()
        login_id, url = self.start_browser()
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(params["allowed_workspace_id"], "ws-cli,ws-allowed")
        # The issuer's default account is in neither: refused, nothing saved.
        status, page, _ = browse(url)
        self.assertIn("restricted to workspace id(s) ws-cli, ws-allowed", page)
        self.assertEqual(self.wait_completed(login_id)[1:3], (False, "workspace-restricted"))
        self.assertFalse(os.path.exists(self.auth_json))
        # Tokens imported from elsewhere obey it too.
        name, message = self.call_error("ImportChatGptTokens", GLib.Variant("(sss)", (
            harness.make_jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "ws-foreign"}}),
            "at-import", "rt-import")))
        self.assertEqual(name, "org.codex.Auth1.Error.NotSupported")
        self.assertIn("ws-cli, ws-allowed", message)
        self.assertFalse(os.path.exists(self.auth_json))
        # An account of one of them is taken.
        self.fake_login({"claims": {"https://api.openai.com/auth": {"chatgpt_account_id": "ws-cli"}}})
        login_id, url = self.start_browser()
        self.assertEqual(browse(url)[0], 200)
        self.assertTrue(self.wait_completed(login_id)[1])
        self.assertEqual(self.stored()["tokens"]["account_id"], "ws-cli")

    def test_forced_workspace_string_with_device_code(self):
        self.write_cli_config('forced_chatgpt_workspace_id = "ws-cli"\n')
        self.start_daemon()
        login_id, url, code = self.start_device()
        self.token_server._control("/_control/approve", {})
        self.assertEqual(self.wait_completed(login_id, timeout=15)[1:3], (False, "workspace-restricted"))
        self.assertFalse(os.path.exists(self.auth_json))

    def test_both_lists_must_allow(self):
        self.write_config("allowed-workspaces=ws-daemon,ws-both\n")
        self.write_cli_config('forced_chatgpt_workspace_id = ["ws-both", "ws-cli"]\n')
        self.start_daemon()
        login_id, url = self.start_browser()
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(params["allowed_workspace_id"], "ws-both")
        self.call("CancelLogin", GLib.Variant("(s)", (login_id,)))
        self.write_cli_config('forced_chatgpt_workspace_id = "ws-cli"\n')
        name, message = self.call_error("StartChatGptLogin", GLib.Variant("(a{sv})", ({},)))
        self.assertEqual(name, "org.codex.Auth1.Error.NotSupported")
        self.assertIn("No workspace is allowed both", message)

    def test_unusable_rules_refuse_with_the_reason(self):
        for text, reason in (('forced_login_method = "apikey"\n', 'forced_login_method is "apikey"'),
                             ("forced_chatgpt_workspace_id = 7\n", "neither a string nor a list"),
                             ("forced_chatgpt_workspace_id = [1]\n", "not a string"),
                             ("forced_login_method = \n", "not valid TOML")):
            with self.subTest(text=text):
                self.write_cli_config(text)
                if not self.daemons:
                    self.start_daemon()
                name, message = self.call_error("StartChatGptLogin", GLib.Variant("(a{sv})", ({},)))
                self.assertEqual(name, "org.codex.Auth1.Error.NotSupported")
                self.assertIn(reason, message)
                self.assertIn("config.toml", message)


class TestPendingLogin(LoginTestCase):

    def test_busy_port_falls_back(self):
        held = HeldPort(self.ports[0])
        try:
            self.start_daemon()
            start = time.monotonic()
            login_id, url = self.start_browser()
            took = time.monotonic() - start
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            self.assertEqual(params["redirect_uri"], f"http://localhost:{self.ports[1]}/auth/callback")
            # It asked the holder to stop, once, then retried for about 2 s.
            self.assertEqual([r for r in held.requests if "/cancel" in r], ["GET /cancel HTTP/1.1"])
            print(f"fallback to the second port after {took:.2f} s")
            self.assertEqual(browse(url)[0], 200)
            self.assertTrue(self.wait_completed(login_id)[1])
        finally:
            held.close()

    def test_cli_login_server_is_asked_to_cancel(self):
        held = HeldPort(self.ports[0], release_on_cancel=True)
        self.start_daemon()
        login_id, url = self.start_browser()
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(params["redirect_uri"], f"http://localhost:{self.ports[0]}/auth/callback")
        self.assertTrue(held.closed.is_set())

    def test_both_ports_busy_fails_clearly(self):
        held = [HeldPort(self.ports[0]), HeldPort(self.ports[1])]
        try:
            self.start_daemon()
            name, message = self.call_error("StartChatGptLogin", GLib.Variant("(a{sv})", ({},)))
            self.assertEqual(name, "org.codex.Auth1.Error.LoginFailed")
            self.assertIn(f"{self.ports[1]} is already in use", message)
            self.assertEqual(self.prop("PendingLogin"), "")
        finally:
            for h in held:
                h.close()

    def test_our_own_login_server_answers_cancel(self):
        # What `codex login` does to a login server on its port.
        self.start_daemon()
        login_id, _ = self.start_browser()
        status, body, _ = browse(f"http://127.0.0.1:{self.ports[0]}/cancel")
        self.assertEqual((status, body), (200, "Login cancelled"))
        self.assertEqual(self.wait_completed(login_id)[2], "cancelled")

    def test_second_start_cancels_first(self):
        self.start_daemon()
        first, first_url = self.start_browser()
        second, second_url = self.start_browser()
        self.assertNotEqual(first, second)
        _, success, error, _ = self.wait_completed(first)
        self.assertEqual((success, error), (False, "cancelled"))
        self.assertEqual(self.prop("PendingLogin"), "browser")
        # The second has the port; the first URL's callback carries a state
        # that is not the pending one: refused, and the second goes on.
        self.assertIn(f"localhost%3A{self.ports[0]}", second_url)
        self.assertEqual(browse(first_url)[:2], (400, "State mismatch"))
        self.assertEqual(browse(second_url)[0], 200)
        self.assertTrue(self.wait_completed(second)[1])

    def test_two_clients_see_pending_and_completion(self):
        self.start_daemon()
        other = self.bus.connect()
        seen_props, seen_done = [], []
        sub1 = other.signal_subscribe(None, "org.freedesktop.DBus.Properties", "PropertiesChanged", OBJECT_PATH,
                                      None, Gio.DBusSignalFlags.NONE,
                                      lambda *a: seen_props.append(a[-1].unpack()[1]))
        sub2 = other.signal_subscribe(None, INTERFACE, "LoginCompleted", OBJECT_PATH, None,
                                      Gio.DBusSignalFlags.NONE, lambda *a: seen_done.append(a[-1].unpack()))
        try:
            pump(0.1)
            login_id, _ = self.start_browser()
            wait_until(lambda: any(p.get("PendingLogin") == "browser" for p in seen_props), timeout=5,
                       what="the other client to see PendingLogin")
            # The other client cancels it; both see the end.
            other.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, "CancelLogin", GLib.Variant("(s)", (login_id,)),
                            None, Gio.DBusCallFlags.NONE, -1, None)
            wait_until(lambda: seen_done, timeout=5, what="LoginCompleted at the other client")
            self.assertEqual(seen_done[0][:3], (login_id, False, "cancelled"))
            self.assertEqual(self.wait_completed(login_id)[2], "cancelled")
            wait_until(lambda: any(p.get("PendingLogin") == "" for p in seen_props), timeout=5,
                       what="PendingLogin back to empty")
            # Cancelling it again, or an unknown id: NoSuchLogin.
            name, _ = self.call_error("CancelLogin", GLib.Variant("(s)", (login_id,)))
            self.assertEqual(name, "org.codex.Auth1.Error.NoSuchLogin")
            # The port was given back.
            with socket.socket() as s:
                wait_until(lambda: s.connect_ex(("127.0.0.1", self.ports[0])) != 0, timeout=5,
                           what="the callback server to close")
        finally:
            other.signal_unsubscribe(sub1)
            other.signal_unsubscribe(sub2)
            other.close_sync(None)

    def test_unknown_options_are_refused(self):
        self.start_daemon()
        name, message = self.call_error("StartChatGptLogin",
                                        GLib.Variant("(a{sv})", ({"port": GLib.Variant("u", 1)},)))
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")
        self.assertIn('"port"', message)

    def test_logout_ends_pending_login(self):
        self.start_daemon()
        login_id, _ = self.start_browser()
        details = self.call("Logout")[0]
        self.assertEqual(details["revocation"], "none")
        self.assertEqual(self.wait_completed(login_id)[2], "cancelled")

    def test_shutdown_during_login(self):
        proc = self.start_daemon()
        login_id, _ = self.start_browser()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        self.assertEqual(proc.returncode, 0)
        _, success, error, message = self.wait_completed(login_id, timeout=5)
        self.assertEqual((success, error), (False, "cancelled"))
        self.assertIn("shutting down", message)
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", self.ports[0])), 0)

    def test_authctl_interrupt_cancels(self):
        self.start_daemon()
        ctl = self.ctl_background("login", "--no-browser")
        self.read_until(ctl.stdout, r"Waiting for the sign-in")
        ctl.send_signal(signal.SIGINT)
        out, err = ctl.communicate(timeout=10)
        self.assertEqual(ctl.returncode, EXIT_ERROR)
        self.assertIn("cancelled", err)
        wait_until(lambda: self.completed, timeout=5, what="LoginCompleted")
        self.assertEqual(self.completed[0][1][2], "cancelled")


class TestTimeouts(LoginTestCase):
    config_extra = "browser-login-timeout=10\ndevice-login-timeout=10\n"

    def test_browser_login_times_out(self):
        self.start_daemon()
        login_id, _ = self.start_browser()
        start = time.monotonic()
        _, success, error, message = self.wait_completed(login_id, timeout=20)
        self.assertEqual((success, error), (False, "timed-out"))
        self.assertGreaterEqual(time.monotonic() - start, 9)
        self.assertEqual(self.prop("PendingLogin"), "")

    def test_device_login_times_out(self):
        self.start_daemon()
        login_id, _, _ = self.start_device()
        _, success, error, _ = self.wait_completed(login_id, timeout=20)
        self.assertEqual((success, error), (False, "timed-out"))
        # It polled meanwhile, about once a second.
        polls = len(self.issuer_log()["polls"])
        self.assertGreaterEqual(polls, 5)
        self.assertLessEqual(polls, 12)


class TestDeviceCode(LoginTestCase):

    def test_authctl_device_code_login(self):
        self.start_daemon()
        ctl = self.ctl_background("login", "--device-code")
        url = self.read_until(ctl.stdout, r"(http://\S+/codex/device)").group(1)
        code = self.read_until(ctl.stdout, r"^\s+([A-Z0-9]{4}-[A-Z0-9]{4})\s*$").group(1)
        self.assertEqual(url, self.token_server.base + "/codex/device")
        self.assertEqual(code, "ABCD-1234")
        self.assertEqual(self.prop("PendingLogin"), "device-code")
        time.sleep(2.2)  # a few polls while pending
        approved = time.monotonic()
        self.token_server._control("/_control/approve", {})
        out, err = ctl.communicate(timeout=20)
        done = time.monotonic()
        self.assertEqual(ctl.returncode, EXIT_OK, err)
        self.assertIn("Signed in as signed-in@example.com.", out)
        # Seen within one poll interval (the fake issuer's: 1 s) of the
        # approval, plus the exchange and the store.
        latency = done - approved
        print(f"completion seen {latency:.2f} s after approval (interval 1 s)")
        self.assertLess(latency, 1.0 + harness.SLACK)
        log = self.issuer_log()
        self.assertEqual(json.loads(log["usercode"][0]["body"]), {"client_id": CLIENT_ID})
        pending = [p for p in log["polls"] if not p["approved"]]
        self.assertGreaterEqual(len(pending), 2)
        gaps = [b["time"] - a["time"] for a, b in zip(log["polls"], log["polls"][1:])]
        self.assertTrue(all(g >= 0.9 for g in gaps), gaps)
        ex = log["exchanges"][0]
        self.assertEqual(ex["redirect_uri"], self.token_server.base + "/deviceauth/callback")
        self.assertTrue(ex["verified"])
        self.assertEqual(log["api_key_exchanges"], [])
        self.assert_no_problems()
        record = self.stored()
        self.assertIsNone(record["OPENAI_API_KEY"])
        self.assertEqual(record["tokens"]["account_id"], "acc-login")

    def test_interval_as_number(self):
        self.fake_login({"interval": 2})
        self.start_daemon()
        login_id, _, _ = self.start_device()
        wait_until(lambda: len(self.issuer_log()["polls"]) >= 3, timeout=15, what="three polls")
        polls = self.issuer_log()["polls"]
        gaps = [b["time"] - a["time"] for a, b in zip(polls, polls[1:])]
        self.assertTrue(all(1.9 <= g < 3.5 for g in gaps), gaps)
        self.call("CancelLogin", GLib.Variant("(s)", (login_id,)))

    def test_device_login_disabled(self):
        self.fake_login({"usercode": {"status": 404, "json": {"error": "not_found"}}})
        self.start_daemon()
        result = self.ctl("login", "--device-code")
        self.assertEqual(result.returncode, EXIT_ERROR)
        self.assertIn("Device code login is not enabled", result.stderr)
        name, _ = self.call_error("StartDeviceCodeLogin", GLib.Variant("(a{sv})", ({},)))
        self.assertEqual(name, "org.codex.Auth1.Error.DeviceLoginDisabled")
        self.assertEqual(self.prop("PendingLogin"), "")

    def test_usercode_server_error(self):
        self.fake_login({"usercode": {"status": 503, "body": "down"}})
        self.start_daemon()
        name, message = self.call_error("StartDeviceCodeLogin", GLib.Variant("(a{sv})", ({},)))
        self.assertEqual(name, "org.codex.Auth1.Error.LoginFailed")
        self.assertIn("503", message)

    def test_poll_failure_ends_login(self):
        self.start_daemon()
        login_id, _, _ = self.start_device()
        self.fake_login({"poll": {"status": 500, "body": "boom"}})
        _, success, error, message = self.wait_completed(login_id, timeout=10)
        self.assertEqual((success, error), (False, "device-auth-failed"))
        self.assertIn("500", message)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestBrowserLogin, TestWorkspace, TestCliLoginRules, TestPendingLogin,
                                                  TestTimeouts, TestDeviceCode]))
