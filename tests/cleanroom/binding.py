"""The HTTP/JSON binding (spec/openapi.yaml) on http.server, with a small router of its own.

Input is checked here against the operation's schema before the portal sees it, so that bad
input is a 4xx naming the field and never reaches the store (protocol.md §16.3).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .clock import OffsetClock
from .portal import Portal, PortalError, bad_input

log = logging.getLogger("ninsho.cleanroom.http")

PREFIX = "/api/v1"
MAX_BODY = 16 * 1024
MAX_STRING = 1024
TEST_CLOCK_HEADER = "X-Ninsho-Test-Clock"
ADVANCE_LIMIT = 316224000

# field -> (kind, required); kinds: str, str?, bool?, number.
Schema = dict[str, tuple[str, bool]]
LOGIN: Schema = {"login_id": ("str", True), "password": ("str", True), "trust_token": ("str?", False)}
SETUP_LOGIN: Schema = {"login_id": ("str", True), "password": ("str", True)}
SECOND_FACTOR: Schema = {"code": ("str", True), "trust_browser": ("bool?", False)}
CODE: Schema = {"code": ("str", True)}
ADDRESS: Schema = {"address": ("str", True)}
ADVANCE: Schema = {"advance_seconds": ("number", True)}
EMPTY: Schema = {}


@dataclass
class Request:
    """What an operation gets: path parameters, the checked body and the bearer token."""

    params: dict[str, str]
    body: dict[str, Any]
    bearer: str | None
    client: str = ""  # the peer's address: what the password throttle counts by (§3.1)


@dataclass
class Reply:
    """Status and JSON body (None for 204)."""

    status: int
    body: Any = None


Handler = Callable[[Request], Reply]


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def malformed(field: str, reason: str) -> PortalError:
    """Not JSON, not an object, or a field missing, unknown, duplicated or of the wrong type."""
    return PortalError(400, "malformed_body", "INPUT_ERRORS_PRECISE", field, reason=reason)


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_body(data: Any, schema: Schema) -> dict[str, Any]:
    """Unknown, missing and mistyped fields, oversized and unpaired-surrogate strings: 400."""
    if not isinstance(data, dict):
        raise malformed("body", "not a JSON object")
    for key in data:
        if key not in schema:
            raise malformed(key, "unknown field")
    for key, (kind, required) in schema.items():
        if key not in data:
            if required:
                raise malformed(key, "missing field")
            continue
        value = data[key]
        if value is None and kind.endswith("?"):
            continue
        base = kind.rstrip("?")
        if base == "str":
            if not isinstance(value, str):
                raise malformed(key, "not a string")
            if len(value) > MAX_STRING:
                raise bad_input(key, reason="too long")
            if any("\ud800" <= ch <= "\udfff" for ch in value):
                raise bad_input(key, reason="unpaired surrogate")
        elif base == "bool" and not isinstance(value, bool):
            raise malformed(key, "not a boolean")
        elif base == "number" and not _finite_number(value):
            raise malformed(key, "not a number")
    return data


class Router:
    """(method, path pattern) -> (schema, handler); a path known with another method is 405."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Schema | None, Handler]] = []

    def add(self, method: str, pattern: str, schema: Schema | None, handler: Handler) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.append((method, regex, schema, handler))

    def find(self, method: str, path: str) -> tuple[Schema | None, Handler, dict[str, str]] | list[str]:
        """The route, or the list of methods the path allows (empty: unknown path)."""
        allowed = []
        for route_method, regex, schema, handler in self._routes:
            match = regex.match(path)
            if match:
                if route_method == method:
                    return schema, handler, {k: unquote(v) for k, v in match.groupdict().items()}
                allowed.append(route_method)
        return allowed


def build_router(portal: Portal, test_clock: OffsetClock | None) -> Router:
    """Every operation of openapi.yaml."""
    r = Router()
    p = portal

    def admin(req: Request, requirement: str = "INPUT_ERRORS_PRECISE") -> None:
        p.check_admin(req.bearer, requirement)

    def add_user(req: Request) -> Reply:
        admin(req)
        return Reply(201, p.add_user(req.body["login_id"], req.body["password"]))

    def remove_user(req: Request) -> Reply:
        admin(req)
        p.remove_user(req.params["login_id"])
        return Reply(204)

    def helpdesk(req: Request) -> Reply:
        admin(req, "HELPDESK_ISSUES_CODE")
        return Reply(200, p.helpdesk_issue(req.params["login_id"]))

    def clock_state() -> dict[str, float]:
        if test_clock is None:
            raise PortalError(404, "test_clock_disabled", "TEST_CLOCK_DISABLED_BY_DEFAULT")
        return {"now": test_clock.now(), "offset_seconds": test_clock.offset}

    def clock_now(req: Request) -> Reply:
        return Reply(200, clock_state())

    def clock_advance(req: Request) -> Reply:
        clock_state()
        seconds = req.body["advance_seconds"]
        if not -ADVANCE_LIMIT <= seconds <= ADVANCE_LIMIT:
            raise bad_input("advance_seconds", reason="out of range")
        assert test_clock is not None
        test_clock.advance(float(seconds))
        return Reply(200, clock_state())

    def logout(req: Request) -> Reply:
        p.logout(req.bearer)
        return Reply(204)

    def b(req: Request, key: str) -> Any:
        return req.body.get(key)

    r.add(
        "POST",
        "/login",
        LOGIN,
        lambda q: Reply(200, p.login(b(q, "login_id"), b(q, "password"), b(q, "trust_token"), q.client)),
    )
    r.add(
        "POST",
        "/login-for-setup",
        SETUP_LOGIN,
        lambda q: Reply(200, p.login_for_setup(b(q, "login_id"), b(q, "password"), q.client)),
    )
    r.add("POST", "/second-factor/email-code", EMPTY, lambda q: Reply(200, p.request_email_code(q.bearer)))
    r.add(
        "POST",
        "/second-factor/app",
        SECOND_FACTOR,
        lambda q: Reply(200, p.submit_app_code(q.bearer, b(q, "code"), b(q, "trust_browser"))),
    )
    r.add(
        "POST",
        "/second-factor/email",
        SECOND_FACTOR,
        lambda q: Reply(200, p.submit_email_code(q.bearer, b(q, "code"), b(q, "trust_browser"))),
    )
    r.add("GET", "/settings", None, lambda q: Reply(200, p.settings(q.bearer)))
    r.add(
        "POST", "/settings/email", ADDRESS, lambda q: Reply(200, p.register_email(q.bearer, b(q, "address")))
    )
    r.add(
        "POST", "/settings/email/confirm", CODE, lambda q: Reply(200, p.confirm_email(q.bearer, b(q, "code")))
    )
    r.add("POST", "/settings/app", EMPTY, lambda q: Reply(200, p.start_app(q.bearer)))
    r.add(
        "POST", "/settings/app/register", CODE, lambda q: Reply(200, p.register_app(q.bearer, b(q, "code")))
    )
    r.add("POST", "/reset/initialize", EMPTY, lambda q: Reply(200, p.initialize(q.bearer)))
    r.add("POST", "/reset/resend", EMPTY, lambda q: Reply(200, p.resend(q.bearer)))
    r.add("POST", "/reset/confirm", CODE, lambda q: Reply(200, p.confirm_reset(q.bearer, b(q, "code"))))
    r.add("POST", "/logout", EMPTY, logout)
    r.add("POST", "/admin/users", SETUP_LOGIN, add_user)
    r.add("DELETE", "/admin/users/{login_id}", None, remove_user)
    r.add("POST", "/admin/helpdesk/{login_id}/code", EMPTY, helpdesk)
    r.add("GET", "/test-clock", None, clock_now)
    r.add("POST", "/test-clock", ADVANCE, clock_advance)
    r.add("GET", "/noop", None, lambda q: Reply(204))
    return r


class PortalServer(ThreadingHTTPServer):
    """One thread per connection; the router and the test clock hang on the server."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 resets connections when a client opens many at once
    # (a real-time conformance run does); the kernel caps it at somaxconn anyway.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], router: Router, test_clock: OffsetClock | None) -> None:
        self.router = router
        self.test_clock = test_clock
        super().__init__(address, PortalRequestHandler)


class PortalRequestHandler(BaseHTTPRequestHandler):
    """Parses, routes and answers; every answer is JSON in the one error shape or a 204."""

    server: PortalServer
    protocol_version = "HTTP/1.1"
    timeout = 30
    # The headers and the body are two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK of the headers, about 40 ms on every keep-alive answer.
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return "ninsho-cleanroom"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors found by http.server itself, in the JSON shape too."""
        error = PortalError(
            code if 400 <= code < 600 else 400, "invalid_input", "INPUT_ERRORS_PRECISE", "request"
        )
        self.close_connection = True
        self._write(error.status, error.body())

    def _write(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        data = b""
        if status != 204:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if self.server.test_clock is not None:
            self.send_header(TEST_CLOCK_HEADER, f"enabled; offset={self.server.test_clock.offset:g}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        try:
            self.end_headers()
            if data and self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; nothing to tell it

    def _read_body(self) -> bytes:
        """The raw body, Content-Length or chunked, at most MAX_BODY bytes (else 413)."""
        too_large = PortalError(413, "body_too_large", "INPUT_ERRORS_PRECISE", "body")
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if encoding:
            if encoding != "chunked":
                self.close_connection = True
                raise PortalError(
                    400, "invalid_input", "INPUT_ERRORS_PRECISE", "body", reason="transfer coding"
                )
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(1024).split(b";")[0].strip()
                try:
                    size = int(line, 16)
                except ValueError:
                    self.close_connection = True
                    raise malformed("body", "bad chunk") from None
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    raise too_large
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            raise bad_input("body", reason="bad Content-Length") from None
        if length < 0:
            self.close_connection = True
            raise bad_input("body", reason="bad Content-Length")
        if length > MAX_BODY:
            self.close_connection = True
            raise too_large
        return self.rfile.read(length)

    def _parse(self, raw: bytes, schema: Schema | None) -> dict[str, Any]:
        if schema is None:
            return {}
        if not raw.strip():
            if schema is EMPTY:
                return {}
            raise malformed("body", "missing body")
        media = (self.headers.get("Content-Type") or "").split(";")
        params = {
            k.strip().lower(): v.strip().strip('"').lower()
            for k, _, v in (m.partition("=") for m in media[1:])
        }
        if media[0].strip().lower() != "application/json" or params.get("charset", "utf-8") != "utf-8":
            raise PortalError(415, "unsupported_media_type", "INPUT_ERRORS_PRECISE", "body")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise malformed("body", "malformed UTF-8") from None
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
        except _Duplicate as exc:
            raise malformed(str(exc), "duplicate field") from None
        except (ValueError, RecursionError):
            raise malformed("body", "malformed JSON") from None
        return check_body(data, schema)

    def _bearer(self) -> str | None:
        value = self.headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_STRING:
            return None
        return token

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        headers: dict[str, str] = {}
        try:
            if not path.startswith(PREFIX + "/"):
                raise PortalError(404, "not_found", "INPUT_ERRORS_PRECISE")
            found = self.server.router.find(self.command, path[len(PREFIX) :])
            if isinstance(found, list):
                self._read_body()
                if found:
                    headers["Allow"] = ", ".join(found)
                    raise PortalError(405, "method_not_allowed", "INPUT_ERRORS_PRECISE")
                raise PortalError(404, "not_found", "INPUT_ERRORS_PRECISE")
            schema, handler, params = found
            raw = self._read_body()
            if path == PREFIX + "/test-clock" and self.server.test_clock is None:
                raise PortalError(404, "test_clock_disabled", "TEST_CLOCK_DISABLED_BY_DEFAULT")
            body = self._parse(raw, schema)
            reply = handler(Request(params, body, self._bearer(), self.client_address[0]))
            self._write(reply.status, reply.body)
        except PortalError as exc:
            if exc.status == 401:
                headers["WWW-Authenticate"] = "Bearer"
            if exc.retry_after is not None:
                headers["Retry-After"] = str(exc.retry_after)
            if exc.reason:
                log.info("%s %s -> %d %s (%s)", self.command, path, exc.status, exc.error, exc.reason)
            self._write(exc.status, exc.body(), headers)
        except Exception:
            log.exception("internal error on %s %s", self.command, path)
            self.close_connection = True
            error = PortalError(500, "internal_error", "INPUT_ERRORS_PRECISE")
            self._write(500, error.body())

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _handle


class RunningServer:
    """A server on a background thread, for tests and for the CLI's signal handling."""

    def __init__(self, server: PortalServer) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{PREFIX}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def start(self) -> RunningServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, finish, and close the listening socket."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


def make_server(
    portal: Portal, port: int, test_clock: OffsetClock | None, host: str = "127.0.0.1"
) -> PortalServer:
    """A server bound to host:port (0 for a free port), not yet serving."""
    return PortalServer((host, port), build_router(portal, test_clock), test_clock)
