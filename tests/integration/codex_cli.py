# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real Codex CLI (npm package @openai/codex, pinned), driven as a user
and as an app would: `codex login`, `codex login status`, `codex logout`,
and `codex app-server` (JSON-RPC over stdio) for its token refresh.

scripts/install-codex-cli.sh puts it in the build directory; the tests
find it through CODEX_AUTHD_CODEX_CLI_DIR (or CODEX_AUTHD_CODEX_CLI, a
binary) and are skipped, with the reason, when it is not there."""

import glob
import itertools
import json
import os
import subprocess
import threading
import time

VERSION = "0.171.0"


def pinned(binary):
    """(binary, None) when it is the pinned version, else (None, why)."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return None, f"{binary} cannot run: {e}"
    version = out.stdout.strip().split()[-1] if out.stdout.strip() else ""
    if version != VERSION:
        return None, f"{binary} is the Codex CLI {version or '(unknown version)'}, not the pinned {VERSION}"
    return binary, None


def find():
    """(path of the codex binary, None) or (None, why it is missing): the
    pinned version only."""
    binary = os.environ.get("CODEX_AUTHD_CODEX_CLI")
    if binary:
        return pinned(binary) if os.access(binary, os.X_OK) else (None, f"{binary} is not executable")
    top = os.environ.get("CODEX_AUTHD_CODEX_CLI_DIR", "")
    pattern = os.path.join(top, "node_modules", "@openai", "codex-linux-*", "vendor", "*", "bin", "codex")
    found = sorted(glob.glob(pattern))
    if not top or not found:
        why = "scripts/install-codex-cli.sh was not run"
        try:
            with open(os.path.join(top, "install-error.txt")) as f:
                why = f.read().strip()
        except OSError:
            pass
        return None, f"the Codex CLI {VERSION} is not in {top or '(CODEX_AUTHD_CODEX_CLI_DIR unset)'}: {why}"
    return pinned(found[0])


def cli_env(env):
    """The test's environment for the CLI, kept off the network: anything
    but the loopback token server goes to a closed port."""
    out = dict(env)
    out.update({
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "RUST_LOG": "error",
        "NO_COLOR": "1",
    })
    return out


class Cli:
    def __init__(self, binary, env):
        self.binary = binary
        self.env = cli_env(env)

    def run(self, *args, input=None, timeout=60):
        return subprocess.run([self.binary, *args], input=input, capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def login_api_key(self, key):
        out = self.run("login", "--with-api-key", input=key + "\n")
        if out.returncode != 0:
            raise AssertionError(f"codex login failed ({out.returncode}): {out.stderr}")
        return out

    def status(self):
        """`codex login status`: (exit code, stdout + stderr)."""
        out = self.run("login", "status")
        # Less its warning about helper binaries in a temporary CODEX_HOME.
        lines = [line for line in (out.stdout + out.stderr).splitlines() if not line.startswith("WARNING:")]
        return out.returncode, "\n".join(lines)

    def logout(self):
        return self.run("logout")

    def app_server(self):
        return AppServer(self.binary, self.env)


class AppServer:
    """`codex app-server`, initialized; requests are sent without waiting,
    their answers collected by a reader thread."""

    def __init__(self, binary, env):
        self.proc = subprocess.Popen([binary, "app-server"], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.ids = itertools.count(1)
        self.answers = {}
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        answer = self.wait(self.send("initialize", {"clientInfo": {"name": "codex-authd-tests",
                                                                   "title": "codex-authd tests",
                                                                   "version": "1"}}), timeout=60)
        if "result" not in answer:
            raise AssertionError(f"app-server initialize failed: {answer}")
        self._write({"jsonrpc": "2.0", "method": "initialized"})

    def _read(self):
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "id" in msg and ("result" in msg or "error" in msg):
                with self.cond:
                    self.answers[msg["id"]] = msg
                    self.cond.notify_all()

    def _write(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def send(self, method, params):
        request_id = next(self.ids)
        self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return request_id

    def wait(self, request_id, timeout=60):
        end = time.monotonic() + timeout
        with self.cond:
            while request_id not in self.answers:
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no answer from the app-server to request {request_id}")
                self.cond.wait(min(left, 0.2))
            return self.answers.pop(request_id)

    def refresh(self):
        """Starts account/read with refreshToken: the CLI refreshes its
        ChatGPT tokens (and saves them). Returns the request id."""
        return self.send("account/read", {"refreshToken": True})

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
