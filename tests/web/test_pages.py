"""The bilingual pages in process: the manuals' labels, the flows through the forms, CSRF and
the cookies [MESSAGES_BILINGUAL] [WEB_CSRF] [WEB_COOKIE_FLAGS]."""

from __future__ import annotations

import base64
import html
import io
import re

import httpx
import pyotp
import pytest
import zxingcpp
from PIL import Image

from ninsho.spec.profile import Profile

from .conftest import MakePortal, WebPortal

pytestmark = pytest.mark.anyio

LOGIN_LABELS = [
    "京都大学統合認証システム",
    "ログイン / Login",
    "ECS-ID/SPS-ID",
    "パスワード / Password",
    "ECS-ID/SPS-IDを記憶する / Remember ECS-ID/SPS-ID",
    "パスワードをお忘れの方はこちら / Forgot your password?",
    "お困りの方はこちら / Need Help?",
]
APP_LABELS = [
    "多要素認証 : アプリ",
    "Multi-Factor Authentication : App",
    "ワンタイムパスワード",
    "One-Time Password",
    "このブラウザを信頼する / Trust this browser",
    "初回設定・再設定はこちら",
    "Click here For Initial Setup or Setup Again",
]
EMAIL_LINK = [
    "「多要素認証 : メール」 ログインはこちら",
    'Click Here for "Multi-Factor Authentication : Email" Login',
]
SETTINGS_LABELS = [
    "ワンタイムパスワードの設定 / One-Time Password Settings",
    "メール",
    "アプリ",
    "指定したアドレスにワンタイムパスワードを送信するための設定を行います。",
    "プライベートなアドレスを入力してください。",
    "Configure settings to send one-time passwords by email.",
    "Please enter a private email address.",
    "メール認証用アドレス / Address for email-authentication",
    "ワンタイムパスワードを送信 / Send One-Time Password",
    "ワンタイムパスワード / One-Time Password",
    "確認 / Confirm",
    "ワンタイムパスワードの設定 / One Time Password Settings",  # the ☰ menu
    "ログアウト / Logout",
]


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def csrf(response: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def post_form(
    client: httpx.AsyncClient, page: httpx.Response, action: str, **fields: str
) -> httpx.Response:
    """Submit a form of ``page`` as a browser would: with the page's CSRF token."""
    return await client.post(action, data={"csrf_token": csrf(page), **fields}, follow_redirects=True)


async def log_in(portal: WebPortal, login_id: str, **extra: str) -> httpx.Response:
    page = await portal.client.get("/login")
    return await post_form(
        portal.client, page, "/login", login_id=login_id, password="correct horse", **extra
    )


async def test_login_page_has_the_manuals_labels(portal: WebPortal) -> None:
    page = await portal.client.get("/login")
    assert page.status_code == 200
    for label in LOGIN_LABELS:
        assert label in text(page), label
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


async def test_initial_email_setup_through_the_forms(portal: WebPortal, profile: Profile) -> None:
    await portal.add_user("kate")
    settings = await log_in(portal, "kate")
    assert settings.url.path == "/settings"  # no factor yet: straight to set-up [SETUP_WITHOUT_FACTOR]
    for label in SETTINGS_LABELS:
        assert label in text(settings), label
    for domain in profile.email_blocked_domains:
        assert f"× @{domain}" in text(settings)

    sent = await post_form(portal.client, settings, "/settings/email", address="kate@example.org")
    assert sent.status_code == 200
    assert "kate@example.org へメールを送信しました。" in text(sent)  # [MESSAGE_EMAIL_SENT]
    assert "An email message has been sent to kate@example.org." in text(sent)
    assert "メールを送信しました。メールに記載されているワンタイムパスワードを入力してください。" in text(
        sent
    )
    assert "Email has been sent. Please enter the 'One-Time Password' provided in the email." in text(sent)

    wrong = await post_form(portal.client, sent, "/settings/email/confirm", code="00000000")
    code = portal.last_code("kate@example.org", profile.email_otp_digits)
    if code != "00000000":
        assert wrong.status_code == 401
        assert "ワンタイムパスワードが正しくありません。" in text(wrong)  # both languages
        assert "The one-time password is not valid." in text(wrong)
    done = await post_form(portal.client, wrong, "/settings/email/confirm", code=code)
    assert done.status_code == 200
    assert "メール認証用アドレスを登録しました。" in text(done)
    assert 'id="registered-address">kate@example.org<' in done.text

    out = await post_form(portal.client, done, "/logout")
    assert out.url.path == "/login" and "ログアウトしました。" in text(out)
    after = await portal.client.get("/settings", follow_redirects=True)
    assert after.url.path == "/login"  # [LOGOUT]


async def test_email_login_with_trust_browser_cookie(portal: WebPortal, profile: Profile) -> None:
    await portal.user_with_email("liam", "liam@example.org")
    page = await log_in(portal, "liam")
    assert page.url.path == "/mfa/email"
    sent = await post_form(portal.client, page, "/mfa/email/send")
    assert "An email message has been sent to liam@example.org." in text(sent)
    code = portal.last_code("liam@example.org", profile.email_otp_digits)
    response = await portal.client.post(
        "/mfa/email", data={"csrf_token": csrf(sent), "code": code, "trust_browser": "1"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/settings"
    [trust] = [c for c in response.headers.get_list("set-cookie") if c.startswith("ninsho_trust=")]
    flags = trust.lower()
    assert "httponly" in flags and "samesite=lax" in flags and "secure" not in flags
    assert f"max-age={profile.trust_browser_duration_seconds}" in flags  # [TRUST_BROWSER]

    settings = await portal.client.get("/settings")
    await post_form(portal.client, settings, "/logout")
    again = await log_in(portal, "liam")
    assert again.url.path == "/settings"  # the trusted browser skips the second factor


async def test_app_page_labels_and_qr_registration(portal: WebPortal, profile: Profile) -> None:
    await portal.add_user("mia")
    settings = await log_in(portal, "mia")
    app_tab = await portal.client.get("/settings/app")
    assert app_tab.status_code == 200
    page = text(app_tab)
    for label in (
        "QRコードを読み込んだだけでは設定は完了しません。",
        "QRコードを読み込めない場合",
        "登録 / Register",
    ):
        assert label in page, label
    key = re.search(r'id="manual-key">([A-Z2-7]+)<', app_tab.text)
    image = re.search(r'id="qr" src="data:image/png;base64,([^"]+)"', app_tab.text)
    assert key and image
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(image.group(1)))))
    assert len(decoded) == 1
    uri = decoded[0].text
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP) and totp.secret == key.group(
        1
    )  # [APP_PROVISIONING_URI] [APP_MANUAL_KEY]

    registered = await post_form(
        portal.client, app_tab, "/settings/app/register", code=totp.at(portal.runtime.clock.now())
    )
    assert registered.status_code == 200
    assert "ワンタイムパスワードアプリケーションを登録しました。" in text(registered)
    await post_form(portal.client, registered, "/logout")

    mfa = await log_in(portal, "mia")
    assert mfa.url.path == "/mfa/app"
    for label in APP_LABELS:
        assert label in text(mfa), label
    for label in EMAIL_LINK:  # mia has no address: no way to a code by email [SECOND_FACTOR_METHODS]
        assert label not in text(mfa), label
    assert settings.status_code == 200


async def test_app_page_links_to_email_login_when_an_address_is_registered(
    portal: WebPortal, profile: Profile
) -> None:
    await portal.user_with_email("owen", "owen@example.org")
    session = (await portal.login("owen"))["session"]
    assert (await portal.api("POST", "/second-factor/email-code", {}, token=session)).status_code == 200
    code = portal.last_code("owen@example.org", profile.email_otp_digits)
    verified = await portal.api("POST", "/second-factor/email", {"code": code}, token=session)
    assert verified.status_code == 200
    session = verified.json()["session"]  # the new token [SESSION_TOKEN_RENEWED]
    uri = (await portal.api("POST", "/settings/app", {}, token=session)).json()["uri"]
    now_code = pyotp.parse_uri(uri).at(portal.runtime.clock.now())
    registered = await portal.api("POST", "/settings/app/register", {"code": now_code}, token=session)
    assert registered.status_code == 200, registered.text

    mfa = await log_in(portal, "owen")
    assert mfa.url.path == "/mfa/app"  # the app first, and the way to email beside it
    for label in EMAIL_LINK:
        assert label in text(mfa), label


async def test_reset_page_without_address_shows_placeholder_and_helpdesk(
    portal: WebPortal, profile: Profile
) -> None:
    await portal.add_user("noah")
    await log_in(portal, "noah")
    setup_login = await portal.client.get("/setup-login")
    assert "ECS-ID/SPS-IDを記憶する" not in text(setup_login)  # step ④'s screen has no checkbox
    initialize = await post_form(
        portal.client, setup_login, "/setup-login", login_id="noah", password="correct horse"
    )
    assert initialize.url.path == "/reset/initialize"
    page = text(initialize)
    assert "ワンタイムパスワード設定初期化 / Initialize One-Time Password Settings" in page
    assert "初期化 / Initialize" in page
    reset = await post_form(portal.client, initialize, "/reset/initialize")
    assert reset.url.path == "/reset"
    page = text(reset)
    for label in (
        "ワンタイムパスワード設定の初期化 / Initializing One-Time Password Settings",
        "ログインID: ",
        "確認コード / Confirm Code",
        "再送信 / Resend",
        "確認 / Confirm",
        f"TEL : {profile.helpdesk_phone}",
        f"Hours: {profile.helpdesk_hours}",
        f'id="shown-address">{profile.reset_placeholder_address}<',
    ):
        assert label in page, label

    code = (await portal.api("POST", "/admin/helpdesk/noah/code", admin=True)).json()["code"]
    done = await post_form(portal.client, reset, "/reset/confirm", code=code)
    assert done.url.path == "/settings"
    assert "ワンタイムパスワード設定を初期化しました。" in text(done)


async def test_reset_page_with_address_shows_it_masked(portal: WebPortal, profile: Profile) -> None:
    await portal.user_with_email("olga", "olga.petrova@example.org")
    page = await portal.client.get("/setup-login")
    initialize = await post_form(
        portal.client, page, "/setup-login", login_id="olga", password="correct horse"
    )
    reset = await post_form(portal.client, initialize, "/reset/initialize")
    shown = re.search(r'id="shown-address">([^<]+)<', reset.text)
    assert shown and shown.group(1) != "olga.petrova@example.org" and "*" in shown.group(1)
    assert shown.group(1).endswith("@example.org")
    first = portal.last_code("olga.petrova@example.org", profile.confirmation_code_digits)
    resent = await post_form(portal.client, reset, "/reset/resend")
    assert resent.url.path == "/reset"
    second = portal.last_code("olga.petrova@example.org", profile.confirmation_code_digits)
    assert len(portal.outbox_codes) == 3  # registration, initialize, resend
    if first != second:
        stale = await post_form(portal.client, resent, "/reset/confirm", code=first)
        assert stale.status_code == 401
    done = await post_form(portal.client, resent, "/reset/confirm", code=second)
    assert done.url.path == "/settings"


@pytest.mark.WEB_CSRF
async def test_csrf_is_required_on_every_form(portal: WebPortal) -> None:
    await portal.add_user("pat")
    settings = await log_in(portal, "pat")
    token = csrf(settings)
    for action in (
        "/settings/email",
        "/settings/email/confirm",
        "/settings/app/register",
        "/logout",
        "/login",
    ):
        missing = await portal.client.post(action, data={"address": "p@example.org", "code": "12345678"})
        assert missing.status_code == 403, action
        assert "WEB_CSRF" in missing.text
        forged = await portal.client.post(action, data={"csrf_token": token + "x", "code": "12345678"})
        assert forged.status_code == 403, action
    page = text(forged)
    assert "フォームの有効期限が切れているか" in page and "This form has expired" in page
    assert portal.outbox_codes == []


@pytest.mark.WEB_COOKIE_FLAGS
async def test_session_and_remember_cookies(portal: WebPortal) -> None:
    await portal.add_user("quinn")
    page = await portal.client.get("/login")
    response = await portal.client.post(
        "/login",
        data={"csrf_token": csrf(page), "login_id": "quinn", "password": "correct horse", "remember": "1"},
    )
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    session = cookies["ninsho_session"].lower()
    assert "httponly" in session and "samesite=lax" in session and "secure" not in session
    remember = cookies["ninsho_remember"]
    assert remember.startswith("ninsho_remember=quinn;")  # [REMEMBER_LOGIN_ID]
    assert "correct horse" not in remember and "httponly" in remember.lower()
    prefilled = await portal.client.get("/login")
    assert 'value="quinn"' in prefilled.text and "checked" in prefilled.text

    page = await portal.client.get("/login")
    response = await portal.client.post(
        "/login", data={"csrf_token": csrf(page), "login_id": "quinn", "password": "correct horse"}
    )
    assert any(c.startswith('ninsho_remember="";') for c in response.headers.get_list("set-cookie"))


async def test_a_page_that_changes_no_session_state_sets_no_cookie(portal: WebPortal) -> None:
    """The session cookie is sent when what it holds changes (a login, a new stage), not with
    every page: each one costs the portal a signature and the browser a Set-Cookie to parse."""
    await portal.add_user("rita")
    settings = await log_in(portal, "rita")
    assert settings.url.path == "/settings"
    again = await portal.client.get("/settings")
    assert again.status_code == 200 and "ninsho_session=" not in again.headers.get("set-cookie", "")
    out = await post_form(portal.client, again, "/logout")
    assert out.url.path == "/login"
    assert (await portal.client.get("/settings", follow_redirects=True)).url.path == "/login"  # [LOGOUT]


async def test_secure_flag_when_configured(make_portal: MakePortal) -> None:
    portal = await make_portal(secure_cookies=True)
    page = await portal.client.get("/login")
    [session] = [c for c in page.headers.get_list("set-cookie") if c.startswith("ninsho_session=")]
    assert "secure" in session.lower()


@pytest.mark.WEB_COOKIE_FLAGS
async def test_over_https_every_cookie_is_secure(portal: WebPortal) -> None:
    """Behind a proxy that says X-Forwarded-Proto: https the remember cookie was Secure and the
    session cookie was not. Here the request's scheme is https, as uvicorn makes it then."""
    await portal.add_user("quinn")
    client = httpx.AsyncClient(transport=portal.client._transport, base_url="https://portal.test")
    async with client:
        page = await client.get("/login")
        response = await client.post(
            "/login",
            data={
                "csrf_token": csrf(page),
                "login_id": "quinn",
                "password": "correct horse",
                "remember": "1",
            },
        )
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert set(cookies) >= {"ninsho_session", "ninsho_remember"}
    for name, cookie in cookies.items():
        assert "; secure" in cookie and cookie.count("secure") == 1, name


async def test_wrong_password_shows_bilingual_error(portal: WebPortal) -> None:
    page = await portal.client.get("/login")
    response = await post_form(portal.client, page, "/login", login_id="nobody", password="x")
    assert response.status_code == 401
    assert "ECS-ID/SPS-ID またはパスワードが正しくありません。" in text(response)
    assert "The ECS-ID/SPS-ID or password is incorrect." in text(response)
    assert 'data-requirement="FIRST_FACTOR_PASSWORD"' in response.text


async def test_pages_need_a_session(portal: WebPortal) -> None:
    for path in ("/settings", "/settings/app", "/mfa/app", "/mfa/email", "/reset", "/reset/initialize"):
        response = await portal.client.get(path, follow_redirects=True)
        assert response.url.path == "/login", path
        assert "Please log in again." in text(response)


async def test_a_screen_out_of_turn_leads_to_the_right_one(portal: WebPortal) -> None:
    await portal.user_with_email("rosa", "rosa@example.org")
    mfa = await log_in(portal, "rosa")
    assert mfa.url.path == "/mfa/email"
    for path in ("/", "/settings", "/settings/app"):
        page = await portal.client.get(path, follow_redirects=True)
        assert page.url.path == "/mfa/email", path  # the second factor first [SECOND_FACTOR_REQUIRED]
    assert "この操作は現在の状態では行えません。" in text(page)
    forged = await portal.client.post(
        "/settings/email", data={"csrf_token": csrf(page), "address": "x@example.org"}
    )
    assert forged.status_code == 403  # a form posted out of turn is refused, not redirected
    assert portal.outbox_codes[-1][0] == "rosa@example.org" and len(portal.outbox_codes) == 1
