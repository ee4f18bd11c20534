"""``ninsho discover PORTAL.toml --output site.toml``: a draft of a portal's site map, for review.

A site map says what the html driver cannot know of a portal: the names it gives its fields,
screens and messages where they are not the manuals', the addresses it types. Writing one by
hand means reading every screen; this walks them instead, with one test account (the first of
the pool, or one the admin API creates) and the mailbox, along the manuals' flows:

1. the login screen, a wrong password, the password;
2. the settings (email-change.en.txt ①–⑧): the Mail tab, "Confirm" with nothing sent, a blocked
   and an invalid address, the account's own address, a wrong code and the mailed one; whether
   the portal's address, signed in, leads back to the settings. Settings split over pages
   (django-allauth's) are found behind the links of the page the password led to;
3. the App tab (app-reset.en.txt ⑩–⑪): the QR code and the manual key, a wrong code, the right one;
4. Logout, then the second factor: the settings opened before it, a wrong app code, the email
   login with the mailed code;
5. Initialize and the reset page (app-reset.en.txt ⑤–⑧): a wrong confirmation code, the mailed
   one, which puts the account back in its starting state;
6. on the test clock, a session left idle.

On each screen a thing is looked for by its default name, and only what the defaults do not
find is written, with a comment saying where it was seen; what could not be found at all is a
comment naming the key to fill in (:mod:`.walk`). The file loads as it is: ``ninsho check
portal.toml --site-map site.toml``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pyotp

from ninsho.conformance import actions
from ninsho.conformance.config import PortalConfig
from ninsho.conformance.config import load as load_config
from ninsho.conformance.drivers.html import qr, reading
from ninsho.conformance.drivers.html.connection import HtmlConnection
from ninsho.conformance.drivers.html.draft import Draft
from ninsho.conformance.drivers.html.page import Button, Control, Link, Page
from ninsho.conformance.drivers.html.walk import (
    GUESSED,
    Stop,
    Walk,
    code_like,
    label_before,
    text_fields,
    where,
)
from ninsho.conformance.errors import ConfigError, HarnessError, MailTimeout
from ninsho.conformance.helpdesk import Helpdesk
from ninsho.conformance.interfaces import Account
from ninsho.spec.errors import SpecError
from ninsho.spec.registry import load_profile

EXIT_OK, EXIT_USAGE, EXIT_CONFIG, EXIT_ERROR = 0, 2, 4, 6
INVALID_ADDRESS = "discover.not-an-address"  # no "@": invalid by any reading (spec §13 step 4)
NOT_PROVOKED = ("account_locked", "csrf_rejected", "invalid_input", "rate_limited")
_ADDRESS = re.compile(r"\S*@\S+")
MAX_LINKS_TRIED = 12  # from a signed-in page with no field, looking for the address (allauth: 1)


class Discovery(Walk):
    """The walk of the module's docstring, on one account."""

    def __init__(
        self,
        connection: HtmlConnection,
        account: Account,
        helpdesk: Helpdesk | None,
        show: Callable[[str], None] = lambda _: None,
    ) -> None:
        super().__init__(connection.new_client, connection.root_url, Draft())
        self.show = show  # each exchange, as the walk goes
        self.profile = connection.profile
        self.mailbox = connection.mailbox
        self.clock = connection.clock
        self.account = account
        self.address = account.address or ""
        self.helpdesk = helpdesk
        self.walked: list[str] = []
        self.not_provoked = list(NOT_PROVOKED)  # refusal classes the walk did not see
        self.holds_factor = False  # the account may hold a factor the walk registered
        self.totp: pyotp.TOTP | None = None  # the app the walk registered
        self.top: Page | None = None  # the page the password led to, where settings are split
        self.password = account.password  # for a screen that asks it again (navigation)

    # --- the walk --------------------------------------------------------------------------
    def run(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("the login screen and a wrong password", self.wrong_password),
            ("the settings and their Mail tab", self.settings),
            ("the App tab", self.app_tab),
            ("the second factor", self.second_factor),
            ("Initialize and the reset page", self.reset),
            ("a session left idle", self.session_expiry),
        ]
        for number, (name, step) in enumerate(steps):
            self.show(f"-- {name}")
            try:
                step()
            except Stop as stop:
                rest = ", ".join(n for n, _ in steps[number + 1 :]) or "nothing"
                self.gap("(walk)", f"stopped at {name}: {stop}; not walked: {rest}")
                return
            except MailTimeout as exc:
                self.gap(
                    "(walk)",
                    f"stopped at {name}: no mail came ({exc}); check [mailbox] and the portal's relay",
                )
                return
            except HarnessError as exc:  # a page that cannot be read, a 5xx: what was found is kept
                self.gap("(walk)", f"stopped at {name}: {exc.reason()}")
                return
            finally:
                for exchange in self.browser.take_evidence():
                    line = f"   {exchange.request} -> {exchange.response}"
                    self.show(line.replace(self.account.password, "***") if self.account.password else line)
            self.walked.append(name)

    def sign_in(self, password: str | None = None) -> tuple[Page, Page]:
        """The login screen (in a browser with no session left) and the answer to the password."""
        self.browser.restart()
        before = self.open(self.site.start)
        if not any(c.kind == "password" for c in before.controls):
            self.gap(
                "site.start",
                f"the portal's address leads to {where(before)}, which has no password field:"
                " give the address of the login screen",
                stop=True,
            )
        self.place(before, "login")
        user, secret, button = self.credentials(before)
        fill = {user.element: self.account.login_id, secret.element: password or self.account.password}
        return before, self.submit(button, fill)

    def credentials(self, page: Page) -> tuple[Control, Control, Button]:
        passwords = [c for c in page.controls if c.kind == "password"]
        secret = self.named(page, "fields.password", passwords, "password field")
        user = self.named(page, "fields.login_id", text_fields(page, secret.form), "ECS-ID/SPS-ID field")
        return user, secret, self.button_of(page, "buttons.login", secret, "«Login» button")

    def at_second_factor(self, page: Page) -> bool:
        return self._stage_of(page) == "first_factor" or self._find(page, "links.setup") is not None

    def wrong_password(self) -> None:
        before, page = self.sign_in(self.account.password + "-not-this-one")
        self.expect_refusal(page, before, "authentication_failed", "a wrong password")

    # --- the settings ----------------------------------------------------------------------
    def settings(self) -> None:
        _, page = self.sign_in()
        if self.at_second_factor(page):  # not in its starting state: put it back first
            self.holds_factor = True
            self.reset_from(page)
            _, page = self.sign_in()
        if not self._is(page, "settings") and self._offers_menu(page):
            self.place(page, "home")
            entry = self.link_for(page, "menu.settings", "«One Time Password Settings» in the menu")
            assert entry is not None
            page = self.go(entry)
        if not self._is(page, "settings"):
            if not text_fields(page):
                page = self.address_behind_a_link(page)
            self.place(page, "settings")
        self.settings_path(page)
        self.mail_tab(page)

    def address_behind_a_link(self, signed_in: Page) -> Page:
        """The settings of a portal that splits them over pages (django-allauth's: a page of its
        own for the address, one for the app): after the password a page with no field, and no
        menu by the defaults' names. The first page one of its links leads to that shows an
        address field is the settings, that link the menu's way there, and the page it left the
        top page."""
        found = self.behind_a_link((signed_in,), lambda page: bool(self.address_guesses(page)))
        if found is None:
            self.stop_at(
                "screens.settings.heading",
                f"after the password a fresh account reached {where(signed_in)}, which shows no field,"
                " and none of its links leads to an address field: name the settings screen (or"
                " menu.settings, the link to it)",
            )
        link, page = found
        self.top = signed_in
        self.place(signed_in, "home")
        self.learn(
            "menu.settings",
            link.label,
            f"after the password {where(signed_in)} shows no field; its link «{link.label}» leads to"
            f" the address field on {where(page)}",
        )
        return page

    def behind_a_link(
        self, starts: Sequence[Page], shows: Callable[[Page], bool]
    ) -> tuple[Link, Page] | None:
        """The first link, of the pages ``starts`` in turn, to a page of the portal's own that
        ``shows`` holds of, in the pages' order; Back after each (at most MAX_LINKS_TRIED). A
        page that asks the password again, alone, is a screen before a change (allauth's
        "Confirm Access"): learnt as ``screens.reauthenticate`` and passed as a person does. A
        login screen means the link signed out: the search ends there."""
        seen = {start.url for start in starts}
        for start in starts:
            origin = urlsplit(start.url)[:2]
            for link in start.links:
                url = urljoin(start.url, link.href)
                if (
                    not link.label
                    or url in seen
                    or urlsplit(url)[:2] != origin
                    or len(seen) > MAX_LINKS_TRIED
                ):
                    continue
                seen.add(url)
                self._back("discover", start)
                page = self.go(link)
                if self.asks_password_again(page):
                    self.reauthenticate(page)
                    page = self._reauthenticated("discover", page)
                if shows(page):
                    return link, page
                if self._is(page, "login") or self.credentials_asked(page):
                    return None
        return None

    def reauthenticate(self, page: Page) -> None:
        """Learn the screen that asks the password again (it has a stage, which no default says)."""
        if "reauthenticate" in self.site.screens and self._is(page, "reauthenticate"):
            return
        note = f"the password asked again before a change, seen on {where(page)} (docs/html-driver.md)"
        self.draft.set("screens.reauthenticate.stage", "signed_in", note)
        self.draft.set(
            "screens.reauthenticate.heading", page.headings[0] if page.headings else page.title, note
        )
        self._reload()

    def asks_password_again(self, page: Page) -> bool:
        """One password field and no other to type into, signed in."""
        passwords = [c for c in page.controls if c.kind == "password"]
        return len(passwords) == 1 and not any(c.kind != "password" for c in text_fields(page))

    def credentials_asked(self, page: Page) -> bool:
        """A login screen the defaults do not name: a password field beside a text field."""
        passwords = [c for c in page.controls if c.kind == "password"]
        return len(passwords) == 1 and any(c.kind != "password" for c in text_fields(page))

    def settings_path(self, settings: Page) -> None:
        """Signed in, does the portal's address lead back? A login screen there would read as
        signed out, so the settings' own address is written."""
        again = self.open(self.site.start)
        if self._is(again, "login") and any(c.kind == "password" for c in again.controls):
            self.learn(
                "screens.settings.path",
                self.relative(settings.url),
                "signed in, the portal's address shows the login screen again (which would read as"
                f" signed out): the settings are typed at their own address, seen on {where(settings)}",
            )
        self._back("discover", settings)

    def address_guesses(self, page: Page) -> list[Control]:
        """Fields that say they take an address: ``type=email``, or an ``autocomplete`` of one."""
        return [c for c in text_fields(page) if c.kind == "email" or "mail" in c.element.get("autocomplete")]

    def address_form(self, page: Page) -> tuple[Control, Button]:
        guesses = self.address_guesses(page)
        address = self.named(page, "fields.address", guesses or text_fields(page)[:1], "address field")
        return address, self.button_of(page, "buttons.send_otp", address, "«Send One-Time Password» button")

    def code_form(self, page: Page, field_key: str, button_key: str, what: str) -> tuple[Control, Button]:
        field = self.named(page, field_key, self.code_guesses(page), "one-time password field")
        return field, self.button_of(page, button_key, field, what)

    def mail_tab(self, settings: Page) -> None:
        page = settings
        if page.field(self.site["fields.address"]) is None and self._find(page, "links.mail_tab") is not None:
            tab = self.link_for(page, "links.mail_tab", "link to the Mail tab")
            assert tab is not None
            page = self.go(tab)
        digits = self.profile.email_otp_digits
        if self.asks_for_a_code(page):
            field, confirm = self.code_form(page, "fields.otp", "buttons.confirm", "«Confirm» button")
            answer = self.submit(confirm, {field.element: "1" * digits})
            self.expect_refusal(answer, page, "nothing_pending", "«Confirm» with no code sent")
            page = self.again(answer, page, "fields.address")
        else:  # the code is asked for once one is sent (django-allauth too): nothing to confirm
            self.not_provoked.append("nothing_pending")
        for typed, error, what in (
            (f"discover@{self.profile.email_blocked_domains[0]}", "blocked_address", "a blocked domain"),
            (INVALID_ADDRESS, "invalid_address", "an invalid address"),
        ):
            address, send = self.address_form(page)
            answer = self.submit(send, {address.element: typed})
            if answer.field(self.site["fields.address"]) is None and self.code_guesses(answer):
                self.gap(
                    f"refusals.{error}",
                    f"the portal took {what} ({typed!r}): {where(answer)} asks for its code, so there"
                    " was no refusal to learn (the checks will judge the rule)",
                )
            else:
                self.expect_refusal(answer, page, error, what)
            page = self.again(answer, page, "fields.address")
        address, send = self.address_form(page)
        since = self.clock.now()
        page = self.submit(send, {address.element: self.address})
        self.sent_notice(page)
        code = actions.mailed_code(self.mailbox, self.address, self.profile.mail_subject_otp, since, digits)
        field, confirm = self.code_form(page, "fields.otp", "buttons.confirm", "«Confirm» button")
        answer = self.submit(confirm, {field.element: actions.wrong_mailed_code(code)})
        self.expect_refusal(answer, page, "code_rejected", "a wrong one-time password on the Mail tab")
        page = self.again(answer, page, "fields.otp")
        field, confirm = self.code_form(page, "fields.otp", "buttons.confirm", "«Confirm» button")
        page = self.submit(confirm, {field.element: code})
        self.holds_factor = True
        if not self._is(page, "settings") and self._find(page, "menu.settings") is not None:
            # The answer is another page (allauth's top page, saying "You have confirmed …"): the
            # address is looked for where the settings show it for good, not in a passing notice.
            entry = self.link_for(page, "menu.settings", "«One Time Password Settings» in the menu")
            assert entry is not None
            page = self.go(entry)
        self.registered_label(page)

    def asks_for_a_code(self, page: Page) -> bool:
        """Whether the Mail tab shows a field for a code before any is sent: the manuals show one
        beside the address (email-change.en.txt ④–⑤); a portal may show it only on the answer to
        «Send One-Time Password»."""
        return page.field(self.site["fields.otp"]) is not None or bool(self.code_guesses(page))

    def code_guesses(self, page: Page) -> list[Control]:
        """The fields that may be for a code: code-like, and not the address's (by its name, or
        by saying it takes an address, before the walk has learnt its name)."""
        ours = [page.field(self.site["fields.address"]), *self.address_guesses(page)]
        return [c for c in code_like(page) if all(c is not o for o in ours)]

    def again(self, answer: Page, before: Page, field_key: str) -> Page:
        """The screen to go on from after a refusal: the answer when it shows the form still,
        else the screen before it (as a person goes back)."""
        if answer.field(self.site[field_key]) is not None:
            return answer
        self._back("discover", before)
        return before

    def sent_notice(self, page: Page) -> None:
        if reading.notice_value(page.blocks, self.site.address.sent_notice) is not None:
            return
        line = next((b for b in page.blocks if self.address in b), None)
        if line is None:
            self.gap("address.sent_notice", f"after «Send One-Time Password», {where(page)} names no address")
            return
        self.learn(
            "address.sent_notice",
            [line.replace(self.address, "{address}")],
            f"after «Send One-Time Password», seen on {where(page)}",
        )

    def registered_label(self, page: Page) -> None:
        """What the settings show the registered address after: the driver tells set-up from
        signed in by it."""
        label = self.site.address.settings_label
        if label and reading.value_after(page.blocks, label, address=True) is not None:
            if "address.settings_label" not in self.site.declared and label.texts:
                # The default is the reference's text, which the driver trusts only once it is
                # declared or seen; declared, a settings page without it reads as the set-up
                # in any run, not only after another check happened to see it.
                self.learn(
                    "address.settings_label",
                    list(label.texts) if len(label.texts) > 1 else label.texts[0],
                    f"the defaults' text, seen before the registered address on {where(page)}: declared,"
                    " so that settings which do not show it read as the initial set-up",
                )
            return
        notice = self.site.address.sent_notice
        for i, block in enumerate(page.blocks):
            if reading.notice_value([block], notice) is not None:
                continue
            for token in _ADDRESS.findall(block):
                shown = token.strip("「」()（）\"'.,。、")
                if shown == self.address or reading.mask_fits(shown, self.address, self.site.address.mask):
                    name = label_before(block, token) or (page.blocks[i - 1] if i else "")
                    if name:
                        self.learn(
                            "address.settings_label",
                            name,
                            f"the text before the registered address ({'masked' if shown != self.address else 'in full'}),"
                            f" seen on {where(page)}",
                        )
                        return
        self.gap(
            "address.settings_label",
            f"after «Confirm», {where(page)} shows the registered address nowhere: name the text it is shown"
            " after, or a text only the initial set-up shows (screens.settings.setup_text)",
        )

    # --- the App tab -----------------------------------------------------------------------
    def app_tab(self) -> None:
        page = self._current()
        what = "link to the App tab (or capabilities.app_registration = false)"
        tab = (
            self.link_for(page, "links.app_tab", what)
            if self.top is None
            else self._find(page, "links.app_tab")
        )
        if tab is not None:
            page = self.go(tab)
        else:  # settings split over pages: the QR code is behind a link of theirs, or of the top page's
            starts = (page,) if self.top is None else (page, self.top)
            found = self.behind_a_link(starts, self.shows_qr)
            if found is None:
                self.stop_at("links.app_tab", f"no link of {where(page)} leads to a QR code")
            tab, page = found
            self.learn("links.app_tab", tab.label, f"the link that leads to the QR code on {where(page)}")
        field, register = self.code_form(page, "fields.otp", "buttons.register", "«Register» button")
        uri = self.qr_uri(page)
        key = qr.manual_key(page.blocks, self.site["texts.manual_key"].within)
        secret = pyotp.parse_uri(uri).secret if uri else None
        if key is None:
            key = self.manual_key(page, secret)
        if secret is None and key is None:
            self.gap(
                "texts.manual_key",
                f"the App tab {where(page)} shows no readable QR code and no key",
                stop=True,
            )
        p = self.profile
        totp = (
            pyotp.parse_uri(uri) if uri else pyotp.TOTP(re.sub(r"[\s=-]", "", str(key)), digits=p.totp_digits)
        )
        assert isinstance(totp, pyotp.TOTP)
        step = actions.step_at(p, self.clock.now())
        answer = self.submit(register, {field.element: actions.wrong_code(totp, step)})
        self.expect_refusal(answer, page, "code_rejected", "a wrong code on the App tab")
        page = self.again(answer, page, "fields.otp")  # the same QR code (never a new visit)
        field, register = self.code_form(page, "fields.otp", "buttons.register", "«Register» button")
        self.submit(register, {field.element: totp.at(self.clock.now())})
        self.totp = totp

    def shows_qr(self, page: Page) -> bool:
        return self.qr_uri(page) is not None

    def qr_uri(self, page: Page) -> str | None:
        for image in page.images:
            src = image.get("src")
            texts, _ = qr.read_qr(
                qr.image_bytes(src, lambda s: self.browser.fetch("discover", urljoin(page.url, s)))
            )
            found = next((t for t in texts if t.startswith("otpauth://")), None)
            if found is not None:
                return found
        return None

    def manual_key(self, page: Page, secret: str | None) -> str | None:
        """The key under a heading the defaults do not know: the line showing the QR code's secret."""
        for i, block in enumerate(page.blocks):
            squashed = re.sub(r"[\s-]", "", block)
            if secret and secret.rstrip("=") in squashed:
                start = next(
                    (m.start() for m in re.finditer(r"[A-Z2-7]{4}", block) if secret.startswith(m.group())), 0
                )
                name = label_before(block, block[start:]) or (page.blocks[i - 1] if i else "")
                if name:
                    self.learn(
                        "texts.manual_key", name, f"the text above the manual key, seen on {where(page)}"
                    )
                    return block[start:]
        self.gap(
            "texts.manual_key",
            f"the App tab {where(page)} shows the QR code's key nowhere a person could type it from",
        )
        return None

    # --- the second factor -----------------------------------------------------------------
    def second_factor(self) -> None:
        self.log_out()
        _, page = self.sign_in()
        if not self.at_second_factor(page) and self.code_guesses(page):
            self.tell_from_the_top(page)
        if not self.at_second_factor(page):
            screen = self._screen(page)
            reads_as = (
                f", which asks for a code but reads as screens.{screen.name}: tell them apart by a line"
                " only the second-factor screen shows (screens.mfa_app.text)"
                if screen is not None and self.code_guesses(page)
                else ""
            )
            self.gap(
                "screens.mfa_app.heading",
                f"with a factor registered the password led to {where(page)}{reads_as}: name the"
                " second-factor screen",
                stop=True,
            )
        if self._stage_of(page) != "first_factor":
            self.place(page, "mfa_app")
        self.settings_too_early(page)
        field, login = self.code_form(page, "fields.otp", "buttons.login", "«Login» button")
        if not [c for c in page.fields(self.site["fields.trust_browser"]) if c.kind == "checkbox"]:
            boxes = [c for c in page.controls if c.kind == "checkbox" and c.form is field.form]
            if len(boxes) == 1 and (boxes[0].label or boxes[0].context):
                name = boxes[0].label or boxes[0].context[0]
                self.learn("fields.trust_browser", name, f"the checkbox of {where(page)}: {GUESSED}")
            else:
                self.gap(
                    "fields.trust_browser",
                    f"{where(page)} shows no «Trust this browser» checkbox (or set capabilities.trust_browser = false)",
                )
        wrong = (
            actions.wrong_code(self.totp, actions.step_at(self.profile, self.clock.now()))
            if self.totp
            else ""
        )
        answer = self.submit(login, {field.element: wrong or "0" * self.profile.totp_digits})
        self.expect_refusal(answer, page, "code_rejected", "a wrong one-time password at the second factor")
        page = answer if self.at_second_factor(answer) else page
        link = self.link_for(
            page,
            "links.email_login",
            "link to the email login (or capabilities.email_login = false)",
            stop=False,
        )
        if link is None:
            return
        page = self.go(link)
        self.place(page, "mfa_email")
        send = page.button(self.site["buttons.send_otp"])
        if send is None:
            self.gap("buttons.send_otp", f"{where(page)} shows no «Send One-Time Password» button", stop=True)
        assert send is not None
        since = self.clock.now()
        page = self.submit(send, {})
        p = self.profile
        code = actions.mailed_code(self.mailbox, self.address, p.mail_subject_otp, since, p.email_otp_digits)
        field, login = self.code_form(page, "fields.otp", "buttons.login", "«Login» button")
        page = self.submit(login, {field.element: code})
        if self._screen(page) is None and self._offers_menu(page):
            self.place(page, "home")

    def tell_from_the_top(self, mfa: Page) -> None:
        """A second-factor screen that reads as the top page (allauth's two share the heading
        "Two-Factor Authentication"): learnt by its first line of text that the top page does
        not show and that names no link, button or field; then it reads as the second factor."""
        top = self.top
        if top is None or self._screen(mfa) is not self._screen(top):
            return
        furniture = {
            mfa.title,
            *mfa.headings,
            *(a.label for a in mfa.links),
            *(b.label for b in mfa.buttons),
            *(c.label for c in mfa.controls),
        }
        line = next((b for b in mfa.blocks if b not in furniture and b not in top.blocks), None)
        if line is not None:
            self.learn(
                "screens.mfa_app.text",
                line,
                f"a line of the second-factor screen {where(mfa)} that the top page, of the same"
                f" heading, does not show ({where(top)})",
            )

    def settings_too_early(self, mfa: Page) -> None:
        """The settings' address before the second factor: the refusal a check will meet."""
        seen = self.open(self.site.screens["settings"].path or self.site.start)
        if self._is(seen, "settings"):
            self.gap(
                "(portal)",
                f"the settings opened before the second factor ({where(seen)}): the suite will FAIL SECOND_FACTOR_REQUIRED",
            )
        elif not self._is(seen, "login") and self._stage_of(seen) != "first_factor":
            self.expect_refusal(seen, None, "not_permitted", "the settings opened before the second factor")
        self._back("discover", mfa)

    def log_out(self) -> None:
        page = self.browser.page
        if page is None:
            return
        target = self.link_for(page, "menu.logout", "«Logout» (in the menu)", stop=False)
        if target is None:
            self.browser.restart()
            return
        self.go(target)

    # --- reset -----------------------------------------------------------------------------
    def reset(self) -> None:
        self.log_out()
        _, page = self.sign_in()
        if not self.at_second_factor(page):
            self.gap("links.setup", f"with a factor registered the password led to {where(page)}", stop=True)
        self.reset_from(page)

    def reset_from(self, mfa: Page) -> None:
        link = self.link_for(mfa, "links.setup", "link to the set-up login (or capabilities.reset = false)")
        assert link is not None
        again = self.go(link)
        user, secret, button = self.credentials(again)
        page = self.submit(
            button, {user.element: self.account.login_id, secret.element: self.account.password}
        )
        self.place(page, "initialize")
        initialize = self.button_of(page, "buttons.initialize", None, "«Initialize» button")
        since = self.clock.now()
        page = self.submit(initialize, {})
        self.place(page, "reset")
        shown = self.reset_texts(page)
        field, confirm = self.code_form(page, "fields.confirm_code", "buttons.confirm", "«Confirm» button")
        if page.button(self.site["buttons.resend"]) is None:
            self.gap("buttons.resend", f"{where(page)} shows no «Resend» button")
        p = self.profile
        if shown == p.reset_placeholder_address:
            code = self.helpdesk_code()
        else:
            code = actions.mailed_code(
                self.mailbox, self.address, p.mail_subject_reset, since, p.confirmation_code_digits
            )
        answer = self.submit(confirm, {field.element: actions.wrong_mailed_code(code)})
        self.expect_refusal(answer, page, "code_rejected", "a wrong confirmation code")
        page = self.again(answer, page, "fields.confirm_code")
        field, confirm = self.code_form(page, "fields.confirm_code", "buttons.confirm", "«Confirm» button")
        done = self.submit(confirm, {field.element: code})
        if done.status < 400 and not done.select(self.site.boxes["error"]):
            self.holds_factor = False
            self.totp = None

    def reset_texts(self, page: Page) -> str | None:
        """The login ID and the (masked) address the reset page shows, by their labels."""
        login_id = reading.value_after(page.blocks, self.site["texts.reset_login_id"])
        if login_id != self.account.login_id:
            self.learn_after(page, "texts.reset_login_id", self.account.login_id, "the login ID")
        shown = reading.value_after(page.blocks, self.site["texts.reset_address"], address=True)
        if shown is None:
            token = next(
                (
                    t
                    for b in page.blocks
                    for t in _ADDRESS.findall(b)
                    if "*" in t or t == self.profile.reset_placeholder_address
                ),
                None,
            )
            if token is not None:
                self.learn_after(page, "texts.reset_address", token, "the (masked) address")
                shown = token
            else:
                self.gap("texts.reset_address", f"{where(page)} shows no (masked) address")
        return shown

    def learn_after(self, page: Page, key: str, value: str, what: str) -> None:
        for i, block in enumerate(page.blocks):
            if value in block.split() or block.endswith(value):
                name = label_before(block, value) or (page.blocks[i - 1] if i else "")
                if name:
                    self.learn(key, name, f"the text before {what}, seen on {where(page)}")
                    return
        self.gap(key, f"{where(page)} shows {what} after no text the walk could tell")

    def helpdesk_code(self) -> str:
        if self.helpdesk is None:
            self.gap(
                "[operator] command", "the account has no address: the reset needs the helpdesk", stop=True
            )
        assert self.helpdesk is not None
        issued = self.helpdesk.helpdesk_code(self.account.login_id)
        if not issued.ok:
            self.gap("[operator] command", f"the helpdesk refused a code: {issued.message_en}", stop=True)
        return str(issued.data.get("code", ""))

    # --- sessions --------------------------------------------------------------------------
    def session_expiry(self) -> None:
        if self.clock.kind != "test-clock":
            self.gap("(walk)", "session expiry not walked: it needs the test clock ([clock] mode)")
            return
        self.sign_in()
        self.clock.advance(self.profile.session_idle_seconds + 1.0)
        seen = self.open(self.site.screens["settings"].path or self.site.start)
        if not self._is(seen, "login"):
            self.expect_refusal(seen, None, "session_expired", "a session left idle for session.idle_seconds")


# --- the command ---------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ninsho discover",
        description="Walk a page-only portal's screens with a test account and draft the html driver's"
        " site map: only what differs from the defaults, with comments saying where each value was"
        " seen and which keys could not be found.",
    )
    p.add_argument(
        "portal", type=Path, help="portal config (TOML): the test account, mailbox and clock to use"
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("site.toml"),
        help="the site map to write (default site.toml)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("-v", "--verbose", action="store_true", help="print every request of the walk")
    return p


def account_for(connection: HtmlConnection) -> tuple[Account, Helpdesk | None]:
    """The pool's first account (discover runs alone), or one the admin API creates."""
    pool = connection.pool
    if pool is not None:
        return pool.accounts[0], pool.parts.helpdesk
    operator = connection.operator
    return operator.new_account(), operator


def discover(
    config: PortalConfig,
    output: Path,
    say: Callable[[str], None],
    show: Callable[[str], None] = lambda _: None,
) -> Draft:
    """Walk the portal of ``config`` and write the draft to ``output``."""
    config = replace(config, html_site_map=None, html_selectors={})  # from the defaults
    connection = HtmlConnection(config, load_profile(config.profile))
    try:
        account, helpdesk = account_for(connection)
        walk = Discovery(connection, account, helpdesk, show)
        say(f"discover: walking {config.base_url} as {account.login_id}")
        walk.run()
        if walk.holds_factor:
            walk.gap("(account)", f"{account.login_id} may still hold a factor the walk registered: reset it")
        output.write_text(walk.draft.toml(header(config, walk)), encoding="utf-8")
        return walk.draft
    finally:
        connection.close()


def header(config: PortalConfig, walk: Discovery) -> str:
    walked = "; ".join(walk.walked) or "nothing"
    return (
        f"The html driver's site map for the portal of {Path(config.source).name}, drafted by `ninsho discover`.\n"
        "Only what differs from the defaults (conformance/drivers/html/default_site.toml) is set, each\n"
        "key after a note saying where it was seen: review them, then name this file in the portal\n"
        "config ([html] site_map) or give it to `ninsho check --site-map`.\n"
        f"Walked: {walked}.\n"
        "Not provoked (add their messages under [refusals] if a run meets them unclassed):"
        f" {', '.join(sorted(walk.not_provoked))}."
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    say: Callable[[str], None] = (
        (lambda _: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    )
    try:
        config = load_config(args.portal)
        if not config.base_url:
            raise ConfigError("portal.base_url", "is required: discover walks a deployed portal's pages")
        draft = discover(config, args.output, say, say if args.verbose else lambda _: None)
    except (ConfigError, SpecError) as exc:
        print(f"ninsho discover: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except HarnessError as exc:
        print(f"ninsho discover: {exc.reason()}", file=sys.stderr)
        return EXIT_ERROR
    say(
        f"discover: wrote {args.output}: {len(draft.found)} keys differ from the defaults, {len(draft.missing)} not found"
    )
    for key, what in draft.missing:
        say(f"  not found: {key}: {what}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
