"""The App tab's two ways to the secret: the QR code image, and the key shown for typing.

The otpauth URI is read from the image (zxing-cpp, no system library; an SVG drawn first by
:mod:`.svg`), never made up from the manual key, so a check can compare the two. An image that is not one, or shows no QR code, is
reported with its reason; it is the driver's ERROR only when the tab shows no key either.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable, Sequence
from urllib.parse import unquote_to_bytes

import zxingcpp
from PIL import Image, UnidentifiedImageError

from ninsho.conformance.drivers.html import svg

_KEY_LINE = re.compile(r"[A-Z2-7]+(?:[ -]?[A-Z2-7]+)*=*")
_KEY_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])[A-Z2-7]{4,}(?:[ -][A-Z2-7]{2,})*=*(?![A-Za-z0-9])")
MIN_KEY_CHARS = 16  # RFC 4226 §4: at least 128 bits; 16 base32 characters is 80, the shortest used
MAX_IMAGE_PIXELS = 40_000_000


def decode_qr(data: bytes) -> list[str]:
    """The texts of the QR codes in an image (PNG, GIF, JPEG, SVG…)."""
    return read_qr(data)[0]


def read_qr(data: bytes) -> tuple[list[str], str]:
    """The texts of the QR codes in an image, and why there are none when there are none."""
    if svg.is_svg(data):
        try:
            return _texts(svg.rasterise(data))
        except svg.SvgError as exc:
            return [], f"an SVG image the driver cannot draw: {exc}"
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            return [], f"the image is {image.width}×{image.height} pixels, too large to decode"
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        return [], f"not an image the driver can read ({type(exc).__name__})"
    return _texts(image.convert("L"))


def _texts(image: Image.Image) -> tuple[list[str], str]:
    texts = [found.text for found in zxingcpp.read_barcodes(image) if found.text]
    return texts, "" if texts else "an image with no readable QR code"


def image_bytes(src: str, fetch: Callable[[str], bytes]) -> bytes:
    """The bytes of an ``<img src>``: a ``data:`` URI decoded here, anything else fetched."""
    if not src.startswith("data:"):
        return fetch(src)
    header, _, payload = src.partition(",")
    try:
        return (
            base64.b64decode(payload, validate=False)
            if header.endswith(";base64")
            else unquote_to_bytes(payload)
        )
    except (binascii.Error, ValueError):
        return b""


def manual_key(blocks: Sequence[str], heading: Callable[[str], bool]) -> str | None:
    """The key shown under the heading ("QRコードを読み込めない場合"): the first line after it
    that is a base32 key, or holds one (grouped in fours or not, "=" padding allowed)."""
    start = next((i for i, block in enumerate(blocks) if heading(block)), None)
    if start is None:
        return None
    for block in blocks[start : start + 8]:
        for candidate in _candidates(block):
            if len(re.sub(r"[ =-]", "", candidate)) >= MIN_KEY_CHARS:
                return candidate
    return None


def _candidates(block: str) -> list[str]:
    text = block.strip()
    if _KEY_LINE.fullmatch(text):
        return [text]
    after = re.split(r"[:：]", text)[-1].strip()
    found = [after] if after and _KEY_LINE.fullmatch(after) else []
    return found + [m.group(0) for m in _KEY_IN_TEXT.finditer(text)]
