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
                           queue is empty; ends the rotating server
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

The sign-in endpoints (the fake issuer; see docs/login.md):
  GET  /oauth/authorize    checks the parameters, remembers the challenge,
                           redirect_uri and state, and redirects to
                           redirect_uri with a code and the state (or, by
                           script, a wrong state, an error, no code)
  POST /oauth/token        form-encoded: the authorization_code grant (code,
                           client_id, redirect_uri and the PKCE verifier
                           checked) and the API-key token exchange; a JSON
                           body is a refresh, answered as above
  POST /api/accounts/deviceauth/usercode, /api/accounts/deviceauth/token
                           the device-code flow: pending (403) until
                           approved through the control endpoint
  POST /oauth/revoke       recorded; answered by script
  POST /_control/login     {"authorize": "ok"|"wrong_state"|"error"|"no_code",
                            "error", "error_description", "claims": {...},
                            "exchange": SPEC (instead of the tokens; with
                              "quote_request": true, an error quoting the
                              request's body),
                            "api_key": "sk-..." or null (a 400),
                            "usercode": SPEC (instead of the code),
                            "interval": "1" (or a number),
                            "poll": SPEC (instead of pending/success),
                            "revoke": SPEC}
                           sets the script of the sign-in endpoints
  POST /_control/approve   the device code is approved: the next poll succeeds
  GET  /_control/login     what the sign-in endpoints received: "authorize",
                           "exchanges", "api_key_exchanges", "usercode",
                           "polls", "revokes" (each with "time"), and
                           "problems" (checks that failed)

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

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
SCOPE = "openid profile email offline_access api.connectors.read api.connectors.invoke"


class Login:
    def __init__(self):
        self.script = {}
        self.log = {"authorize": [], "exchanges": [], "api_key_exchanges": [], "usercode": [], "polls": [],
                    "revokes": [], "problems": []}
        self.codes = {}      # code -> {"challenge", "redirect_uri", "verifier" (device only)}
        self.approved = False
        self.serial = 0


LOGIN = Login()


def _b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _s256(verifier):
    import hashlib
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def _id_token(claims):
    payload = {"email": "signed-in@example.com", "exp": 4102444800,
               "https://api.openai.com/auth": {"chatgpt_account_id": "acc-login", "chatgpt_plan_type": "pro",
                                               "chatgpt_user_id": "user-login"}}
    payload.update(claims or {})
    return _jwt(payload)


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
        if self.path.startswith("/oauth/authorize"):
            self._authorize()
            return
        if self.path == "/_control/login":
            with STATE.lock:
                data = json.dumps(LOGIN.log).encode()
            self._send(200, data)
            return
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
                STATE.rotating = False
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
                LOGIN.__init__()
            self._send(200, b"{}")
            return
        if self.path == "/_control/login":
            with STATE.lock:
                LOGIN.script = json.loads(body or b"{}")
            self._send(200, b"{}")
            return
        if self.path == "/_control/approve":
            with STATE.lock:
                LOGIN.approved = True
            self._send(200, b"{}")
            return
        if self.path == "/api/accounts/deviceauth/usercode":
            self._usercode(body)
            return
        if self.path == "/api/accounts/deviceauth/token":
            self._device_poll(body)
            return
        if self.path == "/oauth/revoke":
            self._revoke(body)
            return
        if self.path != "/oauth/token":
            self._send(404, b"{}")
            return
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            self._token_form(body)
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


def _problem(text):
    LOGIN.log["problems"].append(text)


def _login_methods():
    from urllib.parse import parse_qsl, urlencode, urlsplit

    def _authorize(self):
        query = urlsplit(self.path).query
        pairs = parse_qsl(query, keep_blank_values=True)
        params = dict(pairs)
        names = [k for k, _ in pairs]
        with STATE.lock:
            script = dict(LOGIN.script)
            LOGIN.log["authorize"].append({"query": query, "params": params, "time": time.time()})
            expected = ["response_type", "client_id", "redirect_uri", "scope", "code_challenge",
                        "code_challenge_method", "id_token_add_organizations", "codex_cli_simplified_flow",
                        "state", "originator"]
            if names[:len(expected)] != expected:
                _problem(f"authorize: parameters {names}")
            checks = {"response_type": "code", "client_id": CLIENT_ID, "scope": SCOPE,
                      "code_challenge_method": "S256", "id_token_add_organizations": "true",
                      "codex_cli_simplified_flow": "true"}
            for k, v in checks.items():
                if params.get(k) != v:
                    _problem(f"authorize: {k}={params.get(k)!r}")
            if "%20" not in query:
                _problem("authorize: spaces not encoded as %20")
            LOGIN.serial += 1
            code = f"code-{LOGIN.serial}"
            LOGIN.codes[code] = {"challenge": params.get("code_challenge"),
                                 "redirect_uri": params.get("redirect_uri")}
        mode = script.get("authorize", "ok")
        answer = {"state": params.get("state", "")}
        if mode == "wrong_state":
            answer = {"state": "not-the-state", "code": code}
        elif mode == "error":
            answer["error"] = script.get("error", "access_denied")
            if script.get("error_description") is not None:
                answer["error_description"] = script["error_description"]
        elif mode != "no_code":
            answer["code"] = code
        self.send_response(302)
        self.send_header("Location", params.get("redirect_uri", "") + "?" + urlencode(answer))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _token_form(self, body):
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        grant = form.get("grant_type")
        with STATE.lock:
            script = dict(LOGIN.script)
            if grant == "authorization_code":
                entry = dict(form, time=time.time())
                LOGIN.log["exchanges"].append(entry)
                known = LOGIN.codes.pop(form.get("code"), None)
                ok = known is not None
                if not ok:
                    _problem(f"exchange: unknown code {form.get('code')!r}")
                else:
                    if form.get("redirect_uri") != known["redirect_uri"]:
                        _problem(f"exchange: redirect_uri {form.get('redirect_uri')!r} != {known['redirect_uri']!r}")
                        ok = False
                    verifier = form.get("code_verifier") or ""
                    if _s256(verifier) != known["challenge"]:
                        _problem("exchange: the verifier does not match the challenge")
                        ok = False
                    if len(verifier) != 86 and "verifier" not in known:
                        _problem(f"exchange: verifier of {len(verifier)} characters")
                if form.get("client_id") != CLIENT_ID:
                    _problem(f"exchange: client_id {form.get('client_id')!r}")
                    ok = False
                entry["verified"] = ok
                LOGIN.serial += 1
                serial = LOGIN.serial
            elif grant == "urn:ietf:params:oauth:grant-type:token-exchange":
                LOGIN.log["api_key_exchanges"].append(dict(form, time=time.time()))
            else:
                _problem(f"token form: grant_type {grant!r}")
        if grant == "authorization_code":
            if "exchange" in script and script["exchange"].get("quote_request"):
                # An endpoint that quotes the request in its error.
                self._send(int(script["exchange"].get("status", 400)), json.dumps(
                    {"error": "invalid_request", "error_description": f"cannot use {body.decode()}"}).encode())
            elif "exchange" in script:
                self._answer(script["exchange"])
            elif not ok:
                self._send(400, json.dumps({"error": "invalid_grant",
                                            "error_description": "the code could not be verified"}).encode())
            else:
                tokens = {"id_token": _id_token(script.get("claims")),
                          "access_token": _jwt({"exp": 4102444800, "login": serial}),
                          "refresh_token": f"rt-login-{serial}"}
                self._send(200, json.dumps(tokens).encode())
        elif grant == "urn:ietf:params:oauth:grant-type:token-exchange":
            key = script.get("api_key", "sk-from-exchange")
            if form.get("requested_token") != "openai-api-key" or not form.get("subject_token") or key is None:
                self._send(400, json.dumps({"error": "invalid_request"}).encode())
            else:
                self._send(200, json.dumps({"access_token": key}).encode())
        else:
            self._send(400, json.dumps({"error": "unsupported_grant_type"}).encode())

    def _usercode(self, body):
        with STATE.lock:
            script = dict(LOGIN.script)
            LOGIN.log["usercode"].append({"body": body.decode("utf-8", "replace"), "time": time.time()})
            LOGIN.approved = False
        if "usercode" in script:
            self._answer(script["usercode"])
            return
        self._send(200, json.dumps({"device_auth_id": "dev-auth-1", "user_code": "ABCD-1234",
                                    "interval": script.get("interval", "1")}).encode())

    def _device_poll(self, body):
        import secrets
        with STATE.lock:
            script = dict(LOGIN.script)
            LOGIN.log["polls"].append({"body": body.decode("utf-8", "replace"), "time": time.time(),
                                       "approved": LOGIN.approved})
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                req = {}
            if req.get("device_auth_id") != "dev-auth-1" or req.get("user_code") != "ABCD-1234":
                _problem(f"poll: body {req!r}")
            approved = LOGIN.approved
            if approved:
                LOGIN.approved = False
                verifier = secrets.token_urlsafe(64)
                LOGIN.serial += 1
                code = f"device-code-{LOGIN.serial}"
                issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
                LOGIN.codes[code] = {"challenge": _s256(verifier), "verifier": verifier,
                                     "redirect_uri": issuer + "/deviceauth/callback"}
        if "poll" in script:
            self._answer(script["poll"])
        elif approved:
            self._send(200, json.dumps({"authorization_code": code, "code_challenge": _s256(verifier),
                                        "code_verifier": verifier}).encode())
        else:
            self._send(403, json.dumps({"error": "authorization_pending"}).encode())

    def _revoke(self, body):
        with STATE.lock:
            script = dict(LOGIN.script)
            try:
                parsed = json.loads(body or b"{}")
            except ValueError:
                parsed = None
                _problem("revoke: the body is not JSON")
            LOGIN.log["revokes"].append({"json": parsed, "content_type": self.headers.get("Content-Type"),
                                         "time": time.time()})
        self._answer(script.get("revoke", {"status": 200, "json": {}}))

    return _authorize, _token_form, _usercode, _device_poll, _revoke


def _jwt(payload):
    import base64
    enc = lambda d: base64.urlsafe_b64encode(d).decode().rstrip("=")  # noqa: E731
    return enc(b'{"alg":"none"}') + "." + enc(json.dumps(payload).encode()) + ".sig"


(Handler._authorize, Handler._token_form, Handler._usercode, Handler._device_poll,
 Handler._revoke) = _login_methods()


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
