"""What a user does, written once: for the feature steps and the probes alike.

Both talk to a portal through the same few parts (a driver, a mailbox, the portal's clock and
the profile), so each user action of the manuals is one function over those parts. The steps
(:mod:`ninsho.conformance.steps`) add a scenario's memory around them; the probes
(:mod:`ninsho.conformance.probes.enrol`) add a :class:`~ninsho.conformance.target.Target`.

When the portal refuses what the manual says it must accept, an action raises
:class:`RequirementFailed` naming that rule: evidence, so a FAIL. Mail is awaited for the
mailbox's own ``timeout_seconds`` (``[mailbox] timeout_seconds``), never a constant here.
"""

from __future__ import annotations

import contextlib

import pyotp

from ninsho.conformance.errors import MailTimeout, RequirementFailed
from ninsho.conformance.interfaces import Clock, Driver, Mail, Mailbox, Outcome
from ninsho.conformance.mail_contract import code_in_body
from ninsho.conformance.waits import waiting_for
from ninsho.spec.profile import Profile

DEFAULT_MAIL_TIMEOUT = 30.0  # a mailbox that does not say (the in-process outbox answers at once)
DEFAULT_QUIET = 2.0  # how long no mail must come before "none was sent" holds


# --- the second factor ------------------------------------------------------------------------
def let_in_on_password(login: Outcome) -> bool:
    """Whether a login went past the password to the settings (the set-up stage, or signed in),
    asking for no second factor. For an account with a registered factor that is a FAIL of
    SECOND_FACTOR_REQUIRED, whichever check met it (django-allauth lets an account with an
    address in so: its second factor is an app only). A refusal is not that: it says no more."""
    return login.ok and login.stage in ("setup", "authenticated")


def let_in_message(login: Outcome) -> str:
    """What SECOND_FACTOR_REQUIRED's FAIL says of a login that :func:`let_in_on_password`."""
    return f"with an address registered, the login should ask for a one-time password; it went to {login.stage!r}"


# --- mail ------------------------------------------------------------------------------------
# Between two requests for a mail: so that the mailbox tells each mail from the one before (a
# mail is found by recipient and time), and far below any window of the mail limit.
MAIL_GAP_SECONDS = 0.25


def mail_timeout(mailbox: Mailbox) -> float:
    """How long to wait for a mail that should come (see interfaces.Mailbox)."""
    return float(getattr(mailbox, "timeout_seconds", DEFAULT_MAIL_TIMEOUT))


def quiet_seconds(mailbox: Mailbox) -> float:
    """How long to wait before concluding that no mail comes (see interfaces.Mailbox)."""
    return float(getattr(mailbox, "quiet_seconds", DEFAULT_QUIET))


def read_mail(mailbox: Mailbox, to: str, subject: str, since: float) -> Mail:
    """The newest mail to ``to`` since ``since``, found by recipient and time; ``subject`` says
    which mail is expected, for the mailbox's judging of it (transcript.RecordingMailbox)."""
    return mailbox.wait_for(to, subject=subject, since=since, timeout=mail_timeout(mailbox))


def read_mail_naming(
    mailbox: Mailbox, to: str, text: str, subject: str, since: float, timeout: float
) -> Mail:
    """The newest mail to ``to`` since ``since`` whose body holds ``text`` (a login ID), where
    the mailbox can say (its optional ``wait_for_containing``, interfaces.Mailbox); else, and
    when none holds it, the newest mail to ``to``, for the caller to judge."""
    finder = getattr(mailbox, "wait_for_containing", None)
    if finder is not None:
        with contextlib.suppress(MailTimeout):
            found: Mail = finder(to, text, subject=subject, since=since, timeout=timeout)
            return found
        timeout = 0.0  # waited already: what came meanwhile is there now
    return mailbox.wait_for(to, subject=subject, since=since, timeout=timeout)


def stray_mail(
    mailbox: Mailbox, to: str, subject: str, since: float, naming: str | None = None
) -> Mail | None:
    """A mail that should *not* have come, if one comes within the quiet period (one whose body
    holds ``naming``, where the mailbox can tell: :func:`read_mail_naming`)."""
    try:
        if naming is not None:
            return read_mail_naming(mailbox, to, naming, subject, since, quiet_seconds(mailbox))
        return mailbox.wait_for(to, subject=subject, since=since, timeout=quiet_seconds(mailbox))
    except MailTimeout:
        return None


def code_in(mail: Mail, digits: int) -> str:
    """The code by the spec's rule (protocol.md §14), whatever its length: a code of the wrong
    length is read, and its digit count judged apart (mail_contract.judge_mail)."""
    code = code_in_body(mail.body, digits)
    if code is None:
        raise RequirementFailed(
            "MAIL_BODY_CODE", f"the mail to {mail.to} ({mail.subject!r}) holds no code in its body"
        )
    return code


def mailed_code(mailbox: Mailbox, to: str, subject: str, since: float, digits: int) -> str:
    """The code of the newest such mail since ``since``."""
    return code_in(read_mail(mailbox, to, subject, since), digits)


def wrong_mailed_code(right: str) -> str:
    """A code of the same length that differs from ``right`` in every digit."""
    return "".join(str((int(c) + 5) % 10) for c in right)


# --- the authenticator app -------------------------------------------------------------------
class StepCode(str):
    """A TOTP code that knows the time step it was made for: a string to every driver, and to
    the evidence (``transcript.RecordingDriver``) the offset from the portal's step when it was
    submitted, which a reader of a window or replay FAIL needs and ``code=***`` hides."""

    step: int
    period: int

    def __new__(cls, code: str, step: int, period: int) -> StepCode:
        made = super().__new__(cls, code)
        made.step, made.period = step, period
        return made


def totp_code(totp: pyotp.TOTP, step: int) -> StepCode:
    """The app's code for ``step``, carrying its step (see :class:`StepCode`)."""
    return StepCode(totp.generate_otp(step), step, int(totp.interval))


def step_at(profile: Profile, at: float) -> int:
    """The TOTP time step at ``at`` (RFC 6238 §4.2)."""
    return int(at // profile.totp_period_seconds)


def settle_in_step(
    clock: Clock, profile: Profile, margin: float, needed: float = 0.0, *, skew: float = 0.0
) -> None:
    """Wait (or move virtual time) until enough of the app's current TOTP step is left to act in:
    ``needed`` seconds, ``margin`` from either end. A person whose app shows a code about to change
    waits for the next one, for a code typed in a step's last moments reaches the portal in the
    next step and is refused for no fault of the portal's (with a window of 0 steps, always).
    ``skew``: how far the app's clock is off the portal's."""
    period = profile.totp_period_seconds
    into = (clock.now() + skew) % period
    if into < margin:  # the step has only just begun: perhaps not yet on the portal's clock
        with waiting_for("start of a fresh TOTP step"):
            clock.advance(margin - into)
    elif into > period - margin - needed:
        with waiting_for("start of a fresh TOTP step"):
            clock.advance(period - into + margin)


def scan(uri: str) -> pyotp.TOTP:
    """What the authenticator app does with the QR code."""
    otp = pyotp.parse_uri(uri)
    if not isinstance(otp, pyotp.TOTP):
        raise RequirementFailed(
            "APP_PROVISIONING_URI",
            f"the QR code should hold a time-based (TOTP) key, but holds {uri.split('?')[0]!r}",
        )
    return otp


def wrong_code(totp: pyotp.TOTP, step: int, spread: int = 12) -> str:
    """A code of the right shape that no step within ``spread`` of ``step`` produces: a refusal
    on any portal whose window is narrower than that."""
    near = {totp.generate_otp(s) for s in range(step - spread, step + spread + 1)}
    candidate = 0
    while (code := f"{candidate:0{totp.digits}d}") in near:
        candidate += 1
    return code


# --- composite actions of the manuals ------------------------------------------------------
def register_address(driver: Driver, mailbox: Mailbox, clock: Clock, profile: Profile, address: str) -> str:
    """Mail tab ④–⑦ for a signed-in browser: "Send One-Time Password", the mailed code,
    "Confirm". Returns the address as the portal registered it."""
    since = clock.now()
    sent = driver.register_email(address)
    if not sent.ok:
        raise RequirementFailed(
            "EMAIL_REGISTRATION_CONFIRM", f"the private address {address!r} should be accepted: {sent.error}"
        )
    code = mailed_code(mailbox, address, profile.mail_subject_otp, since, profile.email_otp_digits)
    confirmed = driver.confirm_email(code)
    if not confirmed.ok:
        raise RequirementFailed(
            "EMAIL_REGISTRATION_CONFIRM",
            f"the mailed one-time password should confirm the address: {confirmed.error}",
        )
    return str(sent.data.get("address", address))


def second_factor_by_mail(
    driver: Driver, mailbox: Mailbox, clock: Clock, profile: Profile, address: str, *, trust: bool = False
) -> tuple[str, Outcome]:
    """The email second factor: ask for a code, read it from the mail, enter it. Returns the
    code typed and the portal's answer to it, for the caller to judge."""
    since = clock.now()
    requested = driver.request_email_code()
    if not requested.ok:
        raise RequirementFailed(
            "SECOND_FACTOR_METHODS", f"a one-time password should be mailed to {address}: {requested.error}"
        )
    code = mailed_code(mailbox, address, profile.mail_subject_otp, since, profile.email_otp_digits)
    return code, driver.submit_email_code(code, trust_browser=trust)
