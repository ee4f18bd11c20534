"""Bad pages over real HTTP: each is one clear ERROR naming the page, never a traceback (issue
"Page-only portals", "Bad input").

A small page portal on 127.0.0.1 (``http.server`` in a thread, stopped in teardown) answers with
pages that are right except for one thing: malformed HTML that hides a control, a page over 5 MB
(with and without a Content-Length), no charset and bytes that are not UTF-8, a wrong charset, a
charset that is not one, a redirect loop, and a QR image that does not decode. The html driver
reads each through a real socket, as it reads a portal; each raises one DriverError whose one
line names the page (its title where it has one, and its URL), and the harness makes it one ERROR
per requirement with that line as its reason. tests/harness/test_html_page.py holds the same
cases on canned answers, with their details.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ninsho.conformance.drivers.html import HtmlDriver, load_site_map
from ninsho.conformance.drivers.html.page import MAX_PAGE_BYTES
from ninsho.conformance.interfaces import Account, DriverError
from ninsho.conformance.results import verdicts_for
from ninsho.conformance.verdicts import Verdict
from ninsho.spec.registry import requirements

UTF8 = "text/html; charset=utf-8"
LOGIN = (
    "<title>ログイン / Login</title><h2>ログイン / Login</h2><form method=post action=/login>"
    "<label>ECS-ID/SPS-ID <input name=uid></label><label>パスワード / Password"
    " <input type=password name=pw></label><button>ログイン / Login</button></form>"
)
SETTINGS = (
    "<title>ワンタイムパスワードの設定 / One-Time Password Settings</title>"
    "<h2>ワンタイムパスワードの設定 / One-Time Password Settings</h2><p>初回設定 / Initial setup</p>"
    "<a href=/settings/app>アプリ / App</a>"
)
APP_TAB = (
    SETTINGS + "<img src=/qr.png alt=QR><form method=post action=/settings/app>"
    "<label>ワンタイムパスワード / One-Time Password <input name=otp></label>"
    "<button>登録 / Register</button></form>"
)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = UTF8
    location: str = ""
    length: bool = True  # send a Content-Length (else the body ends when the connection closes)


class BadPortal:
    """The pages by path (``routes``), served on 127.0.0.1 from a thread; POST /login goes to
    the settings, as the manuals' portal does after the first factor."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        self.clients: set[tuple[str, int]] = set()  # the connections requests came on
        portal = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer(portal.routes.get(self.path.split("?")[0], Answer(404, b"<p>not found</p>")))

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(Answer(303, location="/settings"))

            def _answer(self, answer: Answer) -> None:
                portal.clients.add(self.client_address)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                if answer.location:
                    self.send_header("Location", answer.location)
                if answer.length:
                    self.send_header("Content-Length", str(len(answer.body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    self.wfile.write(answer.body)
                except OSError:  # the driver stops reading a page over its limit and hangs up
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="bad-page-portal", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def portal() -> Iterator[BadPortal]:
    server = BadPortal()
    try:
        yield server
    finally:
        server.stop()


DriverFor = Callable[[dict[str, Answer]], HtmlDriver]


@pytest.fixture
def driver_for(portal: BadPortal) -> Iterator[DriverFor]:
    """The html driver on ``portal``, whose pages are the good ones but for those given; its
    connections are closed after the test."""
    clients: list[httpx.Client] = []
    site = load_site_map(document={"screens": {"settings": {"setup_text": "初回設定 / Initial setup"}}})

    def new_client() -> httpx.Client:
        clients.append(httpx.Client(base_url=portal.url + "/", timeout=10))
        return clients[-1]

    def make(routes: dict[str, Answer]) -> HtmlDriver:
        portal.routes = {
            "/": Answer(body=LOGIN.encode()),
            "/settings": Answer(body=SETTINGS.encode()),
            **routes,
        }
        return HtmlDriver(new_client, site)

    yield make
    for client in clients:
        client.close()


def one_clear_error(raised: pytest.ExceptionInfo[DriverError], *named: str) -> str:
    """The error's message: one line, naming each of ``named``; and the one ERROR the harness
    makes of it for a requirement, with that line as its reason."""
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message, message
    for part in named:
        assert part in message, (part, message)
    [result] = verdicts_for("check", ["TOTP_DIGITS"], requirements(), raised.value)
    assert result.verdict is Verdict.ERROR and message in result.reason, result
    assert "harness error" not in result.reason, result.reason
    return message


def test_malformed_html_that_hides_the_button_names_the_screen(
    portal: BadPortal, driver_for: DriverFor
) -> None:
    """Read as a browser reads it, the button is outside the form the unclosed tags leave."""
    broken = LOGIN.replace("</form>", "").replace("<button>", "</form><button>")
    driver = driver_for({"/": Answer(body=broken.encode())})
    with pytest.raises(DriverError) as raised:
        driver.login(Account("taro", "pw"))
    one_clear_error(raised, f"«ログイン / Login» ({portal.url}/)", "buttons.login")


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "until-closed"])
def test_a_page_over_5_mb_names_the_page_and_the_browser_goes_on(
    portal: BadPortal, driver_for: DriverFor, length: bool
) -> None:
    huge = b"<title>Huge / Huge</title>" + b"<p>" + b"x" * MAX_PAGE_BYTES
    driver = driver_for({"/": Answer(body=huge, length=length), "/login": Answer(body=LOGIN.encode())})
    with pytest.raises(DriverError) as raised:
        driver.login(Account("taro", "pw"))
    message = one_clear_error(raised, f"«Huge / Huge» ({portal.url}/)", f"limit of {MAX_PAGE_BYTES} bytes")
    assert (f"is {len(huge)} bytes" in message) is length, message
    assert (
        driver.browser.open("test", "login").title == "ログイン / Login"
    )  # the connection is not left half-read


@pytest.mark.parametrize(
    ("content_type", "said"),
    [
        ("text/html", "declares no charset and is not utf-8"),
        ("text/html; charset=utf-8", "says 'utf-8' (header) but is not utf-8"),
        ("text/html; charset=klingon", "declares the charset 'klingon', which is not one"),
    ],
    ids=["missing", "wrong", "unknown"],
)
def test_a_missing_or_wrong_charset_names_the_page(
    portal: BadPortal, driver_for: DriverFor, content_type: str, said: str
) -> None:
    sjis = LOGIN.encode("cp932")
    driver = driver_for({"/": Answer(body=sjis, content_type=content_type)})
    with pytest.raises(DriverError) as raised:
        driver.login(Account("taro", "pw"))
    message = one_clear_error(raised, said, "site.charset", f"/ Login» ({portal.url}/)")
    assert message.startswith("login: the page «"), message


def test_a_redirect_does_not_cost_a_connection(portal: BadPortal, driver_for: DriverFor) -> None:
    """The 303 after a form is read to its end, so its connection serves the next request
    (closed unread, every POST → 303 → GET opened a new one: benchmarks/README.md, item 7)."""
    driver = driver_for(
        {
            "/settings": Answer(303, b"<p>see /home</p>", location="/home"),
            "/home": Answer(body=SETTINGS.encode()),
        }
    )
    portal.clients.clear()
    driver.login(Account("taro", "pw"))  # GET /, POST /login → 303 /settings → 303 /home
    assert driver.browser.page is not None and driver.browser.page.url == f"{portal.url}/home"
    assert len(portal.clients) == 1, portal.clients


def test_a_redirect_loop_names_the_chain(portal: BadPortal, driver_for: DriverFor) -> None:
    driver = driver_for({"/": Answer(302, location="/a"), "/a": Answer(302, location="/")})
    with pytest.raises(DriverError) as raised:
        driver.login(Account("taro", "pw"))
    one_clear_error(raised, f"a redirect loop at {portal.url}/: / → /a → / → /a → /")


def test_a_qr_image_that_does_not_decode_names_the_app_tab(portal: BadPortal, driver_for: DriverFor) -> None:
    app_tab = Answer(body=APP_TAB.encode())
    driver = driver_for(
        {"/settings/app": app_tab, "/qr.png": Answer(body=b"not a png", content_type="image/png")}
    )
    driver.login(Account("taro", "pw"))
    with pytest.raises(DriverError) as raised:
        driver.start_app_registration()
    one_clear_error(
        raised,
        f"«ワンタイムパスワードの設定 / One-Time Password Settings» ({portal.url}/settings/app)",
        "neither a readable QR code nor a manual key",
        "the image '/qr.png': not an image the driver can read",
    )
