"""The bilingual pages: the manuals' screens, with their labels, on the same core as the API.

The browser holds a signed session cookie (Starlette's SessionMiddleware) that carries the
core's session token, the CSRF synchronizer token and what the current screen needs to show
again after a redirect. It is signed, not encrypted, so it never holds a code or a TOTP secret.
Two more cookies: "Trust this browser" holds the core's trust token [TRUST_BROWSER], and
"Remember ECS-ID/SPS-ID" holds the login ID only, never the password [REMEMBER_LOGIN_ID].
Every cookie is HttpOnly and SameSite=Lax, and Secure when configured [WEB_COOKIE_FLAGS].
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ninsho.reference.core import links
from ninsho.reference.core.errors import NinshoError, NotPermitted, SessionExpired
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.state import Stage
from ninsho.reference.web import messages
from ninsho.reference.web.api import client_address
from ninsho.reference.web.config import Runtime
from ninsho.reference.web.errors import MalformedBody, UnsupportedMediaType, csrf_rejected
from ninsho.reference.web.workers import run_blocking

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
TRUST_COOKIE = "ninsho_trust"
REMEMBER_COOKIE = "ninsho_remember"
REMEMBER_SECONDS = 365 * 24 * 3600
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
POLL_SECONDS = 5  # how often the no-address reset screen of link mode asks whether it may go on

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def _call(request: Request, action: Callable[[Portal], T]) -> T:
    """Runs one core action in a worker thread: scrypt and SQLite block."""
    return await run_blocking(action, _runtime(request).portal)


# --- rendering -----------------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    notices = request.session.pop("notices", [])
    html = TEMPLATES.get_template(template).render(
        profile=_runtime(request).config.profile,
        csrf_token=csrf_token(request),
        signed_in=request.session.get("stage") in (Stage.AUTHENTICATED.value, Stage.SETUP.value),
        notices=[*notices, *context.pop("notices", [])],
        **context,
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, exc: NinshoError) -> Response:
    """The fallback page for an error no screen handled (called by the one error mapping)."""
    try:
        return render(
            request, "message.html", status=exc.status_hint, heading="エラー / Error", error=exc.as_dict()
        )
    except AssertionError:  # no session middleware ran (e.g. a body refused before it)
        text = f"{exc.message_ja}\n{exc.message_en}\n"
        return HTMLResponse(f"<!DOCTYPE html><meta charset=utf-8><pre>{_escape(text)}</pre>", exc.status_hint)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _notice(request: Request, message: dict[str, str]) -> None:
    request.session["notices"] = [*request.session.get("notices", []), message]


def _flawed(request: Request, flaw: str) -> bool:
    """A faulty portal's flaw of the pages (reference/faults.py): never on a correct portal."""
    return flaw in _runtime(request).flaws


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=not _flawed(request, "cookie-no-httponly"),
        samesite="lax",
        secure=_runtime(request).config.secure_cookies or request.url.scheme == "https",
    )


# --- input ---------------------------------------------------------------------------------
async def read_form(request: Request, *names: str) -> dict[str, str]:
    """The form's text fields, after the CSRF check [WEB_CSRF]; missing fields read as ""."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in FORM_TYPES:
        raise UnsupportedMediaType(
            "Send this form as application/x-www-form-urlencoded or multipart/form-data.",
            "このフォームは application/x-www-form-urlencoded か multipart/form-data で送信してください。",
            field="content-type",
        )
    async with request.form(max_files=0, max_fields=16) as form:
        values: dict[str, str] = {}
        for name in ("csrf_token", *names):
            value = form.get(name, "")
            if isinstance(value, UploadFile):
                raise MalformedBody(f"{name} must be text.", f"{name} はテキストにしてください。", field=name)
            values[name] = value
    expected = request.session.get("csrf")
    given = values.pop("csrf_token")
    if _flawed(request, "no-csrf"):
        return values
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise csrf_rejected()
    return values


def _token(request: Request) -> str:
    token = request.session.get("token")
    if not isinstance(token, str):
        raise SessionExpired(
            "Your session has ended. Please log in again.",
            "セッションの有効期限が切れました。再度ログインしてください。",
        )
    return token


def _signed_out(request: Request, exc: NinshoError) -> Response:
    """An expired or missing session sends the user back to the login screen, saying why."""
    for key in ("token", "stage", "reset", "sent_to"):
        request.session.pop(key, None)
    request.session["notices"] = [{"ja": exc.message_ja, "en": exc.message_en}]
    return _redirect("/login")


def _screen_for(request: Request) -> str:
    """The screen the session's stage belongs on."""
    stage = request.session.get("stage")
    if not request.session.get("token"):
        return "/login"
    if stage == Stage.FIRST_FACTOR.value:
        return "/mfa/app" if "app" in request.session.get("methods", []) else "/mfa/email"
    if stage == Stage.RESET.value:
        return "/reset" if isinstance(request.session.get("reset"), dict) else "/reset/initialize"
    return "/settings"


def screen(handler: Handler) -> Handler:
    """Turns a session that has ended into the login screen, and a screen the session's stage
    does not allow into the screen it does (saying why), instead of an error page."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except SessionExpired as exc:
            return _signed_out(request, exc)
        except NotPermitted as exc:
            target = _screen_for(request)
            if target == request.url.path or request.method != "GET":
                raise  # nowhere better to go, or a form posted out of turn: the error page
            _notice(request, {"ja": exc.message_ja, "en": exc.message_en})
            return _redirect(target)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


# --- login ---------------------------------------------------------------------------------
async def home(request: Request) -> Response:
    return _redirect(_screen_for(request))


async def login_page(request: Request) -> Response:
    remembered = request.cookies.get(REMEMBER_COOKIE, "")
    return render(request, "login.html", action="/login", login_id=remembered, remembered=bool(remembered))


async def login_submit(request: Request) -> Response:
    form = await read_form(request, "login_id", "password", "remember")
    trust = request.cookies.get(TRUST_COOKIE)
    client = client_address(request)
    try:
        result = await _call(
            request,
            lambda p: p.login(form["login_id"], form["password"], trust_token=trust, client=client),
        )
    except NinshoError as exc:
        return render(
            request,
            "login.html",
            status=exc.status_hint,
            action="/login",
            login_id=form["login_id"],
            remembered=bool(form["remember"]),
            error=exc.as_dict(),
        )
    request.session.update(token=result.session, stage=result.stage.value, login_id=form["login_id"])
    request.session["methods"] = list(result.methods)
    request.session["csrf"] = secrets.token_urlsafe(32)  # a new login, a new token
    if result.stage is Stage.FIRST_FACTOR:
        target = "/mfa/app" if "app" in result.methods else "/mfa/email"
    else:
        target = "/settings"
    response = _redirect(target)
    if form["remember"] and not _flawed(request, "forgets-login-id"):
        _set_cookie(request, response, REMEMBER_COOKIE, form["login_id"], REMEMBER_SECONDS)
    else:
        response.delete_cookie(REMEMBER_COOKIE)
    return response


async def setup_login_page(request: Request) -> Response:
    """ "Click here For Initial Setup or Setup Again": ID and password once more [RESET_REAUTHENTICATE]."""
    login_id = request.session.get("login_id") or request.cookies.get(REMEMBER_COOKIE, "")
    return render(request, "login.html", action="/setup-login", login_id=login_id, for_setup=True)


async def setup_login_submit(request: Request) -> Response:
    form = await read_form(request, "login_id", "password")
    try:
        client = client_address(request)
        result = await _call(
            request, lambda p: p.login_for_reset(form["login_id"], form["password"], client=client)
        )
    except NinshoError as exc:
        return render(
            request,
            "login.html",
            status=exc.status_hint,
            action="/setup-login",
            login_id=form["login_id"],
            for_setup=True,
            error=exc.as_dict(),
        )
    request.session.update(token=result.session, stage=result.stage.value, login_id=form["login_id"])
    request.session.pop("reset", None)
    return _redirect("/reset/initialize")


# --- second factor -------------------------------------------------------------------------
def _mfa(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    return render(
        request,
        template,
        status=status,
        login_id=request.session.get("login_id", ""),
        # Each page links to the other factor only if the account has it [SECOND_FACTOR_METHODS].
        has_app="app" in request.session.get("methods", []),
        has_email="email" in request.session.get("methods", []),
        **context,
    )


@screen
async def mfa_app_page(request: Request) -> Response:
    _token(request)
    return _mfa(request, "mfa_app.html")


@screen
async def mfa_email_page(request: Request) -> Response:
    _token(request)
    return _mfa(request, "mfa_email.html")


@screen
async def mfa_email_send(request: Request) -> Response:
    await read_form(request)
    token = _token(request)
    try:
        sent = await _call(request, lambda p: p.send_login_code(token))
    except SessionExpired:
        raise
    except NinshoError as exc:
        return _mfa(request, "mfa_email.html", status=exc.status_hint, error=exc.as_dict())
    return _mfa(request, "mfa_email.html", notices=[messages.email_sent_to(sent.address)])


def _second_factor(template: str, verify: Callable[[Portal, str, str, bool], Any]) -> Handler:
    @screen
    async def submit(request: Request) -> Response:
        form = await read_form(request, "code", "trust_browser")
        token = _token(request)
        trust = bool(form["trust_browser"])
        try:
            result = await _call(request, lambda p: verify(p, token, form["code"], trust))
        except SessionExpired:
            raise
        except NinshoError as exc:
            return _mfa(request, template, status=exc.status_hint, error=exc.as_dict())
        request.session["stage"] = result.stage.value
        if result.session:  # the password step's token is dead now [SESSION_TOKEN_RENEWED]
            request.session["token"] = result.session
        response = _redirect("/settings")
        if result.trust_token:
            max_age = _runtime(request).config.profile.trust_browser_duration_seconds
            _set_cookie(request, response, TRUST_COOKIE, result.trust_token, max_age)
        return response

    return submit


mfa_app_submit = _second_factor(
    "mfa_app.html", lambda p, token, code, trust: p.verify_app_code(token, code, trust_browser=trust)
)
mfa_email_submit = _second_factor(
    "mfa_email.html", lambda p, token, code, trust: p.verify_email_code(token, code, trust_browser=trust)
)


# --- settings ------------------------------------------------------------------------------
async def _settings(request: Request, tab: str, *, status: int = 200, **context: Any) -> Response:
    token = _token(request)
    view = await _call(request, lambda p: p.settings(token))
    if request.session.get("stage") != view.stage.value:  # unchanged, the cookie is not sent again
        request.session["stage"] = view.stage.value
    context.setdefault("sent_to", request.session.get("sent_to"))
    return render(
        request,
        "settings.html",
        status=status,
        tab=tab,
        view={"stage": view.stage.value, "address": view.address, "app_count": view.app_count},
        **context,
    )


@screen
async def settings_page(request: Request) -> Response:
    return await _settings(request, "mail", address_input="")


@screen
async def settings_email(request: Request) -> Response:
    """ "Send One-Time Password" [EMAIL_REGISTRATION_CONFIRM]."""
    form = await read_form(request, "address")
    token = _token(request)
    try:
        sent = await _call(request, lambda p: p.start_email_registration(token, form["address"]))
    except SessionExpired:
        raise
    except NinshoError as exc:
        return await _settings(
            request,
            "mail",
            status=exc.status_hint,
            address_input=form["address"],
            error=exc.as_dict(),
            sent_to=None,
        )
    request.session["sent_to"] = messages.email_sent_to(sent.address)  # [MESSAGE_EMAIL_SENT]
    return await _settings(request, "mail", address_input=sent.address)


@screen
async def settings_email_confirm(request: Request) -> Response:
    form = await read_form(request, "code")
    token = _token(request)
    try:
        await _call(request, lambda p: p.confirm_email_registration(token, form["code"]))
    except SessionExpired:
        raise
    except NinshoError as exc:
        return await _settings(request, "mail", status=exc.status_hint, address_input="", error=exc.as_dict())
    request.session.pop("sent_to", None)
    return await _settings(request, "mail", address_input="", notices=[messages.EMAIL_REGISTERED])


async def _app_tab(request: Request, *, status: int = 200, **context: Any) -> Response:
    """The App tab shows a fresh QR code each time: nothing is registered until "Register"."""
    token = _token(request)
    provisioning = await _call(request, lambda p: p.start_app_registration(token))
    qr = segno.make(provisioning.uri, error="m")
    return await _settings(
        request,
        "app",
        status=status,
        provisioning=provisioning,
        qr_data_uri=qr.png_data_uri(scale=6, border=2),
        **context,
    )


@screen
async def settings_app_page(request: Request) -> Response:
    return await _app_tab(request)


@screen
async def settings_app_register(request: Request) -> Response:
    """ "Register" with the code the app shows [APP_REGISTER_REQUIRES_CODE]."""
    form = await read_form(request, "code")
    token = _token(request)
    try:
        await _call(request, lambda p: p.confirm_app_registration(token, form["code"]))
    except SessionExpired:
        raise
    except NinshoError as exc:
        return await _app_tab(request, status=exc.status_hint, error=exc.as_dict())
    return await _settings(request, "app", notices=[messages.app_registered(_link_mode(request))])


# --- reset ("Initialize") ------------------------------------------------------------------
@screen
async def initialize_page(request: Request) -> Response:
    _token(request)
    return render(request, "initialize.html")


async def _reset_action(request: Request, action: Callable[[Portal, str], Any]) -> Response:
    await read_form(request, "code")
    token = _token(request)
    try:
        screen_ = await _call(request, lambda p: action(p, token))
    except SessionExpired:
        raise
    except NinshoError as exc:
        if not isinstance(request.session.get("reset"), dict):  # refused before any reset screen:
            # the Initialize page says why (a lock, the mail limit), not a bare redirect to itself
            return render(request, "initialize.html", status=exc.status_hint, error=exc.as_dict())
        return _reset_screen(request, status=exc.status_hint, error=exc.as_dict())
    request.session["reset"] = {
        "login_id": screen_.login_id,
        "shown_address": screen_.shown_address,
        "mailed": screen_.mailed,
    }
    return _redirect("/reset")


@screen
async def initialize_submit(request: Request) -> Response:
    return await _reset_action(request, lambda p, token: p.initialize(token))


@screen
async def resend_submit(request: Request) -> Response:
    """ "Resend": a new code voids the old one [RESEND_VOIDS_PREVIOUS]."""
    return await _reset_action(request, lambda p, token: p.resend(token))


def _reset_screen(request: Request, *, status: int = 200, **context: Any) -> Response:
    shown = request.session.get("reset")
    if not isinstance(shown, dict):
        return _redirect("/reset/initialize")
    if _link_mode(request):
        context["link_message"] = messages.reset_screen(True, bool(shown.get("mailed")))
        # "ICT Support Center" 2: the open screen asks the server again until the center has
        # confirmed, then shows the QR code by itself.
        context["poll_seconds"] = None if shown.get("mailed") else POLL_SECONDS
    return render(request, "reset.html", status=status, screen=shown, **context)


@screen
async def reset_page(request: Request) -> Response:
    token = _token(request)
    if _link_mode(request) and not request.session.get("reset", {}).get("mailed", True):
        try:
            view = await _call(request, lambda p: p.settings(token))
        except NotPermitted:  # still a reset session: the center has not confirmed yet
            return _reset_screen(request)
        request.session.pop("reset", None)
        request.session["stage"] = view.stage.value
        _notice(request, messages.LINK_RESET_DONE)
        return _redirect("/settings/app")
    return _reset_screen(request)


def _link_mode(request: Request) -> bool:
    return _runtime(request).config.profile.reset_mode == "link"


# --- the 2021 portal's reset link (protocol.md §19.4) --------------------------------------
async def reset_link_page(request: Request) -> Response:
    """The URL in the mail: its token, exactly as mailed, then ID and password again (FAQ 5)."""
    token = links.token_of(request.url.query)  # a truncated or extended link: the error page
    return render(request, "login.html", action="/reset/link", link_token=token, for_setup=True)


async def reset_link_submit(request: Request) -> Response:
    form = await read_form(request, "token", "login_id", "password")
    client = client_address(request)
    try:
        result = await _call(
            request,
            lambda p: p.open_reset_link(form["token"], form["login_id"], form["password"], client=client),
        )
    except NinshoError as exc:
        return render(
            request,
            "login.html",
            status=exc.status_hint,
            action="/reset/link",
            link_token=form["token"],
            login_id=form["login_id"],
            for_setup=True,
            error=exc.as_dict(),
        )
    request.session.update(token=result.session, stage=result.stage.value, login_id=form["login_id"])
    request.session.pop("reset", None)
    request.session["csrf"] = secrets.token_urlsafe(32)  # a new login, a new token
    _notice(request, messages.LINK_RESET_DONE)  # FAQ 6
    response = _redirect("/settings")
    response.delete_cookie(TRUST_COOKIE)  # the reset revoked it anyway [TRUST_BROWSER_REVOKED_BY_RESET]
    return response


@screen
async def reset_confirm(request: Request) -> Response:
    form = await read_form(request, "code")
    token = _token(request)
    try:
        stage = await _call(request, lambda p: p.confirm_reset(token, form["code"]))
    except SessionExpired:
        raise
    except NinshoError as exc:
        return _reset_screen(request, status=exc.status_hint, error=exc.as_dict())
    request.session.pop("reset", None)
    request.session["stage"] = stage.value
    _notice(request, messages.RESET_DONE)
    response = _redirect("/settings")
    response.delete_cookie(TRUST_COOKIE)  # the reset revoked it anyway [TRUST_BROWSER_REVOKED_BY_RESET]
    return response


# --- logout [LOGOUT] -----------------------------------------------------------------------
async def logout(request: Request) -> Response:
    await read_form(request)
    token = request.session.get("token")
    if isinstance(token, str):
        with suppress(SessionExpired):  # already over: logging out is still what the user gets
            await _call(request, lambda p: p.logout(token))
    csrf = request.session.get("csrf")
    request.session.clear()
    request.session["csrf"] = csrf
    _notice(request, messages.LOGGED_OUT)
    return _redirect("/login")


async def help_page(request: Request) -> Response:
    return render(request, "message.html", heading="お困りの方はこちら / Need Help?", help=True)


def routes() -> list[BaseRoute]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/", home, methods=get),
        Route("/login", login_page, methods=get),
        Route("/login", login_submit, methods=post),
        Route("/setup-login", setup_login_page, methods=get),
        Route("/setup-login", setup_login_submit, methods=post),
        Route("/mfa/app", mfa_app_page, methods=get),
        Route("/mfa/app", mfa_app_submit, methods=post),
        Route("/mfa/email", mfa_email_page, methods=get),
        Route("/mfa/email", mfa_email_submit, methods=post),
        Route("/mfa/email/send", mfa_email_send, methods=post),
        Route("/settings", settings_page, methods=get),
        Route("/settings/email", settings_email, methods=post),
        Route("/settings/email/confirm", settings_email_confirm, methods=post),
        Route("/settings/app", settings_app_page, methods=get),
        Route("/settings/app/register", settings_app_register, methods=post),
        Route("/reset/initialize", initialize_page, methods=get),
        Route("/reset/initialize", initialize_submit, methods=post),
        Route("/reset", reset_page, methods=get),
        Route("/reset/resend", resend_submit, methods=post),
        Route("/reset/confirm", reset_confirm, methods=post),
        Route("/reset/link", reset_link_page, methods=get),
        Route("/reset/link", reset_link_submit, methods=post),
        Route("/logout", logout, methods=post),
        Route("/help", help_page, methods=get),
    ]
