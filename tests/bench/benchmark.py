#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Benchmark of codex-authd: call throughput and refresh storms.

Usage: benchmark.py BUILDDIR   (scripts/run-benchmark.sh runs it)

Starts a private bus, the fake token endpoint and the daemon from BUILDDIR,
runs BUILDDIR/tests/codex-authd-bench, and prints the figures: calls per
second against Peer.Ping, and how many token requests a storm of
refresh_token=true calls causes under permanent and transient failure.
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

from harness import FakeTokenServer, PrivateBus, chatgpt_record  # noqa: E402

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
        self.env = dict(os.environ, HOME=self.tmp, CODEX_HOME=self.codex_home,
                        XDG_STATE_HOME=os.path.join(self.tmp, "state"),
                        XDG_CONFIG_HOME=os.path.join(self.tmp, "config"),
                        DBUS_SESSION_BUS_ADDRESS=self.bus.address,
                        CODEX_REFRESH_TOKEN_URL_OVERRIDE=self.server.url)
        self.daemon = None

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
        self.server.stop()
        self.bus.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


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
        print("== GetAuthStatus(true, false) against Peer.Ping, same bus and daemon")
        print(b.bench("throughput", "--calls", "50000"))
        b.stop_daemon()

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
