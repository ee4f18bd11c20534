"""The JSON API, ``/api/v1/``: one operation per user action of the manuals (spec/openapi.yaml).

Handlers are thin on purpose: read and type-check the body, call one core method in a worker
thread (scrypt and SQLite block), shape the outcome. Refusals are raised as the core's errors
and mapped to HTTP by :func:`ninsho.reference.web.app.error_response`.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ninsho.reference.clocks import MAX_LANES, ShiftedClock, TooManyLanes
from ninsho.reference.core.errors import InvalidInput, SessionExpired
from ninsho.reference.core.portal import MAX_TRUST_TOKEN_CHARS, LoginResult, Portal, ResetScreen, Verified
from ninsho.reference.web import messages
from ninsho.reference.web.config import Runtime
from ninsho.reference.web.errors import AdminRefused, MalformedBody, TestClockDisabled, UnsupportedMediaType
from ninsho.reference.web.workers import run_blocking

T = TypeVar("T")

# A field's expected JSON type and whether it is required.
STR, OPT_STR, OPT_BOOL, NUMBER = (str, True), (str, False), (bool, False), (float, True)
MAX_CLOCK_ADVANCE_SECONDS = 10 * 366 * 24 * 3600


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def client_address(request: Request) -> str:
    """The client the password throttle counts by (protocol.md §3.1): the address the request
    came from, or the one a proxy forwards when uvicorn trusts that proxy (its
    ``--forwarded-allow-ips``, loopback by default), never a header any client may set."""
    return request.client.host if request.client is not None else ""


async def call(request: Request, action: Callable[[Portal], T]) -> T:
    portal = runtime(request).portal
    return await run_blocking(action, portal)


# --- input -------------------------------------------------------------------------------
def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads(..., parse_constant=...) builds a new decoder (and its scanner) on
# every call. json.loads also refuses a leading BOM; decode() refuses it too (not a JSON value),
# with the same ValueError, so the answer is the same MalformedBody.
_decode_json = json.JSONDecoder(parse_constant=_reject_constant).decode


async def read_json(request: Request, fields: Mapping[str, tuple[type, bool]]) -> dict[str, Any]:
    """The body as a JSON object with exactly ``fields``, each of its type; an empty body
    stands for ``{}``. Every refusal names the field at fault [INPUT_ERRORS_PRECISE]."""
    body = await request.body()
    if not body:  # no body at all stands for {}: a missing field is then named below
        return _typed({}, fields)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(
            "Send the request body as application/json.",
            "リクエストの本文は application/json で送信してください。",
            field="content-type",
        )
    try:
        data = _decode_json(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedBody(
            "The request body is not valid UTF-8 JSON.",
            "リクエストの本文が正しい UTF-8 の JSON ではありません。",
            field="body",
        ) from None
    if not isinstance(data, dict):
        raise MalformedBody(
            "The request body must be a JSON object.",
            "本文は JSON オブジェクトにしてください。",
            field="body",
        )
    return _typed(data, fields)


def _typed(data: dict[str, Any], fields: Mapping[str, tuple[type, bool]]) -> dict[str, Any]:
    for key in data:
        if key not in fields:
            name = key if len(key) <= 64 else key[:64] + "…"
            raise MalformedBody(f"Unknown field {name!r}.", f"不明な項目 {name!r} があります。", field=name)
    for name, (kind, required) in fields.items():
        if name not in data:
            if required:
                raise MalformedBody(
                    f"The field {name!r} is required.", f"項目 {name!r} は必須です。", field=name
                )
            continue
        value = data[name]
        if value is None and not required:
            continue
        if not _is(value, kind):
            type_name = {str: "string", bool: "boolean", float: "number"}[kind]
            raise MalformedBody(
                f"The field {name!r} must be a {type_name}.",
                f"項目 {name!r} は {type_name} にしてください。",
                field=name,
            )
        if kind is str and not _is_text(value):
            raise InvalidInput(
                f"The field {name!r} holds a character that is not text (a lone surrogate).",
                f"項目 {name!r} に文字として扱えないもの（対になっていないサロゲート）が含まれています。",
                field=name,
            )
    return data


def _is(value: object, kind: type) -> bool:
    """JSON's types. A 400-digit integer and ``1e400`` (read as infinity) are numbers too: their
    refusal is the field's range's, invalid input, as spec/openapi.yaml's bounds draw it."""
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _is_text(value: str) -> bool:
    """JSON's \\udc80 escapes decode to a lone surrogate, which no UTF-8 store, digest or mail can
    hold: refused here, once, rather than as a UnicodeEncodeError deep in the portal."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def session_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SessionExpired(
            "Log in first: send 'Authorization: Bearer <session>'.",
            "先にログインしてください（Authorization: Bearer <session> を送信）。",
            field="authorization",
        )
    return token.strip()


def check_admin(request: Request, requirement: str) -> None:
    expected = runtime(request).config.admin_token
    if not expected:
        raise AdminRefused(
            "The admin API is disabled: no admin token is configured.",
            "管理 API は無効です（管理トークンが設定されていません）。",
            requirement=requirement,
            field="authorization",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise AdminRefused(
            "The admin token is missing or wrong.",
            "管理トークンがないか、正しくありません。",
            requirement=requirement,
            field="authorization",
            status_hint=401,
        )


# --- shaping outcomes ------------------------------------------------------------------
def _login(result: LoginResult) -> dict[str, Any]:
    return {"session": result.session, "stage": result.stage.value, "methods": list(result.methods)}


def _verified(result: Verified) -> dict[str, Any]:
    renewed = {"session": result.session} if result.session else {}  # [SESSION_TOKEN_RENEWED]
    return {"stage": result.stage.value, "trust_token": result.trust_token, **renewed}


def _link_mode(request: Request) -> bool:
    return runtime(request).config.profile.reset_mode == "link"


def _reset(request: Request, screen: ResetScreen) -> dict[str, Any]:
    message = messages.reset_screen(_link_mode(request), screen.mailed)
    return {
        "login_id": screen.login_id,
        "shown_address": screen.shown_address,
        "mailed": screen.mailed,
        "message": message,
    }


def _sent(address: str) -> dict[str, Any]:
    return {"address": address, "message": messages.email_sent_to(address)}


# --- first factor ------------------------------------------------------------------------
async def login(request: Request) -> Response:
    data = await read_json(request, {"login_id": STR, "password": STR, "trust_token": OPT_STR})
    trust = data.get("trust_token")
    if trust is not None and len(trust) > MAX_TRUST_TOKEN_CHARS:  # no token issued is longer
        raise InvalidInput(
            f"The trust token is longer than {MAX_TRUST_TOKEN_CHARS} characters: send the one the portal gave.",
            f"信頼トークンが{MAX_TRUST_TOKEN_CHARS}文字を超えています。ポータルが発行したものを送信してください。",
            requirement="TRUST_BROWSER",
            field="trust_token",
        )
    client = client_address(request)
    result = await call(
        request,
        lambda p: p.login(
            data["login_id"], data["password"], trust_token=data.get("trust_token"), client=client
        ),
    )
    return JSONResponse(_login(result))


async def login_for_setup(request: Request) -> Response:
    data = await read_json(request, {"login_id": STR, "password": STR})
    client = client_address(request)
    result = await call(
        request, lambda p: p.login_for_reset(data["login_id"], data["password"], client=client)
    )
    return JSONResponse(_login(result))


# --- second factor -----------------------------------------------------------------------
async def request_email_code(request: Request) -> Response:
    token = session_token(request)
    await read_json(request, {})
    sent = await call(request, lambda p: p.send_login_code(token))
    return JSONResponse(_sent(sent.address))


async def second_factor_app(request: Request) -> Response:
    token = session_token(request)
    data = await read_json(request, {"code": STR, "trust_browser": OPT_BOOL})
    trust = bool(data.get("trust_browser"))
    result = await call(request, lambda p: p.verify_app_code(token, data["code"], trust_browser=trust))
    return JSONResponse(_verified(result))


async def second_factor_email(request: Request) -> Response:
    token = session_token(request)
    data = await read_json(request, {"code": STR, "trust_browser": OPT_BOOL})
    trust = bool(data.get("trust_browser"))
    result = await call(request, lambda p: p.verify_email_code(token, data["code"], trust_browser=trust))
    return JSONResponse(_verified(result))


# --- settings ----------------------------------------------------------------------------
async def settings(request: Request) -> Response:
    token = session_token(request)
    view = await call(request, lambda p: p.settings(token))
    return JSONResponse(
        {
            "login_id": view.login_id,
            "stage": view.stage.value,
            "address": view.address,
            "app_count": view.app_count,
            "blocked_domains": list(runtime(request).config.profile.email_blocked_domains),
        }
    )


async def settings_email(request: Request) -> Response:
    token = session_token(request)
    data = await read_json(request, {"address": STR})
    sent = await call(request, lambda p: p.start_email_registration(token, data["address"]))
    return JSONResponse(_sent(sent.address))


async def settings_email_confirm(request: Request) -> Response:
    token = session_token(request)
    data = await read_json(request, {"code": STR})
    done = await call(request, lambda p: p.confirm_email_registration(token, data["code"]))
    return JSONResponse(
        {"address": done.address, "stage": "authenticated", "message": messages.EMAIL_REGISTERED}
    )


async def settings_app(request: Request) -> Response:
    token = session_token(request)
    await read_json(request, {})
    provisioning = await call(request, lambda p: p.start_app_registration(token))
    return JSONResponse({"uri": provisioning.uri, "manual_key": provisioning.manual_key})


async def settings_app_register(request: Request) -> Response:
    token = session_token(request)
    data = await read_json(request, {"code": STR})
    app_id = await call(request, lambda p: p.confirm_app_registration(token, data["code"]))
    message = messages.app_registered(_link_mode(request))
    return JSONResponse({"app_id": app_id, "stage": "authenticated", "message": message})


# --- reset ("Initialize") --------------------------------------------------------------
async def reset_initialize(request: Request) -> Response:
    token = session_token(request)
    await read_json(request, {})
    return JSONResponse(_reset(request, await call(request, lambda p: p.initialize(token))))


async def reset_resend(request: Request) -> Response:
    token = session_token(request)
    await read_json(request, {})
    return JSONResponse(_reset(request, await call(request, lambda p: p.resend(token))))


async def reset_confirm(request: Request) -> Response:
    token = session_token(request)
    data = await read_json(request, {"code": STR})
    stage = await call(request, lambda p: p.confirm_reset(token, data["code"]))
    return JSONResponse({"stage": stage.value, "message": messages.RESET_DONE})


async def reset_link(request: Request) -> Response:
    """The URL in the 2021 portal's mail, then ID and password again (protocol.md §19.4)."""
    data = await read_json(request, {"token": STR, "login_id": STR, "password": STR})
    client = client_address(request)
    result = await call(
        request, lambda p: p.open_reset_link(data["token"], data["login_id"], data["password"], client=client)
    )
    return JSONResponse({**_login(result), "message": messages.LINK_RESET_DONE})


async def logout(request: Request) -> Response:
    token = session_token(request)
    await read_json(request, {})
    await call(request, lambda p: p.logout(token))
    return Response(status_code=204)


# --- operators ---------------------------------------------------------------------------
async def admin_add_user(request: Request) -> Response:
    check_admin(request, "FIRST_FACTOR_PASSWORD")
    data = await read_json(request, {"login_id": STR, "password": STR})
    await call(request, lambda p: p.add_user(data["login_id"], data["password"]))
    return JSONResponse({"login_id": data["login_id"]}, status_code=201)


async def admin_remove_user(request: Request) -> Response:
    check_admin(request, "FIRST_FACTOR_PASSWORD")
    login_id = request.path_params["login_id"]
    await call(request, lambda p: p.remove_user(login_id))
    return Response(status_code=204)


async def admin_helpdesk_code(request: Request) -> Response:
    check_admin(request, "HELPDESK_ISSUES_CODE")
    await read_json(request, {})
    login_id = request.path_params["login_id"]
    code = await call(request, lambda p: p.helpdesk_issue_code(login_id))
    profile = runtime(request).config.profile
    return JSONResponse(
        {
            "login_id": login_id,
            "code": code,
            "helpdesk_hours": profile.helpdesk_hours,
            "helpdesk_phone": profile.helpdesk_phone,
        }
    )


async def admin_helpdesk_confirm(request: Request) -> Response:
    """The ICT Support Center confirms the pending reset of an account with no address (§19.5)."""
    check_admin(request, "RESET_LINK_HELPDESK_CONFIRM")
    await read_json(request, {})
    login_id = request.path_params["login_id"]
    await call(request, lambda p: p.helpdesk_confirm_reset(login_id))
    return JSONResponse({"login_id": login_id, "stage": "setup"})


# --- the test clock extension [TEST_CLOCK_DISABLED_BY_DEFAULT] ---------------------------
def _test_clock(request: Request) -> ShiftedClock:
    clock = runtime(request).test_clock
    if clock is None:
        raise TestClockDisabled(
            "The test clock is disabled on this server (start it with --test-clock to enable it).",
            "このサーバーではテストクロックは無効です（有効にするには --test-clock で起動してください）。",
        )
    return clock


def _test_clock_answer(clock: ShiftedClock) -> JSONResponse:
    # "lanes": the request's Ninsho-Test-Clock-Lane header is honoured (spec/protocol.md §17).
    return JSONResponse({"now": clock.now(), "offset_seconds": clock.offset, "lanes": True})


async def test_clock_get(request: Request) -> Response:
    return _test_clock_answer(_test_clock(request))


async def test_clock_advance(request: Request) -> Response:
    clock = _test_clock(request)
    data = await read_json(request, {"advance_seconds": NUMBER})
    value = data["advance_seconds"]
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_CLOCK_ADVANCE_SECONDS:
        raise InvalidInput(  # an int is compared exactly: float() of a 400-digit one overflows
            f"advance_seconds must be within ±{MAX_CLOCK_ADVANCE_SECONDS}.",
            f"advance_seconds は ±{MAX_CLOCK_ADVANCE_SECONDS} 以内にしてください。",
            field="advance_seconds",
        )
    seconds = float(value)
    if abs(clock.offset + seconds) > MAX_CLOCK_ADVANCE_SECONDS:  # many small steps add up too
        raise InvalidInput(
            f"The test clock's offset must stay within ±{MAX_CLOCK_ADVANCE_SECONDS} s; it is {clock.offset:g} s.",
            f"テストクロックのずれは ±{MAX_CLOCK_ADVANCE_SECONDS} 秒以内にしてください（現在 {clock.offset:g} 秒）。",
            field="advance_seconds",
        )
    try:
        clock.advance(seconds)
    except TooManyLanes:
        raise InvalidInput(
            f"The test clock keeps at most {MAX_LANES} lanes; this would be one more.",
            f"テストクロックのレーンは {MAX_LANES} 個までです。",
            requirement="TEST_CLOCK_DISABLED_BY_DEFAULT",
            field="Ninsho-Test-Clock-Lane",
        ) from None
    return _test_clock_answer(clock)


# --- probes ------------------------------------------------------------------------------
async def noop(_: Request) -> Response:
    """Does nothing, as fast as the stack allows: the floor for benchmarks."""
    return Response(status_code=204)


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def routes() -> list[BaseRoute]:
    post, get = ["POST"], ["GET"]
    return [
        Route("/login", login, methods=post),
        Route("/login-for-setup", login_for_setup, methods=post),
        Route("/second-factor/email-code", request_email_code, methods=post),
        Route("/second-factor/app", second_factor_app, methods=post),
        Route("/second-factor/email", second_factor_email, methods=post),
        Route("/settings", settings, methods=get),
        Route("/settings/email", settings_email, methods=post),
        Route("/settings/email/confirm", settings_email_confirm, methods=post),
        Route("/settings/app", settings_app, methods=post),
        Route("/settings/app/register", settings_app_register, methods=post),
        Route("/reset/initialize", reset_initialize, methods=post),
        Route("/reset/resend", reset_resend, methods=post),
        Route("/reset/confirm", reset_confirm, methods=post),
        Route("/reset/link", reset_link, methods=post),
        Route("/logout", logout, methods=post),
        Route("/admin/users", admin_add_user, methods=post),
        Route("/admin/users/{login_id}", admin_remove_user, methods=["DELETE"]),
        Route("/admin/helpdesk/{login_id}/code", admin_helpdesk_code, methods=post),
        Route("/admin/helpdesk/{login_id}/confirm", admin_helpdesk_confirm, methods=post),
        Route("/test-clock", test_clock_get, methods=get),
        Route("/test-clock", test_clock_advance, methods=post),
        Route("/noop", noop, methods=get),
    ]
