"""What a control, button or link is called: its accessible name, as browsers compute it.

A person finds the code field by the words next to it, and so do Playwright's ``getByLabel``
and ``getByRole``: the driver follows the same rules (W3C Accessible Name Computation and
HTML-AAM, simplified), so a portal that labels its fields properly is read without a site map.

- **A form control**: ``aria-labelledby``, then ``aria-label``, then its ``<label>`` elements
  (``<label for=id>`` and a wrapping ``<label>``), then ``title``, then ``placeholder``.
- **A button**: ``aria-labelledby``, ``aria-label``, then its content (``<button>``), its
  ``value`` (``<input type=submit>``) or ``alt`` (``<input type=image>``), then ``title``.
- **A link**: ``aria-labelledby``, ``aria-label``, its content (images by their ``alt``), ``title``.

Pages written before accessibility was a habit label fields by layout instead, so a control
also has *context* names, tried only after no control's own name matched: the header cell of
its table row (``<th>`` in the same ``<tr>``) or, failing that, of its column; the ``<dt>``
of its ``<dd>``; and the text right before it (with no other control in between).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property

from ninsho.conformance.drivers.html.tree import BLOCKS, Element, Text

CONTROLS = frozenset(("input", "select", "textarea", "button"))
LOOK_BACK = 200  # how many nodes back "the text right before" may be


class Index:
    """The lookups names need: elements by id, labels by ``for``, and document order."""

    def __init__(self, root: Element, order: Sequence[Element | Text] | None = None) -> None:
        """``order``: every node under ``root`` in document order, when the caller has it."""
        self.ids: dict[str, Element] = {}
        self.labels_for: dict[str, list[Element]] = {}
        self.order: Sequence[Element | Text] = order if order is not None else _document_order(root)
        for node in self.order:
            if type(node) is Element and node.attrs:
                if name := node.attrs.get("id"):
                    self.ids.setdefault(name, node)
                if node.tag == "label" and (target := node.attrs.get("for")):
                    self.labels_for.setdefault(target, []).append(node)

    @cached_property
    def position(self) -> dict[Element, int]:
        """Each element's place in :attr:`order`: only "the text right before" needs it."""
        return {node: at for at, node in enumerate(self.order) if type(node) is Element}


def _document_order(root: Element) -> list[Element | Text]:
    order: list[Element | Text] = []
    stack: list[Element | Text] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Element):
            stack.extend(reversed(node.children))
        order.append(node)
    return order


def _labelledby(element: Element, index: Index) -> str:
    texts = [
        index.ids[i].text(alt=True, hidden=True)
        for i in element.get("aria-labelledby").split()
        if i in index.ids
    ]
    return "\n".join(t for t in texts if t)


def _labels(element: Element, index: Index) -> Iterator[Element]:
    if element.get("id"):
        yield from index.labels_for.get(element.get("id"), [])
    wrapping = element.ancestor("label")
    if wrapping is not None and (not wrapping.get("for") or wrapping.get("for") == element.get("id")):
        yield wrapping


def control_name(element: Element, index: Index) -> str:
    """The accessible name of an input, select or textarea."""
    named = _labelledby(element, index) or element.get("aria-label").strip()
    if named:
        return named
    seen: list[Element] = []
    for label in _labels(element, index):
        if label not in seen:
            seen.append(label)
    from_labels = "\n".join(t for label in seen if (t := label.text(alt=True)))
    return from_labels or element.get("title").strip() or element.get("placeholder").strip()


def button_name(element: Element, index: Index) -> str:
    """The accessible name of a button (``<button>``, ``<input type=submit|image|button>``)."""
    named = _labelledby(element, index) or element.get("aria-label").strip()
    if named:
        return named
    if element.tag == "button":
        content = element.text(alt=True)
    elif element.get("type").lower() == "image":
        content = element.get("alt") or element.get("value")
    else:
        content = element.get("value") if element.has("value") else _default_label(element)
    return content or element.get("title").strip()


def _default_label(element: Element) -> str:
    return {"submit": "Submit", "reset": "Reset"}.get(element.get("type").lower(), "")


def link_name(element: Element, index: Index) -> str:
    """The accessible name of a link (``<a href>``)."""
    named = _labelledby(element, index) or element.get("aria-label").strip()
    return named or element.text(alt=True) or element.get("title").strip()


def context_names(element: Element, index: Index) -> tuple[str, ...]:
    """The names layout gives a control (see the module's docstring), best first."""
    found = [row_header(element), column_header(element), term(element), text_before(element, index)]
    return tuple(dict.fromkeys(name for name in found if name))


def _cells(row: Element) -> list[Element]:
    return [c for c in row.children if isinstance(c, Element) and c.tag in ("td", "th")]


def row_header(element: Element) -> str:
    """The last ``<th>`` before the control's cell in its row."""
    cell = element.ancestor("td", "th")
    row = cell.parent if cell is not None else None
    if cell is None or row is None or row.tag != "tr":
        return ""
    before = _cells(row)[: _cells(row).index(cell)]
    header = next((c for c in reversed(before) if c.tag == "th"), None)
    return header.text(alt=True) if header is not None else ""


def _column(row: Element, cell: Element) -> int:
    column = 0
    for c in _cells(row):
        if c is cell:
            return column
        column += max(1, _int(c.get("colspan")))
    return column


def _int(text: str) -> int:
    return int(text) if text.strip().isdigit() else 1


def _rows(table: Element) -> list[Element]:
    """The table's own rows (not those of a table inside it), the header rows first."""
    rows = [r for r in table.iter() if r.tag == "tr" and r.ancestor("table") is table]
    return sorted(rows, key=lambda r: 0 if r.parent is not None and r.parent.tag == "thead" else 1)


def column_header(element: Element) -> str:
    """The ``<th>`` of the control's column, for a row with no header of its own."""
    cell = element.ancestor("td", "th")
    row = cell.parent if cell is not None else None
    table = row.ancestor("table") if row is not None else None
    if cell is None or row is None or table is None or any(c.tag == "th" for c in _cells(row)):
        return ""
    wanted = _column(row, cell)
    for header_row in _rows(table):
        if header_row is row or not any(c.tag == "th" for c in _cells(header_row)):
            continue
        for candidate in _cells(header_row):
            start = _column(header_row, candidate)
            if start <= wanted < start + max(1, _int(candidate.get("colspan"))):
                return candidate.text(alt=True) if candidate.tag == "th" else ""
        return ""
    return ""


def term(element: Element) -> str:
    """The ``<dt>`` of the ``<dd>`` the control is in."""
    dd = element.ancestor("dd")
    if dd is None or dd.parent is None:
        return ""
    siblings = [c for c in dd.parent.children if isinstance(c, Element)]
    for sibling in reversed(siblings[: siblings.index(dd)]):
        if sibling.tag == "dt":
            return sibling.text(alt=True)
    return ""


def text_before(element: Element, index: Index) -> str:
    """The line of text right before the control: back in document order to the first block
    boundary after some text, giving up at another control or at the start of its form, table
    row or list item."""
    at = index.position.get(element)
    if at is None:
        return ""
    pieces: list[str] = []
    ancestors = set(element.ancestors())
    for node in _backwards(index.order, at, LOOK_BACK):
        if isinstance(node, Text):
            if not any(a.hidden for a in node.parent.ancestors()) and not node.parent.hidden:
                pieces.append(node.value)
            continue
        if node in ancestors and node.tag in ("form", "tr", "dd", "li"):
            break  # not out of its form, table row or list item
        if node.tag in CONTROLS and not node.hidden:
            if "".join(pieces).strip():
                break  # text belongs to us only up to the previous control
            return ""
        if (node.tag in BLOCKS or node.tag in ("br", "td", "th")) and "".join(pieces).strip():
            break
    return " ".join("".join(reversed(pieces)).split())


def _backwards(order: Sequence[Element | Text], at: int, limit: int) -> Iterator[Element | Text]:
    for i in range(at - 1, max(-1, at - 1 - limit), -1):
        yield order[i]
