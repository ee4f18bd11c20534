"""One browser on a portal's pages: its cookie jar, the page on screen, and the evidence.

It requests pages as a browser does, without a browser engine or JavaScript: redirects are
followed here (so that a loop is named, not a bare "too many redirects"), a body is read up to
:data:`~.page.MAX_PAGE_BYTES` and no further, and a form is sent as a browser sends it, in the
page's charset (or the first usable one of ``accept-charset``), urlencoded or multipart.

Every request leaves one line of evidence (secrets redacted): what was sent, and the screen
and the messages that came back. A 5xx is a :class:`ServerError` before the body is parsed;
no answer, a redirect loop or a page that cannot be read is a :class:`DriverError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from ninsho.conformance.drivers.html import charset
from ninsho.conformance.drivers.html.page import (
    MAX_PAGE_BYTES,
    TITLE_SNIFF_BYTES,
    Button,
    Form,
    Link,
    Page,
    PageError,
    bilingual,
    form_data,
    parse_page,
    unread_page,
)
from ninsho.conformance.drivers.html.sitemap import SiteMap
from ninsho.conformance.drivers.html.tree import Element
from ninsho.conformance.interfaces import DriverError, Exchange, ServerError

MAX_REDIRECTS = 20
SECRET_FIELDS = ("password", "code", "csrf", "token", "otp")  # never written to the evidence in clear
REDIRECTS = (301, 302, 303, 307, 308)
DRAIN_BYTES = 64 * 1024  # the most of a redirect's body read to keep its connection


@dataclass(frozen=True)
class Answer:
    url: str
    status: int
    headers: httpx.Headers
    content: bytes


@dataclass(frozen=True)
class Submission:
    """A POST form about to be sent: what :attr:`Browser.before_post` sees (drivers/html/web.py
    sends a forged copy of it first, for the CSRF check)."""

    action: str
    page: Page
    form: Form
    url: str
    enctype: str
    codec: str
    pairs: list[tuple[str, str]]


def encode_form(pairs: list[tuple[str, str]], enctype: str, codec: str) -> tuple[bytes, str]:
    """A POST body and its content type, as a browser encodes the form."""
    if enctype == "multipart/form-data":
        return charset.multipart(pairs, codec)
    return charset.urlencoded(pairs, codec).encode("ascii"), "application/x-www-form-urlencoded"


class Browser:
    """See the module's docstring. ``page`` is the screen shown, None before the first request."""

    def __init__(self, client: httpx.Client, site: SiteMap) -> None:
        self.client = client
        self.site = site
        self.page: Page | None = None
        self.evidence: list[Exchange] = []
        self.before_post: Callable[[Submission], None] | None = None  # called before each POST form

    def take_evidence(self) -> list[Exchange]:
        evidence, self.evidence = self.evidence, []
        return evidence

    def restart(self) -> None:
        """Close the browser and open it again: session cookies go, lasting ones (trust this
        browser, remember my ID) stay."""
        self.client.cookies.jar.clear_session_cookies()
        self.page = None

    def back_to(self, action: str, page: Page) -> None:
        """Show ``page`` again, as the Back button does, without a request: the next form sent
        from it is the portal's to judge, as it would be from a person's browser."""
        self.page = page
        path = urlsplit(page.url).path or "/"
        self.evidence.append(Exchange(action, f"(Back) {path}", f"«{page.heading}»"))

    # --- requests --------------------------------------------------------------------------
    def open(self, action: str, address: str) -> Page:
        """Type an address (relative to the portal's base URL) into the address bar."""
        base = str(self.client.base_url)
        return self._page(action, "GET", urljoin(base, address.lstrip("/")) if address else base)

    def follow(self, action: str, link: Link) -> Page:
        assert self.page is not None
        href = link.href
        if not href or href.startswith("#") or href.lower().startswith("javascript:"):
            raise DriverError(
                f"{action}: the link «{link.label}» on {self.page.where()} leads nowhere without JavaScript ({href!r})"
            )
        return self._page(action, "GET", urljoin(self.page.url, href))

    def submit(
        self,
        action: str,
        button: Button,
        fill: Mapping[Element, str],
        ticks: Mapping[Element, bool] | None = None,
    ) -> Page:
        """Click ``button``: its form's data (hidden inputs included), ``fill`` typed in and
        ``ticks`` ticked, sent where and how the form (or the button) says."""
        page = self.page
        assert page is not None
        form = button.form
        if form is None:
            raise DriverError(f"{action}: the button «{button.label}» on {page.where()} is in no form")
        pairs = form_data(form, button, fill, ticks or {})
        target = urljoin(page.url, button.attr("formaction") or form.action or page.url)
        method = (button.attr("formmethod") or form.method).upper()
        method = method if method in ("GET", "POST") else "GET"
        enctype = (button.attr("formenctype") or form.enctype).lower()
        codec = charset.form_codec(form.accept_charset, page.codec)
        shown = " ".join(
            f"{k}={'***' if any(s in k.lower() for s in SECRET_FIELDS) else v!r}" for k, v in pairs
        )
        if method == "GET":
            parts = urlsplit(target)
            query = charset.urlencoded(pairs, codec)
            return self._page(action, "GET", urlunsplit((*parts[:3], query, "")), shown=shown)
        if self.before_post is not None:
            self.before_post(Submission(action, page, form, target, enctype, codec, pairs))
        body, content_type = encode_form(pairs, enctype, codec)
        return self._page(action, "POST", target, body=body, content_type=content_type, shown=shown)

    def fetch(self, action: str, url: str) -> bytes:
        """The bytes at ``url`` (an image), with the page's cookies; a 4xx or 5xx is an error."""
        answer = self._fetch(action, "GET", url)
        if answer.status >= 400:
            raise DriverError(f"{action}: {url} answered {answer.status}")
        return answer.content

    def _page(
        self,
        action: str,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        shown: str = "",
    ) -> Page:
        answer = self._fetch(action, method, url, body, content_type)
        media = answer.headers.get("content-type", "")
        if answer.status >= 500:
            text = answer.content[:2000].decode("utf-8", "replace")
            raise ServerError(
                f"{method} {answer.url}: {answer.status} {' '.join(text.split())[:300]}", answer.status
            )
        if answer.status < 400 and media and "html" not in media.lower():
            raise DriverError(f"{method} {answer.url}: {answer.status}, not a page ({media})")
        try:
            page = parse_page(answer.url, answer.status, answer.content, media or None, self.site.charset)
        except PageError as exc:
            raise PageError(f"{action}: {exc}") from None
        self._record(action, method, url, shown, page)
        self.page = page
        return page

    def _fetch(
        self, action: str, method: str, url: str, body: bytes | None = None, content_type: str | None = None
    ) -> Answer:
        """One navigation, redirects followed as a browser follows them."""
        chain = [url]
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"content-type": content_type} if content_type and body is not None else {}
            request = self.client.build_request(method, url, content=body, headers=headers)
            try:
                response = self.client.send(request, stream=True, follow_redirects=False)
            except httpx.HTTPError as exc:
                raise DriverError(f"{action}: {method} {url}: {type(exc).__name__}: {exc}") from None
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    _drain(response)
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method == "POST"
                    ):
                        method, body, content_type = "GET", None, None
                    url = urljoin(str(response.url), location)
                    chain.append(url)
                    if chain.count(url) > 2:
                        raise DriverError(f"{action}: a redirect loop at {url}: {' → '.join(_paths(chain))}")
                    continue
                return Answer(
                    str(response.url), response.status_code, response.headers, self._read(action, response)
                )
            finally:
                response.close()
        raise DriverError(f"{action}: more than {MAX_REDIRECTS} redirects: {' → '.join(_paths(chain[-6:]))}")

    def _read(self, action: str, response: httpx.Response) -> bytes:
        """The body, up to the limit; a page over it is named by the title in its first bytes
        (only those are read when its Content-Length already says it is over)."""
        declared = response.headers.get("content-length", "")
        over = declared.isdigit() and int(declared) > MAX_PAGE_BYTES
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                chunks.append(chunk)
                if size > MAX_PAGE_BYTES or (over and size >= TITLE_SNIFF_BYTES):
                    break
            if over or size > MAX_PAGE_BYTES:
                where = unread_page(str(response.url), b"".join(chunks), response.headers.get("content-type"))
                size_said = f"is {declared} bytes," if over else "is"
                raise PageError(
                    f"{action}: the page {where} {size_said} over the driver's limit of {MAX_PAGE_BYTES} bytes"
                )
        except httpx.HTTPError as exc:
            raise DriverError(f"{action}: reading {response.url}: {type(exc).__name__}: {exc}") from None
        return b"".join(chunks)

    def _record(self, action: str, method: str, url: str, shown: str, page: Page) -> None:
        messages = [
            " / ".join(p for p in bilingual(box) if p)
            for name in ("error", "notice")
            for box in page.select(self.site.boxes[name])
        ]
        path = urlsplit(page.url).path or "/"
        self.evidence.append(
            Exchange(
                action,
                f"{method} {urlsplit(url).path or '/'} {shown}".strip(),
                f"{page.status} {path} «{page.heading}» {' | '.join(m for m in messages if m)}".strip(),
            )
        )


def _drain(response: httpx.Response) -> None:
    """Read and drop a redirect's body, up to :data:`DRAIN_BYTES`: closed unread, its connection
    would be closed too, and every POST → 303 → GET would open a new one (a third of a run's
    requests; benchmarks/README.md, item 7)."""
    if response.is_stream_consumed:  # an answer already in memory (a mock transport's)
        return
    size = 0
    try:
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > DRAIN_BYTES:
                return
    except (httpx.HTTPError, httpx.StreamError):
        return  # the connection is dropped as before; the redirect is followed all the same


def _paths(chain: list[str]) -> list[str]:
    return [urlsplit(u).path + (f"?{urlsplit(u).query}" if urlsplit(u).query else "") or "/" for u in chain]
