"""allauth's pages read as a browser reads them, for measuring the portal and for its peer test.

Not the harness's html driver (conformance/drivers/html, which a site map configures): a small,
allauth-specific reader, so that what is measured here does not depend on that driver. Pages are
parsed by a real HTML5 parser (selectolax's lexbor engine, already the html driver's parser), a
form is found by the text of its submit button, and a field by its ``<label>`` text or its name.

The TOTP QR code is an SVG ``data:`` URI (qrcode's ``SvgPathImage``), which zxing-cpp cannot read
directly: :func:`svg_qr_text` reads it with the html driver's SVG reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser, LexborNode

from ninsho.conformance.drivers.html import qr

_SPACE = re.compile(r"\s+")


def squash(text: str | None) -> str:
    """White space as a reader sees it: runs made one space, the ends stripped."""
    return _SPACE.sub(" ", text or "").strip()


def _same(a: str, b: str) -> bool:
    return squash(a).casefold().rstrip(":") == squash(b).casefold().rstrip(":")


@dataclass(frozen=True)
class Button:
    """A submit button: what it says, and the name and value it adds to the submission."""

    text: str
    name: str
    value: str


@dataclass
class Form:
    """A form's target, what it submits as it stands, and how its fields and buttons read."""

    action: str
    method: str
    values: dict[str, str]
    labels: dict[str, str]  # label text -> field name
    buttons: list[Button] = field(default_factory=list)

    def button(self, text: str) -> Button | None:
        return next((b for b in self.buttons if _same(b.text, text)), None)

    def name_of(self, label_or_name: str) -> str:
        """A field's name from its label text (``Code``, ``Username``) or its name."""
        for label, name in self.labels.items():
            if _same(label, label_or_name):
                return name
        return label_or_name


@dataclass
class Page:
    """One response: its address, status and text, parsed."""

    url: str
    status: int
    html: str
    tree: LexborHTMLParser = field(repr=False)

    @classmethod
    def of(cls, response: httpx.Response) -> Page:
        return cls(str(response.url), response.status_code, response.text, LexborHTMLParser(response.text))

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def title(self) -> str:
        node = self.tree.css_first("title")
        return squash(node.text()) if node else ""

    @property
    def heading(self) -> str:
        node = self.tree.css_first("h1")
        return squash(node.text()) if node else ""

    def text(self) -> str:
        body = self.tree.body
        return squash(body.text(separator=" ")) if body else ""

    def errors(self) -> list[str]:
        """Django's form errors (``<ul class="errorlist">``), as allauth's templates show them."""
        return [squash(li.text()) for li in self.tree.css("ul.errorlist li")]

    def messages(self) -> list[str]:
        """The ``Messages:`` box of allauth's base layout (django.contrib.messages)."""
        found: list[str] = []
        for strong in self.tree.css("strong"):
            if squash(strong.text()) == "Messages:" and strong.parent is not None:
                found += [squash(li.text()) for li in strong.parent.css("li")]
        return found

    def links(self) -> dict[str, str]:
        """Link text -> address, the first link of each text."""
        found: dict[str, str] = {}
        for a in self.tree.css("a[href]"):
            found.setdefault(squash(a.text()), urljoin(self.url, a.attributes.get("href") or ""))
        return found

    def forms(self) -> list[Form]:
        forms = [_form(self.url, node) for node in self.tree.css("form")]
        by_id = {
            node.attributes.get("id"): form
            for node, form in zip(self.tree.css("form"), forms, strict=True)
            if node.attributes.get("id")
        }
        for node in self.tree.css("button[form]"):  # a button owned by a form elsewhere
            owner = by_id.get(node.attributes.get("form"))
            if owner is not None:
                owner.buttons.append(_button(node))
        return forms

    def form(self, button: str) -> Form:
        """The form whose submit button reads ``button``."""
        for form in self.forms():
            if form.button(button):
                return form
        shown = [b.text for f in self.forms() for b in f.buttons]
        raise LookupError(f"{self.path}: no form with a button {button!r}; buttons: {shown}")

    def images(self) -> list[dict[str, str]]:
        return [{k: v or "" for k, v in img.attributes.items()} for img in self.tree.css("img")]

    def input_value(self, element_id: str) -> str:
        node = self.tree.css_first(f"#{element_id}")
        return (node.attributes.get("value") or "") if node else ""

    def labels(self) -> list[str]:
        return [squash(n.text()) for n in self.tree.css("label")]


def _button(node: LexborNode) -> Button:
    return Button(squash(node.text()), node.attributes.get("name") or "", node.attributes.get("value") or "")


def _own(node: LexborNode, form: LexborNode) -> bool:
    """Whether a control belongs to this form (not to a form its ``form`` attribute names)."""
    return not node.attributes.get("form") or node.attributes.get("form") == form.attributes.get("id")


def _label_texts(form: LexborNode) -> dict[str, str]:
    ids: dict[str, str] = {}
    for control in form.css("input, select, textarea"):
        if control.attributes.get("id") and control.attributes.get("name"):
            ids[control.attributes["id"] or ""] = control.attributes["name"] or ""
    labels: dict[str, str] = {}
    for label in form.css("label"):
        target = label.attributes.get("for")
        if target in ids:
            labels[squash(label.text())] = ids[target or ""]
    return labels


def _values(form: LexborNode) -> dict[str, str]:
    """What the form submits untouched: named, enabled controls; checkboxes only when checked."""
    values: dict[str, str] = {}
    for control in form.css("input, select, textarea"):
        attributes = control.attributes
        name = attributes.get("name")
        if not name or "disabled" in attributes or not _own(control, form):
            continue
        kind = (attributes.get("type") or "text").lower()
        if kind in ("submit", "button", "image", "reset", "file"):
            continue
        if kind in ("checkbox", "radio"):
            if "checked" in attributes:
                values[name] = attributes.get("value") or "on"
            continue
        if control.tag == "select":
            chosen = control.css_first("option[selected]") or control.css_first("option")
            values[name] = (chosen.attributes.get("value") or squash(chosen.text())) if chosen else ""
        elif control.tag == "textarea":
            values[name] = control.text()
        else:
            values[name] = attributes.get("value") or ""
    return values


def _form(base: str, node: LexborNode) -> Form:
    return Form(
        action=urljoin(base, node.attributes.get("action") or ""),
        method=(node.attributes.get("method") or "get").lower(),
        values=_values(node),
        labels=_label_texts(node),
        buttons=[_button(b) for b in node.css("button") if _own(b, node)]
        + [
            Button(
                i.attributes.get("value") or "",
                i.attributes.get("name") or "",
                i.attributes.get("value") or "",
            )
            for i in node.css("input[type=submit]")
        ],
    )


class Browser:
    """A cookie-keeping client that follows redirects, as a browser does."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url, follow_redirects=True, timeout=timeout)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def get(self, path: str) -> Page:
        return Page.of(self.client.get(path))

    def submit(self, page: Page, button: str, fields: dict[str, str] | None = None) -> Page:
        """Fill the form of ``button`` (fields by label or name) and press it."""
        form = page.form(button)
        data = dict(form.values)
        for key, value in (fields or {}).items():
            data[form.name_of(key)] = value
        pressed = form.button(button)
        if pressed is not None and pressed.name:
            data[pressed.name] = pressed.value
        url = form.action or page.url
        if form.method == "post":
            return Page.of(self.client.post(url, data=data, headers={"Referer": page.url}))
        return Page.of(self.client.get(url, params=data))


def svg_qr_text(data_uri: str) -> list[str]:
    """The texts of the QR code in an SVG ``data:`` URI: the html driver's reader, which draws
    the SVG first (conformance/drivers/html/svg.py), so that the peer test also shows that it
    reads allauth's QR code."""
    texts, why = qr.read_qr(qr.image_bytes(data_uri, lambda src: b""))
    if not texts:
        raise ValueError(f"allauth's QR code was not read: {why}")
    return texts
