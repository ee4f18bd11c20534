"""SVG QR codes on an App tab (conformance/drivers/html/svg.py): the ways generators draw them
are read, and what cannot be drawn says why instead of reading as no code at all."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
import segno

from ninsho.conformance.drivers.html import qr, svg
from ninsho.conformance.drivers.html.driver import HtmlDriver
from ninsho.conformance.drivers.html.sitemap import load

URI = "otpauth://totp/Ninsho:taro?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Ninsho"


def _matrix() -> list[list[bool]]:
    return [[bool(cell) for cell in row] for row in segno.make(URI, error="m").matrix]


def _segno(**options: object) -> bytes:
    """segno's SVG: one stroked path of horizontal runs, at y + 0.5 (its own quiet zone)."""
    out = io.BytesIO()
    segno.make(URI, error="m").save(out, kind="svg", **options)
    return out.getvalue()


def _rects(unit: str = "mm") -> bytes:
    """One ``<rect>`` per dark module, lengths with a unit and no viewBox (qrcode's SvgImage)."""
    rows = _matrix()
    size = len(rows) + 8
    cells = "".join(
        f'<svg:rect x="{x + 4}{unit}" y="{y + 4}{unit}" width="1{unit}" height="1{unit}"/>'
        for y, row in enumerate(rows)
        for x, dark in enumerate(row)
        if dark
    )
    return (
        f'<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="{size}{unit}" height="{size}{unit}">'
        f"{cells}</svg:svg>"
    ).encode()


def _module_path(rows: list[list[bool]], dark: bool) -> str:
    return "".join(
        f"M{x + 4},{y + 4}H{x + 5}V{y + 5}H{x + 4}z"
        for y, row in enumerate(rows)
        for x, cell in enumerate(row)
        if cell is dark
    )


def _filled_path(**attributes: str) -> bytes:
    """qrcode's SvgPathImage, as django-allauth serves it: a viewBox, one filled path of squares."""
    rows = _matrix()
    size = len(rows) + 8
    extra = " ".join(f'{key.replace("_", "-")}="{value}"' for key, value in attributes.items())
    return (
        f"<?xml version='1.0' encoding='UTF-8'?>\n<svg width=\"{size}mm\" height=\"{size}mm\""
        f' viewBox="0 0 {size} {size}" xmlns="http://www.w3.org/2000/svg">'
        f'<path d="{_module_path(rows, True)}" fill="#000000" fill-rule="nonzero" stroke="none" {extra}/></svg>'
    ).encode()


def _even_odd_holes() -> bytes:
    """A dark square with every light module cut out of it by the even-odd rule, in a group
    moved and scaled into place, on a white background rect given by style."""
    rows = _matrix()
    n = len(rows)
    holes = _module_path(rows, False)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {2 * (n + 8)} {2 * (n + 8)}">'
        '<rect width="100%" height="100%" style="fill: white"/>'
        f'<g transform="scale(2)"><g transform="translate(0.5 0.5)">'
        f'<path fill-rule="evenodd" fill="rgb(0,0,64)" d="M3.5,3.5h{n}v{n}h-{n}z{holes}"'
        ' transform="translate(-0.5,-0.5)"/></g></g></svg>'
    ).encode()


@pytest.mark.parametrize(
    "data",
    [
        _segno(),
        _segno(scale=3, border=2, dark="darkblue", light="#eee"),  # a background path, a group
        _segno(xmldecl=False, omitsize=True, scale=2.5),  # a viewBox, fractional scale
        _rects(),
        _rects(unit="px"),
        _filled_path(),
        _even_odd_holes(),
    ],
    ids=["segno", "segno-styled", "segno-viewbox", "rects-mm", "rects-px", "allauth-path", "even-odd"],
)
def test_svg_qr_codes_are_read(data: bytes) -> None:
    assert svg.is_svg(data)
    assert qr.read_qr(data) == ([URI], "")


def test_an_svg_data_uri_is_read_as_an_image() -> None:
    data_uri = "data:image/svg+xml;base64," + base64.b64encode(_filled_path()).decode()
    assert qr.decode_qr(qr.image_bytes(data_uri, lambda s: b"")) == [URI]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 9 9'><path d='M0 0", "not well-formed SVG"),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>',
            "an SVG declaring entities, not read",
        ),
        (b"<svg viewBox='0 0 9 9'><path d='M0 0C1 1 2 2 3 3z'/></svg>", "a curve or an arc ('C')"),
        (
            b"<svg viewBox='0 0 9 9'><rect width='3' height='3' transform='rotate(45)'/></svg>",
            "a transform the driver cannot draw",
        ),
        (b"<svg><rect width='3' height='3'/></svg>", "neither a viewBox nor a width and height"),
        (b"<svg viewBox='0 0 9 9'><rect width='3' height='3' fill='nocolour'/></svg>", "a colour"),
    ],
    ids=["malformed", "entities", "curve", "rotation", "no-size", "bad-colour"],
)
def test_an_svg_that_cannot_be_drawn_says_why(data: bytes, reason: str) -> None:
    texts, why = qr.read_qr(data)
    assert texts == [] and why.startswith("an SVG image the driver cannot draw: ") and reason in why, why


def test_an_svg_with_no_qr_code_reads_as_none() -> None:
    blank = b"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 9 9'><rect width='9' height='9'/></svg>"
    assert qr.read_qr(blank) == ([], "an image with no readable QR code")


def test_the_app_tab_reads_an_svg_qr_code() -> None:
    """Through the driver: an ``<img>`` whose ``data:`` URI is an SVG gives the otpauth URI."""
    data_uri = "data:image/svg+xml;base64," + base64.b64encode(_filled_path()).decode()
    tab = (
        "<h2>ワンタイムパスワードの設定 / One-Time Password Settings</h2><a href=/app>アプリ / App</a>"
        f"<img src='{data_uri}' alt=QR><form method=post action=/app><label>ワンタイムパスワード"
        " <input name=otp></label><button>登録 / Register</button></form>"
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=tab, headers={"content-type": "text/html; charset=utf-8"})

    driver = HtmlDriver(
        lambda: httpx.Client(base_url="http://portal.test/", transport=httpx.MockTransport(answer)), load()
    )
    driver.browser.open("test", "app")
    assert driver.start_app_registration().uri == URI
