"""What a skin is: URL layout, form names, encoding, wording and templates of one look.

The engine and the flows never see a URL, a form name or a byte of markup; a skin never
decides a rule. Two skins (``skin_table``, ``skin_sjis``) share everything else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote_to_bytes

import jinja2

from .profile import Profile
from .refusals import Refusal

Pairs = list[tuple[str, str]]
Text = tuple[str, str]  # (日本語, English)
_NCR = re.compile(r"&#(?:([0-9]{1,7})|[xX]([0-9a-fA-F]{1,6}));")


def parse_urlencoded(body: bytes, codec: str) -> Pairs:
    """Decode an urlencoded body strictly in the page's own encoding (no guessing)."""
    pairs: Pairs = []
    for chunk in body.split(b"&"):
        if not chunk:
            continue
        raw_name, _, raw_value = chunk.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode(codec)
        value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode(codec)
        pairs.append((name, value))
    return pairs


def decode_ncr(text: str) -> str:
    """Browsers send characters a legacy charset lacks as &#NNNN;: turn them back."""

    def one(m: re.Match[str]) -> str:
        point = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
        return chr(point) if 0 < point <= 0x10FFFF and not 0xD800 <= point <= 0xDFFF else m.group(0)

    return _NCR.sub(one, text)


class Skin:
    """Base of the two skins; subclasses fill in the class attributes and ``resolve``/``url``."""

    name = ""
    charset = "utf-8"  # announced in Content-Type and <meta>
    codec = "utf-8"  # decodes posted forms
    page_codec = "utf-8"  # encodes pages
    cookie_path = "/"
    cookies: ClassVar[dict[str, str]] = {}  # logical (session, trust, remember, browser) -> cookie name
    # A lasting cookie for scripts, not HttpOnly, renewed whenever a session cookie is set (a
    # double-submit CSRF cookie, as Angular's XSRF-TOKEN or Django's csrftoken): neither a
    # session, trust nor remember-ID cookie, which WEB_COOKIE_FLAGS judges. "" for none.
    script_cookie = ""
    csrf_field = ""
    fields: ClassVar[dict[str, str]] = {}  # logical field -> form name
    messages: ClassVar[dict[str, Text]] = {}
    notices: ClassVar[dict[str, Text]] = {}
    labels: ClassVar[dict[str, Text]] = {}

    def __init__(self, profile: Profile, template_dir: Path) -> None:
        self.profile = profile
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(template_dir), autoescape=True, undefined=jinja2.StrictUndefined
        )
        self._logical = {form: logical for logical, form in self.fields.items()}

    # --- to be provided -----------------------------------------------------------------------
    def resolve(self, method: str, path: str, query: dict[str, str], pairs: Pairs) -> tuple[str, str | None]:
        """(screen, action) of a request; raises Refusal not_found / method."""
        raise NotImplementedError

    def url(self, screen: str, action: str | None = None) -> str:
        """Where a screen (GET) or an action (POST) lives."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------
    def decode_form(self, body: bytes) -> Pairs:
        """The posted fields; malformed bytes in this skin's encoding are invalid input."""
        try:
            return parse_urlencoded(body, self.codec)
        except UnicodeDecodeError:
            raise Refusal("bad_encoding", "INPUT_ERRORS_PRECISE", None) from None

    def logical_form(self, pairs: Pairs, ignore: frozenset[str] = frozenset()) -> dict[str, str]:
        """Map form names to logical ones; unknown ones keep their name (the flows refuse them)."""
        form: dict[str, str] = {}
        for name, value in pairs:
            if name == self.csrf_field or name in ignore:
                continue
            logical = self._logical.get(name, name if name not in self.fields else f"{name}?")
            if logical in form:
                raise Refusal("invalid_input", "INPUT_ERRORS_PRECISE", name)
            form[logical] = value
        return form

    def code_digits(self, screen: str) -> int:
        """How many digits the code field of a screen takes."""
        if screen == "reset":
            return self.profile.num("confirmation_code.digits")
        if screen in ("mfa_app", "app"):
            return self.profile.num("totp.digits")
        return self.profile.num("email_otp.digits")

    def message(self, refusal: Refusal, screen: str | None) -> Text:
        """The bilingual wording of a refusal on a given screen."""
        key = refusal.kind
        if key == "invalid_input" and refusal.field == "code":
            key = "code_format"
        elif key == "code_refused" and screen == "reset":
            key = "reset_code_refused"
        elif key == "nothing_pending" and refusal.requirement == "EMAIL_OTP_TO_REGISTERED_ADDRESS":
            key = "no_address"
        ja, en = self.messages.get(key, self.messages["invalid_input"])
        label_ja, label_en = self.labels.get(self.form_label_key(refusal.field), (refusal.field or "-",) * 2)
        values = {"n": self.code_digits(screen or ""), "ja_label": label_ja, "en_label": label_en}
        return ja.format(**values), en.format(**values)

    def form_label_key(self, field: str | None) -> str:
        """The logical name of a field given as logical or as form name."""
        return self._logical.get(field or "", field or "")

    def render(self, template: str, context: dict[str, Any]) -> bytes:
        """A page in this skin's encoding; characters it lacks become references, never errors."""
        html = self.env.get_template(template).render(**context)
        return html.encode(self.page_codec, errors="xmlcharrefreplace")
