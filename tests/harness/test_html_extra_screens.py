"""Screens the manuals do not have but common portals do (django-allauth has all four): the
password asked again before a change, "Trust this browser?" on a page of its own, a Logout that
asks to be confirmed, and a value shown in a field no one can type into (docs/html-driver.md)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import segno

from ninsho.conformance.drivers.html import HtmlDriver, load_site_map
from ninsho.conformance.drivers.html.page import parse_page
from ninsho.conformance.interfaces import Account

PASSWORD = "right-password"
URI = "otpauth://totp/Portal:taro?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Portal"
EXTRA = {
    "screens": {
        "reauthenticate": {"stage": "signed_in", "heading": "Confirm Access"},
        "trust_question": {"stage": "first_factor", "heading": "Trust this Browser?"},
    },
    "buttons": {"trust": {"regex": "^Trust for "}, "dont_trust": "Don't Trust"},
}
SETTINGS = (
    "<h2>ワンタイムパスワードの設定 / One-Time Password Settings</h2>"
    "<p><a href=/app>アプリ / App</a> <a href=/logout>ログアウト / Logout</a></p>"
)
LOGIN = (
    "<h2>ログイン / Login</h2><form method=post action=/login><label>ECS-ID/SPS-ID <input name=uid></label>"
    "<label>パスワード / Password <input type=password name=pw></label><button>ログイン / Login</button></form>"
)


def _page(body: str) -> httpx.Response:
    return httpx.Response(
        200, text=f"<html><body>{body}</body></html>", headers={"content-type": "text/html"}
    )


def _svg_qr() -> str:
    out = io.BytesIO()
    segno.make(URI, error="m").save(out, kind="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _driver(
    answer: Callable[[httpx.Request, dict[str, str]], httpx.Response], posted: list[dict[str, str]]
) -> HtmlDriver:
    def transport(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode())) if request.method == "POST" else {}
        if request.method == "POST":
            posted.append({"path": request.url.path, **form})
        return answer(request, form)

    return HtmlDriver(
        lambda: httpx.Client(base_url="http://portal.test/", transport=httpx.MockTransport(transport)),
        load_site_map(document=EXTRA),
    )


def test_a_disabled_or_readonly_field_shows_its_value_as_text() -> None:
    page = parse_page(
        "http://portal.test/", 200,
        b"<p><label for=a>Current email:</label> <input disabled id=a value=taro@example.test></p>"
        b"<p>Key <input readonly value=JBSWY3DPEHPK3PXP></p><p>Typed <input value=not-shown></p>",
        "text/html",
    )  # fmt: skip
    assert "Current email: taro@example.test" in page.blocks
    assert "Key JBSWY3DPEHPK3PXP" in page.blocks
    assert not any("not-shown" in block for block in page.blocks)  # what a person types is not the page's


def test_the_password_asked_again_is_typed_and_the_way_goes_on() -> None:
    """ "Confirm Access" between the settings and the App tab: the login's password, then the tab."""
    posted: list[dict[str, str]] = []
    confirmed = []

    def answer(request: httpx.Request, form: dict[str, str]) -> httpx.Response:
        route = (request.method, request.url.path)
        if route == ("POST", "/login"):
            return httpx.Response(303, headers={"location": "/settings"})
        if route == ("POST", "/reauth"):
            confirmed.append(form.get("password") == PASSWORD)
            return httpx.Response(303, headers={"location": "/app"})
        if route == ("GET", "/app") and not confirmed:
            return _page(
                "<h1>Confirm Access</h1><form method=post action=/reauth>"
                "<label>パスワード / Password <input type=password name=password></label><button>確認 / Confirm</button></form>"
            )  # fmt: skip
        if route == ("GET", "/app"):
            return _page(
                f"<h2>ワンタイムパスワードの設定 / One-Time Password Settings</h2><img src='{_svg_qr()}' alt=QR>"
                "<form method=post action=/register><label>ワンタイムパスワード <input name=otp></label>"
                "<button>登録 / Register</button></form>"
            )  # fmt: skip
        return _page(SETTINGS if request.url.path == "/settings" else LOGIN)

    driver = _driver(answer, posted)
    assert driver.login(Account("taro", PASSWORD)).ok
    assert driver.start_app_registration().uri == URI
    assert confirmed == [True]
    assert [p["path"] for p in posted] == ["/login", "/reauth"]


def test_a_logout_that_asks_again_is_confirmed_with_its_button() -> None:
    posted: list[dict[str, str]] = []

    def answer(request: httpx.Request, form: dict[str, str]) -> httpx.Response:
        if request.url.path == "/logout" and request.method == "GET":
            return _page(
                "<h1>Sign Out</h1><p><a href=/logout>ログアウト / Logout</a></p><p>Are you sure?</p>"
                "<form method=post action=/logout><button>ログアウト / Logout</button></form>"
            )  # fmt: skip
        if request.url.path == "/logout":
            return httpx.Response(303, headers={"location": "/login"})
        return _page(SETTINGS if request.url.path == "/settings" else LOGIN)

    driver = _driver(answer, posted)
    driver.browser.open("test", "settings")
    assert driver.logout().ok
    assert [p["path"] for p in posted] == ["/logout"]


def test_trust_this_browser_asked_on_its_own_page_is_answered_as_the_check_asks() -> None:
    for trust, button in ((True, "trust"), (False, "skip")):
        posted: list[dict[str, str]] = []

        def answer(request: httpx.Request, form: dict[str, str]) -> httpx.Response:
            route = (request.method, request.url.path)
            if route == ("POST", "/mfa"):
                return httpx.Response(303, headers={"location": "/trust"})
            if route == ("GET", "/trust"):
                return _page(
                    "<h1>Trust this Browser?</h1><form method=post action=/trust>"
                    "<button name=action value=trust>Trust for 2 weeks</button>"
                    "<button name=action value=skip>Don't Trust</button></form>"
                )  # fmt: skip
            if route == ("POST", "/trust"):
                return httpx.Response(303, headers={"location": "/settings"})
            if request.url.path == "/settings":
                return _page(SETTINGS)
            return _page(
                "<h2>多要素認証 : アプリ / Multi-Factor Authentication : App</h2><form method=post action=/mfa>"
                "<label>ワンタイムパスワード <input name=otp></label><button>ログイン / Login</button></form>"
            )  # fmt: skip

        driver = _driver(answer, posted)
        driver.browser.open("test", "mfa")
        outcome = driver.submit_app_code("123456", trust_browser=trust)
        assert outcome.ok and outcome.stage == "authenticated", outcome
        assert driver.trusted is trust
        assert posted[-1] == {"path": "/trust", "action": button}
