"""What the web checks (spec §16.1 CSRF, §16.2 cookies, §5 Remember ECS-ID/SPS-ID) need of a
browser on the pages: the cookies the portal sets with their attributes, the login screen's
fields, and a form sent as a cross-site attacker would send it.

A driver has this capability when it has ``pages()`` (:class:`ShowsPages`): the html driver
has it. A driver without it (the json driver, which works the API; a vendor's) makes the web
checks NOT_APPLICABLE, saying so.

A forgery is what a page on another site can make a victim's browser send (spec §22.4): the
form's fields as the victim would fill them, with the victim's cookies, an ``Origin`` that is
not the portal's and ``Sec-Fetch-Site: cross-site``, but without the form's token, or with a
wrong one. The token is what the attacker cannot know: every hidden field (and query parameter
of the form's action) whose value is unguessable, 16 or more characters of a token's alphabet.
A portal that protects its forms by a token refuses both forgeries for the token; one that
checks the ``Origin`` (or Fetch Metadata) refuses them for that.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import httpx

from ninsho.conformance.drivers.html.browser import Submission, encode_form
from ninsho.conformance.drivers.html.page import Control, Page
from ninsho.conformance.interfaces import DriverError, Exchange

if TYPE_CHECKING:
    from ninsho.conformance.drivers.html.driver import HtmlDriver

FORGED_ORIGINS = ("https://forged.invalid", "null")  # a foreign site's, and an opaque one
TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.:~%]{16,}")


@runtime_checkable
class ShowsPages(Protocol):
    """The capability the web checks need: a driver on the portal's pages."""

    def pages(self) -> WebPages: ...


@dataclass(frozen=True)
class SetCookie:
    """One ``Set-Cookie`` header as the portal sent it (RFC 6265 §5.2: attribute names read
    case-insensitively, the last of a name wins)."""

    name: str
    value: str
    attributes: dict[str, str]  # lower-case names; "" for a flag
    url: str  # the answer that set it
    lifetime: float | None  # seconds from the answer (Max-Age over Expires); None: the browser's session

    @property
    def http_only(self) -> bool:
        return "httponly" in self.attributes

    @property
    def secure(self) -> bool:
        return "secure" in self.attributes

    @property
    def same_site(self) -> str:
        return self.attributes.get("samesite", "").lower()

    @property
    def deletes(self) -> bool:
        """Sets the cookie to expire at once: it removes it, and its flags do not matter."""
        return self.lifetime is not None and self.lifetime <= 0

    def describe(self) -> str:
        flags = "; ".join(f"{k}={v}" if v else k for k, v in self.attributes.items())
        return f"{self.name} ({flags or 'no attributes'}) from {urlsplit(self.url).path or '/'}"


def parse_set_cookie(header: str, url: str, date: str | None) -> SetCookie | None:
    """The cookie of one header; None when it has no name=value (a browser ignores it)."""
    first, *rest = header.split(";")
    name, equals, value = first.partition("=")
    if not equals or not name.strip():
        return None
    attributes: dict[str, str] = {}
    for part in rest:
        key, _, val = part.partition("=")
        if key.strip():
            attributes[key.strip().lower()] = val.strip()
    return SetCookie(name.strip(), value.strip(), attributes, url, _lifetime(attributes, date))


def _lifetime(attributes: dict[str, str], date: str | None) -> float | None:
    max_age = attributes.get("max-age", "")
    if re.fullmatch(r"-?\d+", max_age):
        return float(max_age)
    expires = attributes.get("expires")
    if not expires:
        return None
    try:
        at = parsedate_to_datetime(expires).timestamp()
        now = parsedate_to_datetime(date).timestamp() if date else time.time()
    except (TypeError, ValueError):
        return None
    return at - now


@dataclass(frozen=True)
class Forgery:
    """One forged submission of a form and the portal's answer to it."""

    action: str  # the driver's action that was about to send the form
    where: str  # the screen the form was on
    target: str  # METHOD path
    variant: str  # "without its token" | "with a wrong token"
    dropped: tuple[str, ...]  # the fields taken for the token
    origin: str
    status: int


class Forged(Exception):
    """The form was forged and the real submission not sent: the check looks at the portal's
    state, then does the action again with forging off."""

    def __init__(self, forgeries: list[Forgery]) -> None:
        super().__init__(f"{len(forgeries)} forged submissions")
        self.forgeries = forgeries


def token_fields(submission: Submission) -> set[str]:
    """The names of the hidden fields whose values the attacker cannot know."""
    hidden = {
        e.get("name")
        for e in submission.form.elements
        if e.tag == "input" and e.get("type").lower() == "hidden" and e.get("name")
    }
    return {name for name, value in submission.pairs if name in hidden and TOKEN.fullmatch(value)}


def _other(value: str) -> str:
    """A wrong token of the same length and alphabet."""
    return "".join("B" if c == "A" else "A" for c in value)


class WebPages:
    """One html driver's browser as the web checks see it (its cookie jar is the driver's):
    every ``Set-Cookie`` it receives, and forged submissions of its forms."""

    def __init__(self, driver: HtmlDriver) -> None:
        self.driver = driver
        self.cookies: list[SetCookie] = []
        self.forgeries: list[Forgery] = []
        self._skip = 0
        hooks = driver.client.event_hooks
        hooks["response"] = [*hooks.get("response", []), self._saw]
        driver.client.event_hooks = hooks

    @property
    def client(self) -> httpx.Client:
        return self.driver.client

    @property
    def secure(self) -> bool:
        """The portal is served over TLS (its pages' scheme is https)."""
        return urlsplit(str(self.client.base_url)).scheme == "https"

    def _saw(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            cookie = parse_set_cookie(header, str(response.url), response.headers.get("date"))
            if cookie is not None:
                self.cookies.append(cookie)

    def set_since(self, mark: int) -> list[SetCookie]:
        """The cookies set after ``len(self.cookies)`` was ``mark``."""
        return self.cookies[mark:]

    # --- forging ---------------------------------------------------------------------------
    def forge_next(self, *, skip: int = 0) -> None:
        """The next POST form (after ``skip`` others) is forged, twice, and not sent: the driver's
        action raises :class:`Forged` with the forgeries."""
        self._skip = skip
        self.driver.browser.before_post = self._forge

    def _forge(self, submission: Submission) -> None:
        if self._skip:
            self._skip -= 1
            return
        self.driver.browser.before_post = None
        tokens = token_fields(submission)
        parts = urlsplit(submission.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        in_query = {k for k, v in query if TOKEN.fullmatch(v)}
        made = []
        for variant, origin in zip(("without its token", "with a wrong token"), FORGED_ORIGINS, strict=True):
            if variant == "without its token":
                pairs = [(k, v) for k, v in submission.pairs if k not in tokens]
                kept = [(k, v) for k, v in query if k not in in_query]
            else:
                pairs = [(k, _other(v) if k in tokens else v) for k, v in submission.pairs]
                kept = [(k, _other(v) if k in in_query else v) for k, v in query]
            url = urlunsplit((*parts[:3], urlencode(kept), ""))
            status = self._send(submission, url, pairs, origin)
            forgery = Forgery(
                submission.action,
                submission.page.where(),
                f"POST {parts.path or '/'}",
                variant,
                tuple(sorted(tokens | in_query)),
                origin,
                status,
            )
            made.append(forgery)
            self.driver.browser.evidence.append(
                Exchange(
                    submission.action,
                    f"{forgery.target} forged {variant} ({', '.join(forgery.dropped) or 'no token field'};"
                    f" Origin: {origin})",
                    str(status),
                )
            )
        self.forgeries += made
        raise Forged(made)

    def _send(self, submission: Submission, url: str, pairs: list[tuple[str, str]], origin: str) -> int:
        body, content_type = encode_form(pairs, submission.enctype, submission.codec)
        headers = {
            "content-type": content_type,
            "origin": origin,
            "sec-fetch-site": "cross-site",
            "sec-fetch-mode": "navigate",
            "sec-fetch-dest": "document",
        }
        request = self.client.build_request("POST", url, content=body, headers=headers)
        try:
            response = self.client.send(request, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise DriverError(
                f"{submission.action}: forged POST {url}: {type(exc).__name__}: {exc}"
            ) from None
        response.close()
        return response.status_code

    # --- the login screen ------------------------------------------------------------------
    def login_screen(self, action: str) -> Page:
        """The login screen as the portal's address (or the login screen's own) shows it."""
        site = self.driver.site
        return self.driver.browser.open(action, site.screens["login"].path or site.start)

    def login_id_field(self, page: Page) -> Control | None:
        return page.field(self.driver.site["fields.login_id"])

    def remember_box(self, page: Page) -> Control | None:
        found = page.fields(self.driver.site["fields.remember_login_id"])
        return next((c for c in found if c.kind == "checkbox"), None)

    def shows(self, page: Page, secret: str) -> list[str]:
        """Where ``page`` holds ``secret``: its text, or an attribute of an element (a field's
        value, a link)."""
        found = [f"the text «{b}»" for b in page.blocks if secret in b]
        for element in page.root.iter():
            found += [
                f"<{element.tag} {name}=…>"
                for name, value in element.attrs.items()
                if secret in unquote(value)
            ]
        return found


__all__ = [
    "FORGED_ORIGINS",
    "Forged",
    "Forgery",
    "SetCookie",
    "ShowsPages",
    "WebPages",
    "parse_set_cookie",
    "token_fields",
]
