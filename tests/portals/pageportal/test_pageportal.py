"""Walks both skins of the page portal through a real uvicorn server and a real SMTP sink."""

from __future__ import annotations

import email
import email.policy
import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pyotp
import pytest
import segno
import uvicorn
from aiosmtpd.controller import Controller

from tests.address_cases import case_dicts

from . import build_app
from .__main__ import main as cli_main
from .address import check_address
from .profile import load_profile
from .web import Web

ROOT = Path(__file__).resolve().parents[3]
PROFILES = ROOT / "spec" / "profiles"
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[EmailMessage, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.content)
        self.messages.append((email.message_from_bytes(raw, policy=email.policy.default), raw))  # type: ignore[arg-type]
        return "250 OK"

    def last_code(self, digits: int) -> str:
        body = self.messages[-1][0].get_content()
        return re.search(rf"(?<!\d)\d{{{digits}}}(?!\d)", body).group(0)  # type: ignore[union-attr]


class Browser:
    """An httpx client that reads the CSRF token of the last page and posts in the skin's charset."""

    def __init__(self, base: str, web: Web) -> None:
        self.web, self.skin = web, web.skin
        self.client = httpx.Client(base_url=base, follow_redirects=True)
        self.page: httpx.Response | None = None

    def get(self, url: str) -> httpx.Response:
        self.page = self.client.get(url)
        return self.page

    def token(self) -> str:
        assert self.page is not None
        found = re.search(rf'name="{self.skin.csrf_field}" value="([^"]+)"', self.page.text)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def post(self, url: str, fields: dict[str, str], csrf: bool = True, **extra: str) -> httpx.Response:
        pairs = [(self.skin.fields[k], v) for k, v in fields.items()] + list(extra.items())
        if csrf:
            pairs.append((self.skin.csrf_field, self.token()))
        body = urlencode(pairs, encoding=self.skin.codec, errors="xmlcharrefreplace")
        headers = {"content-type": "application/x-www-form-urlencoded"}
        self.page = self.client.post(url, content=body.encode("ascii"), headers=headers)
        return self.page

    def logout(self) -> httpx.Response:
        assert self.page is not None
        link = re.search(r'href="([^"]*k=[^"]+)"', self.page.text)
        assert link
        return self.get(html.unescape(link.group(1)))

    def close(self) -> None:
        self.client.close()


class Portal:
    """One running portal: its server, its web object, a mail sink and a browser."""

    def __init__(self, skin: str, tmp: Path, sink: Sink, smtp_port: int) -> None:
        self.db = tmp / f"{skin}.sqlite"
        app = build_app(PROFILES / "iimc.toml", self.db, skin, smtp_port=smtp_port, test_clock=True)
        self.web: Web = app.state.web
        self.sink = sink
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started
        self.base = f"http://127.0.0.1:{self.port}"
        self.browser = Browser(self.base, self.web)

    def url(self, screen: str, action: str | None = None) -> str:
        return self.web.skin.url(screen, action)

    def stop(self) -> None:
        self.browser.close()
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(params=["table", "sjis"])
def portal(request: pytest.FixtureRequest, tmp_path: Path, sink: tuple[Sink, int]) -> Iterator[Portal]:
    running = Portal(request.param, tmp_path, sink[0], sink[1])
    try:
        running.web.portal.add_user("taro", PASSWORD)
        yield running
    finally:
        running.stop()


def _alert(page: httpx.Response) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</(?:p|div)>', page.text, re.S)
    return re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""


def _login(p: Portal, password: str = PASSWORD) -> httpx.Response:
    b = p.browser
    b.get("/")
    return b.post(p.url("login", "submit"), {"login_id": "taro", "password": password})


def _register_mail(p: Portal, address: str = "taro.yamada@example.jp") -> None:
    b = p.browser
    page = b.post(p.url("mail", "send"), {"address": address}, do="send")
    assert page.status_code == 200, _alert(page)
    assert f"{address}へメールを送信しました。" in page.text
    code = p.sink.last_code(8)
    page = b.post(p.url("mail", "confirm"), {"code": code}, do="confirm")
    assert page.status_code == 200, _alert(page)


def _register_app(p: Portal) -> str:
    b = p.browser
    page = b.get(p.url("app"))
    key = re.search(r"(?:<code>|id=\"manualkey\">)([A-Z2-7 ]+)<", page.text)
    assert key
    secret = key.group(1).replace(" ", "")
    uri = p.web.portal.provisioning("taro", secret)
    assert (
        uri
        == f"otpauth://totp/Kyoto%20University:taro?secret={secret}&issuer=Kyoto%20University&algorithm=SHA1&digits=6&period=30"
    )
    # the QR is segno's rendering of exactly that URI
    assert segno.make(uri, error="m").png_data_uri(scale=5) in html.unescape(page.text)
    now = time.time() + p.web.portal.clock.offset
    page = b.post(p.url("app", "register"), {"code": pyotp.TOTP(secret).at(now)})
    assert page.status_code == 200, _alert(page)
    return secret


def _advance(p: Portal, seconds: float) -> None:
    r = p.browser.client.post("/test-clock", json={"advance_seconds": seconds})
    assert r.status_code == 200 and r.json()["offset_seconds"] >= seconds


def test_walk_setup_mail_app_logout_totp(portal: Portal) -> None:
    """Login, first address by mailed code, app by QR secret, logout, login again with TOTP."""
    page = _login(portal)
    assert page.url.path + ("?" + page.url.query.decode() if page.url.query else "") == portal.url("mail")
    assert "ワンタイムパスワードの設定" in page.text
    _register_mail(portal)
    msg, raw = portal.sink.messages[-1]
    assert msg["From"] == "ninsho-qa@iimc.kyoto-u.ac.jp" and msg["To"] == "taro.yamada@example.jp"
    assert msg["Subject"] == "ワンタイムパスワードのお知らせ / Notification of one time password"
    assert b"=?utf-8?" in raw.lower() and all(len(line) <= 78 for line in raw.split(b"\r\n"))
    page = portal.browser.get(portal.url("mail"))
    if portal.web.skin.name == "table":
        assert "ta*****@example.jp" in page.text and "taro.yamada@example.jp" not in page.text
        row = '<tr><th>メール認証用アドレス / Address for email-authentication</th><td><input type="text" name="x6"'
        assert row in page.text and "<label" not in page.text and "placeholder" not in page.text
    else:
        assert "taro.yamada@example.jp" in page.text and "<label>メール認証用アドレス" in page.text
    secret = _register_app(portal)
    assert portal.web.portal.account(1).app_count == 1
    assert portal.browser.logout().status_code == 200
    page = _login(portal)
    assert "多要素認証 : アプリ" in page.text
    used = pyotp.TOTP(secret).at(time.time() + portal.web.portal.clock.offset)
    page = portal.browser.post(portal.url("mfa_app", "submit"), {"code": used})
    assert page.status_code == 401, "the code used for Register must not log in"
    assert _alert(page)
    _advance(portal, 30)
    fresh = pyotp.TOTP(secret).at(time.time() + portal.web.portal.clock.offset)
    page = portal.browser.post(portal.url("mfa_app", "submit"), {"code": fresh})
    assert page.status_code == 200
    if portal.web.skin.name == "table":
        assert "多要素認証システム / Multi-Factor Authentication System" in page.text
        assert re.search(
            r"<header>.*<nav>.*☰.*One Time Password Settings.*Initialize.*Logout", page.text, re.S
        )
    else:
        assert "ワンタイムパスワードの設定 / One Time Password Settings" in page.text


def test_blocked_domain_and_wrong_password(portal: Portal) -> None:
    """A subdomain of a blocked domain is refused, nothing mailed, nothing stored; bad password is generic."""
    page = _login(portal, "wrong password")
    assert page.status_code == 401 and PASSWORD not in page.text
    page.read()
    unknown = portal.browser.post(portal.url("login", "submit"), {"login_id": "nobody", "password": "x"})
    assert unknown.status_code == 401 and _alert(unknown) == _alert(page)
    _login(portal)
    page = portal.browser.post(portal.url("mail", "send"), {"address": "Taro@MAIL.Kyoto-U.ac.jp."}, do="send")
    assert page.status_code == 422 and "EMAIL_BLOCKED_SUBDOMAIN" in page.text
    page = portal.browser.post(
        portal.url("mail", "send"), {"address": "taro@kyoto-u.ac.jp@gmail.com"}, do="send"
    )
    assert page.status_code == 400 and "EMAIL_ADDRESS_SYNTAX" in page.text
    assert portal.sink.messages == [] and portal.web.portal.account(1).address is None


def test_csrf_and_stage_refusals(portal: Portal) -> None:
    """A POST without the token is 403 and changes nothing; settings need a session."""
    portal.browser.get("/")
    page = portal.browser.post(
        portal.url("login", "submit"), {"login_id": "taro", "password": PASSWORD}, csrf=False
    )
    assert page.status_code == 403
    assert portal.browser.get(portal.url("app")).status_code == 401
    assert portal.browser.client.cookies.get(portal.web.skin.cookies["session"]) is None


def test_reset_by_confirmation_code(portal: Portal) -> None:
    """Initialize mails a code; the reset page masks the address; Confirm voids app and address."""
    _login(portal)
    _register_mail(portal, "hanako@example.jp")
    _register_app(portal)
    portal.browser.logout()
    b = portal.browser
    b.get(portal.url("relogin"))
    page = b.post(portal.url("relogin", "submit"), {"login_id": "taro", "password": PASSWORD})
    assert "ワンタイムパスワード設定初期化 / Initialize One-Time Password Settings" in page.text
    page = b.post(portal.url("init", "submit"), {})
    assert "ha*****@example.jp" in page.text and "hanako@example.jp" not in page.text
    assert "再送信 / Resend" in page.text and "確認コード / Confirm Code" in page.text
    msg = portal.sink.messages[-1][0]
    assert msg["Subject"].startswith("ワンタイムパスワード設定初期化用確認コードのお知らせ")
    first = portal.sink.last_code(8)
    page = b.post(portal.url("reset", "resend"), {}, resend="再送信 / Resend")
    second = portal.sink.last_code(8)
    assert page.status_code == 200 and len(portal.sink.messages) == 3
    if first != second:
        assert b.post(portal.url("reset", "confirm"), {"code": first}).status_code == 401
    page = b.post(portal.url("reset", "confirm"), {"code": second})
    assert page.status_code == 200, _alert(page)
    acct = portal.web.portal.account(1)
    assert acct.app_count == 0 and acct.address is None
    assert "メール" in page.text and "アプリ" in page.text


def test_helpdesk_issues_code_without_address(
    portal: Portal, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No address: placeholder and helpdesk text; the operator command issues the code."""
    _login(portal)
    _register_app(portal)
    portal.browser.logout()
    b = portal.browser
    b.get(portal.url("relogin"))
    b.post(portal.url("relogin", "submit"), {"login_id": "taro", "password": PASSWORD})
    assert cli_main(["helpdesk", "taro", "--db", str(portal.db)]) == 1
    assert "no pending reset" in capsys.readouterr().err
    page = b.post(portal.url("init", "submit"), {})
    assert "id*****@mail2.adm.kyoto-u.ac.jp" in page.text and "075-753-7840" in page.text
    assert portal.sink.messages == []
    assert cli_main(["helpdesk", "taro", "--db", str(portal.db)]) == 0
    code = capsys.readouterr().out.strip()
    assert re.fullmatch(r"\d{8}", code)
    page = b.post(portal.url("reset", "confirm"), {"code": code})
    assert page.status_code == 200 and portal.web.portal.account(1).app_count == 0
    monkeypatch.setenv("PP_PW", "pw2")
    assert cli_main(["users", "add", "jiro", "--password-env", "PP_PW", "--db", str(portal.db)]) == 0
    assert portal.web.portal.authenticate("jiro", "pw2") is not None


@pytest.mark.parametrize("skin", ["sjis"])
def test_sjis_bytes_and_decoding(skin: str, tmp_path: Path, sink: tuple[Sink, int]) -> None:
    """The sjis skin sends Shift_JIS bytes and reads Shift_JIS forms (with &#NNNN; for the rest)."""
    p = Portal(skin, tmp_path, sink[0], sink[1])
    try:
        p.web.portal.add_user("taro", PASSWORD)
        page = p.browser.get(p.url("login"))
        assert page.headers["content-type"] == "text/html; charset=Shift_JIS"
        assert '<meta charset="Shift_JIS">' in page.content.decode("shift_jis")
        assert "ログイン / Login".encode("shift_jis") in page.content
        with pytest.raises(UnicodeDecodeError):
            page.content.decode("utf-8")
        assert 'accept-charset="Shift_JIS"' in page.text and "<dt>ECS-ID/SPS-ID</dt>" in page.text
        p.browser.post(p.url("login", "submit"), {"login_id": "taro", "password": PASSWORD})
        page = p.browser.post(
            p.url("mail", "send"), {"address": "\u3000ｔａｒｏ＠ｇｍａｉｌ．ｃｏｍ"}, do="send"
        )
        assert page.status_code == 200 and "taro@gmail.com" in page.text
        page = p.browser.post(p.url("mail", "send"), {"address": "taro@\u212ayoto-u.ac.jp"}, do="send")
        assert page.status_code == 422
    finally:
        p.stop()


def test_address_vectors() -> None:
    """Every case of spec/vectors/addresses.toml gets its verdict and normalised form under iimc."""
    profile = load_profile(PROFILES / "fast-test.toml")
    assert (
        profile.num("email_otp.lifetime_seconds") == 6 and profile.text("totp.issuer") == "Kyoto University"
    )
    cases = case_dicts()  # the templates of spec/vectors/addresses.toml, expanded under iimc
    for case in cases:
        got = check_address(case["input"], profile.domains(), True)
        assert got.verdict == case["verdict"], case["id"]
        if case["verdict"] != "invalid":
            assert got.address == case["normalized"], case["id"]
        if "verdict_without_subdomain_rule" in case:
            assert (
                check_address(case["input"], profile.domains(), False).verdict
                == case["verdict_without_subdomain_rule"]
            )


def test_single_use_under_concurrency_and_lockout(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    """Two concurrent submissions of one mailed code: exactly one wins; the threshold locks."""
    app = build_app(PROFILES / "fast-test.toml", tmp_path / "c.sqlite", "table", smtp_port=sink[1])
    portal = app.state.web.portal
    portal.add_user("taro", PASSWORD)
    portal.start_registration(1, "taro@example.jp", "address")
    portal.confirm_registration(1, sink[0].last_code(8), "code")
    portal.send_login_code(1)
    code = sink[0].last_code(8)
    results: list[str] = []

    def submit() -> None:
        try:
            portal.verify_login_code(1, code, "code")
            results.append("ok")
        except Exception as exc:
            results.append(getattr(exc, "kind", repr(exc)))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["code_refused", "ok"]
    kinds = []
    for _ in range(portal.profile.num("lockout.threshold") + 1):
        try:
            portal.verify_login_code(1, "00000000", "code")
        except Exception as exc:
            kinds.append(getattr(exc, "kind", ""))
    # the losing concurrent submission was a replay: no failure counted (§12.5, REPLAY_NOT_COUNTED)
    assert kinds.index("locked") == portal.profile.num("lockout.threshold") and portal.account(1).locked
    assert set(kinds[kinds.index("locked") :]) == {"locked"}
    assert app.state.web.portal.clock.adjustable is False


def test_test_clock_disabled_by_default(tmp_path: Path) -> None:
    """Without --test-clock the operations are 404 and the clock does not move."""
    app = build_app(PROFILES / "iimc.toml", tmp_path / "d.sqlite", "sjis")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            r = client.post("/test-clock", json={"advance_seconds": 100})
            assert r.status_code == 404 and r.json()["requirement"] == "TEST_CLOCK_DISABLED_BY_DEFAULT"
            assert "x-test-clock" not in r.headers
        assert app.state.web.portal.clock.offset == 0
    finally:
        server.should_exit = True
        thread.join(10)
