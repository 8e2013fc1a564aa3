# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real gnome-keyring-daemon on a test's private bus, and a Secret Service
client that writes items the way the Codex CLI (rust keyring) does."""

import hashlib
import os
import subprocess
import time

from gi.repository import Gio, GLib

SECRETS = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
LOGIN = "/org/freedesktop/secrets/collection/login"
DEFAULT_ALIAS = "/org/freedesktop/secrets/aliases/default"
PASSWORD = b"test-keyring-password"


def codex_username(codex_home):
    digest = hashlib.sha256(os.path.realpath(codex_home).encode()).hexdigest()
    return "cli|" + digest[:16]


def codex_attributes(codex_home):
    return {"service": "Codex Auth", "username": codex_username(codex_home),
            "target": "default", "application": "rust-keyring"}


class Keyring:
    """gnome-keyring-daemon --components=secrets, unlocked, in the
    foreground as our child, with the test's HOME and XDG directories."""

    def __init__(self, env, conn):
        self.env = env
        self.conn = conn
        self.procs = []

    def start(self, replace=False):
        args = ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"]
        if replace:
            args.append("--replace")
        proc = subprocess.Popen(args, env=self.env, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc.stdin.write(PASSWORD)
        proc.stdin.close()
        self.procs.append(proc)
        self.wait_owned()
        return proc

    def owner(self):
        try:
            return self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner",
                                       GLib.Variant("(s)", (SECRETS,)), None, 0, 5000, None).unpack()[0]
        except GLib.Error:
            return None

    def wait_owned(self, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.owner() is not None and self._login_ready():
                return
            time.sleep(0.05)
        raise RuntimeError("gnome-keyring-daemon did not come up")

    def _login_ready(self):
        try:
            self.call(LOGIN, "org.freedesktop.DBus.Properties", "Get",
                      GLib.Variant("(ss)", ("org.freedesktop.Secret.Collection", "Locked")))
            return True
        except GLib.Error:
            return False

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        end = time.monotonic() + 10
        while self.owner() is not None and time.monotonic() < end:
            time.sleep(0.05)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    # -- the Secret Service API ---------------------------------------------

    def call(self, path, iface, method, params=None, sig=None):
        reply = self.conn.call_sync(SECRETS, path, iface, method, params,
                                    GLib.VariantType(sig) if sig else None, 0, 10000, None)
        return reply.unpack() if reply is not None else None

    def session(self):
        return self.call(SERVICE_PATH, "org.freedesktop.Secret.Service", "OpenSession",
                         GLib.Variant("(sv)", ("plain", GLib.Variant("s", ""))))[1]

    def store(self, attributes, secret, label="cli@Codex Auth:default (keyring v3.6.3)", replace=True):
        """CreateItem in the default collection, as rust keyring does."""
        session = self.session()
        props = {
            "org.freedesktop.Secret.Item.Label": GLib.Variant("s", label),
            "org.freedesktop.Secret.Item.Attributes": GLib.Variant("a{ss}", attributes),
        }
        data = secret.encode() if isinstance(secret, str) else secret
        params = GLib.Variant("(a{sv}(oayays)b)",
                              (props, (session, b"", data, "text/plain"), replace))
        item, prompt = self.call(DEFAULT_ALIAS, "org.freedesktop.Secret.Collection", "CreateItem", params)
        assert prompt == "/", "creating the item needed a prompt"
        return item

    def search(self, attributes):
        unlocked, locked = self.call(SERVICE_PATH, "org.freedesktop.Secret.Service", "SearchItems",
                                     GLib.Variant("(a{ss})", (attributes,)))
        return unlocked, locked

    def secret(self, item):
        session = self.session()
        return bytes(self.call(item, "org.freedesktop.Secret.Item", "GetSecret",
                               GLib.Variant("(o)", (session,)))[0][2]).decode()

    def set_secret(self, item, secret):
        session = self.session()
        self.call(item, "org.freedesktop.Secret.Item", "SetSecret",
                  GLib.Variant("((oayays))", ((session, b"", secret.encode(), "text/plain"),)))

    def label(self, item):
        return self.call(item, "org.freedesktop.DBus.Properties", "Get",
                         GLib.Variant("(ss)", ("org.freedesktop.Secret.Item", "Label")))[0]

    def attributes(self, item):
        """The item's attributes, less the "xdg:schema" that gnome-keyring
        adds itself (as org.freedesktop.Secret.Generic) to items created
        without one, the Codex CLI's included."""
        attrs = dict(self.call(item, "org.freedesktop.DBus.Properties", "Get",
                               GLib.Variant("(ss)", ("org.freedesktop.Secret.Item", "Attributes")))[0])
        if attrs.get("xdg:schema") == "org.freedesktop.Secret.Generic":
            del attrs["xdg:schema"]
        return attrs

    def delete(self, item):
        self.call(item, "org.freedesktop.Secret.Item", "Delete")

    def lock(self):
        self.call(SERVICE_PATH, "org.freedesktop.Secret.Service", "Lock",
                  GLib.Variant("(ao)", ([LOGIN],)))

    def unlock(self):
        """Unlock without a display: replace the daemon with an unlocked one."""
        self.start(replace=True)


class KeyringFixture:
    """Mixed into a DaemonTestCase: a keyring per test (when start_keyring),
    stopped after the daemons so that they do not see it go away."""

    start_keyring = True
    # The Codex CLI's own store setting (cli_auth_credentials_store in
    # $CODEX_HOME/config.toml), which the daemon follows by default: "auto"
    # (the keyring item when there is one) unless a test says otherwise;
    # None leaves config.toml out (the CLI's default, the file).
    codex_store = "auto"

    def setUp(self):
        super().setUp()
        if self.codex_store is not None:
            self.write_codex_config(self.codex_store)
        self.keyring = Keyring(self.env, self.conn)
        if self.start_keyring:
            self.keyring.start()

    def tearDown(self):
        for proc, _ in self.daemons:
            if proc.poll() is None:
                self.stop_daemon(proc)
        self.keyring.stop()
        super().tearDown()

    def items(self):
        unlocked, locked = self.keyring.search(codex_attributes(self.codex_home))
        return unlocked + locked
