# SPDX-License-Identifier: LGPL-2.1-or-later
"""Many real Codex processes on one login (docs/local-endpoint.md): 8
`codex app-server` processes (the pinned CLI) on one CODEX_HOME, pointed at
the daemon's local token endpoint, against the rotating fake issuer (a
refresh token used twice gets 401 refresh_token_reused, as from the real
one). Each test prints "FLEET scenario | upstream requests | signed in";
the benchmark prints the same scenarios without the daemon beside them."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import codex_cli  # noqa: E402
import harness  # noqa: E402
from harness import DaemonTestCase, chatgpt_record, wait_until  # noqa: E402
from keyring_helper import KeyringFixture, codex_attributes  # noqa: E402

PROCESSES = 8
POLL_SECONDS = float(os.environ.get("CODEX_AUTHD_FLEET_POLL_SECONDS", "20"))
POLL_INTERVAL = 0.5


def signed_in(answer):
    """account/read's answer: signed out is `account: null`. Offline, a
    signed-in process may answer an error about the backend instead."""
    if "error" in answer:
        return "routing" in json.dumps(answer["error"]) or "workspace" in json.dumps(answer["error"])
    return (answer.get("result") or {}).get("account") is not None


class Fleet:
    """@n app-servers of the CLI, started together."""

    def __init__(self, cli, n):
        self.apps = [None] * n
        threads = [threading.Thread(target=self._start, args=(cli, i)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        if any(a is None for a in self.apps):
            self.close()
            raise AssertionError("an app-server did not start")

    def _start(self, cli, i):
        self.apps[i] = cli.app_server()

    def refresh_all(self, timeout=60):
        """account/read {"refreshToken": true} in every process at once."""
        ids = [app.refresh() for app in self.apps]
        return [app.wait(i, timeout=timeout) for app, i in zip(self.apps, ids)]

    def signed_in(self):
        answers = [app.wait(app.send("account/read", {"refreshToken": False})) for app in self.apps]
        return sum(1 for a in answers if signed_in(a)), answers

    def poll(self, seconds, interval=POLL_INTERVAL):
        """Every process asks for a forced refresh every @interval s."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            self.refresh_all()
            time.sleep(max(0, interval - (time.monotonic() - started)))

    def close(self):
        for app in self.apps:
            if app is not None:
                app.close()


class FleetTestCase(KeyringFixture, DaemonTestCase):
    mode = None  # the CLI's cli_auth_credentials_store; None: the file

    @property
    def codex_store(self):
        return self.mode

    def setUp(self):
        binary, why = codex_cli.find()
        if binary is None:
            harness.missing_peer(why, self)
        super().setUp()
        self.env["CODEX_AUTHD_LOCAL_TOKEN_ENDPOINT"] = "localhost:0"
        self.codex_binary = binary
        self.fleets = []

    def tearDown(self):
        for fleet in self.fleets:
            fleet.close()
        super().tearDown()

    def seed(self, record):
        if self.mode == "keyring":
            self.keyring.store(codex_attributes(self.codex_home), json.dumps(record, separators=(",", ":")))
        else:
            self.write_auth_atomically(record)

    def stored(self):
        if self.mode == "keyring":
            items = self.items()
            return json.loads(self.keyring.secret(items[0])) if items else None
        with open(self.auth_json) as f:
            return json.load(f)

    def start_fleet(self, n=PROCESSES):
        """The daemon, then @n app-servers pointed at its endpoint."""
        if not self.daemons or self.daemons[-1][0].poll() is not None:
            self.start_daemon()
        url = self.prop("LocalTokenEndpoint")
        env = dict(self.env, CODEX_REFRESH_TOKEN_URL_OVERRIDE=url,
                   CODEX_REVOKE_TOKEN_URL_OVERRIDE=url.replace("/oauth/token", "/oauth/revoke"))
        fleet = Fleet(codex_cli.Cli(self.codex_binary, env), n)
        self.fleets.append(fleet)
        return fleet

    def stop_fleet(self, fleet):
        fleet.close()
        self.fleets.remove(fleet)

    def report(self, scenario, upstream, signed):
        print(f"FLEET {scenario} | {self.mode or 'file'} | {upstream} upstream requests | "
              f"{signed} of {PROCESSES} signed in")


class TestFleetFile(FleetTestCase):
    def test_burst_of_forced_refreshes(self):
        self.seed(chatgpt_record(refresh="rt-0"))
        self.token_server.rotating(current="rt-0")
        fleet = self.start_fleet()
        fleet.refresh_all()
        signed, answers = fleet.signed_in()
        state = self.token_server.rotation_state()
        self.report("burst", self.token_server.count(), signed)
        self.assertEqual(signed, PROCESSES, answers)
        self.assertEqual(self.token_server.count(), 1, state)
        self.assertEqual((len(state["issued"]), state["reused"]), (1, 0), state)
        self.assertEqual(self.stored()["tokens"]["refresh_token"], state["current"])
        wait_until(lambda: self.prop("RefreshState") == "ok", what="the daemon's state")

    def test_burst_without_the_daemon_signs_processes_out(self):
        """The control: the same burst straight at the issuer (what the
        checks above would see without the endpoint)."""
        self.seed(chatgpt_record(refresh="rt-0"))
        self.token_server.rotating(current="rt-0", delay=0.5)
        fleet = Fleet(codex_cli.Cli(self.codex_binary, self.env), PROCESSES)
        self.fleets.append(fleet)
        fleet.refresh_all()
        signed, _ = fleet.signed_in()
        state = self.token_server.rotation_state()
        self.report("burst without the daemon", self.token_server.count(), signed)
        self.assertGreater(state["reused"], 0, state)
        self.assertLess(signed, PROCESSES)

    def test_polling_with_fresh_tokens(self):
        self.seed(chatgpt_record(refresh="rt-0"))
        self.token_server.rotating(current="rt-0")
        fleet = self.start_fleet()
        fleet.poll(POLL_SECONDS)
        signed, answers = fleet.signed_in()
        self.report(f"polling every {POLL_INTERVAL} s for {POLL_SECONDS:.0f} s", self.token_server.count(), signed)
        self.assertLessEqual(self.token_server.count(), 1)
        self.assertEqual(signed, PROCESSES, answers)

    def test_polling_without_the_daemon(self):
        """The control for the polling: every forced refresh goes to the
        issuer, and rotations race each other."""
        self.seed(chatgpt_record(refresh="rt-0"))
        self.token_server.rotating(current="rt-0")
        fleet = Fleet(codex_cli.Cli(self.codex_binary, self.env), PROCESSES)
        self.fleets.append(fleet)
        fleet.poll(POLL_SECONDS)
        signed, _ = fleet.signed_in()
        self.report(f"polling every {POLL_INTERVAL} s for {POLL_SECONDS:.0f} s without the daemon",
                    self.token_server.count(), signed)
        self.assertGreater(self.token_server.count(), PROCESSES)

    def test_permanent_failure_with_restarts(self):
        self.seed(chatgpt_record(refresh="rt-revoked"))
        self.token_server.rotating(current="rt-something-else")
        for _ in range(3):  # started, then restarted twice
            fleet = self.start_fleet()
            fleet.poll(3)
            self.stop_fleet(fleet)
        self.report("permanent failure, 8 processes started 3 times", self.token_server.count(), 0)
        self.assertEqual(self.token_server.count(), 1)
        self.assertEqual(self.prop("RefreshState"), "poisoned")

    def test_transient_failure_backs_off(self):
        self.seed(chatgpt_record(refresh="rt-0"))
        self.token_server.script(default={"status": 500, "json": {"error": "boom"}})
        fleet = self.start_fleet()
        fleet.poll(POLL_SECONDS)
        self.report(f"transient failure, polling for {POLL_SECONDS:.0f} s", self.token_server.count(), "-")
        self.assertLessEqual(self.token_server.count(), 6)
        self.assertGreaterEqual(self.token_server.count(), 1)


class TestFleetKeyring(FleetTestCase):
    mode = "keyring"

    def test_burst_of_forced_refreshes(self):
        TestFleetFile.test_burst_of_forced_refreshes(self)


if __name__ == "__main__":
    sys.exit(harness.main(sys.modules[__name__], [TestFleetFile, TestFleetKeyring]))
