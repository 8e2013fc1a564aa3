#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A GTK 4 app in Python that shows the Codex login through libcodex-auth-1
(GObject introspection: no code of its own to talk to D-Bus): the account,
the state in words, and a button that fetches a token without blocking.

    codex-auth-example.py [--print-state]

--print-state prints what the window shows each time it changes (one "SHOW"
line), and SIGUSR1 presses the button: how the test drives it."""

import signal
import sys

import gi

gi.require_version("Gtk", "4.0")
gi.require_version("CodexAuth", "1.0")
from gi.repository import CodexAuth, Gio, GLib, Gtk  # noqa: E402


class Window:
    def __init__(self, app, print_state):
        self.print_state = print_state
        self.last = None
        self.client = None
        self.window = Gtk.ApplicationWindow(application=app, title="Codex account (Python)")
        self.window.set_default_size(420, 220)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=12, margin_top=18, margin_bottom=18,
                      margin_start=18, margin_end=18)
        self.account = self.label("title-2")
        self.state = self.label("heading")
        self.detail = self.label("dim-label")
        self.button = Gtk.Button(label="Get token", sensitive=False)
        self.button.connect("clicked", self.on_clicked)
        self.token = self.label(None)
        for w in (self.account, self.state, self.detail, self.button, self.token):
            box.append(w)
        self.window.set_child(box)
        self.state.set_text("Connecting...")
        self.window.present()
        CodexAuth.Client.new(None, self.on_client)

    @staticmethod
    def label(css_class):
        w = Gtk.Label(xalign=0, wrap=True)
        if css_class:
            w.add_css_class(css_class)
        return w

    def show(self):
        if not self.print_state:
            return
        line = (f"SHOW account={self.account.get_text()}|state={self.state.get_text()}"
                f"|detail={self.detail.get_text()}|token={self.token.get_text()}")
        if line != self.last:
            self.last = line
            print(line, flush=True)

    def on_client(self, source, result):
        try:
            self.client = CodexAuth.Client.new_finish(result)
        except GLib.Error as e:
            self.state.set_text(e.message)
            self.show()
            return
        self.client.connect("notify", lambda *args: self.update())
        self.update()

    def update(self):
        c = self.client
        state = c.props.state
        if c.props.auth_method == "chatgpt":
            account = f"{c.props.email} ({c.props.plan_type})"
        elif c.props.auth_method == "apikey":
            account = "API key"
        else:
            account = "No account"
        detail = ""
        if state in (CodexAuth.State.LOG_IN_AGAIN, CodexAuth.State.TEMPORARILY_FAILING):
            detail = c.props.refresh_error_message
        elif state == CodexAuth.State.READY and c.props.last_refresh is not None:
            detail = c.props.last_refresh.to_local().format("Last refreshed %Y-%m-%d %H:%M:%S")
        self.account.set_text(account)
        self.state.set_text(CodexAuth.State.describe(state))
        self.detail.set_text(detail)
        self.button.set_sensitive(state in (CodexAuth.State.READY, CodexAuth.State.TEMPORARILY_FAILING,
                                            CodexAuth.State.REFRESHING))
        # A token fetched for an account that is gone says nothing any more.
        if not self.button.get_sensitive():
            self.token.set_text("")
        self.show()

    def on_clicked(self, button):
        self.token.set_text("Fetching a token...")
        self.show()
        self.client.get_token_async(False, None, self.on_token)

    def on_token(self, client, result):
        try:
            token = client.get_token_finish(result)
            # Never show a token: only that there is one.
            self.token.set_text(f"Got a token ({len(token)} characters)")
        except GLib.Error as e:
            if e.matches(CodexAuth.error_quark(), CodexAuth.Error.LOGIN_REQUIRED):
                self.token.set_text("No token: sign in again")
            else:
                self.token.set_text(f"No token: {e.message}")
        self.show()


def main():
    print_state = "--print-state" in sys.argv[1:]
    app = Gtk.Application(application_id="org.codex.AuthExample.Python", flags=Gio.ApplicationFlags.NON_UNIQUE)
    windows = []

    def on_activate(app):
        windows.append(Window(app, print_state))

    def on_usr1():
        for w in windows:
            if w.button.get_sensitive():
                w.button.emit("clicked")
        return GLib.SOURCE_CONTINUE

    app.connect("activate", on_activate)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, on_usr1)
    return app.run([sys.argv[0]])


if __name__ == "__main__":
    sys.exit(main())
