"""The 2021 portal's reset by link (faq-totp-reset-2021.en.txt, spec/protocol.md §19).

Every check here carries a RESET_LINK_* requirement, so under a profile that resets by code
they are NOT_APPLICABLE (protocol.md §19.1), as the code checks are under ``iimc-2021``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import MAIL_GAP_SECONDS, read_mail, scan, stray_mail
from ninsho.conformance.errors import Inconclusive, NotApplicable, RequirementFailed, expect
from ninsho.conformance.interfaces import (
    Account,
    Driver,
    DriverError,
    HelpdeskConfirmer,
    MailTimeout,
    Outcome,
)
from ninsho.conformance.probes.concurrent import SUBMISSIONS, submit_at_once
from ninsho.conformance.probes.enrol import (
    Enrolled,
    code_for_step,
    enrol_app,
    enrol_email,
    settle_in_step,
    step_of,
    wait_for_step,
)
from ninsho.conformance.probes.reset_link import (
    Link,
    altered,
    bits_seen,
    center,
    center_notice,
    notice_problems,
    open_link,
    request_link,
    token_of,
    watch_seconds,
    watcher,
)
from ninsho.conformance.target import Target
from ninsho.conformance.timing import Span, age, during, judge_lifetime, margin_for, wait_until

MIN_TOKEN_BITS = 128
TOKEN_SAMPLES = 5


@dataclass
class _Anew:
    """FAQ 2–11: the link opened in another browser, then a new app registered there."""

    enrolled: Enrolled
    link: Link
    browser: Driver
    opened: Outcome
    address_after: object
    new: pyotp.TOTP | None = None
    registered: Outcome | None = None
    registered_at: int = 0


def _reset_and_register_anew(portal: Target) -> _Anew:
    enrolled = enrol_app(portal)
    link = request_link(portal, enrolled.account, enrolled.driver)
    browser = portal.browser()  # the link works from any browser (§19.4)
    opened = open_link(browser, link.url, enrolled.account)
    anew = _Anew(enrolled, link, browser, opened, browser.settings().data.get("address"))
    if opened.ok:
        anew.new = scan(browser.start_app_registration().uri)  # FAQ 9–11: QR code, 登録, TOTP, 確認
        settle_in_step(portal, needed_seconds=2 * portal.margin_seconds)
        anew.registered_at = step_of(portal)
        anew.registered = browser.register_app(code_for_step(anew.new, anew.registered_at))
        browser.logout()
        wait_for_step(portal, max(anew.registered_at, enrolled.registered_step) + 1)
        browser.login(enrolled.account)
        settle_in_step(portal, needed_seconds=2 * portal.margin_seconds)
    return anew


@pytest.mark.RESET_LINK_MAIL
@pytest.mark.MAIL_SUBJECT_RESET
@pytest.mark.RESET_CLEARS_EMAIL
@pytest.mark.RESET_THEN_SETUP
def test_reset_by_link_then_the_app_anew(portal: Target) -> None:
    """FAQ 1–12: "初期化", the mail's URL, ID and password, then the app anew, which logs in."""
    p = portal.profile
    anew = _reset_and_register_anew(portal)
    mail = anew.link.mail
    expect(p.mail_sender in mail.sender, "RESET_LINK_MAIL", f"the reset mail came from {mail.sender!r}")
    expect(mail.subject == p.mail_subject_reset, "MAIL_SUBJECT_RESET", f"subject {mail.subject!r}")
    opened = anew.opened
    expect(
        opened.ok and opened.stage == "setup",
        "RESET_THEN_SETUP",
        f"after the link: {opened.stage} {opened.error}",
    )
    if p.reset_clears_email:
        expect(not anew.address_after, "RESET_CLEARS_EMAIL", "the address survived the reset")
    registered = anew.registered
    expect(
        registered is not None and registered.ok,
        "RESET_THEN_SETUP",
        f"the new app did not register: {registered}",
    )
    assert anew.new is not None
    fresh = anew.browser.submit_app_code(code_for_step(anew.new, step_of(portal)))
    expect(fresh.ok, "RESET_THEN_SETUP", f"the app registered after the reset does not log in: {fresh.error}")


@pytest.mark.RESET_LINK_MAIL  # it walks the link's path: NOT_APPLICABLE where the reset is by code
@pytest.mark.RESET_VOIDS_APPS
def test_reset_by_link_voids_the_old_apps(portal: Target) -> None:
    """faq-totp-reset-2021.en.txt: "After initialization, TOTP set in multiple browsers will be
    reset": once the app is registered anew, the old one's codes no longer log in."""
    anew = _reset_and_register_anew(portal)
    if anew.registered is None or not anew.registered.ok:
        raise DriverError(f"set-up failed: the reset by link and a new app: {anew.opened} {anew.registered}")
    assert anew.enrolled.totp is not None
    old = anew.browser.submit_app_code(code_for_step(anew.enrolled.totp, step_of(portal)))
    expect(old.refused, "RESET_VOIDS_APPS", "the app registered before the reset still logs in")


def _opened_near_lifetime(portal: Target, *, after: bool) -> tuple[Enrolled, Link]:
    """A link opened just after (or just before) its lifetime, judged [RESET_LINK_LIFETIME]."""
    lifetime = portal.profile.confirmation_code_lifetime_seconds
    enrolled = enrol_email(portal)
    link = request_link(portal, enrolled.account, enrolled.driver)
    margin = margin_for(portal.clock, portal.margin_seconds, link.issued)
    wait_until(
        portal.clock, link.issued.end + lifetime + margin if after else link.issued.start + lifetime - margin
    )
    outcome, used = during(portal.clock, lambda: open_link(portal.browser(), link.url, enrolled.account))
    seen = age(link.issued, used)
    portal.measure("accepted_at_age" if outcome.ok else "refused_at_age", str(seen))
    judge_lifetime(outcome.ok, seen, lifetime, "RESET_LINK_LIFETIME", expect_accept=not after)
    return enrolled, link


# The lifetime's two sides are two checks, each on its own account: in real time their waits
# overlap instead of adding up, as for the confirmation code.
@pytest.mark.RESET_LINK_LIFETIME
@realtime.waits(
    lambda portal: portal.profile.confirmation_code_lifetime_seconds + portal.margin_seconds,
    what="reset link lifetime",
)
def test_link_refused_after_lifetime(portal: Target) -> None:
    _opened_near_lifetime(portal, after=True)


@pytest.mark.RESET_LINK_LIFETIME
@pytest.mark.RESET_LINK_SINGLE_USE
@realtime.waits(
    lambda portal: portal.profile.confirmation_code_lifetime_seconds - portal.margin_seconds,
    what="reset link lifetime",
)
def test_link_accepted_before_lifetime_and_single_use(portal: Target) -> None:
    enrolled, link = _opened_near_lifetime(portal, after=False)
    again = open_link(portal.browser(), link.url, enrolled.account)
    expect(again.refused, "RESET_LINK_SINGLE_USE", "the link initialized the settings twice")


@pytest.mark.RESET_LINK_SINGLE_USE
def test_link_opened_at_once_acts_once(portal: Target) -> None:
    """The same link in several browsers at the same moment: exactly one initializes."""
    enrolled = enrol_email(portal)
    link = request_link(portal, enrolled.account, enrolled.driver)
    browsers = [portal.browser() for _ in range(SUBMISSIONS)]
    burst = submit_at_once(portal, browsers, lambda b: open_link(b, link.url, enrolled.account))
    expect(burst.exactly_one_succeeded, "RESET_LINK_SINGLE_USE", str(burst))


@pytest.mark.RESET_LINK_REQUIRES_PASSWORD
def test_link_needs_the_password(portal: Target) -> None:
    """FAQ 5: the link's screen asks for the ID and password; a wrong password initializes
    nothing, so the link still works with the right one."""
    enrolled = enrol_email(portal)
    link = request_link(portal, enrolled.account, enrolled.driver)
    wrong = Account(enrolled.account.login_id, enrolled.account.password + "x", enrolled.account.address)
    refused = open_link(portal.browser(), link.url, wrong)
    expect(refused.refused, "RESET_LINK_REQUIRES_PASSWORD", "the link acted with a wrong password")
    login = portal.browser().login(enrolled.account)
    expect(login.stage == "first_factor", "RESET_LINK_REQUIRES_PASSWORD", f"after the refusal: {login.stage}")
    right = open_link(portal.browser(), link.url, enrolled.account)
    expect(right.ok, "RESET_LINK_REQUIRES_PASSWORD", f"the right password was refused: {right.error}")


@pytest.mark.RESET_LINK_BOUND_TO_ACCOUNT
def test_link_acts_only_for_its_account_and_as_issued(portal: Target) -> None:
    """Another account's ID and password, a truncated link, the token in another case and an
    added parameter: each refused, and none changes either account."""
    enrolled, other = enrol_email(portal), enrol_email(portal)
    link = request_link(portal, enrolled.account, enrolled.driver)
    foreign = open_link(portal.browser(), link.url, other.account)
    expect(
        foreign.refused, "RESET_LINK_BOUND_TO_ACCOUNT", "another account's ID and password opened the link"
    )
    for how in ("truncated", "case", "extra"):
        bad = altered(link.url, how)
        if bad is not None:
            outcome = open_link(portal.browser(), bad, enrolled.account)
            expect(
                outcome.refused,
                "RESET_LINK_BOUND_TO_ACCOUNT",
                f"the link, {how}, still initialized the settings",
            )
    for account in (enrolled.account, other.account):
        login = portal.browser().login(account)
        expect(
            login.stage == "first_factor",
            "RESET_LINK_BOUND_TO_ACCOUNT",
            f"{account.login_id} now gets {login.stage}",
        )
    intact = open_link(portal.browser(), link.url, enrolled.account)
    expect(
        intact.ok, "RESET_LINK_BOUND_TO_ACCOUNT", f"after the refusals the link did not work: {intact.error}"
    )


@pytest.mark.RESET_LINK_TOKEN_STRENGTH
@realtime.waits(lambda portal: TOKEN_SAMPLES * portal.margin_seconds, what="gaps between the reset mails")
def test_link_token_strength_as_seen_from_outside(portal: Target) -> None:
    """Several links for one account ("初期化", then "Resend"): all different, and the
    characters that change from one to the next carry at least 128 bits."""
    enrolled = enrol_email(portal)
    tokens = [token_of(request_link(portal, enrolled.account, enrolled.driver).url)]
    for _ in range(TOKEN_SAMPLES - 1):
        portal.clock.advance(portal.margin_seconds)  # so the mailbox can tell the mails apart
        tokens.append(token_of(request_link(portal, enrolled.account, enrolled.driver, again=True).url))
    bits = bits_seen(tokens)
    portal.measure("token_length", len(tokens[0]))
    portal.measure("token_bits_seen", f"{bits:.0f}")
    expect(len(set(tokens)) == len(tokens), "RESET_LINK_TOKEN_STRENGTH", "two links carried the same token")
    expect(
        bits >= MIN_TOKEN_BITS,
        "RESET_LINK_TOKEN_STRENGTH",
        f"{bits:.0f} bits seen in the token, fewer than {MIN_TOKEN_BITS}",
    )


@pytest.mark.RESET_LINK_MAIL  # it walks the link's path: NOT_APPLICABLE where the reset is by code
@pytest.mark.MESSAGES_BILINGUAL
def test_link_refusals_are_bilingual(portal: Target) -> None:
    """§19.3: a link refused (here: truncated, and its token in another case) is refused "with a
    bilingual message". Whether it is refused at all is RESET_LINK_BOUND_TO_ACCOUNT's check."""
    enrolled = enrol_email(portal)
    link = request_link(portal, enrolled.account, enrolled.driver)
    altered_links = [bad for bad in (altered(link.url, how) for how in ("truncated", "case")) if bad]
    refusals = [
        o for o in (open_link(portal.browser(), bad, enrolled.account) for bad in altered_links) if o.refused
    ]
    if not refusals:
        raise NotApplicable("the portal refused no altered link, so no refusal's wording can be read")
    for refusal in refusals:
        expect(
            refusal.message_ja.strip() and refusal.message_en.strip(),
            "MESSAGES_BILINGUAL",
            f"a refused link is not answered in both languages: {refusal.message_ja!r} / {refusal.message_en!r}",
        )


# --- no address: the ICT Support Center (faq-totp-reset-2021.en.txt "ICT Support Center" ①–②) --
# The notice and the confirm are two checks, each on its own account, so that a portal that
# breaks one still has the other judged (a check stops at its first FAIL).
def _initialized_without_address(portal: Target) -> tuple[Enrolled, Outcome, Span]:
    """App only, no address: the reset login and "初期化", and when it was clicked."""
    enrolled = enrol_app(portal, with_email=False)
    login = enrolled.driver.login_for_setup(enrolled.account)
    expect(login.ok, "RESET_REAUTHENTICATE", f"the reset login was refused: {login.error}")
    screen, asked = during(portal.clock, enrolled.driver.initialize)
    return enrolled, screen, asked


def _confirm(portal: Target, helpdesk: HelpdeskConfirmer, login_id: str) -> Outcome:
    outcome = helpdesk.helpdesk_confirm(login_id)
    answer = "ok" if outcome.ok else f"refused {outcome.error} {outcome.message_en}"
    portal.transcript.add(f"operator: helpdesk confirm {login_id} -> {answer}")
    return outcome


@pytest.mark.RESET_LINK_HELPDESK_MAIL
def test_reset_without_address_mails_the_center(portal: Target) -> None:
    """FAQ 4 and ICT ①: "初期化" says the ICT Support Center was mailed, and mails the center
    (and no one else) a notice that names the account and carries no link or code."""
    enrolled, screen, asked = _initialized_without_address(portal)
    expect(screen.ok, "RESET_LINK_HELPDESK_MAIL", f'"初期化" was refused: {screen.error}')
    said = screen.data.get("message")
    if isinstance(said, dict):  # what the screen says, where the driver reads it
        expect(
            "An email has been sent to the ICT Support Center." in str(said.get("en", "")),
            "RESET_LINK_HELPDESK_MAIL",
            f"the screen should say the ICT Support Center was mailed; it says {said!r}",
        )
    notice = center_notice(portal.inbox, portal.profile, enrolled.account, asked.start)
    problems = notice_problems(notice, enrolled.account.login_id)
    expect(not problems, "RESET_LINK_HELPDESK_MAIL", f"the notice to {notice.to}: {'; '.join(problems)}")


@pytest.mark.RESET_LINK_HELPDESK_MAIL  # it walks the link's path: NOT_APPLICABLE where the reset is by code
@pytest.mark.MAIL_RATE_LIMIT
@realtime.waits(
    lambda portal: (portal.profile.mail_limit_per_address + 1) * MAIL_GAP_SECONDS, what="gaps between notices"
)
def test_notices_to_the_center_are_limited(portal: Target) -> None:
    """An account with no address: each "初期化" mails the ICT Support Center, ``per_address``
    times in a row, and the next click is refused and mails nothing (protocol.md §12.4, §19.5).
    The notices' contents are RESET_LINK_HELPDESK_MAIL's to judge; here only their count."""
    p = portal.profile
    enrolled = enrol_app(portal, with_email=False)
    login_id = enrolled.account.login_id
    for n in range(1, p.mail_limit_per_address + 1):
        portal.clock.advance(MAIL_GAP_SECONDS)
        since = portal.clock.now()
        clicked = _click_initialize(portal, enrolled.account)
        expect(
            clicked.ok,
            "MAIL_RATE_LIMIT",
            f'"初期化" {n} of the {p.mail_limit_per_address} the profile allows in'
            f" {p.mail_limit_window_seconds} s was refused: {clicked.error} {clicked.message_en}",
        )
        try:
            read_mail(portal.inbox, p.helpdesk_email, p.mail_subject_reset, since)
        except MailTimeout:
            raise RequirementFailed(
                "RESET_LINK_HELPDESK_MAIL",
                f'"初期化" {n} was accepted, and no notice came to helpdesk.email ({p.helpdesk_email})',
            ) from None
    portal.clock.advance(MAIL_GAP_SECONDS)
    since = portal.clock.now()
    over = _click_initialize(portal, enrolled.account)
    notice = stray_mail(portal.inbox, p.helpdesk_email, p.mail_subject_reset, since, naming=login_id)
    portal.measure("notice_over_the_limit", "accepted" if over.ok else f"refused: {over.error}")
    if notice is not None and login_id not in notice.body:
        raise Inconclusive(
            f"a notice for another account reached {p.helpdesk_email} at the same time, and the mailbox"
            " cannot look for this account's own (interfaces.Mailbox.wait_for_containing)",
            "MAIL_RATE_LIMIT",
        )
    expect(
        notice is None,
        "MAIL_RATE_LIMIT",
        f'"初期化" {p.mail_limit_per_address + 1} within {p.mail_limit_window_seconds} s mailed the ICT'
        f" Support Center again ({p.helpdesk_email}): every click mails it",
    )
    expect(
        over.refused,
        "MAIL_RATE_LIMIT",
        '"初期化" over the limit mailed nothing, yet was answered as sent',
    )


def _click_initialize(portal: Target, account: Account) -> Outcome:
    """The reset login in a fresh browser, then "初期化": one click, as a user repeats it."""
    browser = portal.browser()
    login = browser.login_for_setup(account)
    expect(login.ok, "RESET_REAUTHENTICATE", f"the reset login was refused: {login.error}")
    return browser.initialize()


@pytest.mark.RESET_LINK_HELPDESK_CONFIRM
def test_center_confirms_and_the_screen_left_open_goes_on(portal: Target) -> None:
    """ICT ②: the center confirms nothing before "初期化"; after it, its confirm moves the screen
    left open on to the QR code by itself; confirmed once, nothing is pending any more."""
    helpdesk = center(portal.operator)
    enrolled = enrol_app(portal, with_email=False)
    screen_watch = watcher(enrolled.driver)
    early = _confirm(portal, helpdesk, enrolled.account.login_id)
    expect(early.refused, "RESET_LINK_HELPDESK_CONFIRM", "the center confirmed a reset no one had asked for")
    login = enrolled.driver.login_for_setup(enrolled.account)
    expect(login.ok, "RESET_REAUTHENTICATE", f"the reset login was refused: {login.error}")
    screen = enrolled.driver.initialize()
    expect(screen.ok, "RESET_LINK_HELPDESK_CONFIRM", f'"初期化" was refused: {screen.error}')
    confirmed = _confirm(portal, helpdesk, enrolled.account.login_id)
    expect(
        confirmed.ok,
        "RESET_LINK_HELPDESK_CONFIRM",
        f"the center's confirm was refused: {confirmed.message_en}",
    )
    seconds = watch_seconds(portal.margin_seconds)
    moved = screen_watch.watch_reset_screen(seconds)
    expect(
        moved.ok and moved.stage == "setup",
        "RESET_LINK_HELPDESK_CONFIRM",
        f"after the center's confirm the screen left open did not go on to the set-up within {seconds:g} s:"
        f" {moved.error} {moved.message_en}",
    )
    again = _confirm(portal, helpdesk, enrolled.account.login_id)
    expect(again.refused, "RESET_LINK_HELPDESK_CONFIRM", "the center confirmed the same reset twice")


@pytest.mark.RESET_LINK_HELPDESK_CONFIRM
def test_center_confirms_no_reset_of_an_account_with_an_address(portal: Target) -> None:
    """§19.5: a user with an address resets by the link: the center's confirm is refused and
    changes nothing, so the mailed link still works; so is a confirm for no account at all."""
    helpdesk = center(portal.operator)
    enrolled = enrol_email(portal)
    link = request_link(portal, enrolled.account, enrolled.driver)
    refused = _confirm(portal, helpdesk, enrolled.account.login_id)
    expect(
        refused.refused,
        "RESET_LINK_HELPDESK_CONFIRM",
        "the center confirmed the reset of an account with an address",
    )
    login = portal.browser().login(enrolled.account)
    expect(login.stage == "first_factor", "RESET_LINK_HELPDESK_CONFIRM", f"after the refusal: {login.stage}")
    intact = open_link(portal.browser(), link.url, enrolled.account)
    expect(
        intact.ok, "RESET_LINK_HELPDESK_CONFIRM", f"after the refusal the link did not work: {intact.error}"
    )
    nobody = _confirm(portal, helpdesk, enrolled.account.login_id + "x0")
    expect(
        nobody.refused, "RESET_LINK_HELPDESK_CONFIRM", "the center confirmed a reset for an unknown account"
    )
