# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration tests of LoginWithApiKey, ImportChatGptTokens, Logout and of
the codex-authctl client, against the daemon on a private bus."""

import json
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import (DaemonTestCase, PrivateBus, apikey_record, chatgpt_record,  # noqa: E402
                     make_jwt, pump, token_response, wait_until)
from keyring_helper import KeyringFixture, codex_attributes  # noqa: E402

INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_LOGGED_IN, EXIT_RELOGIN, EXIT_UNAVAILABLE = range(6)


def id_token(account="acc-imported", email="imp@example.com", plan="team"):
    return make_jwt({"email": email, "https://api.openai.com/auth": {
        "chatgpt_account_id": account, "chatgpt_plan_type": plan}})


class CtlTestCase(DaemonTestCase):
    daemon_args = ["--store", "file"]

    @property
    def failure_file(self):
        return os.path.join(self.tmp, "state", "codex-authd", "poison.json")

    def ctl(self, *args, input=None, env=None):
        return subprocess.run([os.environ["CODEX_AUTHCTL"], *args], input=input, capture_output=True,
                              text=True, timeout=60, env=env or self.env)

    def login_api_key(self, key):
        return self.call("LoginWithApiKey", GLib.Variant("(s)", (key,)))

    def import_tokens(self, idt, access, refresh):
        return self.call("ImportChatGptTokens", GLib.Variant("(sss)", (idt, access, refresh)))

    def poison_now(self):
        """Makes the credentials in use fail for good."""
        self.write_auth_atomically(chatgpt_record(refresh="rt-doomed", access_tag="doomed"))
        wait_until(lambda: self.prop("AuthMethod") == "chatgpt", timeout=5, what="the record")
        self.token_server.script(default={"status": 401, "json": {"error": {"code": "refresh_token_reused"}}})
        self.get_auth_status(True, True)
        wait_until(lambda: os.path.exists(self.failure_file), timeout=5, what="the failure record")


class TestMethods(CtlTestCase):

    def test_login_with_api_key(self):
        self.start_daemon()
        self.clear_signals()
        self.login_api_key("sk-proj-ABC_123-xyz")
        with open(self.auth_json) as f:
            self.assertEqual(json.load(f), {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-proj-ABC_123-xyz"})
        self.assertEqual(stat.S_IMODE(os.stat(self.auth_json).st_mode), 0o600)
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-proj-ABC_123-xyz", True))
        pump(0.5)
        self.assertEqual(len(self.signals), 1, self.signals)
        self.assertEqual(self.signals[0][1], {"AuthMethod": "apikey", "RequiresLogin": False})

    def test_login_validation_changes_nothing(self):
        self.write_auth_atomically(apikey_record("sk-kept"))
        self.start_daemon()
        self.clear_signals()
        cases = [("", "empty"), ("sk-" + "a" * 4094, "more than the 4096"), ("sk with space", "whitespace"),
                 ("sk-\ttab", "whitespace"), ("sk-\u00e9t\u00e9", "printable ASCII"), ("sk-\x01", "printable")]
        for key, expected in cases:
            with self.subTest(key=key[:12]):
                name, message = self.call_error("LoginWithApiKey", GLib.Variant("(s)", (key,)))
                self.assertEqual(name, INVALID_ARGS)
                self.assertIn(expected, message)
                if len(key) > 3:
                    self.assertNotIn(key, message)
        # Exactly 4096 bytes is accepted.
        self.login_api_key("k" * 4096)
        self.assertEqual(self.get_auth_status(True, False)[1], "k" * 4096)

    def test_login_keeps_state_on_invalid_input(self):
        self.write_auth_atomically(apikey_record("sk-kept"))
        self.start_daemon()
        self.clear_signals()
        self.call_error("LoginWithApiKey", GLib.Variant("(s)", ("bad key",)))
        self.call_error("ImportChatGptTokens", GLib.Variant("(sss)", ("nope", "a", "r")))
        pump(0.5)
        self.assertEqual(self.signals, [])
        with open(self.auth_json) as f:
            self.assertEqual(json.load(f)["OPENAI_API_KEY"], "sk-kept")

    def test_import_chatgpt_tokens(self):
        self.start_daemon()
        before = time.time()
        access = make_jwt({"exp": 1893456000})
        self.import_tokens(id_token(), access, "rt-imported")
        with open(self.auth_json) as f:
            saved = json.load(f)
        self.assertEqual(saved["auth_mode"], "chatgpt")
        self.assertIsNone(saved["OPENAI_API_KEY"])
        self.assertEqual(saved["tokens"], {"id_token": id_token(), "access_token": access,
                                           "refresh_token": "rt-imported", "account_id": "acc-imported"})
        last = GLib.DateTime.new_from_iso8601(saved["last_refresh"], None).to_unix()
        self.assertGreaterEqual(last, int(before) - 1)
        props = self.all_props()
        self.assertEqual(props["AuthMethod"], "chatgpt")
        self.assertEqual(props["AccountId"], "acc-imported")
        self.assertEqual(props["Email"], "imp@example.com")
        self.assertEqual(props["PlanType"], "team")
        self.assertEqual(self.get_auth_status(True, False)[1], access)

    def test_import_validation(self):
        self.start_daemon()
        cases = [
            (("not-a-jwt", "a", "r"), "id_token"),
            (("eyJhbGciOiJub25lIn0.!!!.sig", "a", "r"), "base64url"),
            ((make_jwt({"a": 1})[:-4] + ".x.y", "a", "r"), "id_token"),
            ((id_token(), "", "r"), "access_token"),
            ((id_token(), "a", ""), "refresh_token"),
            ((id_token(), "a b", "r"), "access_token"),
        ]
        for args, expected in cases:
            with self.subTest(args=args[1:]):
                name, message = self.call_error("ImportChatGptTokens", GLib.Variant("(sss)", args))
                self.assertEqual(name, INVALID_ARGS)
                self.assertIn(expected, message)
        self.assertFalse(os.path.exists(self.auth_json))

    def test_login_clears_poison(self):
        self.start_daemon()
        self.poison_now()
        self.assertEqual(self.prop("RefreshState"), "poisoned")
        self.login_api_key("sk-fresh-start")
        props = self.all_props()
        self.assertEqual(props["RefreshState"], "none")
        self.assertEqual(props["RequiresLogin"], False)
        wait_until(lambda: not os.path.exists(self.failure_file), timeout=5, what="the failure record to go")

    def test_import_same_tokens_clears_poison(self):
        # Logging in again, even with the very same tokens, is the user's
        # say-so: the poison ends.
        self.start_daemon()
        self.poison_now()
        record = chatgpt_record(refresh="rt-doomed", access_tag="doomed")
        self.import_tokens(record["tokens"]["id_token"], record["tokens"]["access_token"], "rt-doomed")
        self.assertEqual(self.prop("RefreshState"), "ok")

    def test_logout(self):
        self.start_daemon()
        self.poison_now()
        self.clear_signals()
        self.call("Logout")
        self.assertFalse(os.path.exists(self.auth_json))
        props = self.all_props()
        self.assertEqual(props["AuthMethod"], "")
        self.assertEqual(props["RequiresLogin"], True)
        self.assertEqual(props["RefreshState"], "none")
        wait_until(lambda: not os.path.exists(self.failure_file), timeout=5, what="the failure record to go")
        pump(0.5)
        self.assertEqual(len(self.signals), 1, self.signals)
        # Logging out twice is fine.
        self.call("Logout")

    def test_store_failure_keeps_what_was_stored(self):
        if os.geteuid() != 0:
            self.skipTest("needs root for chattr")
        self.write_auth_atomically(apikey_record("sk-before"))
        self.start_daemon()
        subprocess.run(["chattr", "+i", self.codex_home], check=True)
        try:
            name, message = self.call_error("LoginWithApiKey", GLib.Variant("(s)", ("sk-after",)))
            self.assertEqual(name, "org.codex.Auth1.Error.StoreError")
            self.assertNotIn("sk-after", message)
            name, _ = self.call_error("Logout")
            self.assertEqual(name, "org.codex.Auth1.Error.StoreError")
        finally:
            subprocess.run(["chattr", "-i", self.codex_home], check=True)
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-before", True))
        with open(self.auth_json) as f:
            self.assertEqual(json.load(f)["OPENAI_API_KEY"], "sk-before")


class TestKeyringMethods(KeyringFixture, CtlTestCase):
    daemon_args = []

    def test_login_goes_to_keyring_and_logout_removes_both(self):
        self.write_auth_atomically(apikey_record("sk-old-file"))
        self.start_daemon()
        self.login_api_key("sk-into-keyring")
        items = self.items()
        self.assertEqual(len(items), 1)
        self.assertEqual(self.keyring.attributes(items[0]), codex_attributes(self.codex_home))
        self.assertEqual(json.loads(self.keyring.secret(items[0])),
                         {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-into-keyring"})
        # Like the Codex CLI: no auth.json left beside the keyring item.
        self.assertFalse(os.path.exists(self.auth_json))
        self.assertEqual(self.prop("CredentialStore"), "secret-service")
        # A file written later, and the item: logout removes both.
        self.write_auth_atomically(apikey_record("sk-stray-file"))
        self.call("Logout")
        self.assertEqual(self.items(), [])
        self.assertFalse(os.path.exists(self.auth_json))
        self.assertEqual(self.get_auth_status(True, False), ("", "", True))

    def test_locked_keyring_refuses_without_losing(self):
        self.keyring.store(codex_attributes(self.codex_home), json.dumps(apikey_record("sk-held")))
        self.start_daemon()
        self.keyring.lock()
        wait_until(lambda: self.prop("StoreState") == "locked", timeout=5, what="StoreState=locked")
        name, _ = self.call_error("LoginWithApiKey", GLib.Variant("(s)", ("sk-new",)))
        self.assertEqual(name, "org.codex.Auth1.Error.StoreLocked")
        name, _ = self.call_error("Logout")
        self.assertEqual(name, "org.codex.Auth1.Error.StoreLocked")
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-held", True))
        self.assertEqual(len(self.items()), 1)


class TestStoreSetting(KeyringFixture, CtlTestCase):
    """The Codex CLI's own setting decides the store (the daemon's store=
    left at auto), and codex-authctl moves the login between the stores."""
    daemon_args = []
    codex_store = None  # no config.toml: the CLI's default, the file

    CONFIG = ('# my Codex settings\nmodel = "o3"   # fast\n\n[tui]\nnotifications = true\n')

    @property
    def config_path(self):
        return os.path.join(self.codex_home, "config.toml")

    def read_config(self):
        with open(self.config_path) as f:
            return f.read()

    def test_default_is_the_file_even_with_a_keyring(self):
        self.write_auth_atomically(apikey_record("sk-cli-file"))
        self.start_daemon()
        self.login_api_key("sk-from-daemon")
        # Where the CLI reads it, and nothing in the keyring.
        self.assertEqual(self.stored_file(), apikey_record("sk-from-daemon"))
        self.assertEqual(self.items(), [])
        self.assertEqual(self.prop("CredentialStore"), "file")
        self.assertEqual(self.prop("CredentialStoreReason"), "Codex default: file")
        out = self.ctl("status")
        self.assertEqual(out.returncode, EXIT_OK, out.stderr)
        self.assertIn("Chosen by: Codex default: file", out.stdout)
        self.assertIn("codex-authctl move-to-keyring", out.stdout)  # a Secret Service runs

    def test_move_to_keyring_and_back(self):
        with open(self.config_path, "w") as f:
            f.write(self.CONFIG)
        os.chmod(self.config_path, 0o644)
        self.write_auth_atomically(apikey_record("sk-moving"))
        self.start_daemon()
        self.clear_signals()
        out = self.ctl("move-to-keyring")
        self.assertEqual(out.returncode, EXIT_OK, out.stderr)
        self.assertIn("keyring", out.stdout)
        # The key is added, the rest of the file is byte for byte the same.
        self.assertEqual(self.read_config(), 'cli_auth_credentials_store = "keyring"\n' + self.CONFIG)
        self.assertEqual(stat.S_IMODE(os.stat(self.config_path).st_mode), 0o644)
        self.assertFalse(os.path.exists(self.auth_json))
        items = self.items()
        self.assertEqual(len(items), 1)
        self.assertEqual(json.loads(self.keyring.secret(items[0])), apikey_record("sk-moving"))
        wait_until(lambda: self.prop("CredentialStoreReason") == "Codex config: keyring", timeout=5,
                   what="the reason to follow config.toml")
        self.assertEqual(self.prop("CredentialStore"), "secret-service")
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-moving", True))
        wait_until(lambda: any("CredentialStoreReason" in changed for _, changed, _ in self.signals), timeout=5,
                   what="PropertiesChanged naming CredentialStoreReason")
        # And back: the value replaced where it stands.
        out = self.ctl("move-to-file")
        self.assertEqual(out.returncode, EXIT_OK, out.stderr)
        self.assertEqual(self.read_config(), 'cli_auth_credentials_store = "file"\n' + self.CONFIG)
        self.assertEqual(self.stored_file(), apikey_record("sk-moving"))
        self.assertEqual(self.items(), [])
        wait_until(lambda: self.prop("CredentialStoreReason") == "Codex config: file", timeout=5,
                   what="the reason to follow config.toml")
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-moving", True))

    def test_config_change_is_followed(self):
        self.write_auth_atomically(apikey_record("sk-in-file"))
        self.store_item_secret(apikey_record("sk-in-keyring"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-in-file")
        self.write_codex_config("keyring")
        wait_until(lambda: self.get_auth_status(True, False)[1] == "sk-in-keyring", timeout=5,
                   what="the keyring item after config.toml says keyring")
        self.assertEqual(self.prop("CredentialStoreReason"), "Codex config: keyring")

    def test_config_with_a_key_of_100000_parts(self):
        # 200 KB of "a.a.a...": toml++ recursed once per part and the daemon
        # died at every start (SIGSEGV). Refused before the parser, reported.
        with open(self.config_path, "w") as f:
            f.write('cli_auth_credentials_store = "keyring"\n' + "a" + ".a" * 100000 + " = 1\n")
        self.write_auth_atomically(apikey_record("sk-in-file"))
        proc = self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-in-file")
        self.assertIsNone(proc.poll())
        problem = self.details()["codex-config-error"]
        self.assertIn("line 2", problem)
        self.assertIn("dotted parts", problem)
        out = self.ctl("status")
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_config_that_does_not_parse(self):
        with open(self.config_path, "w") as f:
            f.write('cli_auth_credentials_store = "keyring"\nmodel = [\n')
        self.write_auth_atomically(apikey_record("sk-in-file"))
        self.store_item_secret(apikey_record("sk-in-keyring"))
        self.start_daemon()
        # The CLI's default applies, and the problem is reported.
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-in-file")
        self.assertEqual(self.prop("CredentialStoreReason"), "Codex default: file (config.toml cannot be used)")
        problem = self.details()["codex-config-error"]
        self.assertIn("config.toml", problem)
        self.assertIn("line 2", problem)
        self.assertIn("config.toml cannot be used", self.daemon_log())
        out = self.ctl("status")
        self.assertIn("Codex config:", out.stdout)
        # A move would have to rewrite it: refused, the file left alone.
        out = self.ctl("move-to-keyring")
        self.assertEqual(out.returncode, EXIT_ERROR)
        self.assertIn("not valid TOML", out.stderr)
        self.assertEqual(self.read_config(), 'cli_auth_credentials_store = "keyring"\nmodel = [\n')
        self.assertEqual(self.stored_file(), apikey_record("sk-in-file"))

    def test_daemon_setting_overrides(self):
        self.write_auth_atomically(apikey_record("sk-in-file"))
        self.start_daemon("--store", "file")
        self.assertEqual(self.prop("CredentialStoreReason"), "daemon setting: file")
        out = self.ctl("move-to-keyring")
        self.assertEqual(out.returncode, EXIT_ERROR)
        self.assertIn("daemon's own setting store=file", out.stderr)
        name, _ = self.call_error("MoveCredentials", GLib.Variant("(s)", ("secret-service",)))
        self.assertEqual(name, "org.codex.Auth1.Error.NotSupported")
        self.assertFalse(os.path.exists(self.config_path))
        name, _ = self.call_error("MoveCredentials", GLib.Variant("(s)", ("elsewhere",)))
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")

    def stored_file(self):
        with open(self.auth_json) as f:
            return json.load(f)

    def store_item_secret(self, record):
        self.keyring.store(codex_attributes(self.codex_home), json.dumps(record, separators=(",", ":")))


class TestCtl(CtlTestCase):

    def test_help_version_usage(self):
        out = self.ctl("--help")
        self.assertEqual(out.returncode, 0)
        for word in ("status", "token", "login", "logout", "reload", "unlock", "monitor", "Exit status"):
            self.assertIn(word, out.stdout)
        out = self.ctl("--version")
        self.assertRegex(out.stdout, r"^codex-authctl \d+\.\d+\.\d+\n$")
        for args in (["frobnicate"], ["--frob"], ["login", "--api-key", "--device-code"], ["login", "--api-key", "--import", "x"],
                     ["status", "extra"]):
            with self.subTest(args=args):
                self.assertEqual(self.ctl(*args).returncode, EXIT_USAGE)
        out = self.ctl("login", "--api-key=sk-in-argv")
        self.assertEqual(out.returncode, EXIT_USAGE)
        self.assertIn("never taken from the command line", out.stderr)

    def test_terminal_escapes_in_claims_are_neutralised(self):
        """An id_token (from the issuer, or an auth.json another program
        wrote) whose claims carry terminal escapes: a clipboard write
        (ESC]52), line erasing, a C1 CSI, a bidi override. Nothing of them
        reaches the terminal, the bus or the JSON output."""
        evil_email = "a\x1b]52;c;ZXZpbA==\x07@x.example\x1b[2K\x1b[1A\u009b31m\u202e"
        record = chatgpt_record(email=evil_email, plan="plus\r\nPlan: free", account="acc\x1b[8m")
        self.write_auth_atomically(record)
        self.start_daemon()
        self.assertEqual(self.prop("AuthMethod"), "chatgpt")
        for prop in ("Email", "PlanType"):
            value = self.prop(prop)
            self.assertFalse(any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 or c == "\u202e" for c in value),
                             f"{prop}: {value!r}")
        self.assertEqual(self.prop("Email"), "a\ufffd]52;c;ZXZpbA==\ufffd@x.example\ufffd[2K\ufffd[1A\ufffd31m\ufffd")
        # tokens.account_id is the file's own text: codex-authctl replaces
        # what it prints.
        out = self.ctl("status")
        self.assertEqual(out.returncode, 0, out.stderr)
        for raw in ("\x1b", "\x07", "\r", "\u009b", "\u202e"):
            self.assertNotIn(raw, out.stdout + out.stderr)
        self.assertIn("x.example", out.stdout)
        self.assertIn("acc\ufffd[8m", out.stdout)
        out = self.ctl("status", "--json")
        self.assertNotIn("\x1b", out.stdout)
        self.assertNotIn("\x1b", json.dumps(json.loads(out.stdout)["email"]))

    def test_status_and_token(self):
        self.start_daemon()
        out = self.ctl("status")
        # status ends as token does: 3 when not logged in.
        self.assertEqual(out.returncode, EXIT_NOT_LOGGED_IN)
        self.assertIn("Auth method: none (not logged in)", out.stdout)
        self.assertNotIn("\033[", out.stdout)  # no colour when not on a terminal
        out = self.ctl("token")
        self.assertEqual(out.returncode, EXIT_NOT_LOGGED_IN)
        self.assertEqual(out.stdout, "")
        self.assertIn("not logged in", out.stderr)

        self.write_auth_atomically(chatgpt_record(email="ctl@example.com", plan="pro", account="acc-ctl"))
        self.call("Reload")
        out = self.ctl("status")
        self.assertEqual(out.returncode, 0, out.stderr)
        for text in ("Auth method: chatgpt", "Account: acc-ctl", "Email: ctl@example.com", "Plan: pro",
                     "Refresh state: ok", "Requires login: no", "Store: file", "Store state: ok",
                     "Chosen by: daemon setting: file", "Last refresh:",
                     "Token expires: Tue 2030-01-01 00:00:00 UTC (in "):
            self.assertIn(text, out.stdout)
        # Labels are aligned on the colon.
        colons = {line.index(":") for line in out.stdout.splitlines()}
        self.assertEqual(len(colons), 1, out.stdout)
        out = self.ctl("token")
        self.assertEqual(out.returncode, 0)
        self.assertEqual(out.stdout.strip(), self.get_auth_status(True, False)[1])

    def test_status_json_after_poisoning(self):
        self.start_daemon()
        self.poison_now()
        out = self.ctl("status", "--json")
        # Poisoned: status ends as token does, 4 (log in again).
        self.assertEqual(out.returncode, EXIT_RELOGIN)
        data = json.loads(out.stdout)
        self.assertEqual(set(data), {"auth_method", "logged_in", "requires_login", "account_id", "email",
                                     "plan_type", "refresh_state", "refresh_error", "refresh_error_message",
                                     "last_refresh", "access_token_expires", "next_refresh_attempt",
                                     "credential_store", "store_state", "store_error_message",
                                     "credential_store_reason", "codex_config_error", "pending_login",
                                     "local_token_endpoint", "version", "codex_refreshes_through_daemon"})
        self.assertEqual(data["credential_store_reason"], "daemon setting: file")
        self.assertEqual(data["codex_config_error"], None)
        self.assertEqual(data["refresh_error"], "refresh_token_reused")
        self.assertEqual(data["requires_login"], True)
        self.assertEqual(data["refresh_state"], "poisoned")
        self.assertEqual(data["auth_method"], "chatgpt")
        self.assertEqual(data["logged_in"], True)
        self.assertEqual(data["store_error_message"], None)
        self.assertRegex(data["last_refresh"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        out = self.ctl("token")
        self.assertEqual(out.returncode, EXIT_RELOGIN)
        self.assertIn("already used", out.stderr)
        out = self.ctl("status")
        self.assertEqual(out.returncode, EXIT_RELOGIN)
        self.assertIn("Refresh error: refresh_token_reused", out.stdout)

    def test_token_unavailable(self):
        self.start_daemon("--store", "secret-service")  # no Secret Service on this bus
        out = self.ctl("token")
        self.assertEqual(out.returncode, EXIT_UNAVAILABLE, out.stderr)
        self.assertIn("unavailable", out.stderr)
        out = self.ctl("status")
        self.assertEqual(out.returncode, EXIT_UNAVAILABLE, out.stderr)
        out = self.ctl("unlock")
        self.assertEqual(out.returncode, EXIT_UNAVAILABLE)

    def test_login_api_key_from_stdin_never_in_argv(self):
        self.start_daemon()
        # A key on the command line (where other users can read it) is
        # refused, and nothing is stored.
        out = self.ctl("login", "--api-key=sk-secret-in-argv")
        self.assertEqual(out.returncode, EXIT_USAGE)
        self.assertIn("never taken from the command line", out.stderr)
        self.assertEqual(self.get_auth_status(True, False), ("", "", True))
        proc = subprocess.Popen([os.environ["CODEX_AUTHCTL"], "login", "--api-key"], env=self.env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate("sk-secret-from-stdin\n", timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("Logged in", out)
        self.assertNotIn("sk-secret-from-stdin", out + err)
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-secret-from-stdin", True))
        # Bad input: a clear line, a usage exit code, nothing changed.
        out = self.ctl("login", "--api-key", input="has space\n")
        self.assertEqual(out.returncode, EXIT_USAGE)
        self.assertIn("whitespace", out.stderr)
        out = self.ctl("login", "--api-key", input="\n")
        self.assertEqual(out.returncode, EXIT_USAGE)
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-secret-from-stdin")

    def run_on_terminal(self, args, typed=None, env=None):
        """Runs codex-authctl on a pseudo-terminal; returns (status, screen)."""
        import pty
        import select
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(os.environ["CODEX_AUTHCTL"], [os.environ["CODEX_AUTHCTL"], *args], env or self.env)
        screen = b""
        sent = typed is None
        end = time.monotonic() + 30
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                screen += chunk
            if not sent and b"API key: " in screen:
                time.sleep(0.2)
                os.write(fd, typed.encode() + b"\n")
                sent = True
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")

    def test_prompt_does_not_echo(self):
        self.start_daemon()
        status, screen = self.run_on_terminal(["login", "--api-key"], typed="sk-typed-at-prompt")
        self.assertEqual(status, 0, screen)
        self.assertIn("OpenAI API key: ", screen)
        self.assertNotIn("sk-typed-at-prompt", screen)
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-typed-at-prompt")

    def test_colour_only_on_terminal_without_no_color(self):
        self.write_auth_atomically(apikey_record("sk-colour"))
        self.start_daemon()
        status, screen = self.run_on_terminal(["status"])
        self.assertEqual(status, 0)
        self.assertIn("\033[1m", screen)
        status, screen = self.run_on_terminal(["status"], env=dict(self.env, NO_COLOR="1"))
        self.assertEqual(status, 0)
        self.assertNotIn("\033[", screen)
        self.assertIn("Auth method: apikey", screen)

    def test_login_import(self):
        self.start_daemon()
        path = os.path.join(self.tmp, "import.json")
        record = chatgpt_record(email="file@example.com")
        with open(path, "w") as f:
            json.dump(record, f)
        out = self.ctl("login", "--import", path)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.prop("Email"), "file@example.com")
        self.assertEqual(self.get_auth_status(True, False)[1], record["tokens"]["access_token"])
        out = self.ctl("login", "--import", "-", input=json.dumps(apikey_record("sk-piped")))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-piped")
        for data, expected in [("{not json", "not valid JSON"), ('{"tokens": 5}', '"tokens"'), ("{}", "nothing to import")]:
            out = self.ctl("login", "--import", "-", input=data)
            self.assertEqual(out.returncode, EXIT_USAGE, data)
            self.assertIn(expected, out.stderr)
        out = self.ctl("login", "--import", os.path.join(self.tmp, "missing.json"))
        self.assertEqual(out.returncode, EXIT_USAGE)
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-piped")

    def test_logout_reload_unlock(self):
        self.write_auth_atomically(apikey_record("sk-bye"))
        self.start_daemon()
        out = self.ctl("reload")
        self.assertEqual(out.returncode, 0)
        out = self.ctl("logout")
        self.assertEqual(out.returncode, 0)
        self.assertIn("Logged out", out.stdout)
        self.assertFalse(os.path.exists(self.auth_json))
        out = self.ctl("unlock")
        self.assertEqual(out.returncode, EXIT_UNAVAILABLE)
        self.assertIn("no keyring to unlock", out.stderr)
        with open(self.auth_json, "w") as f:
            f.write("{broken")
        out = self.ctl("reload")
        self.assertEqual(out.returncode, EXIT_ERROR)
        self.assertIn("not valid JSON", out.stderr)

    def test_monitor_prints_changes_in_order(self):
        self.start_daemon()
        mon = subprocess.Popen([os.environ["CODEX_AUTHCTL"], "monitor"], env=self.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        try:
            # A login.
            self.assertEqual(self.ctl("login", "--api-key", input="sk-mon\n").returncode, 0)
            # ChatGPT credentials from the CLI, and a refresh.
            self.write_auth_atomically(chatgpt_record(refresh="rt-m1", access_tag="m1"))
            wait_until(lambda: self.prop("AuthMethod") == "chatgpt", timeout=5, what="chatgpt")
            self.token_server.script([token_response(tag="m2", refresh="rt-m2")])
            self.get_auth_status(True, True)
            # A poisoning.
            self.write_auth_atomically(chatgpt_record(refresh="rt-m3", access_tag="m3", email="p@example.com"))
            wait_until(lambda: self.prop("Email") == "p@example.com", timeout=5, what="the new record")
            self.token_server.script(default={"status": 401, "json": {"error": "refresh_token_expired"}})
            self.get_auth_status(True, True)
            # A logout.
            self.assertEqual(self.ctl("logout").returncode, 0)
            pump(0.5)
        finally:
            mon.send_signal(2)
            out, err = mon.communicate(timeout=20)
        self.assertEqual(mon.returncode, 0, err)
        lines = out.splitlines()
        for line in lines:
            self.assertRegex(line, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \w+=")
        expected = ['AuthMethod="apikey"', 'AuthMethod="chatgpt"', 'RefreshState="refreshing"',
                    'RefreshState="ok"', 'Email="p@example.com"', 'RefreshState="refreshing"',
                    'RefreshState="poisoned"', 'RefreshError="refresh_token_expired"', 'AuthMethod=""']
        text = "\n".join(lines)
        pos = 0
        for item in expected:
            found = text.find(item, pos)
            self.assertGreaterEqual(found, 0, f"{item} missing after position {pos} in:\n{text}")
            pos = found + len(item)

    def test_daemon_not_running(self):
        other = PrivateBus()
        try:
            out = self.ctl("--address", other.address, "status")
            self.assertEqual(out.returncode, EXIT_ERROR)
            self.assertIn("codex-authd is not running", out.stderr)
        finally:
            other.stop()

    def test_activation(self):
        # No daemon running: the bus starts it from its activation file.
        env = {k: self.env[k] for k in ("HOME", "CODEX_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
                                        "XDG_RUNTIME_DIR", "CODEX_REFRESH_TOKEN_URL_OVERRIDE")}
        other = PrivateBus(activatable={"org.codex.Auth1": (f"{self.binary} --store file -v", env)})
        try:
            self.write_auth_atomically(apikey_record("sk-activated"))
            out = self.ctl("--address", other.address, "token")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.strip(), "sk-activated")
            self.assertIn("Serving org.codex.Auth1", other.activation_log("org.codex.Auth1"))
        finally:
            # Checks that the activated daemon exited 0 with the bus, with
            # no sanitizer report.
            other.stop()


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestMethods, TestKeyringMethods, TestStoreSetting, TestCtl]))
