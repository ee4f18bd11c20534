"""The web requirements, judged from outside on the portal's pages (spec §16.1, §16.2, §5 and
§22.4): every form refuses a forged submission and the forgery changes nothing; the session,
trust and remember-ID cookies carry their flags; "Remember ECS-ID/SPS-ID" keeps the login ID
when asked, and nothing else.

They need a driver on the pages (``pages()``, ninsho.conformance.drivers.html.web): the html
driver, and in process the embedded portal's own pages. With any other driver they are
NOT_APPLICABLE, saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import (
    let_in_message,
    let_in_on_password,
    mailed_code,
    register_address,
    scan,
)
from ninsho.conformance.drivers.html.web import Forged, Forgery, SetCookie, ShowsPages, WebPages
from ninsho.conformance.errors import Advisory, NotApplicable, expect
from ninsho.conformance.interfaces import Account, DriverError
from ninsho.conformance.probes.enrol import (
    Enrolled,
    add_app,
    await_unused_step,
    code_for_step,
    logs_in_by_mail,
    pass_second_factor,
    settle_in_step,
    step_of,
)
from ninsho.conformance.target import Target
from ninsho.conformance.transcript import RecordingDriver

CSRF, COOKIES, REMEMBER = "WEB_CSRF", "WEB_COOKIE_FLAGS", "REMEMBER_LOGIN_ID"


def on_pages(portal: Target) -> tuple[RecordingDriver, WebPages]:
    """A browser on the portal's pages: the driver's actions (recorded) and what the web checks
    see of it."""
    browser = portal.browser()
    if not isinstance(browser, ShowsPages):
        raise NotApplicable(
            f"the {browser.name} driver shows no pages (it has no pages():"
            " ninsho.conformance.drivers.html.web.ShowsPages); the web checks judge a portal's pages:"
            ' run them with driver = "html" on a portal that has pages'
        )
    pages = browser.pages()
    return RecordingDriver(pages.driver, portal.transcript, "pages"), pages


def _require(ok: bool, what: str, detail: object) -> None:
    """A step the check stands on, not the requirement it judges: the portal's or the driver's
    problem, named (an ERROR)."""
    if not ok:
        raise DriverError(f"{what} failed: {detail}")


# --- CSRF --------------------------------------------------------------------------------------
class Forger:
    """Sends each form of an action forged first (drivers/html/web.py), judges the answers, and
    lets the check look at the portal's state before the real submission."""

    def __init__(self, portal: Target, pages: WebPages) -> None:
        self.portal = portal
        self.pages = pages
        self.judged: list[str] = []

    def forge(self, action: Callable[[], object], *, skip: int = 0) -> bool:
        """Forge the action's form (after ``skip`` forms sent for real). False when the action
        sent no form (a Logout link, say): it was done for real, and there was nothing to forge."""
        self.pages.forge_next(skip=skip)
        try:
            action()
        except Forged as forged:
            for f in forged.forgeries:
                self._judge(f)
            self.judged.append(f"{forged.forgeries[0].target} ({forged.forgeries[0].action})")
            return True
        finally:
            self.pages.driver.browser.before_post = None
        return False

    def _judge(self, f: Forgery) -> None:
        token = f"its token {', '.join(f.dropped)}" if f.dropped else "no token field"
        expect(
            f.status == 403,
            CSRF,
            f"{f.target} on {f.where}, sent {f.variant} ({token}; Origin: {f.origin}), was answered"
            f" {f.status}: a forged submission must be refused with 403",
        )

    def gap(self) -> float:
        """A moment after the last mail: a mail sent from now on is told from it."""
        self.portal.clock.advance(self.portal.margin_seconds)
        return self.portal.clock.now()

    def no_mail(self, to: str, subject: str, since: float, what: str) -> None:
        expect(
            self.portal.no_mail(to, subject, since),
            CSRF,
            f"the forged {what} was refused, but a mail «{subject}» was sent to {to}: it changed something",
        )

    def then(self, outcome: object, what: str) -> None:
        """The real submission after a refused forgery: it must do what it does without one."""
        ok = getattr(outcome, "ok", True)
        error = getattr(outcome, "error", None)
        expect(
            ok,
            CSRF,
            f"after the forged {what} was refused, the real one was refused ({error}): the forgery changed something",
        )


@pytest.mark.WEB_CSRF
@realtime.waits(lambda portal: 3 * portal.margin_seconds, what="gaps between the mails")
def test_forms_refuse_forged_submissions(portal: Target) -> None:
    """Every form of the manuals' flows, sent as a page on another site can send it (without
    its token, or with a wrong one, and a foreign Origin): refused with 403, and nothing changed.
    The flow: log in, register the address, log out, log in by mail, register the app, then the
    reset login, Initialize, Resend and Confirm."""
    driver, pages = on_pages(portal)
    capabilities = pages.driver.site.capabilities
    p, clock = portal.profile, portal.clock
    forger = Forger(portal, pages)
    account = portal.account()
    address = account.address or ""
    _require(bool(address), "the account's address", "the operator gave an account without an inbox")

    if forger.forge(lambda: driver.login(account)):
        expect(not driver.settings().ok, CSRF, "a forged login was refused, yet the browser was signed in")
    login = driver.login(account)
    forger.then(login, "login")
    _require(login.stage == "setup", "the first login", login.stage)

    since = clock.now()
    forger.forge(lambda: driver.register_email(address))
    forger.no_mail(address, p.mail_subject_otp, since, "Send One-Time Password")
    forger.then(driver.register_email(address), "Send One-Time Password")
    code = mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits)
    if portal.note_address is not None:
        portal.note_address(account.login_id, address)
    forger.forge(lambda: driver.confirm_email(code))
    forger.then(driver.confirm_email(code), "Confirm")

    if forger.forge(driver.logout):
        expect(driver.settings().ok, CSRF, "a forged Logout was refused, yet the browser was signed out")
        forger.then(driver.logout(), "Logout")

    again = driver.login(account)
    if let_in_on_password(again):  # that rule's FAIL, and the settings' forms are judged on
        portal.transcript.fail_softly("SECOND_FACTOR_REQUIRED", let_in_message(again))
    else:
        _require(
            again.stage == "first_factor",
            "the login with an address",
            f"stage {again.stage!r}, {again.error!r}",
        )
        if not capabilities["email_login"]:
            portal.measure("forged_forms", "; ".join(forger.judged))
            return  # no second factor the pages can pass: the forms judged so far are all there are
        since = forger.gap()  # after the registration's mail
        forger.forge(driver.request_email_code)
        forger.no_mail(address, p.mail_subject_otp, since, "Send One-Time Password (login)")
        forger.then(driver.request_email_code(), "Send One-Time Password (login)")
        code = mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits)
        forger.forge(lambda: driver.submit_email_code(code))
        forger.then(driver.submit_email_code(code), "one-time password login")

    if capabilities["app_registration"]:
        totp = scan(driver.start_app_registration().uri)
        settle_in_step(portal, needed_seconds=2 * portal.margin_seconds)
        app_code = code_for_step(totp, step_of(portal))
        forger.forge(lambda: driver.register_app(app_code))
        forger.then(driver.register_app(app_code), "Register")

    if capabilities["reset"]:
        driver.logout()
        forger.forge(lambda: driver.login_for_setup(account), skip=1)
        forger.then(driver.login_for_setup(account), "reset login")
        since = forger.gap()
        forger.forge(driver.initialize)
        forger.no_mail(address, p.mail_subject_reset, since, "Initialize")
        forger.then(driver.initialize(), "Initialize")
        since = forger.gap()
        forger.forge(driver.resend)
        forger.no_mail(address, p.mail_subject_reset, since, "Resend")
        forger.then(driver.resend(), "Resend")
        if p.reset_mode == "code":  # a reset by link has no code to confirm (protocol.md §19)
            code = mailed_code(portal.inbox, address, p.mail_subject_reset, since, p.confirmation_code_digits)
            forger.forge(lambda: driver.confirm_reset(code))
            forger.then(driver.confirm_reset(code), "Confirm (reset)")
    portal.measure("forged_forms", "; ".join(forger.judged))
    _require(bool(forger.judged), "finding a form", "the flows sent no POST form to forge")


# --- cookies -----------------------------------------------------------------------------------
def _latest(cookies: list[SetCookie]) -> dict[str, SetCookie]:
    """The last setting of each cookie that a browser keeps (a deletion removes it)."""
    kept: dict[str, SetCookie] = {}
    for cookie in cookies:
        if cookie.deletes:
            kept.pop(cookie.name, None)
        else:
            kept[cookie.name] = cookie
    return kept


def _without(pages: WebPages, name: str) -> WebPages:
    """A new browser holding this one's cookies but ``name``."""
    other = pages.driver.fresh().pages()
    for cookie in pages.client.cookies.jar:
        if cookie.name != name:
            other.client.cookies.jar.set_cookie(cookie)
    other.driver.browser.open("a browser without one cookie", pages.driver.site.start)
    return other


def _session_cookies(pages: WebPages, kept: dict[str, SetCookie]) -> list[str]:
    """The cookies without which the signed-in browser is signed out."""
    return [name for name in kept if not _without(pages, name).driver.settings().ok]


def _remember_cookies(pages: WebPages, kept: dict[str, SetCookie], login_id: str) -> list[str]:
    """The lasting cookies without which the login screen no longer shows the login ID."""
    found = []
    for name, cookie in kept.items():
        if cookie.lifetime is None:
            continue
        other = _without(pages, name)
        other.driver.browser.restart()
        field = other.login_id_field(other.login_screen("remembered login ID"))
        if field is None or field.element.get("value") != login_id:
            found.append(name)
    return found


def _trust_cookies(pages: WebPages, lasting: list[str], account: Account) -> list[str]:
    """Of the lasting cookies set in answer to the second factor with "Trust this browser"
    ticked, those without which the next login asks for the second factor again. Others may be
    set then too: Django renews its CSRF cookie, a year long, at every login (django-allauth).
    Where even a browser holding them all is asked again (the trust already over, or broken:
    TRUST_BROWSER's own check judges that), each of them counts."""

    def asked_again(browser: WebPages) -> bool:
        browser.driver.browser.restart()
        return browser.driver.login(account).stage == "first_factor"

    if not lasting or asked_again(_without(pages, "")):
        return lasting
    return [name for name in lasting if asked_again(_without(pages, name))]


def _judge_flags(role: str, cookie: SetCookie, secure: bool) -> None:
    expect(cookie.http_only, COOKIES, f"the {role} cookie {cookie.describe()} is not HttpOnly")
    expect(
        cookie.same_site in ("lax", "strict"),
        COOKIES,
        f"the {role} cookie {cookie.describe()} is not SameSite=Lax or Strict",
    )
    if secure:
        expect(cookie.secure, COOKIES, f"the {role} cookie {cookie.describe()} is not Secure, on https")


@pytest.mark.WEB_COOKIE_FLAGS
def test_cookies_carry_their_flags(portal: Target) -> None:
    """Log in with "Remember ECS-ID/SPS-ID" ticked and pass the second factor with "Trust this
    browser": each session, trust and remember-ID cookie is HttpOnly, SameSite=Lax or Strict,
    Secure on https, host-only; the trust cookie does not outlive the trust. The roles are found
    from outside: a session cookie is one without which the browser is signed out, a remember-ID
    cookie one without which the login screen no longer shows the ID, a trust cookie a lasting
    one set in answer to the second factor with "Trust this browser" ticked."""
    driver, pages = on_pages(portal)
    capabilities = pages.driver.site.capabilities
    account = portal.account()
    box = pages.remember_box(pages.login_screen("cookies"))
    remember = True if box is not None else None
    _require(driver.login(account, remember=remember).ok, "the first login", "refused")
    address = register_address(driver, portal.inbox, portal.clock, portal.profile, account.address or "")
    if portal.note_address is not None:
        portal.note_address(account.login_id, address)
    enrolled = Enrolled(replace(account, address=address), driver)  # as the portal registered it
    if not logs_in_by_mail(driver):  # the app's code is the second factor to pass instead
        enrolled.totp, enrolled.registered_step = add_app(portal, driver)
    driver.logout()
    _require(driver.login(account, remember=remember).ok, "the login", "refused")
    await_unused_step(portal, enrolled)
    mark = len(pages.cookies)
    trust = capabilities["trust_browser"]
    pass_second_factor(portal, enrolled, driver, trust=trust)
    lasting = dict.fromkeys(c.name for c in pages.set_since(mark) if not c.deletes and c.lifetime is not None)
    trusted = _trust_cookies(pages, list(lasting), account) if trust else []
    kept = _latest(pages.cookies)
    roles: dict[str, str] = {}
    for name in trusted:
        roles[name] = "trust"
    for name in _remember_cookies(pages, kept, account.login_id) if box is not None else []:
        roles.setdefault(name, "remember-ID")
    for name in _session_cookies(pages, kept):
        roles[name] = "session"
    portal.measure("cookies", "; ".join(f"{roles.get(n, 'other')}: {c.describe()}" for n, c in kept.items()))
    if not roles:
        raise NotApplicable("the portal keeps no session, trust or remember-ID cookie: nothing to judge")
    for name, role in roles.items():
        _judge_flags(role, kept[name], pages.secure)
    host = (pages.client.base_url.host or "").lower()
    for name, role in roles.items():
        domain = kept[name].attributes.get("domain", "").lstrip(".").lower()
        if domain and domain != host:
            raise Advisory(
                COOKIES,
                f"the {role} cookie {kept[name].describe()} is sent to all of {domain}, not only {host}",
            )
    for name in (n for n, r in roles.items() if r == "session"):
        if kept[name].lifetime is not None:
            raise Advisory(
                COOKIES, f"the session cookie {kept[name].describe()} outlasts the browser session"
            )
    limit = portal.profile.trust_browser_duration_seconds + portal.margin_seconds
    for name in (n for n, r in roles.items() if r == "trust"):
        lifetime = kept[name].lifetime
        if lifetime is not None and lifetime > limit:
            raise Advisory(
                COOKIES,
                f"the trust cookie {kept[name].describe()} lasts {lifetime:.0f} s, longer than the trust"
                f" ({portal.profile.trust_browser_duration_seconds} s)",
            )


# --- Remember ECS-ID/SPS-ID --------------------------------------------------------------------
def _shown_login_id(pages: WebPages, what: str) -> str:
    """The login ID the login screen shows a browser opened again (its session cookies gone)."""
    pages.driver.browser.restart()
    field = pages.login_id_field(pages.login_screen(what))
    _require(field is not None, "the login screen's ECS-ID/SPS-ID field", "not found (fields.login_id)")
    assert field is not None
    return field.element.get("value")


def _no_password(pages: WebPages, password: str, where: str) -> None:
    page = pages.driver.page
    held = [c.describe() for c in pages.cookies if password in c.value]
    expect(not held, REMEMBER, f"{where}: the password is kept in the cookie {', '.join(held)}")
    shown = pages.shows(page, password) if page is not None else []
    expect(
        not shown,
        REMEMBER,
        f"{where}: the password is in the answer {page.where() if page else ''}: {', '.join(shown[:3])}",
    )


@pytest.mark.REMEMBER_LOGIN_ID
def test_login_id_is_remembered_only_when_asked(portal: Target) -> None:
    """app-reset.en.txt ②: ticked, the next login screen shows the ID; unticked, it no longer
    does. The password is never kept in a cookie or shown back, not even after a wrong one."""
    driver, pages = on_pages(portal)
    account = portal.account()
    box = pages.remember_box(pages.login_screen("Remember ECS-ID/SPS-ID"))
    expect(
        box is not None,
        REMEMBER,
        "the login screen shows no «Remember ECS-ID/SPS-ID» box (fields.remember_login_id)",
    )
    wrong = Account(account.login_id, account.password + "Wq7")
    refused = driver.login(wrong, remember=True)
    _require(refused.refused, "a wrong password", "accepted")
    _no_password(pages, wrong.password, "after a wrong password")

    _require(driver.login(account, remember=True).ok, "the login", "refused")
    _no_password(pages, account.password, "after the login")
    driver.logout()
    shown = _shown_login_id(pages, "login screen after «Remember» was ticked")
    _no_password(pages, account.password, "the next login screen")
    expect(
        shown == account.login_id,
        REMEMBER,
        f"ticked, the next login screen shows the ID {shown!r}, not {account.login_id!r}",
    )

    _require(driver.login(account, remember=False).ok, "the login", "refused")
    driver.logout()
    shown = _shown_login_id(pages, "login screen after «Remember» was unticked")
    expect(
        shown != account.login_id, REMEMBER, f"unticked, the next login screen still shows the ID {shown!r}"
    )
