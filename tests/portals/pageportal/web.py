"""The ASGI application: one catch-all endpoint that hands every request to the chosen skin.

Cookies are HttpOnly and SameSite=Lax; every POST (and the logout link) carries a CSRF token,
the HMAC of a random browser cookie under a server key (signed double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .actions import Portal
from .clock import Clock
from .faults import faulty
from .flows import Flows, Outcome, Visit
from .mailer import Mailer
from .profile import Profile, load_profile
from .refusals import Refusal
from .skin import Skin
from .store import Store

MAX_BODY = 64 * 1024
CLOCK_PATHS = ("/test-clock", "/api/v1/test-clock")
CLOCK_HEADER = "X-Test-Clock"
YEAR_SECONDS = 365 * 24 * 3600  # the script cookie's Max-Age
HERE = Path(__file__).parent


def make_skin(name: str, profile: Profile) -> Skin:
    """The skin called ``name`` ("table" or "sjis")."""
    if name == "table":
        from .skin_table import TableSkin

        return TableSkin(profile, HERE / "templates" / "table")
    if name == "sjis":
        from .skin_sjis import SjisSkin

        return SjisSkin(profile, HERE / "templates" / "sjis")
    raise ValueError(f"unknown skin {name!r} (table or sjis)")


def _error_json(
    status: int, error: str, requirement: str, field: str | None, ja: str, en: str
) -> JSONResponse:
    body = {"error": error, "requirement": requirement, "field": field, "message": {"ja": ja, "en": en}}
    return JSONResponse(body, status_code=status)


class Web:
    """Binds a portal, its flows and one skin into request handling."""

    def __init__(self, portal: Portal, skin: Skin) -> None:
        self.portal, self.skin, self.flows = portal, skin, Flows(portal)
        key = portal.store.meta("csrf_key")
        if key is None:
            key = secrets.token_hex(32)
            portal.store.set_meta("csrf_key", key)
        self.key = bytes.fromhex(key)

    def csrf_token(self, browser: str) -> str:
        """The token a form of this browser must carry."""
        return hmac.new(self.key, browser.encode(), hashlib.sha256).hexdigest()[:40]

    async def test_clock(self, request: Request) -> Response:
        """GET/POST /test-clock of openapi.yaml; 404 unless enabled at start-up."""
        clock = self.portal.clock
        if not clock.adjustable:
            return _error_json(
                404, "not_found", "TEST_CLOCK_DISABLED_BY_DEFAULT", None,
                "テストクロックは無効です。", "The test clock is disabled.",
            )  # fmt: skip
        if request.method == "POST":
            if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                return _error_json(415, "unsupported_media_type", "INPUT_ERRORS_PRECISE", None,
                                   "JSONで送信してください。", "Send JSON.")  # fmt: skip
            body = await request.body()
            if len(body) > 4096:
                return _error_json(413, "too_large", "INPUT_ERRORS_PRECISE", None,
                                   "リクエストが大きすぎます。", "The request is too large.")  # fmt: skip
            try:
                doc = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                doc = None
            value = (
                doc.get("advance_seconds")
                if isinstance(doc, dict) and set(doc) == {"advance_seconds"}
                else None
            )
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not -316224000 <= value <= 316224000
            ):
                return _error_json(400, "invalid_input", "INPUT_ERRORS_PRECISE", "advance_seconds",
                                   "advance_seconds が不正です。", "advance_seconds is not valid.")  # fmt: skip
            clock.advance(float(value))
        elif request.method != "GET":
            return _error_json(405, "method_not_allowed", "INPUT_ERRORS_PRECISE", None,
                               "この操作はできません。", "Method not allowed.")  # fmt: skip
        return JSONResponse({"now": clock.now(), "offset_seconds": clock.offset})

    async def endpoint(self, request: Request) -> Response:
        """Every page and form of the skin."""
        if request.url.path in CLOCK_PATHS:
            response = await self.test_clock(request)
        else:
            response = await self.page(request)
        if self.portal.clock.adjustable:
            response.headers[CLOCK_HEADER] = "enabled"
        return response

    async def _body(self, request: Request) -> bytes:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Refusal("too_large")
            chunks.append(chunk)
        body = b"".join(chunks)
        if body and kind != "application/x-www-form-urlencoded":
            raise Refusal("media_type")
        return body

    async def page(self, request: Request) -> Response:
        """Resolve, check CSRF, run the flow in a worker thread, render."""
        skin = self.skin
        if request.url.path == "/" and request.method == "GET":
            return RedirectResponse(skin.url("login"), status_code=303)
        browser = request.cookies.get(skin.cookies["browser"])
        new_browser = None
        if not browser:
            browser = new_browser = secrets.token_urlsafe(24)
        screen: str | None = None
        try:
            if request.method not in ("GET", "POST"):
                raise Refusal("method")
            pairs = skin.decode_form(await self._body(request)) if request.method == "POST" else []
            query = {k: v for k, v in request.query_params.items()}
            screen, action = skin.resolve(request.method, request.url.path, query, pairs)
            if request.method == "POST" or screen == "logout":
                sent = dict(pairs).get(skin.csrf_field) if request.method == "POST" else query.get("k")
                if new_browser or not sent or not hmac.compare_digest(sent, self.csrf_token(browser)):
                    raise Refusal("csrf", "WEB_CSRF")
            visit = Visit(
                method=request.method, screen=screen, action=action,
                form=skin.logical_form(pairs, frozenset({"do", "resend", "confirm"})),
                session_token=request.cookies.get(skin.cookies["session"]),
                trust_token=request.cookies.get(skin.cookies["trust"]),
                remembered=unquote(request.cookies.get(skin.cookies["remember"], "")),
                client=request.client.host if request.client else "",
            )  # fmt: skip
            outcome = await run_in_threadpool(self.flows.handle, visit)
        except Refusal as refusal:
            outcome = Outcome(screen="error", error=refusal, status=refusal.status)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            outcome = Outcome(screen="error", error=Refusal("internal"), status=500)
        response = self.respond(outcome, browser, screen)
        if new_browser:
            response.set_cookie(skin.cookies["browser"], new_browser, path=skin.cookie_path, httponly=True)
        return response

    def respond(self, outcome: Outcome, browser: str, screen: str | None) -> Response:
        """Turn an outcome into a redirect or a page, with its cookies."""
        skin = self.skin
        response: Response
        if outcome.redirect:
            response = RedirectResponse(skin.url(outcome.redirect), status_code=303)
        else:
            page = outcome.screen or "error"
            context = self.context(outcome, browser, page if page != "error" else screen)
            body = skin.render(f"{page}.html", context)
            response = Response(body, status_code=outcome.status, media_type="text/html")
            response.headers["content-type"] = f"text/html; charset={skin.charset}"
            response.headers["cache-control"] = "no-store"
        for logical, (value, max_age) in outcome.cookies.items():
            name = skin.cookies[logical]
            if value:
                stored = quote(value, safe="") if logical == "remember" else value
                response.set_cookie(name, stored, max_age=max_age, path=skin.cookie_path, httponly=True)
            else:
                response.delete_cookie(name, path=skin.cookie_path, httponly=True)
        session = outcome.cookies.get("session")
        if skin.script_cookie and session is not None and session[0]:
            token = secrets.token_urlsafe(16)
            response.set_cookie(skin.script_cookie, token, max_age=YEAR_SECONDS, path="/", samesite="lax")
        return response

    def context(self, outcome: Outcome, browser: str, screen: str | None) -> dict[str, Any]:
        """Everything a template may use."""
        skin, profile = self.skin, self.portal.profile
        token = self.csrf_token(browser)
        logout = skin.url("logout")
        data: dict[str, Any] = {"typed": {}, "notice": None, "login_id": None, "stage": None}
        data.update(outcome.data)
        error = outcome.error
        return {
            **data,
            "screen": screen,
            "u": skin.url,
            "f": skin.fields,
            "csrf_field": skin.csrf_field,
            "csrf": token,
            "logout_href": f"{logout}{'&' if '?' in logout else '?'}k={token}",
            "error": skin.message(error, screen) if error else None,
            "error_kind": error.kind if error else None,
            "error_requirement": error.requirement if error else None,
            "error_field": skin.fields.get(error.field or "", error.field) if error else None,
            "notice_text": skin.notices.get(data["notice"]) if data["notice"] else None,
            "sender": profile.text("mail.sender"),
            "placeholder": profile.text("reset.placeholder_address"),
            "phone": profile.text("helpdesk.phone"),
            "hours": profile.text("helpdesk.hours"),
            "blocked_domains": profile.domains(),
        }


def build_app(
    profile: Profile | str | Path,
    db_path: str | Path,
    skin: str = "table",
    smtp_host: str = "127.0.0.1",
    smtp_port: int | None = None,
    test_clock: bool = False,
    fault: str | None = None,
) -> Starlette:
    """The portal as an ASGI app, for ``serve`` and for in-process tests; ``fault`` one of
    :data:`.faults.FAULTS`."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    prof = faulty(prof, fault)
    store = Store(db_path)
    if test_clock:  # starts at offset 0; the offset is shared with the helpdesk command through the store
        clock = Clock(True, 0.0, lambda off: store.set_meta("clock_offset", repr(off)))
        store.set_meta("clock_offset", "0.0")
    else:
        clock = Clock()
        store.set_meta("clock_offset", None)
    store.set_meta("confirmation_digits", str(prof.num("confirmation_code.digits")))
    mailer = Mailer(smtp_host, smtp_port, prof.text("mail.sender")) if smtp_port else None
    web = Web(Portal(prof, store, clock, mailer), make_skin(skin, prof))
    app = Starlette(
        routes=[Route("/{path:path}", web.endpoint, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])]
    )
    app.state.web = web
    return app
