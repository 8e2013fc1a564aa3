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
        if self.path == "/_control/requests":
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
            spec = STATE.responses.pop(0) if STATE.responses else STATE.default
        self._answer(spec)

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
