# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration tests of the Secret Service store, with a real
gnome-keyring-daemon on the private bus, and of the configuration file."""

import json
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import (DaemonTestCase, apikey_record, chatgpt_record,  # noqa: E402
                     pump, token_response, wait_until)
from keyring_helper import KeyringFixture, codex_attributes, codex_username  # noqa: E402


def compact(record):
    return json.dumps(record, separators=(",", ":"))


class KeyringTestCase(KeyringFixture, DaemonTestCase):

    @property
    def attrs(self):
        return codex_attributes(self.codex_home)

    def store_item(self, record):
        return self.keyring.store(self.attrs, compact(record))


class TestKeyring(KeyringTestCase):

    def test_codex_item_is_served(self):
        self.store_item(apikey_record("sk-from-keyring"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-from-keyring", True))
        props = self.all_props()
        self.assertEqual(props["CredentialStore"], "secret-service")
        self.assertEqual(props["StoreState"], "ok")
        self.assertFalse(os.path.exists(self.auth_json))

    def test_username_matches_codex(self):
        # The same hash of the real path, even through a symbolic link.
        link = os.path.join(self.tmp, "codex-link")
        os.symlink(self.codex_home, link)
        self.store_item(apikey_record("sk-linked"))
        self.env["CODEX_HOME"] = link
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-linked")
        self.assertEqual(codex_username(link), codex_username(self.codex_home))

    def test_keyring_item_wins_over_file(self):
        self.store_item(apikey_record("sk-keyring"))
        self.write_auth_atomically(apikey_record("sk-file"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-keyring")
        # With store=file only the file counts.
        self.stop_daemon(self.daemons[0][0])
        self.start_daemon("--store", "file")
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-file")
        self.assertEqual(self.prop("CredentialStore"), "file")

    def test_refresh_updates_item_in_place(self):
        record = chatgpt_record(refresh="rt-keyring-1")
        item = self.store_item(record)
        new = token_response(tag="from-keyring-refresh", refresh="rt-keyring-2")
        self.token_server.script([new])
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, True)[1], new["json"]["access_token"])
        wait_until(lambda: json.loads(self.keyring.secret(item))["tokens"]["refresh_token"] == "rt-keyring-2",
                   timeout=5, what="the item to hold the rotated tokens")
        saved = json.loads(self.keyring.secret(item))
        self.assertEqual(saved["tokens"]["access_token"], new["json"]["access_token"])
        self.assertEqual(saved["tokens"]["id_token"], record["tokens"]["id_token"])
        # Same item, exactly Codex's attributes, no duplicate, no auth.json.
        self.assertEqual(self.items(), [item])
        self.assertEqual(self.keyring.attributes(item), self.attrs)
        self.assertFalse(os.path.exists(self.auth_json))
        self.assertEqual(json.loads(self.token_server.requests()[0]["body"])["refresh_token"], "rt-keyring-1")

        # Another instance started afterwards sees the rotated tokens.
        self.stop_daemon(self.daemons[0][0])
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], new["json"]["access_token"])
        # And so does secret-tool, the way a user would look.
        out = subprocess.run(["secret-tool", "lookup", "service", "Codex Auth",
                              "username", codex_username(self.codex_home)],
                             env=self.env, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["tokens"]["refresh_token"], "rt-keyring-2")
        self.assertEqual(self.token_server.count(), 1)

    def test_duplicates_are_removed_on_save(self):
        record = chatgpt_record(refresh="rt-dup")
        first = self.store_item(record)
        second = self.keyring.store(self.attrs, compact(record), replace=False)
        self.assertEqual(len(self.items()), 2, "the keyring did not keep the duplicate")
        self.token_server.script([token_response(tag="dedup")])
        self.start_daemon()
        self.get_auth_status(True, True)
        wait_until(lambda: len(self.items()) == 1, timeout=5, what="the duplicate to be removed")
        self.assertIn(self.items()[0], (first, second))

    def test_external_create_change_delete(self):
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False), ("", "", True))
        self.assertEqual(self.prop("CredentialStore"), "secret-service")
        # The Codex CLI logs in.
        self.clear_signals()
        started = time.monotonic()
        item = self.store_item(apikey_record("sk-created"))
        # The target is a second; the figure is printed, the wait is generous
        # (a loaded machine must not fail the test).
        wait_until(lambda: self.get_auth_status(True, False)[1] == "sk-created", timeout=10,
                   what="the new item")
        print(f"created item noticed after {(time.monotonic() - started) * 1000:.0f} ms")
        pump(0.3)
        self.assertEqual(len(self.signals), 1, self.signals)
        self.assertEqual(self.signals[0][1]["AuthMethod"], "apikey")
        # ... logs in again with another key (CreateItem with replace, as
        # the CLI does: the same item is updated).
        started = time.monotonic()
        self.assertEqual(self.store_item(apikey_record("sk-changed")), item)
        wait_until(lambda: self.get_auth_status(True, False)[1] == "sk-changed", timeout=10,
                   what="the changed item")
        print(f"changed item noticed after {(time.monotonic() - started) * 1000:.0f} ms")
        # ... and logs out.
        started = time.monotonic()
        self.keyring.delete(item)
        wait_until(lambda: self.get_auth_status(True, False) == ("", "", True), timeout=10,
                   what="the deletion")
        print(f"deleted item noticed after {(time.monotonic() - started) * 1000:.0f} ms")

    def test_item_replaced_in_place_is_noticed(self):
        # gnome-keyring says nothing when a writer replaces the secret of an
        # existing item (SetSecret, as the Codex CLI's keyring crate does).
        # The CLI's saves show through its lock file; any other writer's is
        # seen when a token is asked for (nothing polls the item).
        item = self.store_item(chatgpt_record(email="first@example.com"))
        self.start_daemon()
        self.assertEqual(self.prop("Email"), "first@example.com")
        lock = os.path.join(self.codex_home, "auth.json.lock")
        for n, as_cli in enumerate((True, True, True, False)):
            pump(0.7 * n)
            self.clear_signals()
            started = time.monotonic()
            email = f"replaced-{n}@example.com"
            secret = compact(chatgpt_record(email=email, refresh=f"rt-{n}"))
            if as_cli:
                # The Codex CLI holds auth.json.lock (opened for writing)
                # around every save, to the keyring too.
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
                self.keyring.set_secret(item, secret)
                os.close(fd)
                # No call is made: only PropertiesChanged tells. The figure
                # is printed; the wait is generous.
                wait_until(lambda: any(changed.get("Email") == email for _, changed, _ in self.signals),
                           timeout=10, what="PropertiesChanged with the new Email")
                print(f"item replaced in place (by the CLI): PropertiesChanged after "
                      f"{(time.monotonic() - started) * 1000:.0f} ms")
                continue
            self.keyring.set_secret(item, secret)
            pump(2.0)
            self.assertFalse(any(changed.get("Email") == email for _, changed, _ in self.signals),
                             "an unannounced change was seen without a call: something polls")
            # A token asked for: the item (read over a second ago) is read
            # again first, and the change is announced.
            self.assertNotEqual(self.get_auth_status(True, False)[1], "")
            wait_until(lambda: any(changed.get("Email") == email for _, changed, _ in self.signals),
                       timeout=5, what="PropertiesChanged with the new Email after the call")
            self.assertEqual(self.prop("Email"), email)

    def test_no_stale_token_after_replacement(self):
        item = self.store_item(apikey_record("sk-0"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-0")
        for n in range(1, 4):
            # Once the daemon's polls have settled (its last read of the
            # item is over a second old), the item is replaced in place and a
            # token asked for at once: the item is read again first.
            time.sleep(3.2)
            self.keyring.set_secret(item, compact(apikey_record(f"sk-{n}")))
            self.assertEqual(self.get_auth_status(True, False)[1], f"sk-{n}")

    def test_cli_item_keeps_its_label(self):
        self.store_item(chatgpt_record(refresh="rt-labelled"))
        self.start_daemon()
        self.token_server.script([token_response(refresh="rt-after")])
        self.assertEqual(self.get_auth_status(True, True)[0], "chatgpt")
        wait_until(lambda: json.loads(self.keyring.secret(self.items()[0]))["tokens"]["refresh_token"]
                   == "rt-after", timeout=5, what="the refreshed item")
        self.assertEqual(self.keyring.label(self.items()[0]), "cli@Codex Auth:default (keyring v3.6.3)")

    def test_external_change_clears_poison(self):
        item = self.store_item(chatgpt_record(refresh="rt-doomed"))
        self.token_server.script(default={"status": 401, "json": {"error": "refresh_token_reused"}})
        self.start_daemon()
        self.get_auth_status(True, True)
        self.assertEqual(self.prop("RefreshState"), "poisoned")
        fresh = chatgpt_record(refresh="rt-relogin", access_tag="relogin")
        self.assertEqual(self.store_item(fresh), item)
        wait_until(lambda: self.prop("RefreshState") == "ok", timeout=10, what="the poison to clear")
        self.assertEqual(self.get_auth_status(True, False)[1], fresh["tokens"]["access_token"])

    def test_locked_at_start(self):
        self.store_item(apikey_record("sk-locked"))
        self.keyring.lock()
        started = time.monotonic()
        self.start_daemon()
        self.assertEqual(self.prop("StoreState"), "locked")
        elapsed = time.monotonic() - started
        print(f"started against a locked keyring in {elapsed:.2f} s")
        self.assertLess(elapsed, 10, "waited for a prompt")
        self.assertEqual(self.get_auth_status(True, False), ("", "", True))
        self.assertIn("locked", self.details()["store-error-message"])
        # Nothing was read: unlocking is what is needed, not a new login.
        self.assertEqual(self.prop("RequiresLogin"), False)
        # Unlocked through the Secret Service (the daemon is replaced by an
        # unlocked one): picked up without a restart.
        self.keyring.unlock()
        wait_until(lambda: self.get_auth_status(True, False)[1] == "sk-locked", timeout=5,
                   what="the item after unlocking")
        self.assertEqual(self.prop("StoreState"), "ok")

    def test_locked_while_running_keeps_serving(self):
        self.store_item(apikey_record("sk-held"))
        self.start_daemon()
        self.keyring.lock()
        wait_until(lambda: self.prop("StoreState") == "locked", timeout=10, what="StoreState=locked")
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-held", True))
        # UnlockStore cannot show a prompt here: it fails quickly, it does
        # not hang.
        started = time.monotonic()
        name, message = self.call_error("UnlockStore")
        self.assertEqual(name, "org.codex.Auth1.Error.StoreLocked")
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual(self.prop("StoreState"), "locked")

    def test_unlock_store_when_unlocked(self):
        self.store_item(apikey_record("sk-open"))
        self.start_daemon()
        self.assertEqual(self.call("UnlockStore"), ())
        self.assertEqual(self.prop("StoreState"), "ok")

    def test_keyring_restart_is_recovered(self):
        self.store_item(apikey_record("sk-survivor"))
        self.start_daemon()
        self.keyring.kill()
        wait_until(lambda: self.prop("StoreState") == "unavailable", timeout=5, what="StoreState=unavailable")
        # Still serving what it holds.
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-survivor", True))
        self.keyring.start()
        wait_until(lambda: self.prop("StoreState") == "ok", timeout=5, what="the keyring to be back")
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-survivor")
        self.assertEqual(self.prop("CredentialStore"), "secret-service")

    def test_failed_save_keeps_rotated_token(self):
        item = self.store_item(chatgpt_record(refresh="rt-a"))
        first = token_response(tag="first", refresh="rt-b")
        self.token_server.script([first])
        self.start_daemon()
        self.keyring.lock()
        wait_until(lambda: self.prop("StoreState") == "locked", timeout=10, what="StoreState=locked")
        # The refresh still happens; the save fails on the locked keyring.
        self.assertEqual(self.get_auth_status(True, True)[1], first["json"]["access_token"])
        self.assertIn(self.prop("StoreState"), ("locked", "error"))
        self.assertIn("Cannot save", self.details()["store-error-message"])
        self.assertEqual(self.get_auth_status(True, False)[1], first["json"]["access_token"])
        # The rotated token waits in a rescue copy in the session's runtime
        # directory (a tmpfs), never on disk: the user chose the keyring.
        on_disk = os.path.join(self.tmp, "state", "codex-authd", "rescue-copy.json")
        in_runtime = os.path.join(self.env["XDG_RUNTIME_DIR"], "codex-authd", "rescue-copy.json")
        wait_until(lambda: os.path.exists(in_runtime), timeout=5, what="the rescue copy")
        self.assertEqual(stat.S_IMODE(os.stat(in_runtime).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(in_runtime)).st_mode), 0o700)
        self.assertFalse(os.path.exists(on_disk), "refreshed tokens bound for the keyring were written to disk")
        state_dir = os.path.dirname(on_disk)
        if os.path.isdir(state_dir):
            for name in os.listdir(state_dir):
                with open(os.path.join(state_dir, name), errors="replace") as f:
                    self.assertNotIn("rt-b", f.read(), name)
        # Unlocked: the save is retried and the item gets the rotated token.
        self.keyring.unlock()
        wait_until(lambda: self.prop("StoreState") == "ok", timeout=30, what="the save to be retried")
        wait_until(lambda: not os.path.exists(in_runtime), timeout=5, what="the rescue copy to go once saved")
        saved = json.loads(self.keyring.secret(self.items()[0]))
        self.assertEqual(saved["tokens"]["refresh_token"], "rt-b")
        self.assertEqual(self.items(), [item])
        self.assertEqual(self.token_server.count(), 1)

    def test_removed_file_is_named_as_such(self):
        # Auto mode with a running keyring and no item: the login is in
        # auth.json. When the CLI removes it, the log says what was looked
        # at, not that a Secret Service item was removed.
        self.write_auth_atomically(apikey_record("sk-file"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-file")
        os.unlink(self.auth_json)
        wait_until(lambda: self.get_auth_status(True, False) == ("", "", True), timeout=5, what="the removal")
        log = self.daemon_log()
        self.assertIn("No credentials are stored any more (in the Secret Service item", log)
        self.assertIn("auth.json)", log)
        self.assertNotIn("item was removed", log)


class TestNoKeyring(KeyringTestCase):
    start_keyring = False

    def test_auto_falls_back_to_file(self):
        self.write_auth_atomically(apikey_record("sk-file-only"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-file-only")
        props = self.all_props()
        self.assertEqual(props["CredentialStore"], "file")
        self.assertEqual(props["StoreState"], "ok")

    def test_forced_secret_service_unavailable(self):
        self.write_auth_atomically(apikey_record("sk-ignored"))
        started = time.monotonic()
        self.start_daemon("--store", "secret-service")
        props = self.all_props()
        self.assertEqual(props["StoreState"], "unavailable")
        self.assertEqual(props["CredentialStore"], "secret-service")
        self.assertEqual(props["AuthMethod"], "")
        self.assertLess(time.monotonic() - started, 10)
        name, _ = self.call_error("UnlockStore")
        self.assertEqual(name, "org.codex.Auth1.Error.StoreUnavailable")
        # A keyring that appears later is used without a restart.
        self.keyring.start()
        self.keyring.store(self.attrs, compact(apikey_record("sk-late-keyring")))
        wait_until(lambda: self.get_auth_status(True, False)[1] == "sk-late-keyring", timeout=5,
                   what="the late keyring")
        self.assertEqual(self.prop("StoreState"), "ok")


class TestConfig(KeyringTestCase):
    start_keyring = False

    @property
    def config_file(self):
        return os.path.join(self.tmp, "config", "codex-authd", "codex-authd.conf")

    def write_config(self, text):
        os.makedirs(os.path.dirname(self.config_file), exist_ok=True)
        with open(self.config_file, "w") as f:
            f.write(text)

    def run_daemon(self, *args):
        return subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True, timeout=30)

    def test_config_file_is_used(self):
        other = os.path.join(self.tmp, "other-codex")
        os.makedirs(other)
        with open(os.path.join(other, "auth.json"), "w") as f:
            json.dump(apikey_record("sk-from-config-home"), f)
        self.write_config(f"[daemon]\nstore=file\ncodex-home={other}\nrequest-timeout=5\nidle-timeout=300\n")
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-from-config-home")
        # CODEX_HOME is set by the harness: overridden, and the log says so.
        self.assertIn("CODEX_HOME is set, but codex-home from", self.daemon_log())

    def test_command_line_beats_config(self):
        other = os.path.join(self.tmp, "other-codex")
        os.makedirs(other)
        self.write_config(f"[daemon]\ncodex-home={other}\n")
        self.write_auth_atomically(apikey_record("sk-cli-home"))
        self.start_daemon("--codex-home", self.codex_home)
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-cli-home")

    def test_environment_used_without_config(self):
        self.write_auth_atomically(apikey_record("sk-env-home"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-env-home")
        self.assertNotIn("is set, but", self.daemon_log())

    def test_config_token_url_beats_environment(self):
        self.write_config(f"[daemon]\ntoken-url={self.token_server.url}\n")
        self.env["CODEX_REFRESH_TOKEN_URL_OVERRIDE"] = "http://127.0.0.1:9/never"
        self.write_auth_atomically(chatgpt_record())
        self.token_server.script([token_response(tag="via-config-url")])
        self.start_daemon()
        self.get_auth_status(True, True)
        self.assertEqual(self.token_server.count(), 1)
        self.assertIn("CODEX_REFRESH_TOKEN_URL_OVERRIDE is set, but token-url from", self.daemon_log())

    def test_bad_config(self):
        cases = [
            ("[daemon]\nstorage=file\n", "unknown key \"storage\""),
            ("[daemon]\nstore=cloud\n", "store must be auto, secret-service or file"),
            ("[daemon]\nrequest-timeout=0\n", "request-timeout must be a whole number of seconds from 1 to 600"),
            ("[daemon]\nrequest-timeout=ten\n", "request-timeout"),
            ("[daemon]\nidle-timeout=-5\n", "idle-timeout"),
            ("[daemon]\ncodex-home=relative/path\n", "codex-home must be an absolute path"),
            ("[daemon]\ntoken-url=http://example.com/token\n", "token-url: Invalid URL"),
            ("[other]\nstore=file\n", "unknown group [other]"),
            ("this is not a key file\n", ""),
        ]
        for text, expected in cases:
            with self.subTest(config=text):
                self.write_config(text)
                out = self.run_daemon()
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn(expected, out.stderr)
                self.assertIn(self.config_file, out.stderr)

    def test_bad_options(self):
        for args, expected in [(["--store", "cloud"], "--store"),
                               (["--request-timeout", "700"], "--request-timeout")]:
            out = self.run_daemon(*args)
            self.assertEqual(out.returncode, 2)
            self.assertIn(expected, out.stderr)

    def test_config_option_path(self):
        path = os.path.join(self.tmp, "elsewhere.conf")
        with open(path, "w") as f:
            f.write("[daemon]\nunknown=1\n")
        out = self.run_daemon("--config", path)
        self.assertEqual(out.returncode, 2)
        self.assertIn(path, out.stderr)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestKeyring, TestNoKeyring, TestConfig]))
