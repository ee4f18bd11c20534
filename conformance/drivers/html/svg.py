"""An SVG QR code drawn as a bitmap, so that zxing-cpp can read it.

Portals draw QR codes in SVG as often as in PNG (django-allauth's ``qrcode`` SvgPathImage, segno,
qrcode's rect images), and no pip-only rasteriser exists (cairosvg needs the system's cairo).
A QR code needs little of SVG: squares and runs of modules, filled or stroked, in one colour on
another, so this draws what such images use and says what it cannot draw:

- ``<rect>``, ``<polygon>`` and ``<path>`` with straight segments (M, L, H, V, Z, absolute or
  relative), filled (``fill``, ``fill-rule``) or stroked (``stroke``, ``stroke-width``);
- ``transform`` with ``translate``, ``scale`` and ``matrix`` without rotation, nested ``<g>``;
- colours as HTML names them (PIL's ImageColor), in attributes or ``style``; a length's unit
  (``mm``, ``px``) read as the root's own, ``%`` of the viewport.

An SVG image is XML (browsers show a malformed one as nothing), read by the standard library's
expat; a document declaring entities is refused unread.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageColor, ImageDraw

TARGET_PIXELS = 1200  # the longer side of the bitmap: a 1-unit module of a 37-unit code is 32 px
MAX_ELEMENTS = 50_000  # a version-40 code drawn module by module has 31 329 at most
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKENS = re.compile(rf"[MmLlHhVvZz]|{_NUMBER}|[A-DF-Za-df-z]")
_NOT_DRAWN = frozenset({"defs", "clippath", "mask", "symbol", "title", "desc", "metadata"})
_TRANSFORM = re.compile(r"(translate|scale|matrix)\s*\(([^)]*)\)")


class SvgError(ValueError):
    """What keeps the image from being drawn; the reason goes into the driver's report."""


@dataclass(frozen=True)
class _Affine:
    """x' = a·x + e, y' = d·y + f: the only transforms a QR code needs (no rotation, no skew)."""

    a: float = 1.0
    d: float = 1.0
    e: float = 0.0
    f: float = 0.0

    def then(self, inner: _Affine) -> _Affine:
        """This transform applied after ``inner`` (an element's own, inside its parent's)."""
        return _Affine(
            self.a * inner.a, self.d * inner.d, self.a * inner.e + self.e, self.d * inner.f + self.f
        )

    def point(self, x: float, y: float) -> tuple[float, float]:
        return self.a * x + self.e, self.d * y + self.f


def is_svg(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return (
        head.startswith(b"<svg")
        or (head.startswith(b"<?xml") and b"<svg" in data[:4096].lower())
        or (head.startswith(b"<!--") and b"<svg" in data[:4096].lower())
    )


def rasterise(data: bytes) -> Image.Image:
    """The SVG drawn black on white, in grey levels, with a quiet zone around it."""
    if b"<!ENTITY" in data:
        raise SvgError("an SVG declaring entities, not read")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SvgError(f"not well-formed SVG ({exc})") from None
    if _local(root.tag) != "svg":
        raise SvgError(f"the document is <{_local(root.tag)}>, not <svg>")
    min_x, min_y, width, height = _viewport(root)
    longer = max(width, height)
    # Whole pixels per unit where the image is small (its modules are whole units, mostly), so
    # that neighbouring modules meet without a seam.
    scale = float(TARGET_PIXELS // longer) if longer <= TARGET_PIXELS / 2 else TARGET_PIXELS / longer
    margin = TARGET_PIXELS // 10
    size = (round(width * scale) + 2 * margin, round(height * scale) + 2 * margin)
    image = Image.new("L", size, 255)
    device = _Affine(scale, scale, margin - min_x * scale, margin - min_y * scale)
    for count, (element, transform, style) in enumerate(_shapes(root, device, {}), start=1):
        if count > MAX_ELEMENTS:
            raise SvgError(f"more than {MAX_ELEMENTS} shapes")
        _draw(image, element, transform, style, (width, height))
    return image


def _local(tag: str) -> str:
    return tag.rpartition("}")[2].rpartition(":")[2].lower()


def _viewport(root: ET.Element) -> tuple[float, float, float, float]:
    box = root.get("viewBox")
    if box:
        values = [float(v) for v in re.findall(_NUMBER, box)]
        if len(values) == 4 and values[2] > 0 and values[3] > 0:
            return values[0], values[1], values[2], values[3]
        raise SvgError(f"a viewBox the driver cannot read ({box!r})")
    width, height = _length(root.get("width"), 0.0), _length(root.get("height"), 0.0)
    if width <= 0 or height <= 0:
        raise SvgError("an SVG with neither a viewBox nor a width and height")
    return 0.0, 0.0, width, height


def _length(value: str | None, whole: float) -> float:
    """A length in the root's units: the unit itself dropped (the image is drawn to scale, so
    only ratios matter), a percentage of ``whole``."""
    if value is None:
        return 0.0
    found = re.match(rf"\s*({_NUMBER})\s*(%?)", value)
    if found is None:
        raise SvgError(f"a length the driver cannot read ({value!r})")
    number = float(found.group(1))
    return number * whole / 100 if found.group(2) else number


def _style(element: ET.Element, inherited: dict[str, str]) -> dict[str, str]:
    style = dict(inherited)
    for key in ("fill", "stroke", "stroke-width", "fill-rule", "display", "visibility"):
        if element.get(key) is not None:
            style[key] = str(element.get(key)).strip()
    for declaration in (element.get("style") or "").split(";"):
        key, _, value = declaration.partition(":")
        if value.strip():
            style[key.strip().lower()] = value.strip()
    return style


def _transform(text: str | None) -> _Affine:
    result = _Affine()
    if not text:
        return result
    for name, arguments in _TRANSFORM.findall(text):
        numbers = [float(v) for v in re.findall(_NUMBER, arguments)]
        if name == "translate" and numbers:
            step = _Affine(e=numbers[0], f=numbers[1] if len(numbers) > 1 else 0.0)
        elif name == "scale" and numbers:
            step = _Affine(a=numbers[0], d=numbers[1] if len(numbers) > 1 else numbers[0])
        elif name == "matrix" and len(numbers) == 6 and numbers[1] == numbers[2] == 0:
            step = _Affine(numbers[0], numbers[3], numbers[4], numbers[5])
        else:
            raise SvgError(f"a transform the driver cannot draw ({name}({arguments}))")
        result = result.then(step)
    if re.sub(r"(translate|scale|matrix)\s*\([^)]*\)|[\s,]", "", text):
        raise SvgError(f"a transform the driver cannot draw ({text!r})")
    return result


def _shapes(
    element: ET.Element, transform: _Affine, inherited: dict[str, str]
) -> Iterator[tuple[ET.Element, _Affine, dict[str, str]]]:
    """Every shape to draw, in document order, with its transform and style; what is not shown
    (``display:none``, ``<defs>``, ``<clipPath>``…) is left out."""
    style = _style(element, inherited)
    if style.get("display") == "none" or _local(element.tag) in _NOT_DRAWN:
        return
    transform = transform.then(_transform(element.get("transform")))
    if _local(element.tag) in {"rect", "path", "polygon"} and style.get("visibility") != "hidden":
        yield element, transform, style
    for child in element:
        yield from _shapes(child, transform, style)


def _grey(paint: str | None) -> int | None:
    """The paint's grey level, None for no paint."""
    if paint is None or paint in {"none", "transparent"}:
        return None
    try:
        rgb = ImageColor.getrgb(paint)
    except ValueError:
        raise SvgError(f"a colour the driver cannot read ({paint!r})") from None
    return round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def _draw(
    image: Image.Image,
    element: ET.Element,
    transform: _Affine,
    style: dict[str, str],
    viewport: tuple[float, float],
) -> None:
    subpaths = _outline(element, viewport)
    fill = _grey(style.get("fill", "black"))
    polygons = [[transform.point(x, y) for x, y in points] for points in subpaths if len(points) >= 3]
    if fill is not None and style.get("fill-rule") == "evenodd":
        image.paste(fill, mask=_even_odd(image.size, polygons))
    elif fill is not None:
        # Non-zero is drawn as the subpaths' union, which is what module-by-module QR paths mean.
        pen = ImageDraw.Draw(image)
        for polygon in polygons:
            pen.polygon(polygon, fill=fill)
    stroke = _grey(style.get("stroke"))
    if stroke is not None:
        # One pixel more than the width: PIL's wide lines leave a seam between neighbouring runs.
        width = math.ceil(_length(style.get("stroke-width", "1"), 0.0) * abs(transform.a)) + 1
        pen = ImageDraw.Draw(image)
        for points in subpaths:
            if len(points) >= 2:
                pen.line([transform.point(x, y) for x, y in points], fill=stroke, width=width)


def _even_odd(size: tuple[int, int], polygons: list[list[tuple[float, float]]]) -> Image.Image:
    """Where an even-odd fill paints: each subpath flips what it covers (a subpath inside
    another is a hole), flipped within its own bounding box only, so that a path of a thousand
    modules costs a thousand small bitmaps, not a thousand whole ones."""
    mask = Image.new("1", size, 0)
    for polygon in polygons:
        xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
        box = (
            max(0, int(min(xs))),
            max(0, int(min(ys))),
            min(size[0], int(max(xs)) + 2),
            min(size[1], int(max(ys)) + 2),
        )
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        piece = Image.new("1", (box[2] - box[0], box[3] - box[1]), 0)
        ImageDraw.Draw(piece).polygon([(x - box[0], y - box[1]) for x, y in polygon], fill=1)
        mask.paste(ImageChops.logical_xor(mask.crop(box), piece), box)
    return mask


def _outline(element: ET.Element, viewport: tuple[float, float]) -> list[list[tuple[float, float]]]:
    """The shape's subpaths as lists of corners, in its own coordinates."""
    kind = _local(element.tag)
    if kind == "rect":
        x, y = _length(element.get("x"), viewport[0]), _length(element.get("y"), viewport[1])
        w, h = _length(element.get("width"), viewport[0]), _length(element.get("height"), viewport[1])
        return [[(x, y), (x + w, y), (x + w, y + h), (x, y + h)]] if w > 0 and h > 0 else []
    if kind == "polygon":
        numbers = [float(v) for v in re.findall(_NUMBER, element.get("points") or "")]
        return [list(zip(numbers[0::2], numbers[1::2], strict=False))]
    return _path(element.get("d") or "")


def _path(d: str) -> list[list[tuple[float, float]]]:
    """A path's straight segments; a curve or an arc is refused, naming its command."""
    tokens = _TOKENS.findall(d)
    subpaths: list[list[tuple[float, float]]] = []
    x = y = start_x = start_y = 0.0
    command = ""
    index = 0

    def number() -> float:
        nonlocal index
        if index >= len(tokens) or tokens[index].isalpha():
            raise SvgError(f"a path the driver cannot read (command {command!r} lacks a number)")
        index += 1
        return float(tokens[index - 1])

    while index < len(tokens):
        token = tokens[index]
        if token.isalpha():
            if token not in "MmLlHhVvZz":
                raise SvgError(f"a path with a curve or an arc ({token!r}), which a QR code does not need")
            command = token
            index += 1
            if command in "Zz":
                x, y = start_x, start_y
                continue
        elif not command or command in "Zz":
            raise SvgError("a path the driver cannot read (a number with no command)")
        relative = command.islower()
        kind = command.upper()
        if kind in "ML":
            dx, dy = number(), number()
            x, y = (x + dx, y + dy) if relative else (dx, dy)
            if kind == "M":
                start_x, start_y = x, y
                subpaths.append([])
                command = "l" if relative else "L"  # further pairs after M are line-tos
        elif kind == "H":
            value = number()
            x = x + value if relative else value
        else:
            value = number()
            y = y + value if relative else value
        if not subpaths:
            subpaths.append([(start_x, start_y)])
        subpaths[-1].append((x, y))
    return subpaths
