"""The html driver: the user actions of the manuals, done on a portal's pages as a person does them.

It opens the portal's address, finds a field by its accessible name ("ワンタイムパスワード /
One-Time Password"), types, ticks "Trust this browser", clicks the button by its name ("確認 /
Confirm"), and gets to the screen an action needs the way the manuals do: through the "☰" menu
and the links ("One Time Password Settings", "Click here For Initial Setup or Setup Again").
Everything it assumes about the pages is in the site map (:mod:`.sitemap`).

What it reports is what a person reads. The stage comes from the screen reached; a refusal from
the screen's message (an error box, a 4xx page, or a message new on the same screen), classed by
the site map's refusal texts. Three rules keep the driver's limits out of the portal's verdict:

- what the driver cannot find or read is a :class:`DriverError` (ERROR) naming the screen
  (title and URL), the thing sought and the site-map key that would fix it;
- a refusal whose message no refusal class matches is such an error too, never ``refused``
  passed off as the portal's answer (a bare 4xx with no message is ``error="refused"``);
- :class:`NotSupported` (NOT_APPLICABLE) only where the site map's capabilities rule the
  action out, with that key as the reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Concatenate, ParamSpec
from urllib.parse import urljoin, urlsplit

import httpx

from ninsho.conformance.drivers.html import qr, reading, sitemap, values
from ninsho.conformance.drivers.html.browser import Browser
from ninsho.conformance.drivers.html.navigation import Navigation
from ninsho.conformance.drivers.html.page import Button, Control, Link, Page
from ninsho.conformance.drivers.html.sitemap import SiteMap, Wording
from ninsho.conformance.drivers.html.text import japanese
from ninsho.conformance.drivers.html.tree import Element
from ninsho.conformance.interfaces import Account, DriverError, NotSupported, Outcome, Provisioning

if TYPE_CHECKING:
    from ninsho.conformance.drivers.html.web import WebPages

P = ParamSpec("P")
NEEDS_SIGN_IN = frozenset(
    ("settings", "register_email", "confirm_email", "start_app_registration", "register_app")
)
# How often the driver looks again at a reset screen left open, waiting for it to go on (§19.5):
# sooner than the page's own refresh, which only sets how long a person's browser waits.
WATCH_POLL_SECONDS = 0.5
_REFRESH_URL = re.compile(
    r"^\s*\d*(?:\.\d*)?\s*[;,]?\s*(?:url\s*=\s*)?['\"]?([^'\"]*)['\"]?\s*$", re.IGNORECASE
)
RESET_REENTRY_REASON = (
    "the pages show the Confirm Code field only right after Initialize or Resend (which mail a new code);"
    " a reset login leads to Initialize, so an earlier code cannot be entered"
    " (site map: capabilities.reset_code_reentry = false)"
)


class AddressBook:
    """The addresses entered for each account, shared by all its browsers: what a masked
    display ("a0***@example.test") is matched against. And the login screen's own address,
    once the portal's address has led there: typed directly from then on, as a person's
    browser offers it, which saves every later login the portal's redirect."""

    def __init__(self) -> None:
        self._entered: dict[str, list[str]] = {}
        self.sent: dict[str, str] = {}  # the address a code was last mailed to, by account
        self.confirmed: dict[str, str] = {}  # the address last confirmed, by account
        self.label_seen = False  # the portal has shown a registered address after address.settings_label
        self.login_page: str | None = None  # the login screen's URL, learned (see _login_screen)
        self.login_page_failed = False  # it once showed no login screen: not learned again
        self.settings_page: str | None = None  # the settings screen's URL, as a browser last showed it

    def add(self, login_id: str | None, address: str | None) -> None:
        if login_id and address and address not in self._entered.setdefault(login_id, []):
            self._entered[login_id].append(address.strip())

    def candidates(self, login_id: str | None) -> list[str]:
        return list(self._entered.get(login_id or "", []))


class _Refused(Exception):
    """The portal said no before the action could be done: the action returns this outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


def _answers(
    action: Callable[Concatenate[HtmlDriver, P], Outcome],
) -> Callable[Concatenate[HtmlDriver, P], Outcome]:
    def run(self: HtmlDriver, /, *args: P.args, **kwargs: P.kwargs) -> Outcome:
        try:
            return action(self, *args, **kwargs)
        except _Refused as refused:
            return refused.outcome

    run.__name__, run.__qualname__, run.__doc__ = action.__name__, action.__qualname__, action.__doc__
    return run


class HtmlDriver(Navigation):
    """One browser on the portal's pages (see the module's docstring). ``site`` is a site map,
    or (as in earlier versions) a mapping of the old selector names."""

    name = "html"

    def __init__(
        self,
        new_client: Callable[[], httpx.Client],
        site: SiteMap | Mapping[str, str],
        book: AddressBook | None = None,
        *,
        no_address: str = "",
        clock_moves: Callable[[], int] | None = None,
    ) -> None:
        self._new_client = new_client
        # How many times the harness has let time pass on the portal (TestClock.moves): a login
        # screen that Logout showed is typed into only while no time has passed since (None:
        # never, it is always opened again).
        self._clock_moves = clock_moves
        self._after_logout: tuple[Page, int] | None = None
        # What the reset screen shows for an account with no address (the profile's
        # reset.placeholder_address, app-reset.en.txt ⑥): shown, no code was mailed.
        self.no_address = no_address
        self.site = site if isinstance(site, SiteMap) else sitemap.load(selectors=site)
        self.book = book if book is not None else AddressBook()
        self.browser = Browser(new_client(), self.site)
        self.login_id: str | None = None
        self.manual_key: str | None = None  # the key shown under "QRコードを読み込めない場合"
        self.qr_uri: str | None = None
        # What this browser knows of its session from the way it went, as a person remembers it:
        # "authenticated" once the second factor was passed (or a trusted browser's login skipped
        # it), "setup" when an untrusted login went straight past it (spec §6: only an account
        # with no factor does), None when unknown. And whether the portal trusts this browser.
        self.session: str | None = None
        self.trusted = False
        self.types_settings_address = False  # a copied session's browser (copy_session)
        # The screen that asked for the new address's code (register_email's answer), where a
        # person who looked elsewhere meanwhile goes Back to type it (confirm_email).
        self._code_asked: Page | None = None
        self._web: WebPages | None = None  # pages(), made at the first call

    def fresh(self) -> HtmlDriver:
        return HtmlDriver(
            self._new_client, self.site, self.book, no_address=self.no_address, clock_moves=self._clock_moves
        )

    def copy_session(self) -> HtmlDriver:
        """Another browser with this one's cookies as they are now, as someone who copied them
        does (interfaces.SessionCopier). It starts on no screen and, for the settings, types the
        settings' address that a browser of the run has shown: a page that routes a cookie by
        the stage it remembers (the second factor's, at the copy) would otherwise keep it from
        the settings whether or not its token still works."""
        copy = self.fresh()
        copy.browser.client.cookies = httpx.Cookies(self.client.cookies)
        copy.login_id, copy.password, copy.session = self.login_id, self.password, self.session
        copy.types_settings_address = True
        return copy

    @property
    def page(self) -> Page | None:
        return self.browser.page

    def pages(self) -> WebPages:
        """This browser as the web checks see it: its cookies, forged submissions of its forms."""
        from ninsho.conformance.drivers.html.web import WebPages

        if self._web is None:
            self._web = WebPages(self)
        return self._web

    @property
    def client(self) -> httpx.Client:
        return self.browser.client

    # --- refusals --------------------------------------------------------------------------
    def _refusal_of(self, action: str, page: Page, message: tuple[str, str], where: str) -> Outcome:
        ja, en = message
        found = self.site.classify(ja, en, f"{ja} {en}")
        if found is None:
            raise DriverError(
                f"{action}: the portal refused on {page.where()} with «{' / '.join(p for p in message if p)}»"
                f" ({where}), which no refusal class matches: add its text to the site map's refusals.<error>"
                f" ({', '.join(sitemap.ERRORS)})"
            )
        return self._done(False, page, error=found.error, message=message, field=found.field)

    def _new_lines(self, page: Page, before: Page | None) -> list[str]:
        """The lines a form's answer shows that the screen before did not: its messages, when
        the answer is the same screen again."""
        if before is None or page is before:
            return []
        screen = self._screen(page)
        if screen is not None or self._screen(before) is not None:
            same = screen is self._screen(before)
        else:  # neither placed: the same address and heading
            same = (urlsplit(page.url)[1:4], page.heading) == (urlsplit(before.url)[1:4], before.heading)
        if not same:
            return []
        shown = set(before.blocks)
        return [b for b in page.blocks if b not in shown]

    def _refusal(self, action: str, page: Page, before: Page | None = None) -> Outcome | None:
        """The portal said no: an error box, a 4xx, or a refusal new on the same screen."""
        errors = self._messages(page, "error")
        if errors:
            return self._refusal_of(action, page, errors[0], f"boxes.error {self.site.boxes['error']!r}")
        if page.status >= 400:  # the page's new lines first: the message, not the screen's furniture
            shown = set(before.blocks) if before is not None else set()
            candidates = [b for b in page.blocks if b not in shown] + [b for b in page.blocks if b in shown]
        elif self._messages(page, "notice"):
            candidates = []  # the screen says it worked: its other new lines are not a refusal
        else:
            candidates = self._new_lines(page, before)
        for line in candidates:
            found = self.site.classify(line)
            if found is not None:
                return self._done(False, page, error=found.error, message=_split(line), field=found.field)
        if page.status >= 400:
            return self._done(False, page, error="refused")
        return None

    def _signed_out(self, page: Page) -> Outcome | None:
        """Sent back to the login screen: the session ended, for the reason a notice gives."""
        if not self._is(page, "login") or page.field(self.site["fields.password"]) is None:
            return None
        notices = self._messages(page, "notice") or [("", "")]
        found = next((r for ja, en in notices if (r := self.site.classify(ja, en)) is not None), None)
        error = found.error if found is not None else "session_expired"
        return self._done(False, page, error=error, message=notices[0], field=found.field if found else None)

    def _not_reached(self, action: str, page: Page, what: str, keys: Sequence[str]) -> _Refused:
        """The screen an action needs is not there: the portal's refusal when it said why (or
        signed us out, or still asks for the second factor), else the driver's limit."""
        said = self._refusal(action, page) or self._signed_out(page)
        screen = self._screen(page)
        if said is None and screen is not None and screen.stage == "first_factor" and action in NEEDS_SIGN_IN:
            notices = self._messages(page, "notice") or [("", "")]
            said = self._done(False, page, error="not_permitted", message=notices[0])
        if said is not None:
            return _Refused(said)
        raise self._missing(action, page, what, keys)

    def _typed(self, control: Control, value: str) -> str:
        """``value`` as typed into ``control``; one a browser would not send as it is (a line
        break in an ``<input type=text>``) cannot reach the portal from its page: NOT_APPLICABLE,
        saying what a browser would send (:mod:`.values`)."""
        why = values.unsendable(control, value)
        if why is not None:
            raise NotSupported(why)
        return value

    # --- outcomes --------------------------------------------------------------------------
    def _done(
        self,
        ok: bool,
        page: Page,
        *,
        stage: str | None = None,
        error: str | None = None,
        message: tuple[str, str] = ("", ""),
        field: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> Outcome:
        details: dict[str, object] = dict(data or {}) if ok else {"field": field, "status": page.status}
        if ok and self._is(page, "settings"):
            self.book.settings_page = page.url  # where a copied session types its way (copy_session)
        return Outcome(
            ok=ok,
            stage=stage if ok else None,
            error=error,
            message_ja=message[0],
            message_en=message[1],
            data=details,
            evidence=self.browser.take_evidence(),
        )

    def _result(
        self,
        action: str,
        page: Page,
        before: Page | None,
        data: Mapping[str, object] | None = None,
        *,
        signs_in: bool = False,
        moves_on: bool = False,
        with_address: bool = False,
    ) -> Outcome:
        """After a form: refused (a message, a 4xx, signed out), else ok at the stage reached.
        ``signs_in``: the form was a second factor, so a session that goes on is signed in;
        ``moves_on``: it changes the session's stage (a factor registered, a reset confirmed),
        so what the driver remembered of it no longer holds."""
        refused = self._refusal(action, page, before) or self._signed_out(page)
        if refused is not None:
            if self._is(page, "login"):
                self.session = None
            return refused
        self.session = "authenticated" if signs_in else None if moves_on else self.session
        stage = self._stage(action, page)
        shown = self.page or page
        details = dict(data or {})
        if with_address:
            details.update(self._settings_data(action, shown))
        return self._done(True, shown, stage=stage, data=details)

    # --- stages ----------------------------------------------------------------------------
    def _stage(self, action: str, page: Page) -> str | None:
        screen = self._screen(page)
        if screen is None:
            if self._offers_menu(page):
                return self._signed_in_stage(action, page)
            raise DriverError(
                f"{action}: the portal answered with a screen the driver cannot place: {page.where()};"
                " name it in the site map (screens.<name> with a stage and a heading, title or text)"
            )
        if screen.stage == "signed_in":
            return self._signed_in_stage(action, page)
        return {"first_factor": "first_factor", "reset": "reset"}.get(screen.stage)

    def _signed_in_stage(self, action: str, page: Page) -> str:
        """Initial set-up or signed in: a set-up text; else signed in when this session passed
        the second factor (or a trusted browser's login skipped it) or the settings show a
        registered address; else set-up when the address tab shows none where the site map
        says it would."""
        if not self._is(page, "settings"):
            if not self._via(action, "menu.settings") or not self._is(self.page, "settings"):
                raise self._missing(
                    action, self.page or page, "way to the settings", ("menu.settings", "menu.open")
                )
            page = self._current()
        told = self._setup_or_not(page) or self.session
        if told is not None:
            return told
        if page.field(self.site["fields.address"]) is None and self._via(action, "links.mail_tab"):
            told = self._setup_or_not(self._current())
            if told is not None:
                return told
        raise DriverError(
            f"{action}: cannot tell the initial set-up from a signed-in session on {self._current().where()}:"
            " declare screens.settings.setup_text (a text only the set-up shows) or address.settings_label"
            " (where the settings show the registered address)"
        )

    def _setup_or_not(self, page: Page) -> str | None:
        setup = self.site.screens["settings"].setup_text
        if setup and page.has_block(setup):
            return "setup"
        if self.session == "authenticated":
            return "authenticated"
        if self._registered(page) is not None:
            self.book.label_seen = True
            return "authenticated"
        label_known = self.book.label_seen or "address.settings_label" in self.site.declared
        if label_known and page.field(self.site["fields.address"]) is not None:
            return "setup"  # the address tab, where this portal shows a registered address
        return None

    def _registered(self, page: Page) -> str | None:
        label = self.site.address.settings_label
        return reading.value_after(page.blocks, label, address=True) if label else None

    def _settings_data(self, action: str, page: Page) -> dict[str, object]:
        """The registered address: as shown when shown in full; when masked, the one address
        entered for the account that it fits (an ERROR when several fit)."""
        shown = self._registered(page)
        if shown is None:
            return {"address": None}
        display, mask = self.site.address.display, self.site.address.mask
        masked = mask.fullmatch(shown) is not None
        if display == "full" or (display == "auto" and not masked):
            return {"address": shown}
        if not masked:
            raise DriverError(
                f"{action}: the registered address «{shown}» on {page.where()} does not fit address.mask"
                f" ({mask.pattern}), and address.display is masked"
            )
        fits = [c for c in self.book.candidates(self.login_id) if reading.mask_fits(shown, c, mask)]
        last = self.book.confirmed.get(self.login_id or "")
        if len(fits) > 1 and last in fits:
            fits = [last]  # the one registered last (a mask cannot tell the others apart)
        if len(fits) > 1:
            raise DriverError(
                f"{action}: the masked address «{shown}» on {page.where()} fits {len(fits)} addresses entered"
                f" for {self.login_id} ({', '.join(fits)}): it cannot tell which is registered (address.display)"
            )
        return {"address": fits[0] if fits else shown, "address_shown": shown}

    def _methods(self, page: Page) -> list[str]:
        """The second factors the screen offers: the one it asks for, then those it links to."""
        methods = []
        if self._is(page, "mfa_app"):
            methods.append("app")
        if self._is(page, "mfa_email"):
            methods.append("email")
        if self._find(page, "links.email_login") is not None and "email" not in methods:
            methods.append("email")
        if self._find(page, "links.app_login") is not None and "app" not in methods:
            methods.append("app")
        return methods

    # --- first factor ----------------------------------------------------------------------
    def _login_screen(self, action: str) -> Page:
        """The login screen, from the portal's address; a browser still in a session is closed
        and opened again (session cookies go, "Trust this browser" stays), then logged out.

        Where the portal's address led to the login screen at a plain address of its own (same
        origin, no query), later logins type that address (:class:`AddressBook`): the screen
        is the same, without the redirect. Should it ever show no login screen, the portal's
        address is used again, and nothing is learned from then on."""
        shown = self._login_left_by_logout()
        if shown is not None:
            return shown
        configured = self.site.screens["login"].path or self.site.start
        own_path = self.site.screens["login"].path
        learned = None if own_path or self.book.login_page_failed else self.book.login_page
        if learned is not None:
            page = self._login_at(action, learned)
            if page is None:
                self.book.login_page, self.book.login_page_failed = None, True
        if learned is None or page is None:
            page = self._login_at(action, configured)
        if page is not None:
            if not self.book.login_page_failed and _plain_address(page.url, str(self.client.base_url)):
                self.book.login_page = page.url
            return page
        raise self._missing(
            action,
            self._current(),
            "login screen with a password field",
            ("screens.login", "fields.password", "site.start"),
        )

    def _login_left_by_logout(self) -> Page | None:
        """The login screen that Logout left on show, when it is still shown and no time has
        been let pass since: a person types into it rather than open it again (the requests it
        saves: benchmarks/README.md, item 7). After a wait it is opened again: a portal may refuse
        a form held through the wait (an expired token), which would be no answer about the login
        itself."""
        left, self._after_logout = self._after_logout, None
        if left is None or self._clock_moves is None:
            return None
        page, moves = left
        return page if self.browser.page is page and moves == self._clock_moves() else None

    def _login_at(self, action: str, address: str) -> Page | None:
        """The login screen with a password field at ``address``, after closing the browser and
        then logging out if a session is in the way; None when it is not there."""
        page = self.browser.open(action, address)
        for attempt in ("restart", "logout", None):
            if self._is(page, "login") and page.field(self.site["fields.password"]) is not None:
                return page
            if attempt == "restart":
                self.browser.restart()
            elif attempt == "logout":
                self._via(action, "menu.logout")  # whether or not the menu had it, open again
            elif attempt is None:
                break
            page = self.browser.open(action, address)
        return None

    def _credentials(self, action: str, page: Page, account: Account, remember: bool | None = None) -> Page:
        """ID and password typed, then Login; ``remember`` ticks (or unticks) "Remember
        ECS-ID/SPS-ID" (``None``: the box as the screen shows it)."""
        user = page.field(self.site["fields.login_id"])
        password = page.field(self.site["fields.password"])
        button = page.button(self.site["buttons.login"], password.form) if password is not None else None
        missing = [
            k
            for k, v in (("fields.login_id", user), ("fields.password", password), ("buttons.login", button))
            if v is None
        ]
        if user is None or password is None or button is None:
            raise self._missing(action, page, "ID, password and Login", missing)
        ticks: dict[Element, bool] = {}
        if remember is not None:
            box = next(
                (c for c in page.fields(self.site["fields.remember_login_id"]) if c.kind == "checkbox"), None
            )
            if box is None:
                raise self._missing(
                    action, page, "«Remember ECS-ID/SPS-ID» checkbox", ("fields.remember_login_id",)
                )
            ticks[box.element] = remember
        return self.browser.submit(
            action,
            button,
            {
                user.element: self._typed(user, account.login_id),
                password.element: self._typed(password, account.password),
            },
            ticks,
        )

    def _after_login(self, action: str, page: Page, before: Page) -> Outcome:
        refused = self._refusal(action, page, before)
        if refused is not None:
            return refused
        if self._is(page, "login"):
            if self._new_lines(page, before):
                raise DriverError(
                    f"{action}: the login screen came back ({page.where()}) with «{' / '.join(self._new_lines(page, before))}»,"
                    " which no refusal class matches: add it to refusals.authentication_failed (or its class)"
                )
            return self._done(False, page, error="refused")
        if self._stage_of(page) not in ("first_factor", "reset", "signed_out"):
            # Straight past the second factor: trusted, or no factor registered (spec §4, §6).
            self.session = "authenticated" if self.trusted else "setup"
        stage = self._stage(action, page)
        shown = self._current()
        return self._done(
            True,
            shown,
            stage=stage,
            data={"methods": self._methods(shown)} if stage == "first_factor" else {},
        )

    @_answers
    def login(self, account: Account, *, remember: bool | None = None) -> Outcome:
        self.login_id = account.login_id
        self.password = account.password
        self.session = None
        self._code_asked = None
        before = self._login_screen("login")
        return self._after_login("login", self._credentials("login", before, account, remember), before)

    @_answers
    def login_for_setup(self, account: Account) -> Outcome:
        """Log in, click "Click here For Initial Setup or Setup Again", log in again."""
        if not self.site.capabilities["reset"]:
            raise NotSupported("the site map declares no reset (capabilities.reset = false)")
        first = self.login(account)
        if not first.ok:
            return first
        link = self._find(self.page, "links.setup")
        if link is None:
            raise self._missing(
                "login_for_setup", self._current(), "link to the set-up login", ("links.setup",)
            )
        self.browser.evidence = list(first.evidence)
        before = self._go("login_for_setup", link)
        page = self._credentials("login_for_setup", before, account)
        return self._result("login_for_setup", page, before)

    @_answers
    def open_reset_link(self, url: str, account: Account) -> Outcome:
        """The 2021 portal's reset mail (``faq-totp-reset-2021.en.txt``: the URL in the mail, then
        ID and password again): the URL opened as it is, as a mail reader opens it, and the ID
        and password typed on the screen it leads to [RESET_LINK_REQUIRES_PASSWORD]."""
        self.login_id, self.password, self.session = account.login_id, account.password, None
        before = self.browser.open("open_reset_link", url)
        if before.field(self.site["fields.password"]) is None:  # a dead link may say so at once
            refused = self._refusal("open_reset_link", before, None)
            if refused is not None:
                return refused
            raise self._missing(
                "open_reset_link", before, "a password field where the reset link leads", ("fields.password",)
            )
        page = self._credentials("open_reset_link", before, account)
        return self._result("open_reset_link", page, before, moves_on=True)

    # --- second factor ---------------------------------------------------------------------
    @property
    def logs_in_by_mail(self) -> bool:
        """The site map's ``capabilities.email_login``: the probes that need any second factor
        pass the app's instead where it is false (probes/enrol.logs_in_by_mail)."""
        return bool(self.site.capabilities["email_login"])

    @_answers
    def request_email_code(self) -> Outcome:
        if not self.site.capabilities["email_login"]:
            raise NotSupported("the site map declares no login by email (capabilities.email_login = false)")
        want = self._on("mfa_email", lambda p: p.button(self.site["buttons.send_otp"]))
        button = self._reach(
            "request_email_code",
            want,
            ("links.email_login", "screens.mfa_email"),
            "«Send One-Time Password» on the email login screen",
            ("screens.mfa_email", "links.email_login", "buttons.send_otp"),
        )
        before = self._current()
        page = self.browser.submit("request_email_code", button, {})
        address = reading.notice_value(page.blocks, self.site.address.sent_notice)
        return self._result("request_email_code", page, before, {"address": address} if address else None)

    def _second_factor(self, action: str, screen: str, via: Sequence[str], code: str, trust: bool) -> Outcome:
        shown = self.browser.page
        other = "mfa_email" if screen == "mfa_app" else "mfa_app"
        if (
            shown is not None
            and self._is(shown, other)
            and self._find(shown, via[0]) is None
            and not self.site.screens[screen].path
        ):
            # The portal asks for the other factor and offers no way to this one: it does not
            # take this factor from this account (as after a reset voided the app).
            said = f"{shown.where()} offers no {self.site[via[0]].describe()}"
            return self._done(False, shown, error="not_offered", message=("", said))
        control, button = self._reach(
            action,
            self._on(screen, self._field_and_button("fields.otp", "buttons.login")),
            via,
            "one-time password field with Login",
            (f"screens.{screen}", "fields.otp", "buttons.login", *via),
        )
        page = self._current()
        box = next((c for c in page.fields(self.site["fields.trust_browser"]) if c.kind == "checkbox"), None)
        if trust and box is None and "trust_question" not in self.site.screens:
            if not self.site.capabilities["trust_browser"]:
                raise NotSupported(
                    "the site map declares no «Trust this browser» (capabilities.trust_browser = false)"
                )
            raise self._missing(action, page, "«Trust this browser» checkbox", ("fields.trust_browser",))
        ticks: dict[Element, bool] = {box.element: trust} if box is not None else {}
        answer = self.browser.submit(action, button, {control.element: self._typed(control, code)}, ticks)
        answer = self._trust_question(action, answer, trust)
        outcome = self._result(action, answer, page, signs_in=True)
        if outcome.ok and trust:
            self.trusted = True
        if outcome.ok and outcome.stage == "first_factor":
            said = " / ".join(self._new_lines(answer, page)) or "no new message"
            raise DriverError(
                f"{action}: the portal answered the one-time password with {answer.where()} again, saying «{said}»,"
                " which no refusal class matches: add its text to the site map's refusals.<error>"
                " (refusals.code_rejected, …), or name its error box (boxes.error)"
            )
        return outcome

    def _trust_question(self, action: str, page: Page, trust: bool) -> Page:
        """ "Trust this browser?" asked on a page of its own once the code is accepted
        (``screens.trust_question``; the manuals ask with a checkbox beside the code): the button
        that answers as the check asks, ``buttons.trust`` or ``buttons.dont_trust``."""
        screen = self.site.screens.get("trust_question")
        if screen is None or not self._shows(page, screen):
            return page
        key = "buttons.trust" if trust else "buttons.dont_trust"
        button = page.button(self.site[key])
        if button is None:
            raise self._missing(action, page, "answer to «Trust this browser?»", (key,))
        return self.browser.submit(action, button, {})

    @_answers
    def submit_app_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        return self._second_factor(
            "submit_app_code", "mfa_app", ("links.app_login", "screens.mfa_app"), code, trust_browser
        )

    @_answers
    def submit_email_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        if not self.site.capabilities["email_login"]:
            raise NotSupported("the site map declares no login by email (capabilities.email_login = false)")
        via = ("links.email_login", "screens.mfa_email")
        return self._second_factor("submit_email_code", "mfa_email", via, code, trust_browser)

    # --- settings --------------------------------------------------------------------------
    def settings(self) -> Outcome:
        """The ☰ menu's "One Time Password Settings": always a new request (the menu on the
        screen, else the settings' own address or the portal's, then the menu). Refused (before
        the second factor, say), a person goes back to the screen they were on and carries on
        from there; so does the driver."""
        came_from = self.browser.page
        try:
            if self.types_settings_address and self.book.settings_page:
                return self._typed_settings("settings", self.book.settings_page)
            return self._open_settings("settings")
        except _Refused as refused:
            self._back("settings", came_from)
            refused.outcome.evidence += self.browser.take_evidence()
            return refused.outcome

    def _typed_settings(self, action: str, address: str) -> Outcome:
        page = self.browser.open(action, address)
        if not self._is(page, "settings"):
            raise self._not_reached(action, page, "settings screen", ("screens.settings",))
        return self._result(action, page, None, with_address=True)

    def _open_settings(self, action: str) -> Outcome:
        if not self._via(action, "menu.settings"):
            path = self.site.screens["settings"].path
            page = self.browser.open(action, path or self.site.start)
            if not self._is(page, "settings"):
                self._via(action, "menu.settings")
        page = self._current()
        if not self._is(page, "settings"):
            raise self._not_reached(action, page, "settings screen", ("screens.settings", "menu.settings"))
        return self._result(action, page, None, with_address=True)

    def _tab(
        self, action: str, field_key: str, button_key: str, tab: str, *, new_visit: bool = False
    ) -> tuple[Control, Button]:
        via = (tab, "menu.settings", tab, "screens.settings", tab, "start", "menu.settings", tab)
        keys = (field_key, button_key, tab, "menu.settings")
        what = f"{self.site[field_key].describe()} with {self.site[button_key].describe()}"
        return self._reach(
            action, self._field_and_button(field_key, button_key), via, what, keys, new_visit=new_visit
        )

    @_answers
    def register_email(self, address: str) -> Outcome:
        """The Mail tab: the address, then "Send One-Time Password"."""
        control, button = self._tab("register_email", "fields.address", "buttons.send_otp", "links.mail_tab")
        before = self._current()
        typed = self._typed(control, address)
        self.book.add(self.login_id, address)
        page = self.browser.submit("register_email", button, {control.element: typed})
        refused = self._refusal("register_email", page, before) or self._signed_out(page)
        if refused is not None:
            return refused
        sent_to = reading.notice_value(page.blocks, self.site.address.sent_notice)
        if sent_to is None:
            raise self._missing(
                "register_email",
                page,
                "message that the mail was sent",
                ("address.sent_notice", "boxes.error"),
            )
        self.book.add(self.login_id, sent_to)
        self.book.sent[self.login_id or ""] = sent_to
        self._code_asked = page
        return self._result("register_email", page, before, {"address": sent_to})

    @_answers
    def confirm_email(self, code: str) -> Outcome:
        """The Mail tab: the mailed one-time password, then "Confirm". A screen without the field,
        after a look elsewhere since the code was sent, is left as a person leaves it: Back to the
        screen that asked for the code (django-allauth asks on a page of its own, which its menu
        does not lead to), else through the Mail tab."""
        want = self._field_and_button("fields.otp", "buttons.confirm")
        asked = self._code_asked
        if asked is not None and want(self._current()) is None and want(asked) is not None:
            self._back("confirm_email", asked)
        control, button = self._tab("confirm_email", "fields.otp", "buttons.confirm", "links.mail_tab")
        before = self._current()
        page = self.browser.submit("confirm_email", button, {control.element: self._typed(control, code)})
        refused = self._refusal("confirm_email", page, before) or self._signed_out(page)
        if refused is not None:
            return refused
        sent = self.book.sent.get(self.login_id or "")
        if sent is not None:
            self.book.confirmed[self.login_id or ""] = sent  # the code mailed there confirmed it
        self._code_asked = None
        return self._result("confirm_email", page, before, moves_on=True, with_address=True)

    def start_app_registration(self) -> Provisioning:
        """The App tab, visited anew: the otpauth URI from the QR code, the manual key from under
        "QRコードを読み込めない場合". When they disagree both are returned as shown, so the check
        FAILs the portal; an ERROR only when neither can be read."""
        action = "start_app_registration"
        if not self.site.capabilities["app_registration"]:
            raise NotSupported(
                "the site map declares no app registration (capabilities.app_registration = false)"
            )
        try:
            self._tab(action, "fields.otp", "buttons.register", "links.app_tab", new_visit=True)
        except _Refused as refused:
            said = " / ".join(p for p in (refused.outcome.message_ja, refused.outcome.message_en) if p)
            raise DriverError(
                f"{action}: the App tab was refused: {refused.outcome.error} «{said}»"
            ) from None
        page = self._current()
        self.browser.take_evidence()
        self.qr_uri, reasons = self._qr_uri(action, page)
        self.manual_key = qr.manual_key(page.blocks, self.site["texts.manual_key"].within)
        if self.qr_uri is None and self.manual_key is None:
            raise DriverError(
                f"{action}: the App tab {page.where()} shows neither a readable QR code nor a manual key"
                f" ({'; '.join(reasons) or 'no image'}; the key is looked for under {self.site['texts.manual_key'].describe()})"
            )
        # An unreadable QR code gives an empty URI, never one made up from the manual key and
        # default parameters: the check that reads the URI then reports it, instead of passing.
        return Provisioning(self.qr_uri or "", self.manual_key or "")

    def _qr_uri(self, action: str, page: Page) -> tuple[str | None, list[str]]:
        reasons: list[str] = []
        for img in page.images:
            src = img.get("src")
            texts, why = qr.read_qr(
                qr.image_bytes(src, lambda s: self.browser.fetch(action, urljoin(page.url, s)))
            )
            uri = next((t for t in texts if t.startswith("otpauth://")), None)
            if uri is not None:
                return uri, reasons
            # not "<img …>": the report's reasons are stripped of anything that looks like a tag
            reasons.append(f"the image {src[:40]!r}: {why or 'a QR code with no otpauth URI'}")
        return None, reasons

    @_answers
    def register_app(self, code: str) -> Outcome:
        """ "Register" on the App tab just shown (never a new visit: it would show a new secret)."""
        page = self.page
        found = self._field_and_button("fields.otp", "buttons.register")(page) if page is not None else None
        if page is None or found is None:
            raise DriverError(
                "register_app: the App tab with its QR code is not on screen (start_app_registration first)"
                + (f"; on screen: {page.where()}" if page is not None else "")
            )
        control, button = found
        answer = self.browser.submit("register_app", button, {control.element: self._typed(control, code)})
        return self._result("register_app", answer, page, moves_on=True)

    # --- reset -----------------------------------------------------------------------------
    def _reset_data(self, page: Page) -> dict[str, object]:
        """The reset screen's login ID and (masked) address; ``mailed`` as the JSON binding has
        it, where the screen tells: the placeholder for no address means no code was mailed
        (the manuals: "If … is displayed above, your address … has not been set")."""
        shown = reading.value_after(page.blocks, self.site["texts.reset_address"], address=True)
        data: dict[str, object] = {
            "login_id": reading.value_after(page.blocks, self.site["texts.reset_login_id"]),
            "shown_address": shown,
        }
        if shown is not None and self.no_address:
            data["mailed"] = shown != self.no_address
        notices = self._messages(page, "notice")
        if notices:  # what the screen says was sent, as the JSON binding's ``message`` has it
            data["message"] = {"ja": notices[0][0], "en": notices[0][1]}
        return data

    def _reset_button(self, action: str, key: str) -> Outcome:
        if not self.site.capabilities["reset"]:
            raise NotSupported("the site map declares no reset (capabilities.reset = false)")
        page = self.browser.page or self._start(action)
        button = page.button(self.site[key])
        if button is None:
            raise self._not_reached(action, page, f"{self.site[key].describe()} button", (key,))
        answer = self.browser.submit(action, button, {})
        outcome = self._result(action, answer, page)
        if outcome.ok:
            outcome.data.update(self._reset_data(self._current()))
        return outcome

    @_answers
    def initialize(self) -> Outcome:
        return self._reset_button("initialize", "buttons.initialize")

    @_answers
    def resend(self) -> Outcome:
        return self._reset_button("resend", "buttons.resend")

    @_answers
    def confirm_reset(self, code: str) -> Outcome:
        if not self.site.capabilities["reset"]:
            raise NotSupported("the site map declares no reset (capabilities.reset = false)")
        want = self._field_and_button("fields.confirm_code", "buttons.confirm")
        page = self.page
        found = want(page) if page is not None else None
        reentry = self.site.capabilities["reset_code_reentry"]
        if found is None and not reentry and (page is None or self._signed_out(page) is None):
            raise NotSupported(RESET_REENTRY_REASON)
        if found is None:
            found = self._reach(
                "confirm_reset", want, ("screens.reset",), "Confirm Code field with Confirm",
                ("fields.confirm_code", "buttons.confirm", "screens.reset.path"),
            )  # fmt: skip
        control, button = found
        before = self._current()
        answer = self.browser.submit("confirm_reset", button, {control.element: self._typed(control, code)})
        outcome = self._result("confirm_reset", answer, before, moves_on=True)
        if outcome.ok:
            self.trusted = False  # a reset revokes every trusted browser (spec §9.5)
        return outcome

    @_answers
    def watch_reset_screen(self, timeout_seconds: float) -> Outcome:
        """The reset screen left open after "初期化" of an account with no address, watched as
        the page itself polls (faq-totp-reset-2021.en.txt "ICT Support Center" ②): it is loaded
        again, where its ``<meta http-equiv="refresh">`` points or else at its own address, until
        it shows the App tab's QR code (ok, stage setup, this browser left there) or
        ``timeout_seconds`` have passed on the reset screen (``error="still_waiting"``). The
        driver runs no script: a page that polls by script must also answer its own address
        with the screen its state has reached, as a page opened again does."""
        action = "watch_reset_screen"
        left = self._current()
        again = _refresh_target(left) or left.url
        deadline = time.monotonic() + timeout_seconds
        while True:
            page = self.browser.open(action, again)
            if self._field_and_button("fields.otp", "buttons.register")(page) is not None:
                uri, _ = self._qr_uri(action, page)
                self.session, self.qr_uri = "setup", uri
                return self._done(True, page, stage="setup", data={"uri": uri or ""})
            if not self._is(page, "reset"):
                said = self._refusal(action, page) or self._signed_out(page)
                if said is not None:
                    return said
                raise self._missing(
                    action, page, "QR code of the App tab, nor the reset screen still waiting",
                    ("fields.otp", "buttons.register", "screens.reset"),
                )  # fmt: skip
            if time.monotonic() >= deadline:
                waited = f"still on {page.where()} after {timeout_seconds:g} s"
                return self._done(False, page, error="still_waiting", message=("", waited))
            time.sleep(WATCH_POLL_SECONDS)

    # --- logout ----------------------------------------------------------------------------
    @_answers
    def logout(self) -> Outcome:
        """The ☰ menu's "Logout". A screen without it (the second-factor screens) cannot log out:
        refused with error="not_offered", as a person there would simply close the browser."""
        page = self.browser.page or self._start("logout")
        target = self._find(page, "menu.logout")
        opener = self._find(page, "menu.open")
        if target is None and opener is not None:
            target = self._find(self._go("logout", opener), "menu.logout")
        if target is None:
            screen = self._screen(page)
            if (screen is not None and screen.stage in ("first_factor", "signed_out")) or (
                screen is None and not self._offers_menu(page)
            ):
                return Outcome(
                    ok=False,
                    error="not_offered",
                    message_en="this screen offers no Logout",
                    evidence=self.browser.take_evidence(),
                )
            raise self._missing("logout", self._current(), "Logout", ("menu.logout", "menu.open"))
        answer = self._go("logout", target)
        confirm = answer.button(self.site["menu.logout"]) if isinstance(target, Link) else None
        if confirm is not None:
            # A Logout that asks to be confirmed ("Are you sure you want to sign out?"): the
            # page it leads to has a button of the same name, which a person presses.
            answer = self._go("logout", confirm)
        refused = self._refusal("logout", answer)
        if refused is not None:
            return refused
        screen = self._screen(answer)
        if (screen is not None and screen.stage == "signed_in") or (
            screen is None and self._offers_menu(answer)
        ):
            return self._done(
                False,
                answer,
                error="refused",
                message=("", f"still signed in after Logout: {answer.where()}"),
            )
        self.session = None
        at_login = self._is(answer, "login") and answer.field(self.site["fields.password"]) is not None
        if self._clock_moves is not None and at_login:
            self._after_logout = (answer, self._clock_moves())
        return self._done(True, answer)


def _refresh_target(page: Page) -> str | None:
    """Where the page's ``<meta http-equiv="refresh" content="5; url=…">`` sends the browser:
    the URL it names, or the page's own address when it names none; None without one."""
    for element in page.root.iter():
        if element.tag == "meta" and element.get("http-equiv").strip().lower() == "refresh":
            found = _REFRESH_URL.match(element.get("content"))
            target = found.group(1).strip() if found else ""
            return urljoin(page.url, target) if target else page.url
    return None


def _plain_address(url: str, base: str) -> bool:
    """An address that can be typed again: on the portal's origin, with no query or fragment
    (which may hold a one-time state)."""
    parts, root = urlsplit(url), urlsplit(base)
    same_origin = (parts.scheme, parts.netloc) == (root.scheme, root.netloc)
    return same_origin and not parts.query and not parts.fragment


def _split(line: str) -> tuple[str, str]:
    """(Japanese, English) of a one-line message."""
    parts = [p.strip() for p in line.split(" / ")]
    ja = " ".join(p for p in parts if japanese(p))
    en = " ".join(p for p in parts if not japanese(p))
    return ja, en


__all__ = ["AddressBook", "HtmlDriver", "Wording"]
