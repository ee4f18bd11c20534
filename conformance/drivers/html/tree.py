"""The document tree of a page, and its text as a person reads it.

The tree is built by a real HTML5 parser (selectolax's lexbor engine, which follows the WHATWG
tree-construction rules, as browsers do) and copied into plain Python objects, so the rest of
the driver walks simple data and the parser can be changed in one place. The copy is iterative:
a page nested ten thousand deep is read, not a RecursionError.

The text follows ``innerText``: block boxes (``<p>``, ``<div>``, ``<header>``, ``<main>``,
table rows, …) and ``<br>`` end a line, table cells in a row are separated by a space, and what
is never rendered (``<script>``, ``<style>``, ``<template>``, ``hidden``, ``display:none``)
is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

BLOCKS = frozenset(
    (
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li",
        "listing", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table",
        "tbody", "tfoot", "thead", "tr", "ul", "xmp", "option", "optgroup",
    )
)  # fmt: skip
NEVER_RENDERED = frozenset(("script", "style", "template", "head", "noembed", "noframes", "datalist"))
CELLS = frozenset(("td", "th"))
PRE = frozenset(("pre", "textarea", "listing"))  # their white space is kept
_SPACES = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\b", re.IGNORECASE)


@dataclass(eq=False, slots=True)
class Text:
    """A text node."""

    value: str
    parent: Element


@dataclass(eq=False, slots=True)
class Element:
    """An element: its tag (lower case), attributes, parent and children (elements and texts).
    A page's tree is not changed once built, so :attr:`hidden` is worked out once."""

    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element | Text] = field(default_factory=list)
    _hidden: bool | None = field(default=None, repr=False)

    def get(self, name: str) -> str:
        return self.attrs.get(name, "")

    def has(self, name: str) -> bool:
        return name in self.attrs

    def iter(self) -> Iterator[Element]:
        """This element and every element under it, in document order."""
        stack: list[Element] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend([c for c in reversed(node.children) if type(c) is Element])

    def ancestor(self, *tags: str) -> Element | None:
        node = self.parent
        while node is not None and node.tag not in tags:
            node = node.parent
        return node

    def ancestors(self) -> Iterator[Element]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    @property
    def hidden(self) -> bool:
        """Not rendered whatever the style sheet says: ``hidden``, an inline ``display:none``,
        a hidden input, or an element that is never rendered."""
        if self._hidden is None:
            self._hidden = (
                self.tag in NEVER_RENDERED
                or "hidden" in self.attrs
                or bool(_HIDDEN_STYLE.search(self.attrs.get("style", "")))
                or (self.tag == "input" and self.attrs.get("type", "").lower() == "hidden")
            )
        return self._hidden

    def own_text(self) -> str:
        return " ".join(c.value for c in self.children if isinstance(c, Text)).strip()

    def lines(self, *, alt: bool = False, hidden: bool = False) -> list[str]:
        """The rendered text, one entry a line (see the module's docstring). ``alt`` adds the
        ``alt`` of images (as a name computed from content does); ``hidden`` keeps what is
        not rendered (as ``aria-labelledby`` does)."""
        return render(self, alt=alt, hidden=hidden)

    def text(self, *, alt: bool = False, hidden: bool = False) -> str:
        return "\n".join(self.lines(alt=alt, hidden=hidden))


_LEAVE = object()  # on the stack after an element's children: its end


def render(root: Element, *, alt: bool = False, hidden: bool = False) -> list[str]:
    children = root.children
    if len(children) == 1 and type(children[0]) is Text and root.tag not in PRE:
        # One text and nothing else (most links, buttons, headings and titles): one line.
        squashed = " ".join(children[0].value.split())
        return [squashed] if squashed else []
    out: list[str] = []
    emit = out.append
    space = _SPACES.sub
    # Entries: a node to enter, or (_LEAVE, element) for the end of one; ``pre`` holds inside
    # <pre>, <textarea> and <listing> (their white space is kept), until the end that set it.
    stack: list[object] = [root]
    pre_until: Element | None = None
    while stack:
        node = stack.pop()
        if type(node) is tuple:
            element = node[1]
            if element is pre_until:
                pre_until = None
            if element.tag in BLOCKS:
                emit("\n")
            elif element.tag in CELLS:
                emit(" ")
            continue
        if type(node) is Text:
            emit(node.value if pre_until is not None else space(" ", node.value))
            continue
        assert isinstance(node, Element)
        tag = node.tag
        if node is not root and (tag in NEVER_RENDERED or (not hidden and node.hidden)):
            continue
        if tag == "br":
            emit("\n")
        elif tag == "img" and alt:
            emit(node.attrs.get("alt", ""))
        elif tag == "input" and _shows_value(node):
            emit(f" {node.get('value')} ")
        if tag in BLOCKS:
            emit("\n")
        if pre_until is None and tag in PRE:
            pre_until = node
        stack.append((_LEAVE, node))
        if node.children:
            stack.extend(reversed(node.children))
    lines = ("".join(out)).split("\n")
    return [squashed for line in lines if (squashed := " ".join(line.split()))]


def _shows_value(node: Element) -> bool:
    """A text field no one can type into (``disabled`` or ``readonly``) is how a page shows a
    value, the registered address or a key: a person reads it as text on the page."""
    kind = (node.get("type") or "text").lower()
    return (
        node.tag == "input"
        and kind in ("text", "email", "search", "tel", "url")
        and (node.has("disabled") or node.has("readonly"))
        and bool(node.get("value").strip())
    )


def build(html: str) -> tuple[Element, LexborHTMLParser, dict[int, Element]]:
    """Parse ``html`` as a browser does; the root element, the parser (for CSS selectors) and
    the map from the parser's nodes to ours."""
    root, parser, by_node, _ = build_ordered(html)
    return root, parser, by_node


def build_ordered(html: str) -> tuple[Element, LexborHTMLParser, dict[int, Element], list[Element | Text]]:
    """:func:`build`, with every node of the tree in document order (elements and texts), so
    that the page model reads the tree in one pass instead of walking it again per question."""
    parser = LexborHTMLParser(html)
    top = parser.root
    root = Element("html", {})
    by_node: dict[int, Element] = {}
    order: list[Element | Text] = [root]
    if top is None:
        return root, parser, by_node, order
    root.attrs = _attrs(top)
    by_node[top.mem_id] = root
    # The parser's own walk, in document order: each node's parent is already built.
    walk = top.traverse(include_text=True)
    next(walk)  # the root itself
    for node in walk:
        parent = node.parent
        into = by_node[parent.mem_id] if parent is not None else root
        if node.is_element_node:
            element = Element((node.tag or "").lower(), _attrs(node), into)
            into.children.append(element)
            by_node[node.mem_id] = element
            order.append(element)
        elif node.is_text_node:
            text = Text(node.text_content or "", into)
            into.children.append(text)
            order.append(text)
    return root, parser, by_node, order


def _attrs(node: LexborNode) -> dict[str, str]:
    attributes = node.attributes
    if not attributes:
        return {}
    return {name.lower(): value if value is not None else "" for name, value in attributes.items()}
