"""What ``ninsho discover`` does on each screen: look for a thing by its default name, and
when the name does not find it, find it by what it is and write down what it is called.

A thing the defaults name is left alone (the draft holds only what differs). A thing found by
what it is (the password field of a form, the button of the field's form, the only text field
of a form) is written with its accessible name, and a note saying it was guessed. A thing not
found at all is a gap: the key to fill in and what was looked for, and the walk stops where it
cannot go on (:class:`Stop`).

Refusals are provoked on purpose (a wrong password, a wrong code, a blocked domain…): the
message is read as the driver reads it (the error box, else the 4xx page, else the line new on
the same screen), and written under the class the walk expected only when the defaults do not
already put it there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn
from urllib.parse import urlsplit

import httpx

from ninsho.conformance.drivers.html.browser import Browser
from ninsho.conformance.drivers.html.draft import Draft, Value
from ninsho.conformance.drivers.html.navigation import Navigation
from ninsho.conformance.drivers.html.page import Button, Control, Link, Page, bilingual, disabled
from ninsho.conformance.drivers.html.sitemap import without_codes
from ninsho.conformance.drivers.html.tree import Element

TEXT_KINDS = frozenset(("text", "email", "tel", "search", "number", "url"))
GUESSED = "not named as the defaults name it: found by what it is, review it"


class Stop(Exception):
    """The walk cannot go on along this flow; the gap is in the draft already."""


class Walk(Navigation):
    """A browser that learns the site map as it goes (see the module's docstring)."""

    def __init__(self, new_client: Callable[[], httpx.Client], root_url: str, draft: Draft) -> None:
        self.new_client = new_client
        self.root_url = root_url
        self.draft = draft
        self.site = draft.site()
        self.browser = Browser(new_client(), self.site)

    # --- the draft -------------------------------------------------------------------------
    def learn(self, key: str, value: Value, note: str) -> None:
        self.draft.set(key, value, note)
        self._reload()

    def learn_refusal(self, error: str, text: str, note: str) -> None:
        self.draft.add(f"refusals.{error}", text, note)
        self._reload()

    def gap(self, key: str, what: str, *, stop: bool = False) -> None:
        if stop:
            self.stop_at(key, what)
        self.draft.miss(key, what)

    def stop_at(self, key: str, what: str) -> NoReturn:
        """A gap the walk cannot go on past."""
        self.draft.miss(key, what)
        raise Stop(f"{key}: {what}")

    def _reload(self) -> None:
        self.site = self.draft.site()
        self.browser.site = self.site

    def _not_reached(self, action: str, page: Page, what: str, keys: Sequence[str]) -> Exception:
        self.draft.miss(keys[0], f"{action}: {where(page)} shows no {what}")
        return Stop(f"{action}: no {what}")

    # --- where things are ------------------------------------------------------------------
    def relative(self, url: str) -> str:
        """An address relative to the portal's base URL, as the site map's paths are."""
        if url.startswith(self.root_url):
            return url[len(self.root_url) :]
        parts = urlsplit(url)
        return parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")

    def place(self, page: Page, name: str) -> None:
        """The screen ``name`` is on view: learn its heading when the defaults do not place it."""
        if self._is(page, name):
            return
        heading = page.headings[0] if page.headings else page.title
        if not heading:
            self.gap(f"screens.{name}.heading", f"{where(page)} has no heading or title to recognise it by")
            return
        self.learn(f"screens.{name}.heading", heading, f"the {name} screen: seen on {where(page)}")

    def named(
        self,
        page: Page,
        key: str,
        candidates: Sequence[Control],
        what: str,
    ) -> Control:
        """The control ``key`` names, or else the first of ``candidates`` (learning its name)."""
        found = page.field(self.site[key])
        if found is not None:
            return found
        for control in candidates:
            name = control.label or next(iter(control.context), "")
            if name:
                self.draft.also(key, name, f"{what} on {where(page)}: {GUESSED}")
                self._reload()
                return control
        self.stop_at(key, f"{where(page)} shows no {what}")

    def button_of(self, page: Page, key: str, control: Control | None, what: str) -> Button:
        """The button ``key`` names in ``control``'s form, or else the form's only one."""
        form = control.form if control is not None else None
        found = page.button(self.site[key], form)
        if found is not None:
            return found
        own = [b for b in page.buttons if form is None or b.form is form]
        if len(own) == 1 and own[0].label:
            self.draft.also(key, own[0].label, f"{what} on {where(page)}: {GUESSED}")
            self._reload()
            return own[0]
        self.stop_at(key, f"{where(page)} shows no {what} ({len(own)} buttons in its form)")

    def link_for(self, page: Page, key: str, what: str, *, stop: bool = True) -> Link | Button | None:
        """The link (or menu entry) ``key`` names, on this screen or behind the menu."""
        found = self._find(page, key)
        if found is None and key.startswith(("menu.", "links.")) and key != "menu.open":
            opener = self._find(page, "menu.open")
            if opener is not None:
                found = self._find(self._go("discover", opener), key)
                if found is None:
                    self._back("discover", page)
        if found is None:
            self.gap(key, f"{where(page)} shows no {what} (nor its menu)", stop=stop)
        return found

    # --- what a screen says ----------------------------------------------------------------
    def said(self, page: Page, before: Page | None) -> str | None:
        """The message of an answer, as the driver finds it, without codes shown beside it."""
        boxes = [bilingual(e) for e in page.select(self.site.boxes["error"])]
        for ja, en in boxes:
            if ja or en:
                return without_codes(" / ".join(p for p in (ja, en) if p))
        shown = set(before.blocks) if before is not None else set()
        furniture = {page.title, *page.headings}
        new = [b for b in page.blocks if b not in shown and b not in furniture]
        same = before is not None and (self._screen(page) is self._screen(before) or page.url == before.url)
        if new and (page.status >= 400 or same):
            return without_codes(new[0])
        return None

    def expect_refusal(self, page: Page, before: Page | None, error: str, what: str) -> None:
        """After ``what``, a message of class ``error``: learnt when the defaults class it otherwise."""
        message = self.said(page, before)
        if message is None:
            self.gap(f"refusals.{error}", f"after {what}, {where(page)} showed no message (boxes.error?)")
            return
        found = self.site.classify(message)
        if found is not None and found.error == error:
            return
        read = f" (the defaults read it as {found.error})" if found is not None else ""
        self.learn_refusal(error, message, f"after {what}, seen on {where(page)}{read}")

    # --- acting ----------------------------------------------------------------------------
    def open(self, address: str) -> Page:
        return self.browser.open("discover", address)

    def submit(
        self, button: Button, fill: Mapping[Element, str], ticks: Mapping[Element, bool] | None = None
    ) -> Page:
        return self.browser.submit("discover", button, fill, ticks)

    def go(self, target: Link | Button) -> Page:
        return self._go("discover", target)


def where(page: Page) -> str:
    """A screen as the notes name it: its heading, and its address without host or port."""
    parts = urlsplit(page.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"«{page.heading or page.title or 'untitled'}» ({path})"


def text_fields(page: Page, form: object | None = None) -> list[Control]:
    """The fields one types a line into, in the page's order (of ``form``, when given): not one
    that is ``disabled`` or ``readonly``, which is how a page shows a value (allauth's current
    address, its app's secret)."""
    return [
        c
        for c in page.controls
        if c.kind in TEXT_KINDS
        and (form is None or c.form is form)
        and not (disabled(c.element) or c.element.has("readonly"))
    ]


def code_like(page: Page) -> list[Control]:
    """The fields that look made for a code: marked one-time-code or numeric, else any text field."""
    marked = [
        c
        for c in text_fields(page)
        if c.element.get("autocomplete") == "one-time-code" or c.element.get("inputmode") == "numeric"
    ]
    return marked or text_fields(page)


def label_before(line: str, value: str) -> str:
    """The text a line shows before ``value`` ("登録済みのアドレス: a***@x" → "登録済みのアドレス")."""
    head = line[: line.find(value)] if value in line else ""
    return re.sub(r"[\s:：]+$", "", head).strip()
