"""The html driver on a page-only portal it has never seen (a fake, over httpx.MockTransport).

The fake is built like an outsider's portal: Shift_JIS pages declared by ``<meta>`` only, fields
labelled by the ``<th>`` of their table row, a top page after the second factor from which "☰"
leads to a menu page, refusals in a plain paragraph, and a masked registered address. The
driver gets through by the site map's defaults (and one override), and what it cannot find is
an ERROR naming the screen and the key, never the portal's FAIL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx
import pytest

from ninsho.conformance.drivers.html import HtmlDriver, load_site_map
from ninsho.conformance.drivers.html.sitemap import SiteMap
from ninsho.conformance.interfaces import Account, DriverError, NotSupported

PASSWORD, CODE = "right-password", "12345678"
ACCOUNT = Account("taro", PASSWORD, "taro@example.test")


def row(label: str, control: str) -> str:
    return f"<tr><th>{label}</th><td>{control}</td></tr>"


@dataclass
class Outsider:
    """The screens of an outsider's portal; ``refusal`` is its wrong-code message."""

    refusal: str = "ワンタイムパスワードが正しくないか、有効期限が切れています。"
    registered: str = "ta***@example.test"
    posted: list[dict[str, str]] = field(default_factory=list)

    def page(self, body: str, *, status: int = 200) -> httpx.Response:
        html = (
            '<html><head><meta charset="Shift_JIS"><title>多要素認証</title>'
            "<style>h1 { color: navy }</style></head><body>"
            '<header>京都大学統合認証システム<a href="/menu">&#9776;</a></header>'
            f"<main>{body}</main></body></html>"
        )
        return httpx.Response(status, content=html.encode("cp932"), headers={"content-type": "text/html"})

    def login(self) -> httpx.Response:
        return self.page(
            "<h2>ログイン / Login</h2><form method=post action=/login><table>"
            + row("ECS-ID/SPS-ID", "<input name=uid>")
            + row("パスワード / Password", "<input type=password name=pw>")
            + "</table><input type=submit value='ログイン / Login'></form>"
        )

    def mfa(self, message: str = "") -> httpx.Response:
        return self.page(
            "<h2>多要素認証 : メール<br>Multi-Factor Authentication : Email</h2>"
            f"<p class=msg>{message}</p><form method=post action=/mfa><table>"
            + row("ワンタイムパスワード / One-Time Password", "<input name=otp>")
            + "</table><input type=submit value='ログイン / Login'></form>"
        )

    def settings(self, notice: str = "") -> httpx.Response:
        return self.page(
            "<h2>ワンタイムパスワードの設定 / One-Time Password Settings</h2>"
            f"<table>{row('登録済みのアドレス / Registered address', self.registered)}</table>"
            f"<p>{notice}</p><form method=post action=/mail><table>"
            + row("メール認証用アドレス / Address for email-authentication", "<input name=mail>")
            + "</table><input type=submit value='ワンタイムパスワードを送信 / Send One-Time Password'></form>"
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        signed_in = "s=1" in request.headers.get("cookie", "")
        form = (
            dict(parse_qsl(request.content.decode("ascii"), encoding="cp932"))
            if request.method == "POST"
            else {}
        )
        if form:
            self.posted.append(form)
        route = (request.method, request.url.path)
        if route == ("POST", "/login"):
            if form.get("pw") != PASSWORD:
                return self.login()
            return httpx.Response(302, headers={"location": "/mfa", "set-cookie": "s=1; Path=/"})
        if not signed_in:
            return self.login() if route == ("GET", "/") else httpx.Response(302, headers={"location": "/"})
        if route == ("GET", "/"):
            return httpx.Response(302, headers={"location": "/top"})
        if route == ("GET", "/mfa"):
            return self.mfa()
        if route == ("POST", "/mfa"):
            return (
                self.mfa(self.refusal)
                if form.get("otp") != CODE
                else httpx.Response(302, headers={"location": "/top"})
            )
        if route == ("GET", "/top"):
            return self.page(
                "<h2>多要素認証システム<br>Multi-Factor Authentication System</h2><p>ようこそ</p>"
            )
        if route == ("GET", "/menu"):
            return self.page(
                '<ul><li><a href="/settings">ワンタイムパスワードの設定 / One Time Password Settings</a></ul>'
            )
        if route == ("GET", "/settings"):
            return self.settings()
        if route == ("POST", "/mail"):
            return self.settings(f"{form.get('mail')} へメールを送信しました。")
        return httpx.Response(404, text="not found")


def driver_for(portal: Outsider, site: SiteMap | None = None) -> HtmlDriver:
    def new_client() -> httpx.Client:
        return httpx.Client(base_url="http://outsider.test/", transport=httpx.MockTransport(portal))

    return HtmlDriver(new_client, site or load_site_map())


def test_the_driver_gets_through_an_outsiders_pages() -> None:
    portal = Outsider()
    driver = driver_for(portal)
    login = driver.login(ACCOUNT)
    assert (login.ok, login.stage, login.data) == (True, "first_factor", {"methods": ["email"]})
    refused = driver.submit_email_code("00000000")  # said in a plain paragraph, in its own words
    assert (refused.ok, refused.error, refused.data) == (
        False,
        "code_rejected",
        {"field": "code", "status": 200},
    )
    assert refused.message_ja == "ワンタイムパスワードが正しくないか、有効期限が切れています。"
    passed = driver.submit_email_code(CODE)
    # The top page is placed by going on through ☰ to the settings.
    assert (passed.ok, passed.stage) == (True, "authenticated"), passed
    assert [e.request for e in passed.evidence][-2:] == ["GET /menu", "GET /settings"]


def test_a_masked_address_is_read_as_the_address_it_fits() -> None:
    portal = Outsider()
    driver = driver_for(portal)
    assert driver.login(ACCOUNT).ok and driver.submit_email_code(CODE).ok
    unknown = driver.settings()
    assert unknown.data == {"address": "ta***@example.test", "address_shown": "ta***@example.test"}
    sent = driver.register_email("taro@example.test")  # a Shift_JIS form, sent in Shift_JIS
    assert (sent.ok, sent.data["address"]) == (True, "taro@example.test")
    assert portal.posted[-1]["mail"] == "taro@example.test"
    shown = driver.settings()
    assert shown.data == {"address": "taro@example.test", "address_shown": "ta***@example.test"}
    driver.book.add("taro", "tanaka@example.test")
    with pytest.raises(DriverError, match=r"fits 2 addresses.*address.display"):
        driver.settings()


def test_a_refusal_no_class_knows_is_an_error_naming_the_key() -> None:
    driver = driver_for(Outsider(refusal="コードが一致しません。"))
    assert driver.login(ACCOUNT).ok
    with pytest.raises(DriverError, match=r"«コードが一致しません。».*refusals\.<error>"):
        driver.submit_email_code("00000000")


def test_what_the_driver_cannot_find_is_an_error_naming_screen_and_key(tmp_path: object) -> None:
    from pathlib import Path

    site_file = Path(str(tmp_path)) / "site.toml"
    site_file.write_text('[fields]\notp = "認証コード / Code"\n', encoding="utf-8")
    driver = driver_for(Outsider(), load_site_map(site_file))
    assert driver.login(ACCOUNT).ok
    with pytest.raises(DriverError) as raised:
        driver.submit_email_code(CODE)
    message = str(raised.value)
    assert "not on this screen" in message and "(http://outsider.test/mfa)" in message
    assert "Multi-Factor Authentication : Email" in message and "fields.otp" in message


def test_not_applicable_only_where_the_site_map_says_so(tmp_path: object) -> None:
    from pathlib import Path

    site_file = Path(str(tmp_path)) / "site.toml"
    site_file.write_text("[capabilities]\napp_registration = false\n", encoding="utf-8")
    driver = driver_for(Outsider(), load_site_map(site_file))
    assert driver.login(ACCOUNT).ok and driver.submit_email_code(CODE).ok
    with pytest.raises(NotSupported, match=r"capabilities\.app_registration = false"):
        driver.start_app_registration()
    # With the default site map the App tab is sought, and not finding it is an ERROR.
    other = driver_for(Outsider())
    assert other.login(ACCOUNT).ok and other.submit_email_code(CODE).ok
    with pytest.raises(DriverError) as raised:
        other.start_app_registration()
    assert not isinstance(raised.value, NotSupported) and "links.app_tab" in str(raised.value)


@dataclass
class Redirecting(Outsider):
    """The outsider's portal with its login screen at an address of its own, to which the
    portal's address redirects (``/signin``, or ``/signin?state=…`` when ``stateful``). Once
    ``moved`` it is at ``/login2``, and ``/signin`` redirects there; once ``gone``, ``/signin``
    is a page that is not found."""

    stateful: bool = False
    moved: bool = False
    gone: bool = False
    requests: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        signed_in = "s=1" in request.headers.get("cookie", "")
        here = "/login2" if self.moved else "/signin"
        if request.method == "GET" and request.url.path == "/signin" and self.gone:
            return self.page("<h2>Not Found</h2>", status=404)
        if request.method == "GET" and request.url.path == here and not signed_in:
            return self.login()
        if request.method == "GET" and request.url.path in ("/", "/signin") and not signed_in:
            return httpx.Response(302, headers={"location": here + ("?state=1" if self.stateful else "")})
        return super().__call__(request)


def test_the_login_screen_is_opened_at_the_address_the_portal_led_to() -> None:
    """Once the portal's address has led to the login screen, later logins (of any browser of
    the run) open that address and save the redirect; an address with a query is never reused,
    and one that stops showing the login screen sends the driver back to the portal's address
    for good."""
    portal = Redirecting()
    first = driver_for(portal)
    assert first.login(ACCOUNT).ok
    assert portal.requests[:2] == ["GET /", "GET /signin"]
    assert first.book.login_page == "http://outsider.test/signin"
    portal.requests.clear()
    second = first.fresh()  # another browser of the same run
    assert second.login(ACCOUNT).ok
    assert portal.requests[:2] == ["GET /signin", "POST /login"]

    portal.moved = True  # the learned address now redirects: where it leads is learned instead
    portal.requests.clear()
    assert first.fresh().login(ACCOUNT).ok
    assert portal.requests[:3] == ["GET /signin", "GET /login2", "POST /login"]
    assert first.book.login_page == "http://outsider.test/login2"

    gone = Redirecting(moved=True, gone=True)  # learned, then not found: the portal's address for good
    driver = driver_for(gone)
    driver.book.login_page = "http://outsider.test/signin"
    assert driver.login(ACCOUNT).ok
    assert gone.requests[0] == "GET /signin" and gone.requests[-4:-2] == ["GET /", "GET /login2"]
    assert (driver.book.login_page, driver.book.login_page_failed) == (None, True)
    gone.gone = False
    gone.requests.clear()
    assert driver.fresh().login(ACCOUNT).ok
    assert gone.requests[:3] == ["GET /", "GET /login2", "POST /login"], "nothing learned again"
    assert driver.book.login_page is None

    stateful = Redirecting(stateful=True)
    driver = driver_for(stateful)
    assert driver.login(ACCOUNT).ok and driver.book.login_page is None
    stateful.requests.clear()
    assert driver.fresh().login(ACCOUNT).ok
    assert stateful.requests[:2] == ["GET /", "GET /signin"]
