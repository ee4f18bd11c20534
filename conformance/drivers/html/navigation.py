"""The way between a portal's screens: which screen is shown, and how a person gets to another.

A person places a screen by its heading or title, finds a link or a menu entry by its name, and
gets to what an action needs through the "☰" menu and the manuals' links; where no link leads,
they type the screen's address (the site map's ``screens.<name>.path``) or the portal's. Having
seen a refusal after going somewhere (the settings, before the second factor), they go back to
the screen they came from, as a browser's Back button does, and carry on from there.

:class:`Navigation` is the half of :class:`~.driver.HtmlDriver` that does this; the driver adds
the user actions and how a refusal is read (:meth:`Navigation._not_reached`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from ninsho.conformance.drivers.html.browser import Browser
from ninsho.conformance.drivers.html.page import Button, Control, Link, Page, bilingual
from ninsho.conformance.drivers.html.sitemap import Screen, SiteMap
from ninsho.conformance.interfaces import DriverError

Found = TypeVar("Found")
MENU_KEYS = frozenset(("menu.settings", "menu.logout", "links.mail_tab", "links.app_tab"))


class Navigation:
    """Reading which screen is shown, and going from one to another (see the module's docstring)."""

    browser: Browser
    site: SiteMap
    password: str | None = None  # the account's, for a screen that asks for it again

    def _not_reached(self, action: str, page: Page, what: str, keys: Sequence[str]) -> Exception:
        """What an action whose screen cannot be reached raises: the portal's refusal when the
        screen says why, else the driver's limit (the driver knows how refusals read)."""
        raise NotImplementedError

    # --- reading a screen ------------------------------------------------------------------
    def _shows(self, page: Page, screen: Screen) -> bool:
        return bool(
            (screen.heading and any(screen.heading(h) for h in page.headings))
            or (screen.title and screen.title(page.title))
            or (screen.text and page.has_block(screen.text))
        )

    def _screen(self, page: Page | None) -> Screen | None:
        if page is None:
            return None
        return next((s for s in self.site.screens.values() if self._shows(page, s)), None)

    def _stage_of(self, page: Page) -> str | None:
        screen = self._screen(page)
        return screen.stage if screen is not None else None

    def _is(self, page: Page | None, name: str) -> bool:
        return page is not None and self._shows(page, self.site.screens[name])

    def _find(self, page: Page | None, key: str) -> Link | Button | None:
        """A link (or a button: a menu may be a form) named by a site-map key."""
        if page is None:
            return None
        wording = self.site[key]
        link = page.link(wording)
        if link is not None and _navigable(link):
            return link
        return page.button(wording) if key.startswith("menu.") else None

    def _offers_menu(self, page: Page) -> bool:
        """Signed in, by what a person sees: the menu, its settings entry or its logout."""
        return any(self._find(page, key) is not None for key in ("menu.open", "menu.settings", "menu.logout"))

    def _messages(self, page: Page, box: str) -> list[tuple[str, str]]:
        found = [bilingual(e) for e in page.select(self.site.boxes[box])]
        return [(ja, en) for ja, en in found if ja or en]

    def _missing(self, action: str, page: Page, what: str, keys: Sequence[str]) -> DriverError:
        return DriverError(
            f"{action}: not on this screen: {page.where()} shows no {what}; the site map's"
            f" {', '.join(keys)} would name it"
        )

    # --- navigation ------------------------------------------------------------------------
    def _current(self) -> Page:
        page = self.browser.page
        if page is None:
            raise DriverError("no page is on screen")
        return page

    def _go(self, action: str, target: Link | Button) -> Page:
        if isinstance(target, Link):
            return self._reauthenticated(action, self.browser.follow(action, target))
        return self._reauthenticated(action, self.browser.submit(action, target, {}))

    def _reauthenticated(self, action: str, page: Page) -> Page:
        """Past a screen that asks for the password again before a change ("Confirm Access",
        sudo mode; ``screens.reauthenticate``, which no manual shows): a person types the
        password they logged in with and presses ``buttons.confirm``, and the portal goes on
        to where they were going."""
        screen = self.site.screens.get("reauthenticate")
        if screen is None or self.password is None or not self._shows(page, screen):
            return page
        control = page.field(self.site["fields.password"])
        button = page.button(self.site["buttons.confirm"], control.form) if control is not None else None
        if control is None or button is None:
            raise self._missing(
                action, page, "password field with Confirm", ("fields.password", "buttons.confirm")
            )
        return self.browser.submit(action, button, {control.element: self.password})

    def _via(self, action: str, key: str) -> bool:
        """Follow the link a site-map key names; when a menu entry or a settings tab is not on
        the screen, open the menu (☰, where it leads to a page of its own) and look there.
        False: nowhere to be seen."""
        page = self.browser.page
        target = self._find(page, key)
        if target is None and key in MENU_KEYS:
            opener = self._find(page, "menu.open")
            if opener is None:
                return False
            target = self._find(self._go(action, opener), key)
        if target is None:
            return False
        self._go(action, target)
        return True

    def _start(self, action: str) -> Page:
        return self.browser.open(action, self.site.start)

    def _reach(
        self,
        action: str,
        want: Callable[[Page], Found | None],
        via: Sequence[str],
        what: str,
        keys: Sequence[str],
        *,
        new_visit: bool = False,
    ) -> Found:
        """What an action needs, on this screen or the first one ``via`` leads to: ``links.*``
        and ``menu.*`` keys are followed, ``screens.<name>`` typed as that screen's path (when it
        has one), ``start`` typed as the portal's address."""
        page = first = self.browser.page or self._start(action)
        found = None if new_visit else want(page)
        for step in via:
            if found is not None:
                return found
            if step == "start":
                self._start(action)
            elif step.startswith("screens."):
                path = self.site.screens[step.split(".", 1)[1]].path
                if not path:
                    continue
                self._reauthenticated(action, self.browser.open(action, path))
            elif not self._via(action, step):
                continue
            found = want(self._current())
        if found is not None:
            return found
        if self._current() is not first:
            what += f" (from {first.where()})"
        raise self._not_reached(action, self._current(), what, keys)

    def _field_and_button(
        self, field_key: str, button_key: str
    ) -> Callable[[Page], tuple[Control, Button] | None]:
        def want(page: Page) -> tuple[Control, Button] | None:
            for control in page.fields(self.site[field_key]):
                button = (
                    page.button(self.site[button_key], control.form) if control.form is not None else None
                )
                if button is not None:
                    return control, button
            return None

        return want

    def _on(self, screen: str, want: Callable[[Page], Found | None]) -> Callable[[Page], Found | None]:
        return lambda page: want(page) if self._is(page, screen) else None

    def _back(self, action: str, page: Page | None) -> None:
        """Back to ``page``, as a browser's Back button shows it again (no request is made)."""
        if page is not None and page is not self.browser.page:
            self.browser.back_to(action, page)


def _navigable(link: Link) -> bool:
    href = link.href.strip().lower()
    return bool(href) and not href.startswith("#") and not href.startswith("javascript:")
