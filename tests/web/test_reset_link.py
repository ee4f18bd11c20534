"""The 2021 portal's reset by link over the JSON API (protocol.md §19, spec/openapi.yaml
``openResetLink``, ``helpdeskConfirmReset``), on SQLite, every exchange checked against the
OpenAPI document."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from ninsho.spec.registry import load_profile

from .conftest import MakePortal, WebPortal

pytestmark = pytest.mark.anyio

PROFILE = load_profile("iimc-2021")
PASSWORD = "correct horse"
_URL = re.compile(r"https?://\S+")


async def _portal(make_portal: MakePortal, **overrides: Any) -> WebPortal:
    return await make_portal(profile=PROFILE, **overrides)


def _mailed_link(portal: WebPortal, to: str) -> str:
    assert portal.runtime.outbox is not None
    mail = portal.runtime.outbox.latest(to)
    assert mail is not None and mail.subject == PROFILE.mail_subject_reset
    [url] = _URL.findall(mail.body)
    return str(url)


def _token(url: str) -> str:
    [token] = parse_qs(urlsplit(url).query)["token"]
    return token


async def _initialize(portal: WebPortal, login_id: str, address: str) -> tuple[str, dict[str, Any]]:
    setup = await portal.api("POST", "/login-for-setup", {"login_id": login_id, "password": PASSWORD})
    screen = await portal.api("POST", "/reset/initialize", token=setup.json()["session"])
    assert screen.status_code == 200, screen.text
    return _mailed_link(portal, address), screen.json()


async def _open(portal: WebPortal, token: str, login_id: str, password: str = PASSWORD, **kw: Any) -> Any:
    body = {"token": token, "login_id": login_id, "password": password}
    return await portal.api("POST", "/reset/link", body, **kw)


async def _state(portal: WebPortal, login_id: str) -> Any:
    return portal.runtime.store.load(login_id)


async def test_faq_procedure_over_the_api(make_portal: MakePortal) -> None:
    """FAQ 3–12 [RESET_LINK_MAIL] [RESET_LINK_REQUIRES_PASSWORD] [RESET_THEN_SETUP]"""
    portal = await _portal(make_portal, public_url="https://portal.example.ac.jp/")
    await portal.user_with_email("erin", "erin@example.net")
    url, screen = await _initialize(portal, "erin", "erin@example.net")
    assert screen["message"] == {"ja": "メールを送信しました。", "en": "An email has been sent."}
    assert url.startswith("https://portal.example.ac.jp/reset/link?token=")
    opened = await _open(portal, _token(url), "erin")
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert body["stage"] == "setup"
    assert body["message"]["ja"] == "ワンタイムパスワード認証の設定を初期化しました。"
    session = body["session"]
    view = (await portal.api("GET", "/settings", token=session)).json()
    assert view["address"] is None and view["app_count"] == 0
    totp = pyotp.parse_uri((await portal.api("POST", "/settings/app", token=session)).json()["uri"])
    done = await portal.api("POST", "/settings/app/register", {"code": totp.now()}, token=session)
    assert done.status_code == 200, done.text
    assert done.json()["message"]["ja"] == "ワンタイムパスワード認証の設定が完了しました。"


async def test_link_twice_late_or_for_another_account_is_refused(make_portal: MakePortal) -> None:
    """[RESET_LINK_SINGLE_USE] [RESET_LINK_LIFETIME] [RESET_LINK_BOUND_TO_ACCOUNT]
    [RESET_LINK_REQUIRES_PASSWORD]: bilingual refusals, nothing changed."""
    portal = await _portal(make_portal)
    await portal.user_with_email("erin", "erin@example.net")
    await portal.user_with_email("gail", "gail@example.net")
    token = _token((await _initialize(portal, "erin", "erin@example.net"))[0])
    before = (await _state(portal, "erin"), await _state(portal, "gail"))
    cases = [
        (await _open(portal, token, "gail"), 401, "RESET_LINK_BOUND_TO_ACCOUNT"),
        (await _open(portal, token, "erin", PASSWORD + "x"), 401, "FIRST_FACTOR_PASSWORD"),
    ]
    for response, status, requirement in cases:
        assert response.status_code == status, response.text
        error = response.json()
        assert error["requirement"] == requirement and error["message"]["ja"] and error["message"]["en"]
    assert (await _state(portal, "erin"), await _state(portal, "gail")) == before
    assert (await _open(portal, token, "erin")).status_code == 200
    again = await _open(portal, token, "erin")
    assert again.status_code == 401 and again.json()["requirement"] == "RESET_LINK_SINGLE_USE"

    await portal.user_with_email("hana", "hana@example.net")
    late = _token((await _initialize(portal, "hana", "hana@example.net"))[0])
    await portal.advance(PROFILE.confirmation_code_lifetime_seconds)
    refused = await _open(portal, late, "hana")
    assert refused.status_code == 401 and refused.json()["requirement"] == "RESET_LINK_LIFETIME"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token": "short"}, "token"),
        ({"token": "A" * 43 + "&x=1"}, "token"),
        ({"next": "/admin"}, "next"),
        ({"token": None}, "token"),
    ],
)
async def test_malformed_requests_are_refused_precisely(
    make_portal: MakePortal, body: dict[str, Any], field: str
) -> None:
    """[INPUT_ERRORS_PRECISE] [RESET_LINK_BOUND_TO_ACCOUNT]: 400 naming the field; nothing changed."""
    portal = await _portal(make_portal)
    await portal.user_with_email("erin", "erin@example.net")
    token = _token((await _initialize(portal, "erin", "erin@example.net"))[0])
    before = await _state(portal, "erin")
    request = {"token": token, "login_id": "erin", "password": PASSWORD, **body}
    response = await portal.api("POST", "/reset/link", request, check=False)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["field"] == field and error["message"]["ja"] and error["message"]["en"]
    assert await _state(portal, "erin") == before
    assert (await _open(portal, token, "erin")).status_code == 200


async def test_token_in_another_case_is_refused(make_portal: MakePortal) -> None:
    portal = await _portal(make_portal)
    await portal.user_with_email("erin", "erin@example.net")
    token = _token((await _initialize(portal, "erin", "erin@example.net"))[0])
    other = token.swapcase() if token.swapcase() != token else token[::-1]
    response = await _open(portal, other, "erin")
    assert response.status_code == 401 and response.json()["requirement"] == "RESET_LINK_BOUND_TO_ACCOUNT"
    assert (await _open(portal, token, "erin")).status_code == 200


async def test_no_address_path_through_the_ict_support_center(make_portal: MakePortal) -> None:
    """FAQ "ICT Support Center" 1–2: no mail; the center confirms; the open screen's session,
    polled through the settings, is in set-up and shows the QR code."""
    portal = await _portal(make_portal)
    await portal.add_user("frank", PASSWORD)
    session = (await portal.login("frank", PASSWORD))["session"]
    totp = pyotp.parse_uri((await portal.api("POST", "/settings/app", token=session)).json()["uri"])
    await portal.api("POST", "/settings/app/register", {"code": totp.now()}, token=session)
    setup = await portal.api("POST", "/login-for-setup", {"login_id": "frank", "password": PASSWORD})
    waiting = setup.json()["session"]
    screen = (await portal.api("POST", "/reset/initialize", token=waiting)).json()
    assert screen["mailed"] is False
    assert screen["message"]["en"].startswith("An email has been sent to the ICT Support Center.")
    assert portal.runtime.outbox is not None
    notice = portal.runtime.outbox.latest(PROFILE.helpdesk_email)  # [RESET_LINK_HELPDESK_MAIL]
    assert notice is not None and "frank" in notice.body and not _URL.search(notice.body)
    poll = await portal.api("GET", "/settings", token=waiting)
    assert poll.status_code == 403, "before the center confirms, the screen waits"
    confirmed = await portal.api("POST", "/admin/helpdesk/frank/confirm", admin=True)
    assert confirmed.status_code == 200, confirmed.text
    poll = await portal.api("GET", "/settings", token=waiting)
    assert poll.status_code == 200 and poll.json()["stage"] == "setup" and poll.json()["app_count"] == 0
    again = await portal.api("POST", "/admin/helpdesk/frank/confirm", admin=True)
    assert again.status_code == 409


async def test_link_operations_are_refused_in_code_mode(portal: WebPortal) -> None:
    await portal.user_with_email("erin", "erin@example.net")
    response = await _open(portal, "A" * 43, "erin")
    assert response.status_code == 409 and response.json()["requirement"] == "RESET_LINK_MAIL"
