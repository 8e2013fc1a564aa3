#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Benchmark of codex-authd: call throughput and refresh storms.

Usage: benchmark.py BUILDDIR   (scripts/run-benchmark.sh runs it)

Starts a private bus, the fake token endpoint and the daemon from BUILDDIR,
runs BUILDDIR/tests/codex-authd-bench, and prints the figures: calls per
second against Peer.Ping, with the credentials in auth.json and in a
keyring item (a real gnome-keyring-daemon; the item is read again before a
token goes out when the last read is over a second old); the daemon's idle
wake-ups per minute with each store; how soon an item replaced in place is
announced; and how many token requests a storm of refresh_token=true calls
causes under permanent and transient failure; and 8 real `codex
app-server` processes of the pinned Codex CLI on one login, with the
daemon's local token endpoint and without it (the scenarios of
tests/integration/test_codex_fleet.py, run from BUILDDIR's codex-cli/).

Set CODEX_AUTHD_BENCH_IDLE_SECONDS to measure the idle wake-ups over
another time than 60 s.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes"))

from gi.repository import Gio, GLib  # noqa: E402

from harness import FakeTokenServer, PrivateBus, chatgpt_record, pump  # noqa: E402
from keyring_helper import Keyring, codex_attributes  # noqa: E402

CLIENTS, POLLS = 100, 100


class Bench:
    def __init__(self, builddir):
        self.daemon_bin = os.path.join(builddir, "src", "codex-authd")
        self.bench_bin = os.path.join(builddir, "tests", "codex-authd-bench")
        self.tmp = tempfile.mkdtemp(prefix="codex-authd-bench-")
        self.codex_home = os.path.join(self.tmp, ".codex")
        os.makedirs(self.codex_home, mode=0o700)
        self.bus = PrivateBus()
        self.server = FakeTokenServer()
        for d in ("state", "config", "data", "runtime"):
            os.makedirs(os.path.join(self.tmp, d), mode=0o700)
        self.env = dict(os.environ, HOME=self.tmp, CODEX_HOME=self.codex_home,
                        XDG_STATE_HOME=os.path.join(self.tmp, "state"),
                        XDG_CONFIG_HOME=os.path.join(self.tmp, "config"),
                        XDG_DATA_HOME=os.path.join(self.tmp, "data"),
                        XDG_RUNTIME_DIR=os.path.join(self.tmp, "runtime"),
                        DBUS_SESSION_BUS_ADDRESS=self.bus.address,
                        CODEX_REFRESH_TOKEN_URL_OVERRIDE=self.server.url)
        self.daemon = None
        self.conn = None
        self.keyring = None

    def start_keyring(self, record):
        """A real gnome-keyring-daemon holding @record as the Codex CLI's
        item, and the CLI's setting that puts it there."""
        self.conn = self.bus.connect()
        self.keyring = Keyring(self.env, self.conn)
        self.keyring.start()
        with open(os.path.join(self.codex_home, "config.toml"), "w") as f:
            f.write('cli_auth_credentials_store = "keyring"\n')
        os.unlink(os.path.join(self.codex_home, "auth.json"))
        return self.keyring.store(codex_attributes(self.codex_home), json.dumps(record))

    def wakeups(self, seconds):
        """Context switches of the daemon's threads over @seconds, per
        minute: how often the idle daemon wakes up. It first settles for
        20 s (GLib's idle worker threads exit after 15 s); a thread that
        ends meanwhile is counted up to its last sample."""
        def sample():
            counts = {}
            for task in os.listdir(f"/proc/{self.daemon.pid}/task"):
                try:
                    with open(f"/proc/{self.daemon.pid}/task/{task}/status") as f:
                        counts[task] = sum(int(line.split()[1]) for line in f
                                           if line.startswith(("voluntary_ctxt_switches",
                                                               "nonvoluntary_ctxt_switches")))
                except OSError:
                    pass
            return counts
        time.sleep(20)
        before = sample()
        time.sleep(seconds)
        after = sample()
        switches = sum(n - before.get(task, 0) for task, n in after.items())
        return switches * 60.0 / seconds

    def private_dirty_kib(self):
        """The daemon's private dirty memory (what it costs the machine)."""
        with open(f"/proc/{self.daemon.pid}/smaps_rollup") as f:
            return sum(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))

    def replacement_latency(self, item, as_cli, rounds=10):
        """ms from SetSecret on the item (gnome-keyring announces nothing)
        to the daemon's PropertiesChanged; @as_cli: holding auth.json.lock
        around it, as the Codex CLI does, with no call in between; else
        (another writer) a second later, from the next token request (the
        item is read again before a token goes out)."""
        seen = []

        def on_signal(conn, sender, path, iface, member, params):
            # Email is announced by name (invalidates): note the time the
            # signal came, then read the value it announces.
            if "Email" in params.unpack()[2]:
                when = time.monotonic()
                reply = conn.call_sync("org.codex.Auth1", "/org/codex/Auth1", "org.freedesktop.DBus.Properties",
                                       "Get", GLib.Variant("(ss)", ("org.codex.Auth1", "Email")), None,
                                       Gio.DBusCallFlags.NONE, 10000, None)
                seen.append((when, reply.unpack()[0]))
        sub = self.conn.signal_subscribe(None, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                         "/org/codex/Auth1", None, Gio.DBusSignalFlags.NONE, on_signal)
        out = []
        for n in range(rounds):
            pump(0.37 * (n % 4))  # different phases
            email = f"replaced-{n}@example.com"
            started = time.monotonic()
            secret = json.dumps(chatgpt_record(email=email, access_exp=int(time.time()) + 86400))
            if as_cli:
                fd = os.open(os.path.join(self.codex_home, "auth.json.lock"), os.O_RDWR | os.O_CREAT, 0o600)
                self.keyring.set_secret(item, secret)
                os.close(fd)
            else:
                self.keyring.set_secret(item, secret)
                pump(1.2)  # the last read is over a second old
                started = time.monotonic()
                self.conn.call("org.codex.Auth1", "/org/codex/Auth1", "org.codex.Auth1", "GetAuthStatus",
                               GLib.Variant("(bb)", (True, False)), None, Gio.DBusCallFlags.NONE, 10000, None,
                               lambda c, r: c.call_finish(r))
            end = started + 30
            while not any(e == email for _, e in seen) and time.monotonic() < end:
                pump(0.01)
            hits = [t for t, e in seen if e == email]
            out.append((hits[0] - started) * 1000 if hits else float("inf"))
        self.conn.signal_unsubscribe(sub)
        return out

    def write_record(self, record):
        path = os.path.join(self.codex_home, "auth.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.chmod(path + ".tmp", 0o600)
        os.rename(path + ".tmp", path)

    def start_daemon(self):
        self.daemon = subprocess.Popen([self.daemon_bin], env=self.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            out = subprocess.run(["busctl", "--user", "status", "org.codex.Auth1"], env=self.env,
                                 capture_output=True)
            if out.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("the daemon did not start")

    def stop_daemon(self):
        self.daemon.send_signal(signal.SIGTERM)
        self.daemon.wait(timeout=30)

    def bench(self, *args):
        out = subprocess.run([self.bench_bin, *args], env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return out.stdout.rstrip()

    def storm(self):
        return self.bench("storm", "--clients", str(CLIENTS), "--polls", str(POLLS))

    def close(self):
        if self.daemon and self.daemon.poll() is None:
            self.stop_daemon()
        if self.keyring is not None:
            self.keyring.stop()
        if self.conn is not None:
            self.conn.close_sync(None)
        self.server.stop()
        self.bus.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


FLEET_SCENARIOS = [
    "TestFleetFile.test_burst_of_forced_refreshes",
    "TestFleetFile.test_burst_without_the_daemon_signs_processes_out",
    "TestFleetFile.test_polling_with_fresh_tokens",
    "TestFleetFile.test_polling_without_the_daemon",
]


def fleet(builddir):
    """The fleet scenarios' FLEET lines (or why they did not run)."""
    here = os.path.dirname(os.path.abspath(__file__))
    script = os.path.join(os.path.dirname(here), "integration", "test_codex_fleet.py")
    env = dict(os.environ, CODEX_AUTHD=os.path.join(builddir, "src", "codex-authd"),
               CODEX_AUTHCTL=os.path.join(builddir, "src", "codex-authctl"),
               CODEX_AUTHD_CODEX_CLI_DIR=os.path.join(builddir, "codex-cli"))
    lines = []
    for scenario in FLEET_SCENARIOS:
        run = subprocess.run([sys.executable, script, scenario], env=env, capture_output=True, text=True,
                             timeout=600)
        found = [line for line in run.stdout.splitlines() if line.startswith("FLEET ")]
        if found:
            lines += [line[len("FLEET "):] for line in found]
        else:
            skipped = [line for line in (run.stdout + run.stderr).splitlines() if "skipped" in line or "SKIP" in line]
            lines.append(f"{scenario}: not run ({(skipped or ['exit status %d' % run.returncode])[-1].strip()})")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    b = Bench(sys.argv[1])
    try:
        print(f"codex-authd benchmark ({os.cpu_count()} CPUs)\n")
        # Throughput: valid ChatGPT credentials, no refresh due.
        b.write_record(chatgpt_record(access_exp=int(time.time()) + 24 * 3600))
        b.start_daemon()
        print("== GetAuthStatus(true, false) against Peer.Ping, same bus and daemon (auth.json)")
        print(b.bench("throughput", "--calls", "50000"))
        idle_seconds = float(os.environ.get("CODEX_AUTHD_BENCH_IDLE_SECONDS", "60"))
        print(f"idle wake-ups (context switches, all threads, over {idle_seconds:.0f} s): "
              f"{b.wakeups(idle_seconds):.1f} per minute")
        print(f"private dirty memory, idle after the calls: {b.private_dirty_kib()} KiB")
        b.stop_daemon()

        print("\n== GetAuthStatus(true, false) against Peer.Ping (the keyring item, gnome-keyring-daemon)")
        item = b.start_keyring(chatgpt_record(access_exp=int(time.time()) + 24 * 3600))
        b.start_daemon()
        print(b.bench("throughput", "--calls", "50000"))
        print(f"idle wake-ups (context switches, all threads, over {idle_seconds:.0f} s): "
              f"{b.wakeups(idle_seconds):.1f} per minute")
        print(f"private dirty memory, idle after the calls: {b.private_dirty_kib()} KiB")
        for as_cli, who in ((True, "as the Codex CLI does, under auth.json.lock"),
                            (False, "by another writer, no lock: from the next token request")):
            lat = sorted(b.replacement_latency(item, as_cli, rounds=10 if as_cli else 4))
            print(f"item replaced in place ({who}) to PropertiesChanged: min {lat[0]:.0f} ms, "
                  f"median {lat[len(lat) // 2]:.0f} ms, max {lat[-1]:.0f} ms over {len(lat)} replacements")
        b.stop_daemon()
        b.keyring.stop()
        b.keyring = None
        os.unlink(os.path.join(b.codex_home, "config.toml"))

        print(f"\n== storm, permanent failure (HTTP 401 refresh_token_reused)")
        b.write_record(chatgpt_record(refresh="rt-doomed", access_tag="storm-1"))
        b.server.reset()
        b.server.script(default={"status": 401, "json": {"error": {"code": "refresh_token_reused"}}})
        b.start_daemon()
        print(b.storm())
        print(f"token requests: {b.server.count()}")
        b.stop_daemon()
        b.start_daemon()
        before = b.server.count()
        print("after a restart:")
        print(b.storm())
        print(f"token requests after the restart: {b.server.count() - before}")
        b.stop_daemon()

        print(f"\n== storm, transient failure (HTTP 503)")
        b.write_record(chatgpt_record(refresh="rt-flaky", access_tag="storm-2"))
        b.server.reset()
        b.server.script(default={"status": 503})
        b.start_daemon()
        start = time.monotonic()
        print(b.storm())
        print(f"token requests: {b.server.count()} in {time.monotonic() - start:.1f} s "
              "(backoff: first retry after about 1 s, then doubling)")
        b.stop_daemon()
    finally:
        b.close()
    print("\n== 8 Codex app-servers on one login: scenario | store | upstream requests | still signed in")
    print(fleet(sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
