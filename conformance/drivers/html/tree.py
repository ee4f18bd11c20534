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
_SPACES = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\b", re.IGNORECASE)


@dataclass(eq=False)
class Text:
    """A text node."""

    value: str
    parent: Element


@dataclass(eq=False)
class Element:
    """An element: its tag (lower case), attributes, parent and children (elements and texts)."""

    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element | Text] = field(default_factory=list)

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
            stack.extend(c for c in reversed(node.children) if isinstance(c, Element))

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
        return (
            self.tag in NEVER_RENDERED
            or self.has("hidden")
            or bool(_HIDDEN_STYLE.search(self.get("style")))
            or (self.tag == "input" and self.get("type").lower() == "hidden")
        )

    def own_text(self) -> str:
        return " ".join(c.value for c in self.children if isinstance(c, Text)).strip()

    def lines(self, *, alt: bool = False, hidden: bool = False) -> list[str]:
        """The rendered text, one entry a line (see the module's docstring). ``alt`` adds the
        ``alt`` of images (as a name computed from content does); ``hidden`` keeps what is
        not rendered (as ``aria-labelledby`` does)."""
        return render(self, alt=alt, hidden=hidden)

    def text(self, *, alt: bool = False, hidden: bool = False) -> str:
        return "\n".join(self.lines(alt=alt, hidden=hidden))


def render(root: Element, *, alt: bool = False, hidden: bool = False) -> list[str]:
    out: list[str] = []
    # (node, entering): an element is visited on the way in and on the way out.
    stack: list[tuple[Element | Text, bool, bool]] = [(root, True, False)]
    while stack:
        node, entering, pre = stack.pop()
        if isinstance(node, Text):
            out.append(node.value if pre else _SPACES.sub(" ", node.value))
            continue
        if not entering:
            if node.tag in BLOCKS:
                out.append("\n")
            elif node.tag in CELLS:
                out.append(" ")
            continue
        if node is not root and node.tag in NEVER_RENDERED:
            continue
        if node is not root and node.hidden and not hidden:
            continue
        if node.tag == "br":
            out.append("\n")
        elif node.tag == "img" and alt:
            out.append(node.get("alt"))
        elif _shows_value(node):
            out.append(f" {node.get('value')} ")
        if node.tag in BLOCKS:
            out.append("\n")
        in_pre = pre or node.tag in ("pre", "textarea", "listing")
        stack.append((node, False, pre))
        stack.extend((child, True, in_pre) for child in reversed(node.children))
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
    parser = LexborHTMLParser(html)
    top = parser.root
    root = Element("html", {})
    by_node: dict[int, Element] = {}
    if top is None:
        return root, parser, by_node
    root.attrs = _attrs(top)
    by_node[top.mem_id] = root
    stack: list[tuple[LexborNode, Element]] = [(top, root)]
    while stack:
        node, into = stack.pop()
        child = node.child
        while child is not None:
            if child.is_element_node:
                element = Element((child.tag or "").lower(), _attrs(child), into)
                into.children.append(element)
                by_node[child.mem_id] = element
                stack.append((child, element))
            elif child.is_text_node:
                into.children.append(Text(child.text_content or "", into))
            child = child.next
    return root, parser, by_node


def _attrs(node: LexborNode) -> dict[str, str]:
    return {name.lower(): value if value is not None else "" for name, value in node.attributes.items()}
