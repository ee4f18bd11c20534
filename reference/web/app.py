"""The app factory: one core, two faces (the JSON API and the bilingual pages).

Errors are mapped to HTTP in exactly one place, :func:`error_response`: a
:class:`~ninsho.reference.core.errors.NinshoError` becomes its ``as_dict()`` with its ``status_hint``,
as JSON under ``/api/`` and as a bilingual page elsewhere. Everything else that escapes a
handler is a bug and becomes a bare 500 with no detail (and a log line).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from email.utils import formatdate
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ninsho.reference.clocks import LANE_NAME, TEST_CLOCK_LANE
from ninsho.reference.core.errors import NinshoError
from ninsho.reference.web import api, pages
from ninsho.reference.web.config import Runtime, ServerConfig, build_runtime
from ninsho.reference.web.errors import (
    MalformedBody,
    bad_lane,
    body_too_large,
    internal_error,
    method_not_allowed,
    not_found,
)

log = logging.getLogger("ninsho")
STATIC = Path(__file__).parent / "static"

# The header that announces the test clock on every response [TEST_CLOCK_DISABLED_BY_DEFAULT].
TEST_CLOCK_HEADER = b"x-ninsho-test-clock"
# The request header that names the request's test-clock lane (spec/protocol.md §17, "Lanes").
LANE_HEADER = b"ninsho-test-clock-lane"
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_PAGE_CSP = (
    b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'"
)


def error_response(request: Request, exc: NinshoError) -> Response:
    """The one mapping from the exception tree to HTTP."""
    # scope["path"], not request.url.path: the same prefix (URL only percent-escapes "?", "#" and
    # backslashes), without building and re-parsing the whole URL on every refusal.
    retry_after = getattr(exc, "retry_after", None)  # a throttle's or the mail limit's wait
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if request.scope["path"].startswith("/api/"):
        return JSONResponse(exc.as_dict(), status_code=exc.status_hint, headers=headers)
    response = pages.error_page(request, exc)
    response.headers.update(headers or {})
    return response


async def _on_ninsho_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NinshoError)
    return error_response(request, exc)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: NinshoError
    if exc.status_code == 405:
        error = method_not_allowed()
    elif exc.status_code == 404:
        error = not_found()
    else:  # Starlette's own refusals, e.g. a multipart form with a file or too many fields
        error = MalformedBody(
            f"The request was refused: {exc.detail}",
            f"リクエストを受け付けられません: {exc.detail}",
            field="body",
        )
        error.status_hint = exc.status_code if 400 <= exc.status_code < 500 else 400
    response = error_response(request, error)
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:  # RFC 9110 §15.5.6: every method the resource takes
        # From the top: by now Starlette has moved the scope's root_path into the mount it chose.
        top = {**request.scope, "root_path": request.scope.get("app_root_path", "")}
        response.headers["Allow"] = ", ".join(sorted(_allowed_methods(request.app.routes, top)))
    return response


def _allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> set[str]:
    """The methods of every route at this path. Starlette's own Allow names only the first
    route that matched the path, and the pages have one route for GET and another for POST."""
    methods: set[str] = set()
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            methods |= _allowed_methods(route.routes, {**scope, **child})
        elif isinstance(route, Route) and route.methods:
            methods |= route.methods
    return methods


async def _on_client_gone(request: Request, exc: Exception) -> Response:
    """The client left in the middle of its request (a closed tab, a dropped upload): nobody
    reads an answer, and it is no error of ours. One line, not two tracebacks (uvicorn's and
    ours: 20 such requests once wrote 142 KB of log)."""
    log.info("client left before its request was read: %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, internal_error())


class EdgeMiddleware:
    """Limits request bodies while they are read, and stamps every response.

    The limit is checked on ``Content-Length`` first and then on the bytes actually received,
    so a chunked or lying client is stopped too [INPUT_ERRORS_PRECISE]. ``Date`` comes from the
    portal's own clock, so a harness measuring the clock offset sees the test clock's time.
    """

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.limit = runtime.config.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = error_response(Request(scope), body_too_large(self.limit))
            await response(scope, receive, self._stamped(send, scope))
            return
        lane = headers.get(LANE_HEADER) if self.runtime.config.test_clock else None
        if lane is not None:  # §17 "Lanes": the request's time is its lane's; ignored while disabled
            name = lane.decode("latin-1")
            if LANE_NAME.fullmatch(name) is None:
                response = error_response(Request(scope), bad_lane(name))
                await response(scope, receive, self._stamped(send, scope))
                return
            token = TEST_CLOCK_LANE.set(name)
            try:
                await self._limited(scope, receive, send)
            finally:
                TEST_CLOCK_LANE.reset(token)
            return
        await self._limited(scope, receive, send)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise body_too_large(self.limit)
            return message

        await self.app(scope, limited_receive, self._stamped(send, scope))

    def _stamped(self, send: Send, scope: Scope) -> Send:
        # A request that came over https (directly, or through a proxy uvicorn trusts with
        # X-Forwarded-Proto) gets every cookie Secure, the session's as much as the remember's:
        # SessionMiddleware knows only the configured flag [WEB_COOKIE_FLAGS].
        over_https = scope.get("scheme") == "https"

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                if over_https:
                    headers = [(k, _secure(v) if k.lower() == b"set-cookie" else v) for k, v in headers]
                headers.append((b"date", formatdate(self.runtime.clock.now(), usegmt=True).encode()))
                headers.extend(_SECURITY_HEADERS)
                if self.runtime.config.test_clock:  # §17, named by spec/openapi.yaml
                    headers.append((TEST_CLOCK_HEADER, b"enabled"))
                names = {k.lower() for k, _ in headers}
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    headers.append((b"content-security-policy", _PAGE_CSP))
                message = {**message, "headers": headers}
            await send(message)

        return stamped


def _secure(cookie: bytes) -> bytes:
    attributes = {part.strip().lower() for part in cookie.split(b";")[1:]}
    return cookie if b"secure" in attributes else cookie + b"; Secure"


def create_app(config: ServerConfig, runtime: Runtime | None = None) -> Starlette:
    """The portal as an ASGI app. ``runtime`` lets a test keep a handle on the same core."""
    runtime = runtime or build_runtime(config)
    if config.test_clock:
        log.warning(
            "*** TEST CLOCK ENABLED: anyone who can reach /api/v1/test-clock can move this portal's "
            "time. Never run a production portal like this. [TEST_CLOCK_DISABLED_BY_DEFAULT] ***"
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        runtime.close()

    app = Starlette(
        routes=[
            Route("/healthz", api.healthz, methods=["GET"]),
            Mount("/api/v1", routes=api.routes()),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
            *pages.routes(),
        ],
        middleware=[
            Middleware(EdgeMiddleware, runtime=runtime),
            Middleware(
                SessionMiddleware,
                secret_key=config.cookie_secret,
                session_cookie="ninsho_session",
                max_age=None,  # a browser-session cookie; the core expires the session itself
                same_site="lax",
                https_only=config.secure_cookies,
            ),
        ],
        exception_handlers={
            NinshoError: _on_ninsho_error,
            HTTPException: _on_http_exception,
            ClientDisconnect: _on_client_gone,
            Exception: _on_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
