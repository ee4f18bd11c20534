"""Which charset a page is in, and the bytes of a form in it.

Japanese portals still serve Shift_JIS and EUC-JP, so the driver reads a page as a browser
does (the WHATWG Encoding standard, simplified): a byte-order mark first, then the charset of
the HTTP ``Content-Type`` header, then a ``<meta charset>`` or ``<meta http-equiv>`` in the
first 1024 bytes, then UTF-8. Labels map to codecs as browsers map them: "Shift_JIS" is
Windows-31J (cp932) and "ISO-8859-1" is windows-1252. A page whose bytes are not in the charset
it declares is an error naming the page, never mojibake that no label can match.

A form is sent in the page's charset (or the first usable one of ``accept-charset``), with
characters it cannot hold as ``&#NNNN;``, as browsers send them.
"""

from __future__ import annotations

import codecs
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus

PRESCAN_BYTES = 1024

# WHATWG labels whose codec is not the Python codec of the same name.
_ALIASES = {
    **dict.fromkeys(
        ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "ms932"),
        "cp932",
    ),
    **dict.fromkeys(("euc-jp", "x-euc-jp", "cseucpkdfmtjapanese", "eucjp"), "euc_jp"),
    **dict.fromkeys(("iso-2022-jp", "csiso2022jp"), "iso2022_jp"),
    **dict.fromkeys(
        ("iso-8859-1", "iso8859-1", "latin1", "l1", "ascii", "us-ascii", "windows-1252"), "cp1252"
    ),
    **dict.fromkeys(("utf-8", "utf8", "unicode-1-1-utf-8"), "utf-8"),
    # A page cannot really be UTF-16 without a BOM; browsers then read it as UTF-8.
    **dict.fromkeys(("utf-16", "utf-16le", "utf-16be"), "utf-8"),
}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META = re.compile(rb"<meta\s[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE)
_HEADER = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._:-]+)", re.IGNORECASE)


class CharsetError(ValueError):
    """The bytes cannot be read: an unknown charset, or bytes that are not in the one declared."""


def codec_for(label: str) -> str | None:
    """The Python codec for a charset label, or None when it is not one."""
    name = label.strip().strip("\"'").lower()
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` header, as written."""
    found = _HEADER.search(content_type or "")
    return found.group(1) if found else None


def meta_charset(body: bytes) -> str | None:
    """The charset a ``<meta>`` in the first 1024 bytes declares, as written."""
    found = _META.search(body[:PRESCAN_BYTES])
    return found.group(1).decode("ascii") if found else None


@dataclass(frozen=True)
class Decoded:
    text: str
    codec: str  # the Python codec the page was read with
    source: str  # where the charset came from: bom | header | meta | site map | default


def decode(body: bytes, content_type: str | None, forced: str | None = None) -> Decoded:
    """The page's text (see the module's docstring); ``forced`` is the site map's charset,
    which wins over everything but a BOM (for portals that declare a wrong one)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return _strict(body[len(bom) :], codec, "bom", bom.hex())
    declared: list[tuple[str, str]] = []
    if forced:
        declared.append(("site map", forced))
    for source, label in (("header", header_charset(content_type)), ("meta", meta_charset(body))):
        if label:
            declared.append((source, label))
    for source, label in declared:
        found = codec_for(label)
        if found is None:
            raise CharsetError(f"the {source} declares the charset {label!r}, which is not one")
        return _strict(body, found, source, label)
    return _strict(body, "utf-8", "default", "utf-8")


def _strict(body: bytes, codec: str, source: str, label: str) -> Decoded:
    try:
        return Decoded(body.decode(codec), codec, source)
    except UnicodeDecodeError as exc:
        said = {"default": "declares no charset and"}.get(source, f"says {label!r} ({source}) but")
        raise CharsetError(
            f"the page {said} is not {codec}: byte {body[exc.start : exc.start + 1].hex()} at {exc.start}"
        ) from None


def form_codec(accept_charset: str, page_codec: str) -> str:
    """The charset a form is sent in: the first usable label of ``accept-charset``, else the
    page's (a UTF-16 page sends UTF-8, as browsers do)."""
    for label in accept_charset.replace(",", " ").split():
        codec = codec_for(label)
        if codec is not None:
            return codec
    return "utf-8" if page_codec.startswith("utf-16") else page_codec


def _encode(value: str, codec: str) -> bytes:
    return value.encode(codec, errors="xmlcharrefreplace")


def urlencoded(pairs: Sequence[tuple[str, str]], codec: str) -> str:
    """``application/x-www-form-urlencoded`` in ``codec`` (also a GET form's query string)."""
    return "&".join(f"{quote_plus(_encode(k, codec))}={quote_plus(_encode(v, codec))}" for k, v in pairs)


def multipart(pairs: Sequence[tuple[str, str]], codec: str) -> tuple[bytes, str]:
    """``multipart/form-data`` in ``codec``: the body and its Content-Type."""
    boundary = f"----ninsho{uuid.uuid4().hex}"
    parts = []
    for name, value in pairs:
        safe = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        parts.append(
            f"--{boundary}\r\n".encode()
            + b'Content-Disposition: form-data; name="'
            + _encode(safe, codec)
            + b'"\r\n\r\n'
            + _encode(value, codec)
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
