# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration tests: the built daemon on a private bus, file store only."""

import json
import os
import shutil
import tempfile
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import Gio, GLib  # noqa: E402

import harness  # noqa: E402
from harness import (DaemonTestCase, PrivateBus, apikey_record, chatgpt_record,  # noqa: E402
                     wait_until, pump, INTERFACE)

INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"

# The properties of the contract (DESIGN §2), with their D-Bus types.
CONTRACT_PROPERTIES = {
    "AuthMethod": "s", "AccountId": "s", "Email": "s", "PlanType": "s",
    "RefreshState": "s", "RefreshError": "s", "RefreshErrorMessage": "s",
    "RequiresLogin": "b", "LastRefresh": "t", "AccessTokenExpires": "t", "PendingLogin": "s",
    "NextRefreshAttempt": "t", "CredentialStore": "s", "StoreState": "s",
    "Version": "s",
}


def interface_shape(xml_text):
    """Methods (with args) and properties of org.codex.Auth1 from introspection XML."""
    root = ET.fromstring(xml_text)
    iface = [i for i in root.findall("interface") if i.get("name") == INTERFACE]
    assert len(iface) == 1, "org.codex.Auth1 missing from the XML"
    iface = iface[0]
    methods = {}
    for m in iface.findall("method"):
        methods[m.get("name")] = [(a.get("name"), a.get("type"), a.get("direction", "in"))
                                  for a in m.findall("arg")]
    props = {}
    for p in iface.findall("property"):
        emits = "true"  # the D-Bus default when the annotation is absent
        for a in p.findall("annotation"):
            if a.get("name") == "org.freedesktop.DBus.Property.EmitsChangedSignal":
                emits = a.get("value")
        props[p.get("name")] = (p.get("type"), p.get("access"), emits)
    signals = {s.get("name"): [(a.get("name"), a.get("type")) for a in s.findall("arg")]
               for s in iface.findall("signal")}
    return methods, props, signals


class TestBus(DaemonTestCase):

    # -- the interface -----------------------------------------------------

    def test_introspection_matches_xml(self):
        self.start_daemon()
        live = self.call("Introspect", None, iface="org.freedesktop.DBus.Introspectable")[0]
        with open(os.environ["CODEX_AUTHD_XML"]) as f:
            documented = f.read()
        live_shape = interface_shape(live)
        doc_shape = interface_shape(documented)
        self.assertEqual(live_shape[0], doc_shape[0], "methods differ")
        self.assertEqual(live_shape[1], doc_shape[1], "properties differ")
        self.assertEqual(live_shape[2], doc_shape[2], "signals differ")
        # Every property of the contract, read-only, emitting changes;
        # who is signed in is announced by name only (not broadcast to
        # peers the filter refuses); Version never changes and says so.
        identity = {"AuthMethod", "AccountId", "Email", "PlanType"}
        for name, sig in CONTRACT_PROPERTIES.items():
            emits = "const" if name == "Version" else "invalidates" if name in identity else "true"
            self.assertEqual(live_shape[1].get(name), (sig, "read", emits), name)

    def test_xml_documents_everything(self):
        # Every method, argument and property carries a doc comment.
        with open(os.environ["CODEX_AUTHD_XML"]) as f:
            text = f.read()
        methods, props, _ = interface_shape(text)
        for name, args in methods.items():
            self.assertIn(f"{name}:", text, f"method {name} has no doc comment")
            for arg_name, _, _ in args:
                self.assertIn(f"@{arg_name}:", text, f"argument {name}.{arg_name} undocumented")
        for name in props:
            self.assertIn(f"{name}:", text, f"property {name} has no doc comment")

    # -- GetAuthStatus -----------------------------------------------------

    def test_apikey_status(self):
        self.write_auth_atomically(apikey_record("sk-live-abc"))
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-live-abc", True))
        self.assertEqual(self.get_auth_status(False, False), ("apikey", "", True))
        # API-key auth ignores refresh_token.
        self.assertEqual(self.get_auth_status(True, True), ("apikey", "sk-live-abc", True))
        props = self.all_props()
        self.assertEqual(props["AuthMethod"], "apikey")
        self.assertEqual(props["RequiresLogin"], False)
        self.assertEqual(props["RefreshState"], "none")
        self.assertEqual(props["CredentialStore"], "file")
        self.assertEqual(props["StoreState"], "ok")
        self.assertEqual(props["Email"], "")
        self.assertEqual(props["AccessTokenExpires"], 0)

    def test_chatgpt_status_and_claims(self):
        record = chatgpt_record(email="ada@example.com", plan="pro", account="acc-9",
                                access_exp=1893456000, last_refresh="2026-11-01T12:00:00Z")
        self.write_auth_atomically(record)
        self.start_daemon()
        access = record["tokens"]["access_token"]
        self.assertEqual(self.get_auth_status(True, False), ("chatgpt", access, True))
        self.assertEqual(self.get_auth_status(False, False), ("chatgpt", "", True))
        props = self.all_props()
        self.assertEqual(props["AuthMethod"], "chatgpt")
        self.assertEqual(props["Email"], "ada@example.com")
        self.assertEqual(props["PlanType"], "pro")
        self.assertEqual(props["AccountId"], "acc-9")
        self.assertEqual(props["RefreshState"], "ok")
        self.assertEqual(props["RefreshError"], "")
        self.assertEqual(props["RefreshErrorMessage"], "")
        self.assertEqual(props["RequiresLogin"], False)
        self.assertEqual(props["AccessTokenExpires"], 1893456000 * 1000000)
        self.assertEqual(props["LastRefresh"], 1793534400 * 1000000)
        self.assertEqual(props["NextRefreshAttempt"], 0)

    def test_no_credentials(self):
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, True), ("", "", True))
        props = self.all_props()
        self.assertEqual(props["AuthMethod"], "")
        self.assertEqual(props["RequiresLogin"], True)
        self.assertEqual(props["RefreshState"], "none")
        self.assertEqual(props["StoreState"], "ok")
        self.assertEqual(props["LastRefresh"], 0)

    def test_missing_codex_home(self):
        # CODEX_HOME does not exist yet (never logged in): served as "no
        # credentials", and a login that creates it is picked up.
        os.rmdir(self.codex_home)
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, False), ("", "", True))
        self.assertEqual(self.prop("StoreState"), "ok")
        os.makedirs(self.codex_home, mode=0o700)
        self.write_auth_atomically(apikey_record("sk-late"))
        start = time.monotonic()
        wait_until(lambda: self.get_auth_status(True, False)[1] == "sk-late", timeout=5,
                   what="the new CODEX_HOME to be noticed")
        print(f"new CODEX_HOME noticed after {(time.monotonic() - start) * 1000:.0f} ms")
        # Removed and created again (a logout that deletes the directory).
        os.unlink(self.auth_json)
        os.rmdir(self.codex_home)
        wait_until(lambda: self.get_auth_status()[0] == "", timeout=5, what="the removal")
        os.makedirs(self.codex_home, mode=0o700)
        self.write_auth_atomically(apikey_record("sk-again"))
        wait_until(lambda: self.get_auth_status(True, False)[1] == "sk-again", timeout=5,
                   what="the recreated CODEX_HOME to be noticed")

    def test_codex_ephemeral_store_is_understood(self):
        """cli_auth_credentials_store = "ephemeral": the CLI keeps its login
        in memory; the daemon says so and keeps its own in auth.json."""
        self.write_codex_config("ephemeral")
        self.write_auth_atomically(apikey_record("sk-own"))
        self.start_daemon()
        self.assertEqual(self.prop("CredentialStore"), "file")
        self.assertIn("ephemeral", self.prop("CredentialStoreReason"))
        self.assertEqual(self.details()["codex-config-error"], "")
        self.assertEqual(self.get_auth_status(True, False)[1], "sk-own")

    def test_details(self):
        record = chatgpt_record()
        self.write_auth_atomically(record)
        self.start_daemon()
        d = self.details()
        expected_keys = {"auth-method", "auth-token", "requires-openai-auth", "store-error-message",
                         "account-id", "email", "plan-type", "refresh-state", "refresh-error",
                         "refresh-error-message", "requires-login", "last-refresh",
                         "access-token-expires", "next-refresh-attempt", "credential-store",
                         "store-state", "credential-store-reason", "codex-config-error", "pending-login",
                         "local-token-endpoint",
                         "version"}
        self.assertEqual(set(d), expected_keys)
        self.assertEqual(d["auth-token"], "")
        self.assertEqual(d["auth-method"], "chatgpt")
        self.assertEqual(d["requires-openai-auth"], True)
        self.assertEqual(d["email"], "user@example.com")
        # Each key matches its property.
        props = self.all_props()
        for name, value in props.items():
            key = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
            self.assertEqual(d[key], value, key)
        d = self.details(include_token=True, refresh_token=False)
        self.assertEqual(d["auth-token"], record["tokens"]["access_token"])

    # -- changes on disk ---------------------------------------------------

    def test_rename_emits_one_properties_changed(self):
        self.write_auth_atomically(apikey_record("sk-before"))
        self.start_daemon()
        self.clear_signals()
        record = chatgpt_record(email="new@example.com", plan="team", account="acc-new")
        written_at = time.monotonic()
        self.write_auth_atomically(record)
        wait_until(lambda: self.signals, timeout=5, what="PropertiesChanged")
        latency = self.signals[0][0] - written_at
        print(f"PropertiesChanged {latency * 1000:.0f} ms after the rename")
        pump(1.0)  # anything more would arrive now
        self.assertEqual(len(self.signals), 1, self.signals)
        _, changed, invalidated = self.signals[0]
        # Who is signed in is named without its value (read with Get by
        # the harness, as clients do).
        self.assertEqual(sorted(invalidated), ["AccountId", "AuthMethod", "Email", "PlanType"])
        self.assertEqual(changed, {
            "AuthMethod": "chatgpt",
            "Email": "new@example.com",
            "PlanType": "team",
            "AccountId": "acc-new",
            "RefreshState": "ok",
            "LastRefresh": 1793534400 * 1000000,
            "AccessTokenExpires": 1893456000 * 1000000,
        })
        self.assertEqual(self.get_auth_status(True, False),
                         ("chatgpt", record["tokens"]["access_token"], True))

    def test_token_change_only(self):
        # Only the token changed: no property differs, so no signal, but
        # the new token is served.
        first = chatgpt_record(access_tag="one")
        self.write_auth_atomically(first)
        self.start_daemon()
        self.clear_signals()
        second = chatgpt_record(access_tag="two")
        self.write_auth_atomically(second)
        wait_until(lambda: self.get_auth_status(True, False)[1] == second["tokens"]["access_token"],
                   timeout=5, what="the new access token")
        pump(0.5)
        self.assertEqual(self.signals, [])

    def test_byte_identical_rewrite_is_quiet(self):
        self.write_auth_atomically(chatgpt_record())
        self.start_daemon()
        self.clear_signals()
        reads_before = self.daemon_log().count("auth.json changed on disk")
        self.write_auth_atomically(chatgpt_record())
        # The rewrite was seen and read (the watch works)...
        wait_until(lambda: self.daemon_log().count("auth.json changed on disk") > reads_before, timeout=5,
                   what="the rewrite to be read")
        pump(1.0)
        # ... and, the credentials being the same, nothing was announced.
        self.assertEqual(self.signals, [])
        self.assertEqual(self.prop("AuthMethod"), "chatgpt")
        # A real change after it is announced: the watch is still alive.
        self.write_auth_atomically(chatgpt_record(email="changed@example.com"))
        wait_until(lambda: any(c.get("Email") == "changed@example.com" for _, c, _ in self.signals), timeout=5,
                   what="the change after the quiet rewrite")

    def test_delete_clears_credentials(self):
        self.write_auth_atomically(apikey_record())
        self.start_daemon()
        self.clear_signals()
        os.unlink(self.auth_json)
        wait_until(lambda: self.signals, timeout=5, what="PropertiesChanged")
        pump(0.5)
        self.assertEqual(len(self.signals), 1)
        self.assertEqual(self.signals[0][1], {"AuthMethod": "", "RequiresLogin": True})
        self.assertEqual(self.get_auth_status(True, False), ("", "", True))

    def test_in_place_write_is_noticed(self):
        # Not every writer renames; an in-place rewrite is noticed too.
        self.write_auth_atomically(apikey_record("sk-one"))
        self.start_daemon()
        with open(self.auth_json, "w") as f:
            json.dump(apikey_record("sk-two"), f)
        wait_until(lambda: self.get_auth_status(True, False)[1] == "sk-two", timeout=5,
                   what="the in-place write")

    def test_malformed_file_at_start(self):
        with open(self.auth_json, "w") as f:
            f.write('{"auth_mode": "chatgpt", "tokens": {"id_token": 12')
        self.start_daemon()
        self.assertEqual(self.prop("StoreState"), "error")
        self.assertEqual(self.get_auth_status(True, False), ("", "", True))
        message = self.details()["store-error-message"]
        self.assertIn("auth.json", message)
        self.assertIn("not valid JSON", message)
        name, msg = self.call_error("Reload")
        self.assertEqual(name, "org.codex.Auth1.Error.StoreError")
        self.assertIn("not valid JSON", msg)
        self.assertIn("not valid JSON", self.daemon_log())
        # Fixed: back to ok, one PropertiesChanged.
        self.clear_signals()
        self.write_auth_atomically(apikey_record("sk-fixed"))
        wait_until(lambda: self.signals, timeout=5, what="PropertiesChanged")
        self.assertEqual(self.signals[0][1], {"AuthMethod": "apikey", "RequiresLogin": False,
                                              "StoreState": "ok"})
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-fixed", True))

    def test_tokens_go_out_byte_for_byte(self):
        """Tokens are appended past sd-bus's own UTF-8 check (the daemon
        checks them itself, ASCII eight bytes at a time): every length
        around the eight-byte steps, and a key beyond ASCII, come back
        exactly as stored, from both methods."""
        keys = ["sk-" + "k" * n for n in range(0, 18)] + ["sk-é-ключ-鍵-\U0001f511", "x" * 4099]
        self.write_auth_atomically(apikey_record(keys[0]))
        self.start_daemon()
        for key in keys:
            with self.subTest(length=len(key.encode())):
                self.write_auth_atomically(apikey_record(key))
                wait_until(lambda: self.get_auth_status(True, False)[1] == key, timeout=5,
                           what="the new key served")
                self.assertEqual(self.details(include_token=True)["auth-token"], key)

    def test_malformed_file_keeps_what_it_had(self):
        self.write_auth_atomically(apikey_record("sk-good"))
        self.start_daemon()
        cases = [
            b'{"OPENAI_API_KEY": 42}',                         # wrong type
            b'{"tokens": {"id_token": "not-a-jwt", "access_token": "a", "refresh_token": "r"}}',
            b'\xff\xfe{}',                                     # invalid UTF-8
            b'[]',                                             # not an object
            b'{' + b' ' * (1024 * 1024 + 10) + b'}',           # over 1 MiB
            b'{"x":' + b'[' * 100000 + b']' * 100000 + b'}',   # nested deep enough to overflow a parser
        ]
        for data in cases:
            with self.subTest(data=data[:40]):
                self.write_auth_atomically(data)
                wait_until(lambda: self.prop("StoreState") == "error", timeout=5,
                           what="StoreState=error")
                # Still running, still serving the credentials read before.
                self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-good", True))
                self.write_auth_atomically(apikey_record("sk-good"))
                wait_until(lambda: self.prop("StoreState") == "ok", timeout=5, what="StoreState=ok")

    def test_unsupported_mode(self):
        record = {"auth_mode": "somethingNew", "tokens": {"opaque": True}}
        self.write_auth_atomically(record)
        self.start_daemon()
        self.assertEqual(self.get_auth_status(True, True), ("", "", True))
        self.assertEqual(self.prop("StoreState"), "ok")
        self.assertEqual(self.prop("RequiresLogin"), True)
        self.assertIn("somethingNew", self.daemon_log())
        # Never rewritten.
        with open(self.auth_json) as f:
            self.assertEqual(json.load(f), record)

    def test_reload_method(self):
        self.start_daemon()
        self.assertIsNone(self.call("Reload") or None)
        self.write_auth_atomically(apikey_record("sk-reloaded"))
        self.call("Reload")
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-reloaded", True))
        # Many at once: every one is answered, after a read that began
        # after it arrived.
        results = []
        for _ in range(50):
            self.conn.call(harness.BUS_NAME, harness.OBJECT_PATH, INTERFACE, "Reload", None, None,
                           Gio.DBusCallFlags.NONE, 10000, None,
                           lambda c, res: results.append(c.call_finish(res)))
        self.write_auth_atomically(apikey_record("sk-during"))
        wait_until(lambda: len(results) == 50, timeout=10, what="50 Reload replies")
        self.call("Reload")
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-during", True))

    # -- bad callers -------------------------------------------------------

    def test_invalid_args(self):
        self.start_daemon()
        cases = [
            ("GetAuthStatus", GLib.Variant("(ss)", ("a", "b"))),
            ("GetAuthStatus", GLib.Variant("(b)", (True,))),
            ("GetAuthStatus", None),
            ("GetAuthStatusDetails", GLib.Variant("(b)", (True,))),
            ("GetAuthStatusDetails", GLib.Variant("(a{sv})", ({"include-tokens": GLib.Variant("b", True)},))),
            ("GetAuthStatusDetails", GLib.Variant("(a{sv})", ({"include-token": GLib.Variant("s", "yes")},))),
            ("Reload", GLib.Variant("(s)", ("x",))),
        ]
        for method, params in cases:
            with self.subTest(method=method, params=params):
                name, message = self.call_error(method, params)
                self.assertEqual(name, INVALID_ARGS)
                self.assertTrue(message)
        name, message = self.call_error("GetAuthStatusDetails", GLib.Variant(
            "(a{sv})", ({"include-tokens": GLib.Variant("b", True)},)))
        self.assertIn("include-tokens", message)
        name, message = self.call_error("GetAuthStatusDetails", GLib.Variant(
            "(a{sv})", ({"refresh-token": GLib.Variant("i", 1)},)))
        self.assertIn("refresh-token", message)
        # Still serving.
        self.assertEqual(self.get_auth_status(), ("", "", True))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run a caller under another UID")
    def test_other_uid_is_refused(self):
        self.write_auth_atomically(apikey_record("sk-private"))
        self.start_daemon()
        script = r"""
import sys
from gi.repository import Gio, GLib
conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
calls = [("org.codex.Auth1", "GetAuthStatus", GLib.Variant("(bb)", (True, False))),
         ("org.freedesktop.DBus.Properties", "GetAll", GLib.Variant("(s)", ("org.codex.Auth1",))),
         ("org.freedesktop.DBus.Properties", "Get", GLib.Variant("(ss)", ("org.codex.Auth1", "Email"))),
         ("org.freedesktop.DBus.Introspectable", "Introspect", None),
         ("org.codex.Auth1", "Reload", None)]
for iface, method, params in calls:
    try:
        r = conn.call_sync("org.codex.Auth1", "/org/codex/Auth1", iface, method, params, None, 0, 5000, None)
        print("OK", method, r)
    except GLib.Error as e:
        print("ERR", method, Gio.DBusError.get_remote_error(e), e.message)
conn.call_sync("org.codex.Auth1", "/org/codex/Auth1", "org.freedesktop.DBus.Peer", "Ping", None, None, 0, 5000, None)
print("PING")
"""
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              sys.executable, "-c", script, self.bus.address],
                             capture_output=True, text=True, timeout=60,
                             env={"PATH": os.environ["PATH"], "HOME": "/"})
        print(out.stdout, out.stderr)
        lines = out.stdout.strip().splitlines()
        self.assertEqual(len(lines), 6, out)
        for line in lines[:5]:
            self.assertTrue(line.startswith("ERR "), line)
            self.assertIn("org.codex.Auth1.Error.AccessDenied", line)
            self.assertIn("UID 65534", line)
        self.assertNotIn("sk-private", out.stdout)
        self.assertEqual(lines[5], "PING")
        # The owner is still served.
        self.assertEqual(self.get_auth_status(True, False), ("apikey", "sk-private", True))

    def test_failed_uid_lookup_is_not_remembered(self):
        """When the bus cannot say a caller's UID, its call is refused, but
        the next call asks again instead of refusing for the connection's
        life."""
        self.write_auth_atomically(apikey_record("sk-lookup"))
        self.start_daemon()
        deny = ('\n    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"'
                ' send_member="GetConnectionUnixUser"/>')
        # A connection the daemon has not seen (the harness's own may have
        # been looked up already, reading announced properties).
        fresh = self.bus.connect()
        call = lambda: fresh.call_sync(harness.BUS_NAME, harness.OBJECT_PATH, INTERFACE, "GetAuthStatus",  # noqa: E731
                                       GLib.Variant("(bb)", (True, False)), None, Gio.DBusCallFlags.NONE, 10000,
                                       None).unpack()
        self.bus.set_policy(self.conn, deny)
        try:
            with self.assertRaises(GLib.Error) as caught:
                call()
            self.assertEqual(Gio.DBusError.get_remote_error(caught.exception), "org.codex.Auth1.Error.AccessDenied")
        finally:
            self.bus.set_policy(self.conn, "")
        self.assertEqual(call()[:3], ("apikey", "sk-lookup", True))
        fresh.close_sync(None)

    # -- process -----------------------------------------------------------

    def test_not_dumpable(self):
        """No core dump (or ptrace by the user's other processes) can read
        the tokens: the kernel gives a non-dumpable process's /proc files to
        root, which shows when the daemon runs as another user."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run the daemon as another user")
        home = tempfile.mkdtemp(prefix="codex-authd-nobody-")  # reachable by nobody, unlike self.tmp
        self.addCleanup(shutil.rmtree, home, True)
        os.chown(home, 65534, 65534)
        env = dict(self.env, HOME=home, CODEX_HOME=os.path.join(home, ".codex"),
                   XDG_STATE_HOME=os.path.join(home, "state"), XDG_CONFIG_HOME=os.path.join(home, "config"))
        log = os.path.join(self.tmp, "nobody.log")
        with open(log, "w") as logf:
            proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                     self.binary, "--verbose", "--store", "file"],
                                    env=env, stdout=logf, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: self.name_has_owner() or proc.poll() is not None, timeout=10,
                       what="the daemon running as nobody")
            self.assertIsNone(proc.poll(), open(log).read())
            with open(f"/proc/{proc.pid}/status") as f:
                uids = [line.split()[1] for line in f if line.startswith("Uid:")]
            self.assertEqual(uids, ["65534"])
            self.assertEqual(os.stat(f"/proc/{proc.pid}/status").st_uid, 0, "the daemon is dumpable")
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    def test_second_instance_and_replace(self):
        first = self.start_daemon()
        second = self.start_daemon(wait=False)
        second.expected_returncode = 1
        second.wait(timeout=20)
        self.assertEqual(second.returncode, 1)
        self.assertIn("--replace", self.daemon_log(1))
        self.assertIsNone(first.poll())
        third = self.start_daemon("--replace", wait=False)
        first.wait(timeout=20)
        self.assertEqual(first.returncode, 0)
        self.assertIn("took over", self.daemon_log(0))
        wait_until(lambda: self.name_has_owner(), what="the replacement to own the name")
        self.assertEqual(self.get_auth_status(), ("", "", True))
        self.assertIsNone(third.poll())

    def test_version_and_bad_option(self):
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, env=self.env)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"^codex-authd \d+\.\d+\.\d+\n$")
        out = subprocess.run([self.binary, "--no-such-option"], capture_output=True, text=True, env=self.env)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--no-such-option", out.stderr)

    def test_no_secret_in_logs(self):
        record = chatgpt_record(refresh="rt-must-not-leak")
        self.write_auth_atomically(record)
        self.start_daemon()
        self.get_auth_status(True, True)
        self.details(include_token=True)
        self.write_auth_atomically(apikey_record("sk-must-not-leak"))
        wait_until(lambda: self.prop("AuthMethod") == "apikey", timeout=5, what="the change")
        self.write_auth_atomically(b'{"OPENAI_API_KEY": "sk-must-not-leak-2", "tokens": 5}')
        wait_until(lambda: self.prop("StoreState") == "error", timeout=5, what="StoreState=error")
        self.call_error("Reload")
        self.stop_daemon(self.daemons[0][0])
        log = self.daemon_log()
        self.assertIn("Loaded", log)  # the log is real and verbose
        for secret in ("rt-must-not-leak", "sk-must-not-leak", record["tokens"]["access_token"],
                       record["tokens"]["id_token"]):
            self.assertNotIn(secret, log)

    def test_sleeps_when_idle(self):
        # An idle daemon sleeps in poll(): it burns (almost) no CPU. A main
        # loop that keeps waking itself up uses a whole core here.
        self.write_auth_atomically(chatgpt_record())
        proc = self.start_daemon()
        self.get_auth_status(True, False)

        def cpu_ticks():
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])  # utime + stime

        hz = os.sysconf("SC_CLK_TCK")
        before = cpu_ticks()
        time.sleep(3)
        used = (cpu_ticks() - before) / hz
        print(f"CPU time used in 3 s idle: {used:.2f} s")
        self.assertLess(used, 0.3)

    def test_bus_going_away_ends_it_cleanly(self):
        # The session ends: the daemon exits 0 (not a failure to restart).
        other = PrivateBus()
        log = os.path.join(self.tmp, "other.log")
        with open(log, "w") as logf:
            proc = subprocess.Popen([self.binary, "-v"], env=dict(self.env, DBUS_SESSION_BUS_ADDRESS=other.address),
                                    stdout=logf, stderr=subprocess.STDOUT)
        conn = other.connect()
        wait_until(lambda: conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                          "NameHasOwner", GLib.Variant("(s)", ("org.codex.Auth1",)), None, 0, 5000,
                                          None).unpack()[0], what="the daemon on the other bus")
        conn.close_sync(None)
        other.stop()
        self.assertEqual(proc.wait(timeout=20), 0)
        with open(log) as f:
            self.assertIn("session bus connection ended", f.read())

    def test_sigterm_and_sigint_exit_cleanly(self):
        import signal as sig
        for s in (sig.SIGTERM, sig.SIGINT):
            proc = self.start_daemon()
            proc.send_signal(s)
            self.assertEqual(proc.wait(timeout=20), 0)
            wait_until(lambda: not self.name_has_owner(), what="the name to be released")


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestBus]))
