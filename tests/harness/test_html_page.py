"""The html driver's page model: a page read by the rules of HTML, as a browser reads it.

Accessible names in each way a page may give them, text split at block boundaries with what is
never rendered left out, charsets from the header, the ``<meta>`` or the default (Shift_JIS and
EUC-JP, in pages and in the forms sent back), and bad input: each a clear error naming the page.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl

import httpx
import pytest
import segno

from ninsho.conformance.drivers.html import HtmlDriver, charset, qr
from ninsho.conformance.drivers.html.browser import Browser
from ninsho.conformance.drivers.html.page import (
    MAX_PAGE_BYTES,
    Page,
    PageError,
    bilingual,
    form_data,
    parse_page,
)
from ninsho.conformance.drivers.html.sitemap import load
from ninsho.conformance.drivers.html.text import same_text
from ninsho.conformance.interfaces import Account, DriverError

URL = "http://portal.test/page"


def page_of(html: str, content_type: str = "text/html; charset=utf-8") -> Page:
    return parse_page(URL, 200, html.encode("utf-8"), content_type)


def named(page: Page, wanted: str) -> str | None:
    """The ``name`` of the control the text labels, or None."""
    found = page.field(lambda shown: same_text(wanted, shown))
    return found.name if found is not None else None


# --- accessible names --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("html", "label"),
    [
        ('<label for="c">確認コード / Confirm Code</label><input id="c" name="x">', "Confirm Code"),
        ("<label>ワンタイムパスワード<br>One-Time Password <input name=x></label>", "ワンタイムパスワード"),
        ('<span id="l">Confirm Code</span><input aria-labelledby="l" name="x">', "Confirm Code"),
        ('<input aria-label="確認コード" name="x">', "確認コード"),
        ('<input title="Confirm Code" name="x">', "Confirm Code"),
        ('<input placeholder="Confirm Code" name="x">', "Confirm Code"),
        ("<table><tr><th>確認コード / Confirm Code</th><td><input name=x></td></tr></table>", "Confirm Code"),
        (
            "<table><thead><tr><th>ID</th><th>Confirm Code</th></tr></thead>"
            "<tbody><tr><td><input name=y></td><td><input name=x></td></tr></tbody></table>",
            "Confirm Code",
        ),
        ("<dl><dt>Confirm Code</dt><dd><input name=x></dd></dl>", "Confirm Code"),
        ("<p>確認コード / Confirm Code: <input name=x></p>", "確認コード"),
        ("<div>Confirm Code</div><div><input name=x></div>", "Confirm Code"),
    ],
    ids=[
        "label-for",
        "wrapping-label",
        "aria-labelledby",
        "aria-label",
        "title",
        "placeholder",
        "row-header",
        "column-header",
        "dt-dd",
        "text-before",
        "text-in-block-before",
    ],
)
def test_a_field_is_found_by_each_kind_of_name(html: str, label: str) -> None:
    page = page_of(f"<form method=post>{html}<button>確認 / Confirm</button></form>")
    assert named(page, label) == "x"


def test_own_names_come_before_layout_names() -> None:
    """aria-labelledby wins over aria-label and <label>; a control labelled by its own name is
    chosen over one the layout names the same way."""
    page = page_of(
        '<span id="a">Code A</span><label for="i">Code B</label>'
        '<input id="i" name="first" aria-labelledby="a" aria-label="Code C">'
        "<table><tr><th>Code B</th><td><input name=by_layout></td></tr></table>"
        '<input name=own aria-label="Code B">'
    )
    assert page.controls[0].label == "Code A"
    assert named(page, "Code B") == "own"
    assert named(page, "Code A") == "first"


def test_the_text_before_stops_at_another_control() -> None:
    page = page_of("<p>Login ID <input name=a> <input name=b></p>")
    assert named(page, "Login ID") == "a"
    assert page.controls[1].context == ()


def test_hidden_inputs_and_buttons_are_not_fields() -> None:
    page = page_of(
        '<form><input type=hidden name=csrf value=t aria-label="Code"><input type=submit value="Code"></form>'
    )
    assert page.controls == ()
    assert [b.label for b in page.buttons] == ["Code"]


def test_buttons_and_links_by_accessible_name() -> None:
    page = page_of(
        "<form><button type=submit>確認<br>Confirm</button><input type=submit value='再送信 / Resend'>"
        '<button aria-label="Logout">⏻</button><input type=image alt="Register" src="r.png">'
        "<button type=button>JS only</button><button type=reset>Reset</button></form>"
        '<a href="/settings">ワンタイムパスワードの設定 / One Time Password Settings</a>'
        '<a href="/m"><img src="m.png" alt="☰"></a><a>no href</a>'
    )
    assert [b.label for b in page.buttons] == [
        "確認\nConfirm",
        "再送信 / Resend",
        "Logout",
        "Register",
        "JS only",
    ]
    assert page.button(lambda s: same_text("確認 / Confirm", s)) is page.buttons[0]
    assert [(a.label, a.href) for a in page.links] == [
        ("ワンタイムパスワードの設定 / One Time Password Settings", "/settings"),
        ("☰", "/m"),
    ]


# --- text ----------------------------------------------------------------------------------
def test_text_is_split_at_block_boundaries() -> None:
    """The last line of <header> never runs into the first of <main>, and what is never
    rendered (script, style, template, hidden) is not text."""
    page = page_of(
        "<head><title>T</title><style>body{color:red}</style></head><body>"
        "<header>京都大学統合認証システム<span>☰</span></header>"
        "<main><h1>多要素認証システム<br>Multi-Factor Authentication System</h1>"
        "<script>var secret = 1;</script><template><p>later</p></template><p hidden>gone</p>"
        '<p style="display: none">gone too</p><p>one <b>two</b>\n three</p>'
        "<table><tr><th>ログインID</th><td>a0001</td></tr></table></main></body>"
    )
    assert page.blocks == (
        "京都大学統合認証システム☰",
        "多要素認証システム",
        "Multi-Factor Authentication System",
        "one two three",
        "ログインID a0001",
    )
    assert page.title == "T"
    assert page.headings == ("多要素認証システム\nMulti-Factor Authentication System",)


def test_messages_split_by_language() -> None:
    marked = page_of('<div role=alert><p lang="ja">だめです。</p><p lang="en">No.</p></div>')
    assert bilingual(marked.select("[role=alert]")[0]) == ("だめです。", "No.")
    unmarked = page_of("<div class=error>だめです。<br>No.</div>")
    assert bilingual(unmarked.select(".error")[0]) == ("だめです。", "No.")


def test_malformed_html_is_read_as_a_browser_reads_it() -> None:
    page = page_of("<p>a<div>b</p><table><tr><td>c<td>d</table><form><input name=x aria-label=X></b></i>")
    assert page.blocks[:2] == ("a", "b")
    assert "c d" in page.blocks
    assert named(page, "X") == "x"
    assert page.forms and page.controls[0].form is page.forms[0]


def test_deep_nesting_and_nul_bytes_are_not_tracebacks() -> None:
    deep = "<div>" * 20000 + "deep" + "</div>" * 20000
    assert "deep" in page_of(deep).blocks
    assert "a\ufffdb" in page_of("<p>a\x00b</p>").text


# --- charsets ------------------------------------------------------------------------------
JAPANESE = '<meta charset="{meta}"><h1>ワンタイムパスワードの設定</h1><label>確認コード<input name=c></label>'


@pytest.mark.parametrize("codec", ["shift_jis", "cp932", "euc_jp"])
def test_japanese_charsets_from_the_header(codec: str) -> None:
    body = "<h1>ワンタイムパスワードの設定 ①</h1>".replace(" ①", "" if codec != "cp932" else " ①").encode(
        codec
    )
    label = {"cp932": "Windows-31J", "shift_jis": "Shift_JIS", "euc_jp": "EUC-JP"}[codec]
    page = parse_page(URL, 200, body, f"text/html; charset={label}")
    assert page.headings[0].startswith("ワンタイムパスワードの設定")


@pytest.mark.parametrize(("label", "codec"), [("Shift_JIS", "cp932"), ("EUC-JP", "euc_jp")])
def test_japanese_charsets_from_meta(label: str, codec: str) -> None:
    body = JAPANESE.format(meta=label).encode(codec)
    page = parse_page(URL, 200, body, "text/html")
    assert page.headings == ("ワンタイムパスワードの設定",) and page.codec == codec
    http_equiv = f'<meta http-equiv="Content-Type" content="text/html; charset={label}"><p>確認コード</p>'
    assert parse_page(URL, 200, http_equiv.encode(codec), "text/html").blocks == ("確認コード",)


def test_the_header_wins_over_meta_and_a_bom_over_both() -> None:
    body = JAPANESE.format(meta="EUC-JP").encode("cp932")
    assert parse_page(URL, 200, body, "text/html; charset=Shift_JIS").codec == "cp932"
    bom = b"\xef\xbb\xbf" + "<p>確認</p>".encode()
    assert parse_page(URL, 200, bom, "text/html; charset=Shift_JIS").blocks == ("確認",)
    assert parse_page(URL, 200, "<p>確認</p>".encode(), None).codec == "utf-8"  # the default


def test_a_missing_or_wrong_charset_is_an_error_naming_the_page() -> None:
    sjis = "<p>確認コード</p>".encode("cp932")
    with pytest.raises(PageError, match=r"http://portal.test/page.*declares no charset.*site.charset"):
        parse_page(URL, 200, sjis, "text/html")
    with pytest.raises(PageError, match=r"says 'utf-8' \(header\)"):
        parse_page(URL, 200, sjis, "text/html; charset=utf-8")
    with pytest.raises(PageError, match=r"'klingon'.*not one"):
        parse_page(URL, 200, b"<p>x</p>", "text/html; charset=klingon")
    assert parse_page(URL, 200, sjis, "text/html; charset=utf-8", forced_charset="Shift_JIS").blocks == (
        "確認コード",
    )


def test_form_data_is_encoded_in_the_page_charset() -> None:
    pairs = [("name", "確認コード"), ("x", "①")]
    assert charset.urlencoded(pairs, "cp932") == "name=%8Am%94F%83R%81%5B%83h&x=%87%40"
    assert charset.urlencoded([("a", "確")], "euc_jp") == "a=%B3%CE"
    assert charset.urlencoded([("a", "😀")], "cp932") == "a=%26%23128512%3B"  # &#128512; as browsers send
    assert charset.form_codec("Shift_JIS utf-8", "utf-8") == "cp932"
    assert charset.form_codec("klingon", "euc_jp") == "euc_jp"


def _portal(body: bytes, content_type: str, seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, content=b"<p>ok</p>", headers={"content-type": "text/html"})
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    ("label", "codec", "accept", "sent_in"),
    [
        ("Shift_JIS", "cp932", "", "cp932"),
        ("EUC-JP", "euc_jp", "", "euc_jp"),
        ("Shift_JIS", "cp932", "utf-8", "utf-8"),
    ],
)
def test_a_browser_posts_forms_in_the_page_charset(label: str, codec: str, accept: str, sent_in: str) -> None:
    attribute = f' accept-charset="{accept}"' if accept else ""
    html = (
        f"<form method=post action=/send{attribute}><input type=hidden name=t value=トークン>"
        "<label>アドレス<input name=address></label><button name=go value=送信>送信</button></form>"
    )
    seen: list[httpx.Request] = []
    client = httpx.Client(
        base_url="http://portal.test/",
        transport=_portal(html.encode(codec), f"text/html; charset={label}", seen),
    )
    browser = Browser(client, load())
    page = browser.open("test", "form")
    control = page.field(lambda s: s == "アドレス")
    assert control is not None
    browser.submit("test", page.buttons[0], {control.element: "山田@example.jp"})
    sent = seen[-1]
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(sent.content.decode("ascii"), encoding=sent_in) == [
        ("t", "トークン"),
        ("address", "山田@example.jp"),
        ("go", "送信"),
    ]


def test_form_data_follows_the_html_rules() -> None:
    page = page_of(
        "<form id=f method=post><input name=a value=1><input name=b value=2 disabled>"
        "<fieldset disabled><input name=c value=3></fieldset><input type=checkbox name=d value=yes>"
        "<input type=checkbox name=e checked><select name=s><option value=1>one<option selected>two</select>"
        "<textarea name=t>text</textarea><button name=go value=1>Go</button><button name=no>No</button></form>"
        "<input form=f name=outside value=4>"
    )
    form = page.forms[0]
    box = next(c for c in page.controls if c.name == "d")
    assert form_data(form, page.buttons[0], {}, {box.element: True}) == [
        ("a", "1"),
        ("d", "yes"),
        ("e", "on"),
        ("s", "two"),
        ("t", "text"),
        ("go", "1"),
        ("outside", "4"),
    ]


# --- bad input -----------------------------------------------------------------------------
def test_a_page_over_the_limit_is_an_error() -> None:
    with pytest.raises(PageError, match=f"over the driver's limit of {MAX_PAGE_BYTES}"):
        parse_page(URL, 200, b" " * (MAX_PAGE_BYTES + 1), "text/html")
    big = b"<p>" + b"x" * (MAX_PAGE_BYTES + 10)
    client = httpx.Client(base_url="http://portal.test/", transport=_portal(big, "text/html", []))
    with pytest.raises(PageError, match="over the driver's limit"):
        Browser(client, load()).open("test", "big")


def test_a_page_streamed_over_the_limit_is_an_error_naming_it() -> None:
    """No Content-Length to go by: the driver stops reading at the limit, not at the end."""
    chunk = b"<p>" + b"x" * (1024 * 1024)
    chunks = [b"<title>Big</title>", *[chunk] * 6]
    stream = httpx.MockTransport(
        lambda r: httpx.Response(200, content=iter(chunks), headers={"content-type": "text/html"})
    )
    client = httpx.Client(base_url="http://portal.test/", transport=stream)
    with pytest.raises(
        PageError, match=r"open: the page «Big» \(http://portal.test/big\) is over the driver's limit"
    ):
        Browser(client, load()).open("open", "big")


def test_a_redirect_loop_is_an_error_naming_it() -> None:
    def loop(request: httpx.Request) -> httpx.Response:
        target = "/b" if request.url.path == "/a" else "/a"
        return httpx.Response(302, headers={"location": target})

    client = httpx.Client(base_url="http://portal.test/", transport=httpx.MockTransport(loop))
    with pytest.raises(DriverError, match=r"redirect loop at http://portal\.test/a: /a → /b → /a → /b → /a$"):
        Browser(client, load()).open("test", "a")


def test_a_redirect_chain_too_long_is_an_error_naming_its_end() -> None:
    def onward(request: httpx.Request) -> httpx.Response:
        step = int(request.url.path.rsplit("/", 1)[-1])
        return httpx.Response(302, headers={"location": f"/r/{step + 1}"})

    client = httpx.Client(base_url="http://portal.test/", transport=httpx.MockTransport(onward))
    with pytest.raises(DriverError, match=r"more than 20 redirects: .*/r/20 → /r/21$"):
        Browser(client, load()).open("test", "r/0")


def test_an_answer_that_is_not_a_page_is_an_error() -> None:
    client = httpx.Client(
        base_url="http://portal.test/",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"a": 1})),
    )
    with pytest.raises(DriverError, match="not a page"):
        Browser(client, load()).open("test", "")


def test_a_qr_image_that_does_not_decode_says_why() -> None:
    assert qr.read_qr(b"not a png") == ([], "not an image the driver can read (UnidentifiedImageError)")
    blank = base64.b64decode(segno.make("x").png_data_uri(scale=1).split(",")[1])
    texts, why = qr.read_qr(blank)
    assert texts == ["x"] and why == ""
    uri = "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP"
    data_uri = str(segno.make(uri).png_data_uri(scale=4))
    assert qr.decode_qr(qr.image_bytes(data_uri, lambda s: b"")) == [uri]
    assert qr.image_bytes("data:image/png;base64,@@@", lambda s: b"") in (b"", b"\xff")


def _driver_on(pages: dict[str, bytes]) -> HtmlDriver:
    """The html driver on a portal of fixed answers (by path), with the default site map."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = pages.get(request.url.path)
        if body is None:
            return httpx.Response(404, text="not found")
        kind = "image/png" if request.url.path.endswith(".png") else "text/html; charset=utf-8"
        return httpx.Response(200, content=body, headers={"content-type": kind})

    return HtmlDriver(
        lambda: httpx.Client(base_url="http://portal.test/", transport=httpx.MockTransport(answer)), load()
    )


def test_malformed_html_that_hides_a_control_is_one_error_naming_the_screen_and_key() -> None:
    """Read as a browser reads it, the button is outside the form (the unclosed tags do not
    matter): the driver names the screen, its address and the key, and sends nothing."""
    login = (
        "<h2>ログイン / Login</h2><form method=post action=/login><p>ECS-ID/SPS-ID <input name=uid>"
        "<p>パスワード / Password <input type=password name=pw></form><button>ログイン / Login</button>"
    )
    driver = _driver_on({"/": login.encode()})
    with pytest.raises(DriverError) as raised:
        driver.login(Account("taro", "pw"))
    message = str(raised.value)
    assert "«ログイン / Login» (http://portal.test/)" in message and "buttons.login" in message


def test_a_qr_image_that_does_not_decode_is_one_error_naming_the_app_tab() -> None:
    tab = (
        "<h2>ワンタイムパスワードの設定 / One-Time Password Settings</h2><a href=/app>アプリ / App</a>"
        "<img src=/qr.png alt=QR><form method=post action=/app><label>ワンタイムパスワード"
        " <input name=otp></label><button>登録 / Register</button></form>"
    )
    driver = _driver_on({"/app": tab.encode(), "/qr.png": b"not a png"})
    driver.browser.open("test", "app")
    with pytest.raises(DriverError) as raised:
        driver.start_app_registration()
    message = str(raised.value)
    assert "(http://portal.test/app) shows neither a readable QR code nor a manual key" in message
    assert "the image '/qr.png': not an image the driver can read" in message


def test_the_manual_key_is_read_under_its_heading() -> None:
    def heading(s: str) -> bool:
        return same_text("QRコードを読み込めない場合 / If you cannot scan the QR code", s)

    blocks = ("QRコードを読み込めない場合", "Enter this key in the app:", "JBSW Y3DP EHPK 3PXP")
    assert qr.manual_key(blocks, heading) == "JBSW Y3DP EHPK 3PXP"
    inline = ("If you cannot scan the QR code", "キー / Key: JBSWY3DPEHPK3PXPJBSWY3DP")
    assert qr.manual_key(inline, heading) == "JBSWY3DPEHPK3PXPJBSWY3DP"
    assert qr.manual_key(("JBSWY3DPEHPK3PXP",), heading) is None  # no heading, no key
