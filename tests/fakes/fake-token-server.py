#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fake ChatGPT token endpoint for tests, on a loopback ephemeral port.

Speaks the refresh protocol (POST /oauth/token with a JSON body) and answers
from a script. Prints "PORT <n>" on stdout once it listens, then serves
until SIGTERM. Standard library only.

Control endpoints (JSON):
  POST /_control/script    {"responses": [SPEC, ...], "default": SPEC}
                           replaces the queue of scripted answers (one per
                           request, in order) and the answer used once the
                           queue is empty
  GET  /_control/requests  the token requests received so far: a list of
                           {"body", "content_type", "user_agent", "time"}
  POST /_control/reset     forgets the requests received
  POST /_control/rotating  {"current": RT, "hold": bool, "delay": s}: switches to the
                           rotating server (the script is then unused);
                           a "current" token starts the counts again.
                           Like the real endpoint, it answers the current
                           refresh token with a new one (and a new access
                           token), and any token it has already rotated with
                           401 refresh_token_reused. A rotation counts only
                           once its answer went out: if the client went away
                           first, the token stays current. "hold": keep new
                           requests waiting until hold is turned off.
                           "delay": each request is decided that many
                           seconds after it arrived (two clients sending the
                           same token a moment apart are both in flight; the
                           first to arrive wins).
  GET  /_control/rotating  {"current", "issued", "reused", "unknown",
                           "rotations", "held", "undelivered"}

SPEC is an object:
  "status"     HTTP status (default 200)
  "json"       a value sent as the JSON body, or
  "body"       a raw string body, or
  "body_size"  a body of that many bytes (for size limits)
  "headers"    extra response headers
  "delay"      seconds to wait before answering
  "action"     "close": drop the connection without an answer;
               "hang": never answer (until the server stops)
"""

import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_SPEC = {"status": 500, "json": {"error": "no_script"}}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.responses = []
        self.default = dict(DEFAULT_SPEC)
        self.requests = []
        self.stopping = threading.Event()
        # The rotating server.
        self.rotating = False
        self.delay = 0.0
        self.current = None
        self.retired = set()
        self.issued = []
        self.reused = 0
        self.unknown = 0
        self.undelivered = 0
        self.hold = threading.Event()  # set: requests pass
        self.hold.set()
        self.held = 0


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=b"", headers=None, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_control/rotating":
            with STATE.lock:
                data = json.dumps({"current": STATE.current, "issued": STATE.issued, "reused": STATE.reused,
                                   "unknown": STATE.unknown, "rotations": len(STATE.issued),
                                   "held": STATE.held, "undelivered": STATE.undelivered}).encode()
            self._send(200, data)
        elif self.path == "/_control/requests":
            with STATE.lock:
                data = json.dumps(STATE.requests).encode()
            self._send(200, data)
        else:
            self._send(404, b"{}")

    def do_POST(self):
        body = self._read_body()
        if self.path == "/_control/script":
            spec = json.loads(body or b"{}")
            with STATE.lock:
                STATE.responses = list(spec.get("responses", []))
                STATE.default = spec.get("default", dict(DEFAULT_SPEC))
            self._send(200, b"{}")
            return
        if self.path == "/_control/rotating":
            spec = json.loads(body or b"{}")
            with STATE.lock:
                STATE.rotating = True
                if "current" in spec:
                    # A new token family: the counts start again.
                    STATE.current = spec["current"]
                    STATE.retired = set()
                    STATE.issued = []
                    STATE.reused = STATE.unknown = STATE.undelivered = 0
                STATE.delay = float(spec.get("delay", 0))
                if spec.get("hold"):
                    STATE.hold.clear()
                else:
                    STATE.hold.set()
            self._send(200, b"{}")
            return
        if self.path == "/_control/reset":
            with STATE.lock:
                STATE.requests.clear()
            self._send(200, b"{}")
            return
        if self.path != "/oauth/token":
            self._send(404, b"{}")
            return

        with STATE.lock:
            STATE.requests.append({
                "body": body.decode("utf-8", "replace"),
                "content_type": self.headers.get("Content-Type"),
                "user_agent": self.headers.get("User-Agent"),
                "time": time.time(),
            })
            rotating = STATE.rotating
            spec = None if rotating else (STATE.responses.pop(0) if STATE.responses else STATE.default)
        if rotating:
            self._rotate(body)
        else:
            self._answer(spec)

    def _client_gone(self):
        """True when the client closed its end (nothing more to read but EOF)."""
        import select
        import socket
        sock = self.connection
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _rotate(self, body):
        try:
            token = json.loads(body or b"{}").get("refresh_token")
        except ValueError:
            token = None
        with STATE.lock:
            STATE.held += 1
            delay = STATE.delay
        if delay > 0 and STATE.stopping.wait(delay):
            return
        while not STATE.hold.wait(0.01):
            if STATE.stopping.is_set():
                return
        with STATE.lock:
            STATE.held -= 1
            if token in STATE.retired:
                STATE.reused += 1
                answer = (401, {"error": {"message": "reused", "type": "invalid_request_error", "param": None,
                                          "code": "refresh_token_reused"}}, None)
            elif token != STATE.current or token is None:
                STATE.unknown += 1
                answer = (401, {"error": {"code": "refresh_token_invalidated"}}, None)
            else:
                n = len(STATE.issued) + 1
                new = f"rt-rot-{n}"
                answer = (200, {"access_token": _jwt({"exp": 4102444800, "n": n}), "refresh_token": new}, new)
            if answer[2] is not None and self._client_gone():
                # The client went away before the answer: no rotation.
                STATE.undelivered += 1
                self.close_connection = True
                return
            try:
                self._send(answer[0], json.dumps(answer[1]).encode())
                self.wfile.flush()
            except OSError:
                STATE.undelivered += 1
                self.close_connection = True
                return
            if answer[2] is not None:
                STATE.retired.add(STATE.current)
                STATE.current = answer[2]
                STATE.issued.append(answer[2])

    def _answer(self, spec):
        if spec.get("delay"):
            STATE.stopping.wait(float(spec["delay"]))
        action = spec.get("action")
        if action == "hang":
            STATE.stopping.wait()
            self.close_connection = True
            return
        if action == "close":
            self.close_connection = True
            return
        if "json" in spec:
            data = json.dumps(spec["json"]).encode()
        elif "body_size" in spec:
            data = b"x" * int(spec["body_size"])
        else:
            data = spec.get("body", "").encode()
        self._send(int(spec.get("status", 200)), data, spec.get("headers"))


def _jwt(payload):
    import base64
    enc = lambda d: base64.urlsafe_b64encode(d).decode().rstrip("=")  # noqa: E731
    return enc(b'{"alg":"none"}') + "." + enc(json.dumps(payload).encode()) + ".sig"


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def stop(*_):
        STATE.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
