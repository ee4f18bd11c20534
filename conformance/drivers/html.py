"""The HTML driver: for portals that only have pages, like the one in the manuals.

It does what a person does with a browser: it opens a screen, finds the field by its label
("ワンタイムパスワード / One-Time Password"), types, ticks "Trust this browser" and clicks the
button by its text ("確認 / Confirm"). Hidden inputs (the CSRF token) go along with the form, and
each driver keeps its own cookies, as one browser does (``fresh()`` is a new cookie jar).

Labels, button and link texts, headings and messages are *data*: :data:`SELECTORS` below, each
overridable from the portal config (``[html] selectors``), so a portal whose wording differs
needs a config, not a fork. A text matches when it equals either language's half of the
selector ("ログイン / Login" matches "ログイン", "Login", "ログイン<br>Login"), after white space
and Unicode width are normalised and case is folded: a portal may show one language only.

What a person reads is what the driver reports: the stage from the screen reached (its heading,
and the set-up notice), a refusal from the screen's bilingual error message (or a 4xx), mapped to
the error codes the JSON driver would report where the message is known (:data:`MESSAGES`), and
``error="refused"`` with the message otherwise. A 5xx, or a screen the driver does not know, is
a :class:`DriverError`. The otpauth URI is read from the QR code image (zxing-cpp) and the manual
key from under "QRコードを読み込めない場合"; both are returned, so a check can compare them.

Pages are parsed with the standard library's :mod:`html.parser`; no browser engine, no JavaScript.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import zxingcpp
from PIL import Image, UnidentifiedImageError

from ninsho.conformance.clocks import RealClock
from ninsho.conformance.config import ConfigError, PortalConfig
from ninsho.conformance.drivers.json_api import TIMEOUT_SECONDS, HttpConnection
from ninsho.conformance.interfaces import (
    Account,
    Driver,
    DriverError,
    Exchange,
    NotSupported,
    Outcome,
    Provisioning,
    ServerError,
)
from ninsho.spec.profile import Profile

# The selectors: every text the driver looks for, by name. Override any of them in the portal
# config, e.g. ``[html] selectors = { otp = "One-time code" }``. Kinds of names:
#   field_*    the label of an input (a <label>, or the input's aria-label or placeholder)
#   button_*   the text of a submit button (<button> or <input type=submit value=…>)
#   link_*     the text of a link (<a href>)
#   heading_*  the heading (<h1>…<h3>) that identifies a screen
#   text_*     a text on the screen the driver reads a value after ("Registered address: …")
#   notice_*   a message the driver recognises; {address} marks the value it reads
#   box_*      where messages sit: a small CSS subset (tag, #id, .class, [attr] or [attr=value],
#              comma-separated alternatives)
#   page_*     a path to type into the address bar, only when no link leads to the screen
SELECTORS: dict[str, str] = {
    "field_login_id": "ECS-ID/SPS-ID",
    "field_password": "パスワード / Password",
    "field_otp": "ワンタイムパスワード / One-Time Password",
    "field_address": "メール認証用アドレス / Address for email-authentication",
    "field_confirm_code": "確認コード / Confirm Code",
    "field_trust_browser": "このブラウザを信頼する / Trust this browser",
    "button_login": "ログイン / Login",
    "button_send_otp": "ワンタイムパスワードを送信 / Send One-Time Password",
    "button_confirm": "確認 / Confirm",
    "button_register": "登録 / Register",
    "button_initialize": "初期化 / Initialize",
    "button_resend": "再送信 / Resend",
    "button_logout": "ログアウト / Logout",
    "link_setup": "初回設定・再設定はこちら / Click here For Initial Setup or Setup Again",
    "link_email_login": "「多要素認証 : メール」 ログインはこちら"
    ' / Click Here for "Multi-Factor Authentication : Email" Login',
    "link_app_login": "「多要素認証 : アプリ」 ログインはこちら"
    ' / Click Here for "Multi-Factor Authentication : App" Login',
    "link_settings": "ワンタイムパスワードの設定 / One Time Password Settings",
    "link_mail_tab": "メール / Mail",
    "link_app_tab": "アプリ / App",
    "heading_login": "ログイン / Login",
    "heading_mfa_app": "多要素認証 : アプリ / Multi-Factor Authentication : App",
    "heading_mfa_email": "多要素認証 : メール / Multi-Factor Authentication : Email",
    "heading_settings": "ワンタイムパスワードの設定 / One-Time Password Settings",
    "heading_initialize": "ワンタイムパスワード設定初期化 / Initialize One-Time Password Settings",
    "heading_reset": "ワンタイムパスワード設定の初期化 / Initializing One-Time Password Settings",
    "text_setup_needed": "多要素認証の設定がまだありません。まずメール認証用アドレスを設定してください。"
    " / No second factor is set up yet. Please set up your address for email-authentication first.",
    "text_registered_address": "登録済みのアドレス / Registered address",
    "text_reset_login_id": "ログインID / Login ID",
    "text_reset_address": "メール認証用アドレス / Address for email-authentication",
    "text_manual_key": "QRコードを読み込めない場合 / If you cannot scan the QR code",
    "notice_email_sent": "{address} へメールを送信しました。 / An email message has been sent to {address}.",
    "box_error": "[role=alert], .error",
    "box_notice": "[role=status], .notice",
    "page_login": "/login",
    "page_settings": "/settings",
    "page_mfa_app": "/mfa/app",
    "page_mfa_email": "/mfa/email",
}

# Known refusals: (pattern on the Japanese or English message, the JSON driver's error code, the
# field at fault). Matched case-insensitively; an unknown message is error="refused".
MESSAGES: tuple[tuple[str, str, str | None], ...] = (
    (
        r"ECS-ID/SPS-ID or password is incorrect|ECS-ID/SPS-ID またはパスワードが正しくありません",
        "authentication_failed",
        None,
    ),
    (r"one-time password is not valid|ワンタイムパスワードが正しくありません", "code_rejected", "code"),
    (r"Enter the \d+-digit code|\d+桁の数字を入力してください", "invalid_input", "code"),
    (r"Enter a valid ECS-ID/SPS-ID|正しい ECS-ID/SPS-ID を入力", "invalid_input", "login_id"),
    (r"Enter a password of|パスワードは.*文字で入力", "invalid_input", "password"),
    (r"cannot be registered|のアドレスは登録できません", "blocked_address", "address"),
    (r"The address is not valid|アドレスが正しくありません", "invalid_address", "address"),
    (r"Too many failed attempts|ロックされています", "account_locked", None),
    (r"not available at this step|現在の状態では行えません", "not_permitted", None),
    (r"session has ended|セッションの有効期限が切れました", "session_expired", None),
    (
        r"No address for email-authentication is registered|メール認証用アドレスが登録されていません",
        "nothing_pending",
        None,
    ),
    (r"no pending initialization|初期化の手続き中のものがありません", "nothing_pending", None),
    (r"Scan the QR code first|先にQRコードを読み込んでください", "nothing_pending", None),
    (
        r"did not come from this site|このサイトから送信されたものではありません",
        "csrf_rejected",
        "csrf_token",
    ),
)

VOID_TAGS = frozenset(
    ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr")
)
SECRET_FIELDS = ("password", "code", "csrf")  # never written to the evidence in clear
_BASE32_KEY = re.compile(r"[A-Z2-7]+(?:[ -]?[A-Z2-7]+)*=*")


def selectors_for(config: PortalConfig) -> dict[str, str]:
    """The defaults with the config's overrides; an unknown name is a config error, not a typo
    that silently does nothing."""
    unknown = sorted(set(config.html_selectors) - set(SELECTORS))
    if unknown:
        raise ConfigError("html.selectors", f"unknown names {unknown}; known: {', '.join(sorted(SELECTORS))}")
    return {**SELECTORS, **config.html_selectors}


# --- text matching -------------------------------------------------------------------------
def _squash(text: str) -> str:
    return " ".join(text.split())


def _fold(text: str) -> str:
    return _squash(unicodedata.normalize("NFKC", text)).casefold()


def halves(text: str) -> set[str]:
    """The folded parts of a bilingual text: split at line breaks and at " / " (not at the "/"
    of "ECS-ID/SPS-ID"); the whole text is one of them too."""
    parts = {_fold(p) for p in re.split(r"\n| / ", text)}
    return {p for p in parts | {_fold(text.replace("\n", " "))} if p}


def matches(selector: str, text: str) -> bool:
    """Either language's half of the selector, as the page shows it."""
    return bool(halves(selector) & halves(text))


# --- a small DOM ---------------------------------------------------------------------------
@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def text(self) -> str:
        """The text a person reads: white space squashed, <br> and blocks as line breaks."""
        out: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                out.append(" ".join(child.split()) if child.strip() else " ")
            elif child.tag == "br":
                out.append("\n")
            elif child.tag in ("p", "div", "li", "summary", "label", "h1", "h2", "h3"):
                out.append("\n" + child.text() + "\n")
            else:
                out.append(child.text())
        lines = [_squash(line) for line in "".join(out).split("\n")]
        return "\n".join(line for line in lines if line)

    def ancestor(self, tag: str) -> Node | None:
        node = self.parent
        while node is not None and node.tag != tag:
            node = node.parent
        return node

    def get(self, name: str) -> str:
        return self.attrs.get(name, "")


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self._open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v if v is not None else "" for k, v in attrs}, self._open[-1])
        self._open[-1].children.append(node)
        if tag not in VOID_TAGS:
            self._open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def css_match(selector: str, node: Node) -> bool:
    """The CSS subset of the ``box_*`` selectors: ``tag#id.class[attr=value]``, comma-separated."""
    for alternative in selector.split(","):
        parts = re.findall(r"^[a-zA-Z][\w-]*|#[\w-]+|\.[\w-]+|\[[^\]]+\]", alternative.strip())
        if parts and all(_css_part(part, node) for part in parts):
            return True
    return False


def _css_part(part: str, node: Node) -> bool:
    if part.startswith("#"):
        return node.get("id") == part[1:]
    if part.startswith("."):
        return part[1:] in node.get("class").split()
    if part.startswith("["):
        name, _, value = part[1:-1].partition("=")
        name = name.strip()
        return name in node.attrs and (not value or node.attrs[name] == value.strip().strip("\"'"))
    return node.tag == part.lower()


# --- a screen ------------------------------------------------------------------------------
@dataclass
class Page:
    url: str
    status: int
    root: Node
    sel: Mapping[str, str]

    def elements(self, *tags: str) -> Iterator[Node]:
        return (n for n in self.root.iter() if n.tag in tags)

    def heading(self) -> str:
        return next((h.text() for h in self.elements("h1", "h2", "h3")), "")

    def is_screen(self, name: str) -> bool:
        return any(matches(self.sel[name], h.text()) for h in self.elements("h1", "h2", "h3"))

    def field(self, name: str) -> Node | None:
        """The input a label names: <label for=…>, an input inside the label, or an input's own
        aria-label or placeholder."""
        wanted = self.sel[name]
        for label in self.elements("label"):
            if not matches(wanted, label.text()):
                continue
            target = label.get("for")
            if target:
                found = next((n for n in self.root.iter() if n.get("id") == target), None)
                if found is not None:
                    return found
            inner = next((n for n in label.iter() if n.tag in ("input", "textarea", "select")), None)
            if inner is not None:
                return inner
        for node in self.elements("input", "textarea", "select"):
            if matches(wanted, node.get("aria-label")) or matches(wanted, node.get("placeholder")):
                return node
        return None

    def button(self, name: str, within: Node | None = None) -> Node | None:
        wanted = self.sel[name]
        scope = within.iter() if within is not None else self.root.iter()
        for node in scope:
            if (
                node.tag == "button"
                and node.get("type").lower() in ("", "submit")
                and matches(wanted, node.text())
            ):
                return node
            if (
                node.tag == "input"
                and node.get("type").lower() in ("submit", "image")
                and matches(wanted, node.get("value") or node.get("alt"))
            ):
                return node
        return None

    def link(self, name: str) -> Node | None:
        wanted = self.sel[name]
        return next((a for a in self.elements("a") if a.get("href") and matches(wanted, a.text())), None)

    def text(self) -> str:
        return self.root.text()

    def has_text(self, name: str) -> bool:
        wanted = halves(self.sel[name])
        return any(line_part in wanted for line in self.text().split("\n") for line_part in halves(line))

    def value_after(self, name: str) -> str | None:
        """The value shown after a text ("Registered address: a@b" → "a@b"): the deepest element
        showing the whole label wins, then one showing either half."""
        label = self.sel[name]
        parts = [label, *sorted(re.split(r" / ", label), key=len, reverse=True)]
        for part in parts:
            for node in reversed(list(self.root.iter())):
                text = _squash(node.text().replace("\n", " "))
                at = text.casefold().find(_squash(part).casefold())
                if at < 0:
                    continue
                rest = text[at + len(_squash(part)) :].lstrip(" :：")
                if rest:
                    return rest.split()[0]
        return None

    def messages(self, box: str) -> list[tuple[str, str]]:
        """(Japanese, English) of every message box of a kind: by ``lang`` where the page marks
        it, else by script."""
        found = []
        for node in self.root.iter():
            if not css_match(self.sel[box], node):
                continue
            ja: list[str] = []
            en: list[str] = []
            marked = [n for n in node.iter() if n is not node and n.get("lang")]
            if marked:
                for n in marked:
                    (ja if n.get("lang").startswith("ja") else en).append(_squash(n.text()))
            else:
                for line in re.split(r"\n| / ", node.text()):
                    (ja if _japanese(line) else en).append(line.strip())
            found.append((" ".join(p for p in ja if p), " ".join(p for p in en if p)))
        return found

    def read_notice(self, name: str, key: str) -> str | None:
        """The value a known message carries ("An email message has been sent to {address}.")."""
        text = _squash(self.text().replace("\n", " "))
        for half in self.sel[name].split(" / "):
            head, _, tail = half.partition("{" + key + "}")
            pattern = _loose(head) + r"\s*(\S+?)\s*" + _loose(tail) + r"(?=\s|$)"
            found = re.search(pattern, text, re.IGNORECASE)
            if found:
                return found.group(1)
        return None


def _loose(text: str) -> str:
    """A literal text as a pattern in which any run of white space matches any other."""
    return r"\s+".join(re.escape(word) for word in text.split())


def _japanese(text: str) -> bool:
    return any(
        "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef" for c in text
    )


def _known(message_ja: str, message_en: str) -> tuple[str, str | None]:
    for pattern, error, field_name in MESSAGES:
        if re.search(pattern, message_en, re.IGNORECASE) or re.search(pattern, message_ja, re.IGNORECASE):
            return error, field_name
    return "refused", None


# --- the QR code ---------------------------------------------------------------------------
def decode_qr(data: bytes) -> list[str]:
    """The texts of the QR codes in an image (PNG, GIF, JPEG…); an SVG needs a rasteriser,
    which the harness does not ship: it reads as no QR code."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        return []
    return [found.text for found in zxingcpp.read_barcodes(image.convert("L")) if found.text]


def _image_bytes(src: str, fetch: Callable[[str], bytes]) -> bytes:
    if src.startswith("data:"):
        header, _, payload = src.partition(",")
        try:
            return base64.b64decode(payload) if header.endswith(";base64") else payload.encode()
        except (binascii.Error, ValueError):
            return b""
    return fetch(src)


# --- the driver ----------------------------------------------------------------------------
class HtmlDriver:
    """One browser on the portal's pages (see the module's docstring)."""

    name = "html"

    def __init__(self, new_client: Callable[[], httpx.Client], selectors: Mapping[str, str]) -> None:
        self._new_client = new_client
        self.sel = selectors
        self.client = new_client()  # its own cookie jar: one browser
        self.page: Page | None = None
        self._evidence: list[Exchange] = []
        self.manual_key: str | None = None  # the key shown under "QRコードを読み込めない場合"
        self.qr_uri: str | None = None

    def fresh(self) -> HtmlDriver:
        return HtmlDriver(self._new_client, self.sel)

    # --- HTTP ------------------------------------------------------------------------------
    def _request(self, action: str, method: str, url: str, form: dict[str, str] | None = None) -> Page:
        try:
            if method == "GET":
                response = self.client.get(url, params=form or None)
            else:
                response = self.client.post(url, data=form or {})
        except httpx.HTTPError as exc:
            raise DriverError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise ServerError(
                f"{method} {url}: {response.status_code} {response.text[:300]}", response.status_code
            )
        if response.status_code < 400 and "html" not in response.headers.get("content-type", ""):
            raise DriverError(
                f"{method} {url}: {response.status_code}, not a page ({response.headers.get('content-type')})"
            )
        page = Page(str(response.url), response.status_code, parse(response.text), self.sel)
        shown = [f"{ja} / {en}" for ja, en in page.messages("box_error") + page.messages("box_notice")]
        fields = " ".join(
            f"{k}={'***' if any(s in k for s in SECRET_FIELDS) else v!r}" for k, v in (form or {}).items()
        )
        path = urlsplit(str(response.url)).path
        heading = page.heading().replace("\n", " / ")
        self._evidence.append(
            Exchange(
                action,
                f"{method} {urlsplit(url).path or url} {fields}".strip(),
                f"{response.status_code} {path} «{heading}» {' | '.join(shown)}".strip(),
            )
        )
        self.page = page
        return page

    def _open(self, action: str, path_name: str) -> Page:
        return self._request(action, "GET", self.sel[path_name])

    def _follow(self, action: str, link: Node) -> Page:
        assert self.page is not None
        return self._request(action, "GET", urljoin(self.page.url, link.get("href")))

    def _submit(
        self, action: str, button: Node, fill: Mapping[str, str], ticks: Mapping[str, bool] | None = None
    ) -> Page:
        """Submit the button's form as a browser does: every named input with its value (hidden
        ones included), the filled ones replaced, checkboxes as ticked, and the clicked button."""
        assert self.page is not None
        form = button.ancestor("form")
        if form is None:
            raise DriverError(f"the button «{button.text()}» is in no form")
        ticked = {id(node): on for node, on in _ticked(self.page, ticks or {})}
        values: dict[str, str] = {}
        for node in form.iter():
            name = node.get("name")
            kind = node.get("type").lower()
            if not name or "disabled" in node.attrs:
                continue
            if node.tag == "input" and kind in ("checkbox", "radio"):
                if ticked.get(id(node), "checked" in node.attrs):
                    values[name] = node.attrs.get("value") or "on"
            elif node.tag == "button" or (
                node.tag == "input" and kind in ("submit", "image", "button", "reset", "file")
            ):
                continue  # only the clicked button is sent, below
            elif node.tag == "input":
                values[name] = node.get("value")
            elif node.tag == "textarea":
                values[name] = node.text()
            elif node.tag == "select":
                options = [o for o in node.iter() if o.tag == "option"]
                chosen = next((o for o in options if "selected" in o.attrs), options[0] if options else None)
                if chosen is not None:
                    values[name] = chosen.attrs.get("value", chosen.text())
        values.update(fill)
        if button.get("name"):
            values[button.get("name")] = button.get("value")
        action_url = button.get("formaction") or form.get("action") or self.page.url
        method = (button.get("formmethod") or form.get("method") or "GET").upper()
        return self._request(action, method, urljoin(self.page.url, action_url), values)

    # --- reading a screen ------------------------------------------------------------------
    def _stage(self, page: Page) -> str | None:
        if page.is_screen("heading_mfa_app") or page.is_screen("heading_mfa_email"):
            return "first_factor"
        if page.is_screen("heading_settings"):
            return "setup" if page.has_text("text_setup_needed") else "authenticated"
        if page.is_screen("heading_initialize") or page.is_screen("heading_reset"):
            return "reset"
        return None

    def _methods(self, page: Page) -> list[str]:
        """The second factors the screen offers: the one it asks for, then those it links to."""
        methods = []
        if page.is_screen("heading_mfa_app"):
            methods.append("app")
        if page.is_screen("heading_mfa_email"):
            methods.append("email")
        if page.link("link_email_login") is not None and "email" not in methods:
            methods.append("email")
        if page.link("link_app_login") is not None and "app" not in methods:
            methods.append("app")
        return methods

    def _refusal(self, page: Page) -> Outcome | None:
        """The screen's error message (or a 4xx): the portal said no."""
        errors = page.messages("box_error")
        if not errors and page.status < 400:
            return None
        ja, en = errors[0] if errors else ("", "")
        error, field_name = _known(ja, en) if errors else ("refused", None)
        return self._done(
            False, page, error=error, message=(ja, en), data={"field": field_name, "status": page.status}
        )

    def _signed_out(self, page: Page) -> Outcome | None:
        """Sent back to the login screen, with the reason as a notice (a session that ended)."""
        if not page.is_screen("heading_login") or page.field("field_password") is None:
            return None
        notices = page.messages("box_notice") or [("", "")]
        ja, en = notices[0]
        error, field_name = _known(ja, en)
        return self._done(
            False, page, error=error, message=(ja, en), data={"field": field_name, "status": page.status}
        )

    def _not_reached(self, page: Page, what: str) -> Outcome:
        """The screen for an action could not be reached: a refusal when the portal said why,
        else the driver does not know where it is (ERROR)."""
        said = self._refusal(page) or self._signed_out(page)
        if said is not None:
            return said
        notices = page.messages("box_notice")
        if notices:
            ja, en = notices[0]
            error, field_name = _known(ja, en)
            return self._done(
                False, page, error=error, message=(ja, en), data={"field": field_name, "status": page.status}
            )
        raise DriverError(
            f"{what}: not on this screen «{page.heading()}» ({page.url}), and no link leads there"
        )

    def _done(
        self,
        ok: bool,
        page: Page,
        *,
        error: str | None = None,
        message: tuple[str, str] = ("", ""),
        data: dict[str, object] | None = None,
    ) -> Outcome:
        evidence, self._evidence = self._evidence, []
        return Outcome(
            ok=ok,
            stage=self._stage(page) if ok else None,
            error=error,
            message_ja=message[0],
            message_en=message[1],
            data=dict(data or {}),
            evidence=evidence,
        )

    def _result(self, page: Page, data: dict[str, object] | None = None) -> Outcome:
        """After a form: refused (error message, 4xx, or signed out), else ok on the screen reached."""
        refused = self._refusal(page) or self._signed_out(page)
        if refused is not None:
            return refused
        if self._stage(page) is None:
            raise DriverError(
                f"the portal answered with a screen the driver does not know: «{page.heading()}» ({page.url})"
            )
        return self._done(True, page, data=data)

    def _reach(self, action: str, have: Callable[[Page], bool], routes: tuple[str, ...]) -> Page:
        """The current screen if it has what the action needs; else follow the first visible
        link among ``routes`` (``link_*``), or type a ``page_*`` path, until it does."""
        page = self.page
        if page is not None and have(page):
            return page
        for route in routes:
            if route.startswith("page_"):
                page = self._open(action, route)
            else:
                link = self.page.link(route) if self.page is not None else None
                if link is None:
                    continue
                page = self._follow(action, link)
            if have(page):
                return page
        if page is None:
            page = self._open(action, "page_login")
        return page

    # --- first factor ----------------------------------------------------------------------
    def _credentials(self, action: str, page: Page, account: Account) -> Page:
        user, password = page.field("field_login_id"), page.field("field_password")
        button = page.button("button_login", password.ancestor("form") if password is not None else None)
        if user is None or password is None or button is None:
            raise DriverError(f"{action}: no ID, password and Login on «{page.heading()}» ({page.url})")
        return self._submit(
            action, button, {user.get("name"): account.login_id, password.get("name"): account.password}
        )

    def login(self, account: Account) -> Outcome:
        page = self._credentials("login", self._open("login", "page_login"), account)
        refused = self._refusal(page)
        if refused is not None:
            return refused
        stage = self._stage(page)
        if stage is None:
            raise DriverError(
                f"login: the screen reached is not one the driver knows: «{page.heading()}» ({page.url})"
            )
        return self._done(
            True, page, data={"methods": self._methods(page)} if stage == "first_factor" else {}
        )

    def login_for_setup(self, account: Account) -> Outcome:
        """Log in, click "Click here For Initial Setup or Setup Again", log in again."""
        first = self.login(account)
        if not first.ok:
            return first
        assert self.page is not None
        link = self.page.link("link_setup")
        if link is None:
            raise NotSupported(
                f"the screen after login ({first.stage}) has no link «{self.sel['link_setup']}»"
            )
        self._evidence = list(first.evidence)
        page = self._credentials("login_for_setup", self._follow("login_for_setup", link), account)
        return self._result(page)

    # --- second factor ---------------------------------------------------------------------
    def _on_mfa(self, screen: str) -> Callable[[Page], bool]:
        return lambda page: page.is_screen(screen) and page.field("field_otp") is not None

    def request_email_code(self) -> Outcome:
        page = self._reach(
            "request_email_code", self._on_mfa("heading_mfa_email"), ("link_email_login", "page_mfa_email")
        )
        button = page.button("button_send_otp") if self._on_mfa("heading_mfa_email")(page) else None
        if button is None:
            return self._not_reached(page, "request_email_code")
        page = self._submit("request_email_code", button, {})
        address = page.read_notice("notice_email_sent", "address")
        return self._result(page, {"address": address} if address else None)

    def _second_factor(
        self, action: str, screen: str, routes: tuple[str, ...], code: str, trust: bool
    ) -> Outcome:
        page = self._reach(action, self._on_mfa(screen), routes)
        if not self._on_mfa(screen)(page):
            return self._not_reached(page, action)
        otp = page.field("field_otp")
        assert otp is not None
        form = otp.ancestor("form")
        button = page.button("button_login", form)
        if button is None:
            raise DriverError(f"{action}: no «{self.sel['button_login']}» next to the one-time password")
        if trust and (page.field("field_trust_browser") is None):
            raise NotSupported(f"the screen has no «{self.sel['field_trust_browser']}»")
        return self._result(
            self._submit(action, button, {otp.get("name"): code}, {"field_trust_browser": trust})
        )

    def submit_app_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        routes = ("link_app_login", "page_mfa_app")
        return self._second_factor("submit_app_code", "heading_mfa_app", routes, code, trust_browser)

    def submit_email_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        routes = ("link_email_login", "page_mfa_email")
        return self._second_factor("submit_email_code", "heading_mfa_email", routes, code, trust_browser)

    # --- settings --------------------------------------------------------------------------
    def _settings_data(self, page: Page) -> dict[str, object]:
        return {"address": page.value_after("text_registered_address")}

    def settings(self) -> Outcome:
        """The ☰ menu's "One Time Password Settings" (or its address): always a new request."""
        link = self.page.link("link_settings") if self.page is not None else None
        page = self._follow("settings", link) if link is not None else self._open("settings", "page_settings")
        if not page.is_screen("heading_settings"):
            return self._not_reached(page, "settings")
        return self._result(page, self._settings_data(page))

    def _mail_tab(self, action: str, field_name: str) -> Page:
        routes = ("link_mail_tab", "link_settings", "page_settings", "link_mail_tab")
        return self._reach(
            action, lambda p: p.is_screen("heading_settings") and p.field(field_name) is not None, routes
        )

    def register_email(self, address: str) -> Outcome:
        """The Mail tab: the address, then "Send One-Time Password"."""
        page = self._mail_tab("register_email", "field_address")
        box = page.field("field_address")
        button = page.button("button_send_otp", box.ancestor("form")) if box is not None else None
        if box is None or button is None:
            return self._not_reached(page, "register_email")
        page = self._submit("register_email", button, {box.get("name"): address})
        sent_to = page.read_notice("notice_email_sent", "address")
        return self._result(page, {"address": sent_to} if sent_to else None)

    def confirm_email(self, code: str) -> Outcome:
        """The Mail tab: the mailed one-time password, then "Confirm"."""
        page = self._mail_tab("confirm_email", "field_otp")
        box = page.field("field_otp")
        button = page.button("button_confirm", box.ancestor("form")) if box is not None else None
        if box is None or button is None:
            return self._not_reached(page, "confirm_email")
        page = self._submit("confirm_email", button, {box.get("name"): code})
        return self._result(page, self._settings_data(page))

    def start_app_registration(self) -> Provisioning:
        """The App tab: the otpauth URI from the QR code, the manual key from under
        "QRコードを読み込めない場合". When they disagree the QR code's URI is returned with the
        manual key as shown, so the check FAILs the portal; ERROR only when neither is readable."""
        start = self.page
        page = self._reach(
            "start_app_registration",
            lambda p: p is not start and p.button("button_register") is not None,
            ("link_app_tab", "link_settings", "link_app_tab", "page_settings", "link_app_tab"),
        )
        self._evidence = []
        if not page.is_screen("heading_settings") or page.button("button_register") is None:
            raise DriverError(f"the App tab was not reached: «{page.heading()}» ({page.url})")
        self.qr_uri = self._qr_uri(page)
        self.manual_key = self._manual_key(page)
        if self.qr_uri is None and self.manual_key is None:
            raise DriverError("the App tab shows neither a readable QR code nor a manual key")
        # An unreadable QR code gives an empty URI, never one made up from the manual key and
        # default parameters: the check that reads the URI then reports it, instead of passing.
        return Provisioning(self.qr_uri or "", self.manual_key or "")

    def _qr_uri(self, page: Page) -> str | None:
        def fetch(src: str) -> bytes:
            try:
                return self.client.get(urljoin(page.url, src)).content
            except httpx.HTTPError as exc:
                raise DriverError(f"the QR code image {src}: {exc}") from None

        for img in page.elements("img"):
            for text in decode_qr(_image_bytes(img.get("src"), fetch)):
                if text.startswith("otpauth://"):
                    return text
        return None

    def _manual_key(self, page: Page) -> str | None:
        heading = next(
            (
                n
                for n in page.root.iter()
                if n.tag not in ("#document", "html", "body", "main")
                and _own_text_matches(n, self.sel["text_manual_key"])
            ),
            None,
        )
        section = heading.parent if heading is not None else None
        if section is None:
            return None
        for node in section.iter():
            for child in node.children:
                if isinstance(child, str) and _BASE32_KEY.fullmatch(child.strip()):
                    key = child.strip()
                    if len(re.sub(r"[ =-]", "", key)) >= 16:
                        return key
        return None

    def register_app(self, code: str) -> Outcome:
        """ "Register" on the App tab just shown (never a new visit: it would show a new secret)."""
        page = self.page
        box = page.field("field_otp") if page is not None else None
        button = (
            page.button("button_register", box.ancestor("form"))
            if page is not None and box is not None
            else None
        )
        if page is None or box is None or button is None:
            raise DriverError(
                "register_app: the App tab with its QR code is not on screen (start_app_registration first)"
            )
        page = self._submit("register_app", button, {box.get("name"): code})
        return self._result(page)

    # --- reset -----------------------------------------------------------------------------
    def _reset_data(self, page: Page) -> dict[str, object]:
        return {
            "login_id": page.value_after("text_reset_login_id"),
            "shown_address": page.value_after("text_reset_address"),
        }

    def _reset_button(self, action: str, name: str) -> Outcome:
        page = self.page
        button = page.button(name) if page is not None else None
        if page is None or button is None:
            return self._not_reached(page or self._open(action, "page_login"), action)
        page = self._submit(action, button, {})
        outcome = self._result(page)
        if outcome.ok:
            outcome.data.update(self._reset_data(page))
        return outcome

    def initialize(self) -> Outcome:
        return self._reset_button("initialize", "button_initialize")

    def resend(self) -> Outcome:
        return self._reset_button("resend", "button_resend")

    def confirm_reset(self, code: str) -> Outcome:
        page = self.page
        box = page.field("field_confirm_code") if page is not None else None
        if page is None or box is None:
            raise NotSupported(
                "the pages show the Confirm Code field only right after Initialize or Resend (which mail a"
                " new code); a reset login leads to Initialize, so an earlier code cannot be entered"
            )
        button = page.button("button_confirm", box.ancestor("form"))
        if button is None:
            raise DriverError(f"confirm_reset: no «{self.sel['button_confirm']}» next to the Confirm Code")
        return self._result(self._submit("confirm_reset", button, {box.get("name"): code}))

    def logout(self) -> Outcome:
        """The ☰ menu's "Logout". A screen without it (the second-factor screens) cannot log out:
        refused with error="not_offered", as a person there would simply close the browser."""
        page = self.page
        button = page.button("button_logout") if page is not None else None
        if page is None or button is None:
            evidence, self._evidence = self._evidence, []
            return Outcome(
                ok=False, error="not_offered", message_en="this screen offers no Logout", evidence=evidence
            )
        page = self._submit("logout", button, {})
        refused = self._refusal(page)
        if refused is not None:
            return refused
        if not page.is_screen("heading_login"):
            raise DriverError(f"logout: landed on «{page.heading()}» ({page.url}), not the login screen")
        return self._done(True, page)


def _own_text_matches(node: Node, selector: str) -> bool:
    own = " ".join(c for c in node.children if isinstance(c, str))
    return bool(own.strip()) and matches(selector, node.text())


def _ticked(page: Page, ticks: Mapping[str, bool]) -> Iterator[tuple[Node, bool]]:
    for name, on in ticks.items():
        box = page.field(name)
        if box is not None:
            yield box, on


# --- the connection ------------------------------------------------------------------------
class PageClock(RealClock):
    """Real time from the ``Date`` header of a page: a portal with pages only has no API noop
    (the estimate is the one of :func:`ninsho.conformance.clocks.measure_offset`)."""

    def __init__(self, client: httpx.Client, path: str, samples: int = 3) -> None:
        self.on_wait = None
        best: tuple[float, float] | None = None
        for _ in range(samples):
            sent = time.time()
            try:
                response = client.get(path)
            except httpx.HTTPError as exc:
                raise DriverError(f"measuring the portal's clock: {exc}") from None
            received = time.time()
            header = response.headers.get("date")
            if header is None:
                raise DriverError("the portal sends no Date header: its clock cannot be measured")
            offset = parsedate_to_datetime(header).timestamp() + 0.5 - (sent + received) / 2
            uncertainty = 0.5 + (received - sent) / 2
            if best is None or uncertainty < best[1]:
                best = (offset, uncertainty)
        assert best is not None
        self.offset, self.uncertainty = best


class HtmlConnection(HttpConnection):
    """The JSON connection's operator, mailbox and clock, with browsers on the pages. The admin
    API and the test clock are used only when the config asks for them (``provision =
    "admin-api"``, ``clock = "test-clock"``); with ``pool`` and ``real`` nothing but pages is
    requested."""

    def __init__(self, config: PortalConfig, profile: Profile) -> None:
        assert config.base_url is not None
        self.selectors = selectors_for(config)
        self.root_url = config.base_url.rstrip("/") + "/"
        self.transport = httpx.HTTPTransport()  # one connection pool; a cookie jar per browser
        super().__init__(config, profile, driver_factory=lambda c: self.browser())

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.root_url, transport=self.transport, follow_redirects=True, timeout=TIMEOUT_SECONDS
        )

    def browser(self) -> Driver:
        return HtmlDriver(self._client, self.selectors)

    def _real_clock(self) -> RealClock:
        return PageClock(self._client(), self.selectors["page_login"])

    def close(self) -> None:
        super().close()
        self.transport.close()


def connect(config: PortalConfig, profile: Profile) -> HtmlConnection:
    return HtmlConnection(config, profile)
