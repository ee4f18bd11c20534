"""The reset link of the 2021 portal (``reset.mode = "link"``, spec/protocol.md §19).

The token is 32 bytes (256 bits) of the injected CSPRNG, written in unpadded base64url: 43
characters, case-sensitive, compared exactly [RESET_LINK_TOKEN_STRENGTH]. The link carries it as
its only query parameter ``token``; the store keeps only its keyed digest, as it keeps a code's
[CODE_STORED_HASHED]. Parsing is strict on purpose: a truncated link, an added parameter or a
token typed in another case must be refused, never repaired into something that works.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl, urlsplit

from .errors import InvalidInput
from .otp import RandomSource

TOKEN_BYTES = 32
TOKEN_CHARS = 43  # len(base64url(32 bytes)) without padding
_TOKEN = re.compile(rf"^[A-Za-z0-9_-]{{{TOKEN_CHARS}}}\Z")
DEFAULT_LINK_BASE = "http://localhost:8000/reset/link"


def new_token(source: RandomSource) -> str:
    return base64.urlsafe_b64encode(source.randbytes(TOKEN_BYTES)).decode().rstrip("=")


def link_for(base: str, token: str) -> str:
    return f"{base}?token={token}"


def check_token(token: object) -> str:
    """The token as given, if it has the token's form; a bilingual refusal otherwise."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise _malformed()
    return token


def token_of(link: str) -> str:
    """The token of a link (a URL, or its query string alone): exactly one ``token`` and nothing else."""
    if not isinstance(link, str) or len(link) > 2048:
        raise _malformed()
    query = urlsplit(link).query if "?" in link or "://" in link else link
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise _malformed() from None
    if len(pairs) != 1 or pairs[0][0] != "token":
        raise _malformed()
    return check_token(pairs[0][1])


def _malformed() -> InvalidInput:
    return InvalidInput(
        "This link is not valid. Open the URL exactly as it is in the email, or click 初期化 again.",
        "このURLは正しくありません。メールに記載されたURLをそのまま開くか、もう一度「初期化」してください。",
        requirement="RESET_LINK_BOUND_TO_ACCOUNT",
        field="token",
    )
