"""Bad input gets a clear 4xx naming the requirement or the field, never a 5xx
[INPUT_ERRORS_PRECISE], and no header injection reaches the mail [MAIL_HEADER_INJECTION]."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ninsho.reference.web.api import MAX_CLOCK_ADVANCE_SECONDS
from ninsho.reference.web.app import create_app
from ninsho.reference.web.config import ServerConfig, build_runtime
from ninsho.spec.profile import Profile

from .conftest import API, WebPortal
from .support import ADMIN_TOKEN, OpenApi

pytestmark = pytest.mark.anyio
LIMIT = 16 * 1024


def assert_refusal(response: httpx.Response, status: int, *, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "requirement", "field", "message"}
    assert body["message"]["ja"] and body["message"]["en"]
    if field is not None:
        assert body["field"] == field, body
    return body


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b" ",
        b"null",
        b"[]",
        b'"login"',
        b"\xff\xfe{}",
        b'{"login_id": NaN, "password": "x"}',
        b"[" * 5000 + b"]" * 5000,
        b'{"login_id": ' + b"9" * 5000 + b', "password": "x"}',
    ],
    ids=["truncated", "blank", "null", "array", "string", "not-utf8", "nan", "deep", "huge-int"],
)
async def test_malformed_json_names_the_body(portal: WebPortal, raw: bytes) -> None:
    r = await portal.client.post(f"{API}/login", content=raw, headers={"content-type": "application/json"})
    body = assert_refusal(r, 400, field="body")
    assert body["requirement"] == "INPUT_ERRORS_PRECISE"


async def test_no_body_at_all_names_the_first_missing_field(portal: WebPortal) -> None:
    r = await portal.client.post(f"{API}/login")
    assert_refusal(r, 400, field="login_id")
    r = await portal.client.post(f"{API}/test-clock")
    assert_refusal(r, 400, field="advance_seconds")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": "x"}, "login_id"),
        ({"login_id": "alice"}, "password"),
        ({"login_id": 5, "password": "x"}, "login_id"),
        ({"login_id": "alice", "password": None}, "password"),
        ({"login_id": ["alice"], "password": "x"}, "login_id"),
        ({"login_id": "alice", "password": "x", "trust_token": 7}, "trust_token"),
        ({"login_id": "alice", "password": "x", "admin": True}, "admin"),
        ({"login_id": "a" * 10_000, "password": "x"}, "login_id"),
        ({"login_id": "alice\r\nX-Injected: 1", "password": "x"}, "login_id"),
    ],
    ids=[
        "no-id",
        "no-password",
        "id-int",
        "password-null",
        "id-list",
        "trust-int",
        "unknown",
        "huge-id",
        "crlf-id",
    ],
)
async def test_wrong_fields_are_named(portal: WebPortal, payload: dict[str, Any], field: str) -> None:
    r = await portal.client.post(f"{API}/login", json=payload)
    assert_refusal(r, 400, field=field)


async def test_wrong_types_in_second_factor_and_clock(portal: WebPortal) -> None:
    await portal.add_user("ivan")
    session = (await portal.login("ivan"))["session"]
    auth = {"authorization": f"Bearer {session}"}
    r = await portal.client.post(f"{API}/settings/email", json={"address": 42}, headers=auth)
    assert_refusal(r, 400, field="address")
    r = await portal.client.post(f"{API}/settings/email/confirm", json={"code": 12345678}, headers=auth)
    assert_refusal(r, 400, field="code")
    r = await portal.client.post(f"{API}/settings/email/confirm", json={"code": "12ab5678"}, headers=auth)
    assert_refusal(r, 400, field="code")
    for bad in ("10", True, None, 1e300):
        r = await portal.client.post(f"{API}/test-clock", json={"advance_seconds": bad})
        assert_refusal(r, 400, field="advance_seconds")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)
async def test_wrong_content_type_is_415(portal: WebPortal, content_type: str) -> None:
    body = json.dumps({"login_id": "alice", "password": "x"}).encode()
    r = await portal.client.post(f"{API}/login", content=body, headers={"content-type": content_type})
    assert_refusal(r, 415, field="content-type")


@pytest.mark.parametrize(
    ("method", "path", "allowed"), [("GET", f"{API}/login", "POST"), ("DELETE", "/login", "GET, HEAD, POST")]
)
async def test_a_wrong_method_is_405_with_allow(
    portal: WebPortal, method: str, path: str, allowed: str
) -> None:
    """RFC 9110 §15.5.6: a 405 names the methods the resource takes, on the API and the pages."""
    r = await portal.client.request(method, path)
    assert r.status_code == 405
    assert sorted(m.strip() for m in r.headers["allow"].split(",")) == sorted(allowed.split(", "))


async def test_a_lone_surrogate_in_any_text_field_is_named(portal: WebPortal) -> None:
    """JSON's \\udc80 is valid JSON and no text: a right password with such a trust token gave
    a 500 (a UnicodeEncodeError in the log) before it was refused at the edge."""
    await portal.user_with_email("alice", "alice@example.org")
    for field, value in (("trust_token", "\\udc80"), ("login_id", "al\\udc80ice"), ("password", "\\ud800")):
        fields = {"login_id": '"alice"', "password": '"correct horse"', field: f'"{value}"'}
        raw = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"
        r = await portal.client.post(
            f"{API}/login", content=raw.encode(), headers={"content-type": "application/json"}
        )
        assert_refusal(r, 400, field=field)


@pytest.mark.parametrize("number", ["9" * 400, "-" + "9" * 400, "1e400"])
async def test_a_number_too_large_for_the_test_clock_is_named(portal: WebPortal, number: str) -> None:
    raw = ('{"advance_seconds": ' + number + "}").encode()
    r = await portal.client.post(
        f"{API}/test-clock", content=raw, headers={"content-type": "application/json"}
    )
    assert_refusal(r, 400, field="advance_seconds")


async def test_the_test_clock_offset_is_bounded_in_total(portal: WebPortal) -> None:
    step = MAX_CLOCK_ADVANCE_SECONDS // 2
    for _ in range(2):
        assert (
            await portal.client.post(f"{API}/test-clock", json={"advance_seconds": step})
        ).status_code == 200
    r = await portal.client.post(f"{API}/test-clock", json={"advance_seconds": step})
    assert "offset" in assert_refusal(r, 400, field="advance_seconds")["message"]["en"]
    assert (await portal.client.get(f"{API}/test-clock")).json()["offset_seconds"] == 2 * step


async def test_oversized_body_declared_is_413(portal: WebPortal) -> None:
    r = await portal.client.post(
        f"{API}/login", content=b"{" + b" " * LIMIT + b"}", headers={"content-type": "application/json"}
    )
    assert_refusal(r, 413, field="body")


async def test_oversized_body_streamed_without_length_is_413(portal: WebPortal) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"login_id": "'
        for _ in range(64):
            yield b"a" * 1024  # 64 KiB in all, with no Content-Length: stopped while reading
        yield b'", "password": "x"}'

    r = await portal.client.post(
        f"{API}/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert_refusal(r, 413, field="body")


async def test_oversized_form_is_413(portal: WebPortal) -> None:
    r = await portal.client.post("/login", data={"login_id": "a", "password": "p" * (LIMIT + 1)})
    assert r.status_code == 413
    assert "16384" in r.text


@pytest.mark.parametrize(
    "address",
    [
        "victim@example.com\r\nBcc: attacker@example.org",
        "victim@example.com\nSubject: hacked",
        "victim@example.com\rX: y",
        "victim@example.com%0d%0aBcc:attacker@example.org",
        "vic\u2028tim@example.com",
        "victim\u200b@example.com",
        "victim@exa\u0000mple.com",
        "victim@example.com, attacker@example.org",
        "Victim <victim@example.com>",
        "victim@@example.com",
        "a" * 2000 + "@example.com",
    ],
)
async def test_address_tricks_never_reach_the_mail(portal: WebPortal, address: str) -> None:
    await portal.add_user("judy")
    session = (await portal.login("judy"))["session"]
    r = await portal.client.post(
        f"{API}/settings/email", json={"address": address}, headers={"authorization": f"Bearer {session}"}
    )
    body = assert_refusal(r, 400, field="address")
    assert body["requirement"] == "EMAIL_ADDRESS_SYNTAX"
    assert portal.outbox_codes == []


async def test_missing_or_bad_session_is_401_naming_authorization(portal: WebPortal) -> None:
    r = await portal.client.get(f"{API}/settings")
    assert_refusal(r, 401, field="authorization")
    for token in (b"x", b"Zm9v.bar", b"....", b"a" * 5000, "\u00e9.\u00e9".encode("latin-1"), b"\xff\xfe.x"):
        r = await portal.client.get(f"{API}/settings", headers={"authorization": b"Bearer " + token})
        assert r.status_code == 401, token
        assert r.json()["requirement"] == "SESSION_EXPIRY"


async def test_forms_refuse_wrong_content_type_and_missing_csrf(portal: WebPortal) -> None:
    r = await portal.client.post(
        "/login", content=b'{"login_id": "a"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 415
    r = await portal.client.post("/login", data={"login_id": "a", "password": "b"})
    assert r.status_code == 403
    assert "WEB_CSRF" in r.text


# --- fuzzing the JSON API in process --------------------------------------------------------
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_field_names = st.sampled_from(
    ["login_id", "password", "code", "address", "trust_browser", "trust_token", "advance_seconds"]
)
_bodies = _json | st.dictionaries(_field_names, _json, max_size=4)
_paths = st.sampled_from(
    [
        "/login",
        "/login-for-setup",
        "/second-factor/email-code",
        "/second-factor/app",
        "/second-factor/email",
        "/settings/email",
        "/settings/email/confirm",
        "/settings/app",
        "/settings/app/register",
        "/reset/initialize",
        "/reset/resend",
        "/reset/confirm",
        "/logout",
        "/admin/users",
        "/admin/helpdesk/someone/code",
        "/test-clock",
    ]
)


@pytest.mark.anyio(False)  # hypothesis drives its own event loop per example
@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,  # the same examples every run: the suite stays deterministic
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=_paths, body=_bodies, authorized=st.booleans())
def test_fuzzed_json_never_gives_5xx(
    tmp_path: Path, profile: Profile, openapi: OpenApi, path: str, body: object, authorized: bool
) -> None:
    config = ServerConfig(
        profile=profile,
        db_path=None,
        pepper=secrets.token_bytes(32),
        admin_token=ADMIN_TOKEN,
        test_clock=True,
        hash_cost=4,
    )
    runtime = build_runtime(config)
    runtime.portal.add_user("fuzz", "correct horse")
    app = create_app(config, runtime)

    async def exchange() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            headers = {}
            if authorized:
                login = await client.post(
                    f"{API}/login", json={"login_id": "fuzz", "password": "correct horse"}
                )
                headers["authorization"] = "Bearer " + login.json()["session"]
            return await client.post(f"{API}{path}", json=body, headers=headers)

    response = asyncio.run(exchange())
    assert response.status_code < 500, response.text
    openapi.check_response(response)  # a documented status, in the documented shape


async def test_multipart_form_with_a_file_or_too_many_fields_is_400(portal: WebPortal) -> None:
    page = await portal.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    with_file = await portal.client.post(
        "/login",
        data={"csrf_token": token.group(1), "login_id": "a"},
        files={"password": ("pw.txt", b"secret", "text/plain")},
    )
    assert with_file.status_code == 400 and 'data-field="body"' in with_file.text
    many = await portal.client.post(
        "/login",
        data={f"f{i}": "x" for i in range(40)},
        files={"x": ("x.txt", b"x", "text/plain")},
    )
    assert 400 <= many.status_code < 500


_form_paths = st.sampled_from(
    [
        "/login",
        "/setup-login",
        "/mfa/app",
        "/mfa/email",
        "/mfa/email/send",
        "/settings/email",
        "/settings/email/confirm",
        "/settings/app/register",
        "/reset/initialize",
        "/reset/resend",
        "/reset/confirm",
        "/logout",
    ]
)
_form_fields = st.dictionaries(
    st.sampled_from(["login_id", "password", "code", "address", "remember", "trust_browser", "other"]),
    st.text(max_size=300),
    max_size=5,
)


@pytest.mark.anyio(False)
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=_form_paths, fields=_form_fields, signed_in=st.booleans())
def test_fuzzed_forms_never_give_5xx(
    profile: Profile, path: str, fields: dict[str, str], signed_in: bool
) -> None:
    config = ServerConfig(profile=profile, db_path=None, pepper=secrets.token_bytes(32), hash_cost=4)
    runtime = build_runtime(config)
    runtime.portal.add_user("fuzz", "correct horse")
    app = create_app(config, runtime)

    async def exchange() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            page = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            if signed_in:
                await client.post(
                    "/login",
                    data={"csrf_token": token.group(1), "login_id": "fuzz", "password": "correct horse"},
                )
                page = await client.get("/settings")
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert token
            return await client.post(path, data={"csrf_token": token.group(1), **fields})

    response = asyncio.run(exchange())
    assert response.status_code < 500, response.text
