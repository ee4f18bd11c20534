"""The 2021 portal's reset by link (``reset.mode = "link"``, spec/protocol.md §19), from outside.

The link is read from the mail as it came (the first http(s) URL of the body), and followed by
a browser that can (:class:`~ninsho.conformance.interfaces.LinkFollower`); a driver that cannot
makes the link checks NOT_APPLICABLE. What the outside can judge of a token is how many of its
characters change from one link to the next and from which alphabet they come: a lower bound
that a counter or a clock in the token fails, not a proof of randomness.

An account with no address takes the ICT Support Center's path (§19.5): the notice mailed to
``helpdesk.email``, the center's confirm through an operator that can
(:class:`~ninsho.conformance.interfaces.HelpdeskConfirmer`), and the screen left open watched
by a browser that can (:class:`~ninsho.conformance.interfaces.ResetScreenWatcher`); an operator
or a driver that cannot makes those checks NOT_APPLICABLE, with the reason.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qsl, urlsplit

from ninsho.conformance.actions import mail_timeout, quiet_seconds, read_mail_naming
from ninsho.conformance.errors import MailTimeout, NotApplicable, NotSupported, RequirementFailed, expect
from ninsho.conformance.interfaces import (
    Account,
    Driver,
    HelpdeskConfirmer,
    LinkFollower,
    Mail,
    Mailbox,
    Operator,
    Outcome,
    ResetScreenWatcher,
)
from ninsho.conformance.target import Target
from ninsho.conformance.timing import Span, during
from ninsho.spec.profile import Profile

_URL = re.compile(r"https?://[^\s<>\"'」』）)]+")
# Alphabets from the narrowest: a token's characters are counted as drawn from the narrowest
# one that holds them all, which is the most its entropy per character can be.
_ALPHABETS = (
    string.digits,
    string.digits + "abcdef",
    string.digits + "ABCDEF",
    string.digits + string.ascii_lowercase,
    string.digits + string.ascii_uppercase,
    string.digits + string.ascii_letters,
    string.digits + string.ascii_letters + "-_",
    string.digits + string.ascii_letters + "-_.~%",
)


@dataclass(frozen=True)
class Link:
    url: str
    mail: Mail
    issued: Span  # when the portal issued it: the span of the "初期化" that mailed it


def link_in(mail: Mail) -> str | None:
    """The first http(s) URL in the body [RESET_LINK_MAIL]."""
    found = _URL.search(mail.body)
    return found.group(0) if found else None


def follower(driver: Driver) -> LinkFollower:
    if not callable(getattr(driver, "open_reset_link", None)):
        raise NotSupported(f"the {driver.name} driver cannot follow a reset link (interfaces.LinkFollower)")
    return cast(LinkFollower, driver)


def open_link(driver: Driver, url: str, account: Account) -> Outcome:
    """FAQ 5: the URL, then the ID and password of ``account`` on the screen it shows."""
    return follower(driver).open_reset_link(url, account)


def request_link(portal: Target, account: Account, driver: Driver, *, again: bool = False) -> Link:
    """FAQ 2–4: the reset login, "初期化" (or, ``again``, "Resend" in the same session), and
    the URL of the mail that follows."""
    p, address = portal.profile, account.address or ""
    if not again:
        login = driver.login_for_setup(account)
        expect(login.ok, "RESET_REAUTHENTICATE", f"the reset login was refused: {login.error}")
    screen, issued = during(portal.clock, driver.resend if again else driver.initialize)
    expect(screen.ok, "RESET_LINK_MAIL", f'"初期化" was refused: {screen.error}')
    mail = portal.mail(address, p.mail_subject_reset, issued.start)
    url = link_in(mail)
    expect(url is not None, "RESET_LINK_MAIL", "the reset mail carries no URL")
    return Link(url or "", mail, issued)


def reset_by_link(portal: Target, account: Account, driver: Driver) -> Driver:
    """FAQ 2–6 in one browser: "初期化", the mailed URL, ID and password again; the browser is
    left in the set-up session the link opened."""
    link = request_link(portal, account, driver)
    opened = open_link(driver, link.url, account)
    expect(
        opened.ok,
        "RESET_LINK_REQUIRES_PASSWORD",
        f"the link with the right password was refused: {opened.error}",
    )
    return driver


# --- no address: the ICT Support Center (§19.5) -------------------------------------------
_RUN_OF_DIGITS = re.compile(r"(?<![0-9])[0-9]{6,}(?![0-9])")  # §14: a code is a run of six or more


def center(operator: Operator) -> HelpdeskConfirmer:
    """The ICT Support Center of a link-mode portal, or NOT_APPLICABLE with the reason."""
    if not callable(getattr(operator, "helpdesk_confirm", None)):
        raise NotApplicable(
            "the portal's operator has no helpdesk action that confirms a reset by link"
            " (interfaces.HelpdeskConfirmer; for a portal without an operator API: [operator] confirm_command)"
        )
    return cast(HelpdeskConfirmer, operator)


def watcher(driver: Driver) -> ResetScreenWatcher:
    if not callable(getattr(driver, "watch_reset_screen", None)):
        raise NotSupported(
            f"the {driver.name} driver cannot watch a reset screen left open (interfaces.ResetScreenWatcher)"
        )
    return cast(ResetScreenWatcher, driver)


def watch_seconds(margin_seconds: float) -> float:
    """How long the screen left open is watched after the center's confirm has returned: the
    confirm is done by then, so this is the margin of a round trip or two, not a wait for a person."""
    return 2 * margin_seconds


def center_notice(mailbox: Mailbox, profile: Profile, account: Account, since: float) -> Mail:
    """FAQ 4 and ICT ①: the notice that "初期化" of an account with no address mailed the center
    at ``helpdesk.email``. A notice to an address of the user's (the placeholder the screen
    shows, or the inbox the account would have) or none at all is a FAIL of
    RESET_LINK_HELPDESK_MAIL: the screen said the center was mailed."""
    for address in dict.fromkeys(a for a in (profile.reset_placeholder_address, account.address) if a):
        try:  # unjudged: a stray is judged for being sent at all, not against a mail's contract
            stray = mailbox.wait_for(address, subject=None, since=since, timeout=quiet_seconds(mailbox))
        except MailTimeout:
            continue
        raise RequirementFailed(
            "RESET_LINK_HELPDESK_MAIL",
            f"the account has no address, and the portal mailed {stray.to} ({stray.subject!r}),"
            f" not the ICT Support Center at {profile.helpdesk_email}",
        )
    try:  # the notice that names this account: checks running at once share the center's inbox
        return read_mail_naming(
            mailbox,
            profile.helpdesk_email,
            account.login_id,
            profile.mail_subject_reset,
            since,
            mail_timeout(mailbox),
        )
    except MailTimeout:
        raise RequirementFailed(
            "RESET_LINK_HELPDESK_MAIL",
            "the screen says an email has been sent to the ICT Support Center; no mail came to"
            f" helpdesk.email ({profile.helpdesk_email})",
        ) from None


def notice_problems(mail: Mail, login_id: str) -> list[str]:
    """What the center's notice lacks, or carries and must not (§19.5): the account's login ID
    named; no link, and no run of digits a reader would take for a code (the login ID aside)."""
    problems = []
    if not mail.names(login_id):
        problems.append(f"it does not name the account {login_id!r}")
    if _URL.search(mail.body):
        problems.append(
            "it carries a link, with which whoever reads the center's mail could reset the account"
        )
    if _RUN_OF_DIGITS.search(mail.body.replace(login_id, " ")):
        problems.append("it carries a run of six or more digits, which a reader takes for a code")
    return problems


def token_of(url: str) -> str:
    """The part of the link that changes from one link to the next: the value of its one query
    parameter, else its last path segment."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    return pairs[0][1] if pairs else parts.path.rstrip("/").rpartition("/")[2]


def altered(url: str, how: str) -> str | None:
    """The link as a careless copy or a tamperer gives it: ``truncated`` (its last 4 characters
    gone), ``case`` (the token's letters in the other case; None for a token without letters),
    ``extra`` (one more parameter)."""
    token = token_of(url)
    if how == "truncated":
        return url[:-4]
    if how == "case":
        return url.replace(token, token.swapcase()) if token.swapcase() != token else None
    if how == "extra":
        return url + ("&" if "?" in url else "?") + "lang=en"
    raise ValueError(how)


def bits_seen(tokens: Sequence[str]) -> float:
    """A lower bound of the entropy the outside can see: the positions that differ between the
    tokens, times log2 of the narrowest alphabet that holds every character seen."""
    if len(tokens) < 2 or len({len(t) for t in tokens}) != 1:
        return 0.0
    seen = set("".join(tokens))
    alphabet = next((a for a in _ALPHABETS if seen <= set(a)), None)
    size = len(alphabet) if alphabet is not None else len(seen)
    varying = sum(1 for column in zip(*tokens, strict=True) if len(set(column)) > 1)
    return varying * math.log2(max(size, 2))
