"""What a browser sends for a text typed (or pasted) into a field: HTML's value sanitization.

A browser does not send every character a person types. An ``<input type=text>`` cannot hold a
line break: its value sanitization algorithm strips CR and LF (HTML Living Standard,
§4.10.5.1.2 "Text (type=text) state and Search state (type=search)"; the same for ``tel`` and
``password``); an ``<input type=email>`` also strips leading and trailing ASCII white space, a
``url`` one leading and trailing C0 controls and spaces, and a ``number`` one sends nothing
unless the value is a number. A ``<textarea>`` keeps line breaks and sends each as CR LF.

So the driver sends what a browser sends, and when that is not what a check asked it to type,
the check's case cannot reach the portal through its page at all: the driver says so
(:func:`unsendable`) instead of sending something else under the case's name, or sending bytes no
browser would.
"""

from __future__ import annotations

import re

from ninsho.conformance.drivers.html.page import Control

_NEWLINES = re.compile("[\r\n]")
_ASCII_WHITE_SPACE = "\t\n\f\r "
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_LONE_BREAK = re.compile(r"\r(?!\n)|(?<!\r)\n")
STRIPS_NEWLINES = frozenset(("text", "search", "tel", "password", "url", "email"))


def submitted(control: Control, typed: str) -> str:
    """The value a browser submits for ``typed`` in ``control`` (see the module's docstring)."""
    kind = control.kind
    if kind == "textarea":
        return _LONE_BREAK.sub("\r\n", typed)
    if kind == "number":
        return typed if _FLOAT.fullmatch(typed) else ""
    if kind not in STRIPS_NEWLINES:
        kind = "text"  # an unknown type is the text state
    value = _NEWLINES.sub("", typed)
    if kind == "email":
        value = value.strip(_ASCII_WHITE_SPACE)
    elif kind == "url":
        value = value.strip(_C0_OR_SPACE)
    return value


def unsendable(control: Control, typed: str) -> str | None:
    """Why ``typed`` cannot be sent as it is through ``control``, or None when it can."""
    sent = submitted(control, typed)
    if sent == typed:
        return None
    what = "a text area" if control.kind == "textarea" else f"an input of type {control.kind}"
    rule = {
        "textarea": "sends each line break as CR LF",
        "number": "sends nothing that is not a number",
        "email": "strips line breaks, and ASCII white space at the ends, from its value",
        "url": "strips line breaks, and control characters and spaces at the ends, from its value",
    }.get(control.kind, "strips line breaks from its value")
    return (
        f"the field «{control.label or ' / '.join(control.context) or control.name}» is {what}, from which"
        f" a browser {rule} (HTML, value sanitization): the portal cannot receive {typed!r} from its page;"
        f" a browser would send {sent!r}"
    )
