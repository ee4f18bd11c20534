"""The 2021 portal's reset by link on the bilingual pages (faq-totp-reset-2021.en.txt 2–12 and
"ICT Support Center" 1–2): the URL from the mail, ID and password again, the QR code anew."""

from __future__ import annotations

import re

import pyotp
import pytest

from ninsho.spec.registry import load_profile

from .conftest import MakePortal, WebPortal
from .test_pages import csrf, log_in, post_form, text

pytestmark = pytest.mark.anyio

PROFILE = load_profile("iimc-2021")
_URL = re.compile(r"https?://\S+")


async def _reset_screen(portal: WebPortal, login_id: str) -> object:
    """FAQ 2–4: "Click here if you have not initialized…", ID and password, "初期化"."""
    setup_login = await portal.client.get("/setup-login")
    initialize = await post_form(
        portal.client, setup_login, "/setup-login", login_id=login_id, password="correct horse"
    )
    return await post_form(portal.client, initialize, "/reset/initialize")


def _path_and_query(portal: WebPortal, to: str) -> str:
    assert portal.runtime.outbox is not None
    mail = portal.runtime.outbox.latest(to)
    assert mail is not None
    [url] = _URL.findall(mail.body)
    return "/" + str(url).split("/", 3)[3]


async def test_faq_procedure_on_the_pages(make_portal: MakePortal) -> None:
    portal = await make_portal(profile=PROFILE)
    await portal.user_with_email("erin", "erin@example.net")
    screen = await _reset_screen(portal, "erin")
    page = text(screen)  # type: ignore[arg-type]
    assert "メールを送信しました。" in page and "確認コード / Confirm Code" not in page
    link = _path_and_query(portal, "erin@example.net")
    assert link.startswith("/reset/link?token=")
    browser = portal.client  # the link needs no session of its own; this one has a reset session
    login = await browser.get(link)
    assert login.status_code == 200 and 'name="password"' in login.text  # FAQ 5: ID and PW again
    done = await post_form(
        browser,
        login,
        "/reset/link",
        token=link.split("=", 1)[1],
        login_id="erin",
        password="correct horse",
    )
    assert done.url.path == "/settings"
    assert "ワンタイムパスワード認証の設定を初期化しました。" in text(done)  # FAQ 6
    app_tab = await browser.get("/settings/app")
    key = re.search(r'id="manual-key">([A-Z2-7]+)<', app_tab.text)
    assert key is not None, "the App tab shows the QR code and its key"
    code = pyotp.TOTP(key.group(1)).at(portal.runtime.clock.now())
    registered = await post_form(browser, app_tab, "/settings/app/register", code=code)
    assert "ワンタイムパスワード認証の設定が完了しました。" in text(registered)  # FAQ 12


@pytest.mark.parametrize("query", ["token=short", "token={token}&lang=en", "Token={token}", ""])
async def test_a_bad_link_is_refused_bilingually_and_changes_nothing(
    make_portal: MakePortal, query: str
) -> None:
    portal = await make_portal(profile=PROFILE)
    await portal.user_with_email("erin", "erin@example.net")
    await _reset_screen(portal, "erin")
    token = _path_and_query(portal, "erin@example.net").split("=", 1)[1]
    before = portal.runtime.store.load("erin")
    bad = await portal.client.get("/reset/link?" + query.format(token=token))
    assert bad.status_code == 400
    assert "このURLは正しくありません" in text(bad) and "This link is not valid" in text(bad)
    assert portal.runtime.store.load("erin") == before


async def test_a_wrong_password_on_the_link_page_is_shown_and_the_link_still_works(
    make_portal: MakePortal,
) -> None:
    portal = await make_portal(profile=PROFILE)
    await portal.user_with_email("erin", "erin@example.net")
    await _reset_screen(portal, "erin")
    link = _path_and_query(portal, "erin@example.net")
    token = link.split("=", 1)[1]
    login = await portal.client.get(link)
    wrong = await post_form(
        portal.client, login, "/reset/link", token=token, login_id="erin", password="nope"
    )
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text
    done = await post_form(
        portal.client, wrong, "/reset/link", token=token, login_id="erin", password="correct horse"
    )
    assert done.url.path == "/settings"


async def test_no_address_screen_polls_until_the_center_confirms(make_portal: MakePortal) -> None:
    """ "ICT Support Center" 1–2: the screen says so, refreshes itself, and once the center has
    confirmed it goes on to the QR code by itself."""
    portal = await make_portal(profile=PROFILE)
    await portal.add_user("frank")
    session = (await portal.login("frank"))["session"]
    totp = pyotp.parse_uri((await portal.api("POST", "/settings/app", token=session)).json()["uri"])
    await portal.api("POST", "/settings/app/register", {"code": totp.now()}, token=session)
    await log_in(portal, "frank")
    waiting = await _reset_screen(portal, "frank")
    page = text(waiting)  # type: ignore[arg-type]
    assert "An email has been sent to the ICT Support Center." in page
    assert '<meta http-equiv="refresh"' in page and PROFILE.helpdesk_phone in page
    again = await portal.client.get("/reset", follow_redirects=True)
    assert again.url.path == "/reset" and '<meta http-equiv="refresh"' in again.text
    confirmed = await portal.api("POST", "/admin/helpdesk/frank/confirm", admin=True)
    assert confirmed.status_code == 200, confirmed.text
    shown = await portal.client.get("/reset", follow_redirects=True)
    assert shown.url.path == "/settings/app"
    assert 'id="qr" src="data:image/png;base64,' in shown.text and csrf(shown)
