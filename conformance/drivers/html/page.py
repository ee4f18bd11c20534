"""A page as the driver understands it: title, headings, text, forms, controls, buttons, links.

:func:`parse_page` turns an answer's bytes into a :class:`Page` by the rules of HTML: the
charset as a browser finds it (:mod:`.charset`), the tree as an HTML5 parser builds it
(:mod:`.tree`), and every control, button and link with its accessible name (:mod:`.names`).
It knows nothing of any portal: what to look for is the site map's business, passed in as a
predicate on names (``Callable[[str], bool]``).

What cannot be read (over :data:`MAX_PAGE_BYTES`, bytes not in the charset declared, a
charset that is not one) is a :class:`PageError` naming the page: the harness could not look,
which is an ERROR, never the portal's FAIL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from ninsho.conformance.drivers.html import charset, names
from ninsho.conformance.drivers.html.text import japanese
from ninsho.conformance.drivers.html.tree import Element, Text, build_ordered, render
from ninsho.conformance.interfaces import DriverError

MAX_PAGE_BYTES = 5 * 1024 * 1024
Match = Callable[[str], bool]
BUTTON_TYPES = frozenset(("submit", "image"))
NOT_FILLED = frozenset(("submit", "image", "button", "reset", "file"))
FORM_TAGS = frozenset(("input", "select", "textarea", "button"))
HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))


class PageError(DriverError):
    """A page the driver cannot read; the message names it."""


TITLE_SNIFF_BYTES = 64 * 1024  # where a page that cannot be read is looked at for its <title>
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def unread_page(url: str, body: bytes, content_type: str | None = None) -> str:
    """A page that cannot be read, for messages, as :meth:`Page.where` names a screen:
    «title» (URL). The title is looked for in its first bytes, decoded as declared (else
    UTF-8) with anything undecodable replaced: enough to tell which page it was."""
    found = _TITLE.search(body[:TITLE_SNIFF_BYTES])
    label = charset.header_charset(content_type) or charset.meta_charset(body)
    codec = (charset.codec_for(label) if label else None) or "utf-8"
    title = " ".join(found.group(1).decode(codec, "replace").split())[:120] if found else ""
    return f"«{title or 'untitled'}» ({url})"


@dataclass(eq=False)
class Form:
    element: Element
    action: str
    method: str  # GET | POST
    enctype: str
    accept_charset: str
    elements: tuple[Element, ...]  # every element the form owns, in document order


@dataclass(eq=False)
class Control:
    """A field a person types into or ticks (never a hidden input or a button)."""

    element: Element
    kind: str  # the input's type, or select / textarea
    name: str  # the name it is sent under
    label: str  # its accessible name
    form: Form | None
    index: names.Index | None = field(default=None, repr=False)  # the page's, for :attr:`context`

    @cached_property
    def context(self) -> tuple[str, ...]:
        """The names its layout gives it (row or column header, ``<dt>``, text before), worked
        out when first asked for: only a search that no control's own name answers needs them."""
        return names.context_names(self.element, self.index) if self.index is not None else ()


@dataclass(eq=False)
class Button:
    element: Element
    label: str
    form: Form | None

    def attr(self, name: str) -> str:
        return self.element.get(name)


@dataclass(eq=False)
class Link:
    element: Element
    label: str
    href: str


@dataclass(eq=False)
class Page:
    url: str
    status: int
    codec: str
    title: str
    headings: tuple[str, ...]
    blocks: tuple[str, ...]  # the text, one entry a line, as a person reads it
    forms: tuple[Form, ...]
    controls: tuple[Control, ...]
    buttons: tuple[Button, ...]
    links: tuple[Link, ...]
    images: tuple[Element, ...]
    root: Element
    parser: LexborHTMLParser | None = None
    nodes: Mapping[int, Element] | None = None
    # What :meth:`select` found, by selector: the evidence and the driver ask the same page
    # for its error and notice boxes several times, and a page does not change.
    _selected: dict[str, list[Element]] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        return "\n".join(self.blocks)

    @property
    def heading(self) -> str:
        """The first heading (or the title): how the evidence names the screen."""
        return (self.headings[0] if self.headings else self.title).replace("\n", " / ")

    def where(self) -> str:
        """The screen, for messages: «title / heading» (URL)."""
        shown = " / ".join(dict.fromkeys(t for t in (self.title, self.heading) if t)) or "untitled"
        return f"«{shown}» ({self.url})"

    def select(self, selector: str) -> list[Element]:
        """The elements a CSS selector matches (the parser's own selector engine)."""
        if self.parser is None or self.nodes is None:
            return []
        if selector not in self._selected:
            try:
                found = self.parser.css(selector)
            except (SelectolaxError, ValueError) as exc:
                raise PageError(f"the CSS selector {selector!r} is not valid: {exc}") from None
            elements = [self.nodes[n.mem_id] for n in found if n.mem_id in self.nodes]
            # an element matched by two selectors of a list, once
            self._selected[selector] = list(dict.fromkeys(elements))
        return list(self._selected[selector])

    def fields(self, match: Match) -> list[Control]:
        """The controls whose own name matches, then those whose context name does."""
        own = [c for c in self.controls if c.label and match(c.label)]
        by_layout = [c for c in self.controls if c not in own and any(match(n) for n in c.context)]
        return own + by_layout

    def field(self, match: Match) -> Control | None:
        found = self.fields(match)
        return found[0] if found else None

    def button(self, match: Match, form: Form | None = None) -> Button | None:
        return next(
            (b for b in self.buttons if (form is None or b.form is form) and b.label and match(b.label)), None
        )

    def link(self, match: Match) -> Link | None:
        return next((a for a in self.links if a.label and match(a.label)), None)

    def has_block(self, match: Match) -> bool:
        return any(match(block) for block in self.blocks)


def bilingual(element: Element) -> tuple[str, str]:
    """(Japanese, English) of a message: by ``lang`` where the page marks it, else by script."""
    ja: list[str] = []
    en: list[str] = []
    marked = [e for e in element.iter() if e is not element and e.get("lang")]
    if marked:
        for part in marked:
            (ja if part.get("lang").lower().startswith("ja") else en).append(" ".join(part.lines()))
    else:
        for line in element.lines():
            for piece in line.split(" / "):
                (ja if japanese(piece) else en).append(piece.strip())
    return " ".join(p for p in ja if p), " ".join(p for p in en if p)


def parse_page(
    url: str, status: int, body: bytes, content_type: str | None = None, forced_charset: str | None = None
) -> Page:
    """The page an answer carries (see the module's docstring)."""
    if len(body) > MAX_PAGE_BYTES:
        raise PageError(
            f"the page {unread_page(url, body, content_type)} is {len(body)} bytes,"
            f" over the driver's limit of {MAX_PAGE_BYTES}"
        )
    try:
        decoded = charset.decode(body, content_type, forced_charset)
    except charset.CharsetError as exc:
        where = unread_page(url, body, content_type)
        raise PageError(f"the page {where} cannot be read: {exc} (site-map key site.charset)") from None
    media = (content_type or "text/html").split(";")[0].strip().lower()
    if media not in ("text/html", "application/xhtml+xml"):
        return plain_page(url, status, decoded.text, decoded.codec)
    try:
        root, parser, nodes, order = build_ordered(decoded.text.replace("\x00", "\ufffd"))
    except (SelectolaxError, ValueError, MemoryError) as exc:
        raise PageError(f"the page {url} could not be parsed as HTML: {exc}") from None
    return _model(url, status, decoded.codec, root, parser, nodes, order)


def plain_page(url: str, status: int, text: str, codec: str = "utf-8") -> Page:
    """An answer that is not HTML (a bare 404), as a page of text lines."""
    blocks = tuple(line for line in (" ".join(raw.split()) for raw in text.splitlines()) if line)
    root = Element("html", {})
    return Page(url, status, codec, "", (), blocks, (), (), (), (), (), root)


def _model(
    url: str,
    status: int,
    codec: str,
    root: Element,
    parser: LexborHTMLParser,
    nodes: Mapping[int, Element],
    order: list[Element | Text],
) -> Page:
    """The page's model, in one pass over its elements in document order."""
    index = names.Index(root, order)
    elements = [n for n in order if type(n) is Element]
    forms = _forms(elements, index)
    owner = {element: form for form in forms for element in form.elements}
    title_element: Element | None = None
    body: Element | None = None
    headings: list[str] = []
    controls: list[Control] = []
    buttons: list[Button] = []
    links: list[Link] = []
    images: list[Element] = []
    for e in elements:
        tag = e.tag
        if tag == "title":
            title_element = title_element or e
        elif tag == "body":
            body = body or e
        if (
            (tag in HEADINGS or e.attrs.get("role") == "heading")
            and not _hidden(e)
            and (text := e.text(alt=True))
        ):
            headings.append(text)
        if tag not in FORM_TAGS and tag not in ("a", "area", "img"):
            continue
        kind = e.get("type").lower() or ("submit" if tag == "button" else "text")
        if (tag == "button" and kind in ("submit", "button")) or (tag == "input" and kind in BUTTON_TYPES):
            buttons.append(Button(e, names.button_name(e, index), owner.get(e)))
        elif tag in ("input", "select", "textarea") and not (tag == "input" and kind in NOT_FILLED):
            if tag == "input" and kind == "hidden":
                continue
            kind = tag if tag != "input" else kind
            controls.append(
                Control(e, kind, e.get("name"), names.control_name(e, index), owner.get(e), index)
            )
        elif tag in ("a", "area") and e.has("href"):
            links.append(Link(e, names.link_name(e, index), e.get("href").strip()))
        elif tag == "img" and e.get("src"):
            images.append(e)
    title = " ".join(render(title_element, hidden=True)) if title_element is not None else ""
    return Page(
        url,
        status,
        codec,
        title,
        tuple(headings),
        tuple((body or root).lines()),
        tuple(forms),
        tuple(controls),
        tuple(buttons),
        tuple(links),
        tuple(images),
        root,
        parser,
        nodes,
    )


def _hidden(element: Element) -> bool:
    return element.hidden or any(a.hidden for a in element.ancestors())


def _forms(elements: Sequence[Element], index: names.Index) -> list[Form]:
    """Each form with the elements it owns: its descendants, and any element elsewhere whose
    ``form`` attribute names it (HTML's form owner). ``elements``: the page's, in document order."""
    forms = [e for e in elements if e.tag == "form"]
    owned: dict[Element, list[Element]] = {f: [] for f in forms}
    for e in elements if forms else ():
        if e.tag not in FORM_TAGS:
            continue
        named = index.ids.get(e.get("form")) if e.get("form") else None
        form = named if named is not None and named.tag == "form" else e.ancestor("form")
        if form is not None and form in owned:
            owned[form].append(e)
    return [
        Form(
            f,
            f.get("action"),
            (f.get("method") or "get").upper()
            if (f.get("method") or "get").lower() in ("get", "post")
            else "GET",
            f.get("enctype").lower() or "application/x-www-form-urlencoded",
            f.get("accept-charset"),
            tuple(owned[f]),
        )
        for f in forms
    ]


def form_data(
    form: Form, submitter: Button | None, fill: Mapping[Element, str], ticks: Mapping[Element, bool]
) -> list[tuple[str, str]]:
    """The form data set a browser sends (HTML's "constructing the entry list"): every named,
    enabled control with its value, the filled ones replaced, the checkboxes as ticked, and the
    button that was clicked."""
    entries: list[tuple[str, str]] = []
    for e in form.elements:
        name = e.get("name")
        kind = e.get("type").lower()
        if disabled(e):
            continue
        if e.tag == "button" or (e.tag == "input" and kind in NOT_FILLED):
            if submitter is not None and e is submitter.element and name:
                if kind == "image":
                    entries += [(f"{name}.x", "0"), (f"{name}.y", "0")]
                else:
                    entries.append((name, e.get("value")))
            continue
        if not name:
            continue
        if e.tag == "input" and kind in ("checkbox", "radio"):
            if ticks.get(e, e.has("checked")):
                entries.append((name, e.get("value") if e.has("value") else "on"))
        elif e.tag == "select":
            entries += [(name, value) for value in _selected(e)]
        elif e in fill:
            entries.append((name, fill[e]))
        elif e.tag == "textarea":
            entries.append((name, "".join(t.value for t in e.children if not isinstance(t, Element))))
        else:
            entries.append((name, e.get("value")))
    return entries


def disabled(element: Element) -> bool:
    return element.has("disabled") or any(
        a.tag == "fieldset" and a.has("disabled") for a in element.ancestors()
    )


def _selected(select: Element) -> Sequence[str]:
    options = [o for o in select.iter() if o.tag == "option" and not o.has("disabled")]
    chosen = [o for o in options if o.has("selected")]
    if not chosen and options and not select.has("multiple"):
        chosen = options[:1]
    return [o.get("value") if o.has("value") else " ".join(o.lines()) for o in chosen]
