"""Email: registering the address, the mailed login code, its lifetime, single use, resend,
lockout, the blocked domains, the mail contract and a failing relay."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ninsho.reference.core.errors import (
    AccountLocked,
    BlockedAddress,
    CodeRejected,
    InvalidAddress,
    MailNotSent,
    NothingPending,
)
from ninsho.reference.core.ports import OutgoingMail
from ninsho.reference.core.state import Purpose, Stage
from ninsho.reference.outbox import Outbox
from ninsho.spec.profile import Profile

from .conftest import ADDRESS_CASES, Harness, code_in, make_harness, refused, renewed

BLOCKED_CASES = [c for c in ADDRESS_CASES if c["verdict"] == "blocked"]
ACCEPTED_CASES = [c for c in ADDRESS_CASES if c["verdict"] == "accepted"]
INVALID_CASES = [c for c in ADDRESS_CASES if c["verdict"] == "invalid"]


def _first_factor(h: Harness) -> tuple[str, str]:
    """A user with an address, logged in with the password and a login code mailed."""
    h.user_with_address()
    session = h.login().session
    return session, h.last_code(h.portal.send_login_code(session).address)


def _wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


# --- registering the address [EMAIL_REGISTRATION_CONFIRM] -------------------------------------


@pytest.mark.parametrize("case", ACCEPTED_CASES, ids=lambda c: c["id"])
def test_registration_mails_the_normalized_address(iimc: Profile, case: dict[str, Any]) -> None:
    h = make_harness(iimc)
    h.add_user()
    session = h.login().session
    sent = h.portal.start_email_registration(session, case["input"])
    assert sent.address == case["normalized"]
    (mail,) = h.outbox.messages
    assert mail.to == case["normalized"]
    assert h.state("taro").addresses == []  # not before "Confirm"
    assert h.portal.confirm_email_registration(session, code_in(mail.body)).address == case["normalized"]
    assert h.state("taro").addresses == [case["normalized"]]


def test_registration_confirms_and_opens_the_settings(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    assert h.register_address(session, "taro@gmail.com") == "taro@gmail.com"
    view = h.portal.settings(session)
    assert (view.stage, view.address) == (Stage.AUTHENTICATED, "taro@gmail.com")
    assert h.login().stage is Stage.FIRST_FACTOR


def test_wrong_registration_code_changes_no_address(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    h.portal.start_email_registration(session, "taro@gmail.com")
    code = h.last_code("taro@gmail.com")
    with refused(CodeRejected, "EMAIL_REGISTRATION_CONFIRM", "code"):
        h.portal.confirm_email_registration(session, _wrong(code))
    assert h.state("taro").addresses == []
    assert h.state("taro").failures == 1
    h.portal.confirm_email_registration(session, code)
    assert h.state("taro").failures == 0


@pytest.mark.parametrize("case", BLOCKED_CASES, ids=lambda c: c["id"])
def test_blocked_addresses_are_refused_and_nothing_is_sent_or_stored(
    iimc: Profile, case: dict[str, Any]
) -> None:
    """[EMAIL_BLOCKED_DOMAIN] [EMAIL_BLOCKED_SUBDOMAIN]"""
    h = make_harness(iimc)
    h.add_user()
    session = h.login().session
    before = h.state("taro").to_json()
    with pytest.raises(BlockedAddress) as info:
        h.portal.start_email_registration(session, case["input"])
    domain = case["normalized"].rpartition("@")[2]
    exact = domain in iimc.email_blocked_domains
    assert info.value.requirement == ("EMAIL_BLOCKED_DOMAIN" if exact else "EMAIL_BLOCKED_SUBDOMAIN")
    assert info.value.field == "address"
    assert domain in info.value.message_en
    assert h.outbox.messages == []
    after = h.state("taro").to_json()
    assert after["codes"] == before["codes"] and after["addresses"] == before["addresses"] == []


@pytest.mark.parametrize("case", INVALID_CASES, ids=lambda c: c["id"])
def test_invalid_addresses_are_refused_precisely(iimc: Profile, case: dict[str, Any]) -> None:
    """[EMAIL_ADDRESS_SYNTAX] [MAIL_HEADER_INJECTION]"""
    h = make_harness(iimc)
    h.add_user()
    session = h.login().session
    with refused(InvalidAddress, "EMAIL_ADDRESS_SYNTAX", "address"):
        h.portal.start_email_registration(session, case["input"])
    assert h.outbox.messages == []
    assert h.state("taro").codes == []


def test_subdomains_are_accepted_when_the_profile_allows_them(iimc: Profile) -> None:
    cases = [c for c in ADDRESS_CASES if c.get("verdict_without_subdomain_rule") == "accepted"]
    assert cases
    h = make_harness(iimc.replace(email_block_subdomains=False))
    h.add_user()
    session = h.login().session
    for case in cases:
        assert h.register_address(session, case["input"]) == case["normalized"]


def test_one_address_a_new_one_replaces_the_old(h: Harness) -> None:
    """[EMAIL_SINGLE_ADDRESS] the old address gets no further codes."""
    h.user_with_address(address="old@gmail.com")
    session = h.login().session
    session = renewed(
        h.portal.verify_email_code(session, h.last_code(h.portal.send_login_code(session).address))
    )
    assert h.register_address(session, "new@yahoo.co.jp") == "new@yahoo.co.jp"
    assert h.state("taro").addresses == ["new@yahoo.co.jp"][-h.profile.email_max_addresses :]
    old_mails = len([m for m in h.outbox.messages if m.to == "old@gmail.com"])
    assert h.portal.send_login_code(h.login().session).address == "new@yahoo.co.jp"
    assert len([m for m in h.outbox.messages if m.to == "old@gmail.com"]) == old_mails


def test_max_addresses_is_a_profile_value(iimc: Profile) -> None:
    limit = iimc.email_max_addresses + 1
    h = make_harness(iimc.replace(email_max_addresses=limit))
    h.add_user()
    session = h.login().session
    registered = [h.register_address(session, f"taro{i}@gmail.com") for i in range(limit + 2)]
    assert h.state("taro").addresses == registered[-limit:]
    assert h.portal.settings(session).address == registered[-1]


def test_registration_code_is_bound_to_its_address(h: Harness) -> None:
    """A code mailed to one address cannot register another: the newer start voids it."""
    h.add_user()
    session = h.login().session
    h.portal.start_email_registration(session, "first@gmail.com")
    first = h.last_code("first@gmail.com")
    h.portal.start_email_registration(session, "second@gmail.com")
    second = h.last_code("second@gmail.com")
    if first != second:
        with refused(CodeRejected, "EMAIL_REGISTRATION_CONFIRM"):
            h.portal.confirm_email_registration(session, first)
    assert h.portal.confirm_email_registration(session, second).address == "second@gmail.com"


# --- the login code: to the registered address, lifetime, single use ---------------------------


def test_login_code_goes_to_the_registered_address(h: Harness) -> None:
    """[EMAIL_OTP_TO_REGISTERED_ADDRESS] [SECOND_FACTOR_METHODS]"""
    session, code = _first_factor(h)
    mail = h.outbox.messages[-1]
    assert mail.to == "taro@gmail.com" and mail.purpose == Purpose.LOGIN.value
    verified = h.portal.verify_email_code(session, code)
    assert verified.stage is Stage.AUTHENTICATED
    assert h.portal.settings(renewed(verified)).stage is Stage.AUTHENTICATED


def test_login_code_is_single_use(h: Harness) -> None:
    """[EMAIL_OTP_SINGLE_USE]"""
    session, code = _first_factor(h)
    session = renewed(h.portal.verify_email_code(session, code))
    second = h.login().session
    with refused(CodeRejected, "EMAIL_OTP_SINGLE_USE") as error:
        h.portal.verify_email_code(second, code)
    assert error[0].reason == "used"
    assert h.state("taro").failures == 0  # a replay is no failed attempt [REPLAY_NOT_COUNTED]


def test_a_used_code_sent_again_locks_no_one_out(h: Harness) -> None:
    """[REPLAY_NOT_COUNTED] A double click, threshold times over: the owner still gets in."""
    session, code = _first_factor(h)
    session = renewed(h.portal.verify_email_code(session, code))
    for _ in range(h.profile.lockout_threshold):
        with refused(CodeRejected, "EMAIL_OTP_SINGLE_USE"):
            h.portal.verify_email_code(h.login().session, code)
    again = h.login().session
    fresh = h.last_code(h.portal.send_login_code(again).address)
    assert h.portal.verify_email_code(again, fresh).stage is Stage.AUTHENTICATED


def test_login_code_outlives_its_session(h: Harness) -> None:
    """spec/protocol.md §11–§12.3: a code belongs to the account and its purpose, not to the
    session that asked for it, so a login that started afresh (the page timed out) can use it."""
    _session, code = _first_factor(h)
    other = h.login().session
    assert h.portal.verify_email_code(other, code).stage is Stage.AUTHENTICATED


def _long_session(profile: Profile) -> Profile:
    """The profile with first-factor sessions outliving the codes, so a refusal can only come
    from the code's own lifetime."""
    longest = max(profile.email_otp_lifetime_seconds, profile.confirmation_code_lifetime_seconds)
    return profile.replace(session_first_factor_seconds=2 * longest + 1)


def test_login_code_lifetime_boundary(profile: Profile) -> None:
    """[EMAIL_OTP_LIFETIME] lifetime − 1 s accepted, exactly the lifetime refused."""
    lifetime = profile.email_otp_lifetime_seconds
    h = make_harness(_long_session(profile))
    session, code = _first_factor(h)
    h.clock.advance(lifetime - 1)
    assert h.portal.verify_email_code(session, code).stage is Stage.AUTHENTICATED

    h = make_harness(_long_session(profile), seed=99)
    session, code = _first_factor(h)
    h.clock.advance(lifetime)
    with refused(CodeRejected, "EMAIL_OTP_LIFETIME") as error:
        h.portal.verify_email_code(session, code)
    assert error[0].reason == "expired"


def test_registration_code_lifetime_boundary(h: Harness) -> None:
    lifetime = h.profile.email_otp_lifetime_seconds
    h.add_user()
    session = h.login().session
    h.portal.start_email_registration(session, "taro@gmail.com")
    code = h.last_code("taro@gmail.com")
    h.clock.advance(lifetime)
    with refused(CodeRejected, "EMAIL_OTP_LIFETIME"):
        h.portal.confirm_email_registration(session, code)
    assert h.state("taro").addresses == []
    h.portal.start_email_registration(session, "taro@gmail.com")
    code = h.last_code("taro@gmail.com")
    h.clock.advance(lifetime - 1)
    assert h.portal.confirm_email_registration(session, code).address == "taro@gmail.com"


@pytest.mark.CODE_STORED_HASHED
def test_codes_are_stored_hashed(h: Harness) -> None:
    """[CODE_STORED_HASHED] no mailed code appears anywhere in the stored record."""
    session, code = _first_factor(h)
    session = renewed(h.portal.verify_email_code(session, code))
    h.portal.start_email_registration(session, "second@gmail.com")
    h.portal.initialize(h.login_for_reset())
    codes = {code_in(m.body) for m in h.outbox.messages}
    assert len(codes) == len(h.outbox.messages)
    stored = h.state("taro").to_json()
    assert len(stored["codes"]) >= 2
    text = repr(stored)
    for sent in codes:
        assert sent not in text


# --- resend [RESEND_VOIDS_PREVIOUS] [RESEND_KEEPS_FAILURE_COUNT] ------------------------------


def test_resend_voids_the_previous_code_and_keeps_the_failure_count(h: Harness) -> None:
    assert h.profile.resend_voids_previous and h.profile.resend_keeps_failure_count
    session, first = _first_factor(h)
    with refused(CodeRejected, "SECOND_FACTOR_REQUIRED"):
        h.portal.verify_email_code(session, _wrong(first))
    second = h.last_code(h.portal.send_login_code(session).address)
    assert h.state("taro").failures == 1
    assert first != second
    with refused(CodeRejected, "SECOND_FACTOR_REQUIRED") as error:
        h.portal.verify_email_code(session, first)
    assert error[0].reason == "wrong"  # voided codes are forgotten, not merely marked
    assert h.state("taro").failures == 2
    session = renewed(h.portal.verify_email_code(session, second))
    assert h.state("taro").failures == 0  # success resets the count


def test_resend_keeps_the_previous_code_when_the_profile_says_so(iimc: Profile) -> None:
    h = make_harness(iimc.replace(resend_voids_previous=False, resend_keeps_failure_count=False))
    session, first = _first_factor(h)
    with pytest.raises(CodeRejected):
        h.portal.verify_email_code(session, _wrong(first))
    assert h.state("taro").failures == 1
    h.portal.send_login_code(session)
    assert h.state("taro").failures == 0
    assert h.portal.verify_email_code(session, first).stage is Stage.AUTHENTICATED


# --- lockout [LOCKOUT_THRESHOLD] [LOCKOUT_DURATION] -------------------------------------------


def _fail(h: Harness, session: str, code: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(CodeRejected):
            h.portal.verify_email_code(session, _wrong(code))


def _lockout_profile(profile: Profile) -> Profile:
    """Codes and first-factor sessions that outlive a lock, so only the lock refuses."""
    longer = 3 * profile.lockout_duration_seconds
    return profile.replace(email_otp_lifetime_seconds=longer, session_first_factor_seconds=longer)


def test_lockout_after_the_threshold_then_lifts(profile: Profile) -> None:
    h = make_harness(_lockout_profile(profile))
    threshold, duration = h.profile.lockout_threshold, h.profile.lockout_duration_seconds
    session, code = _first_factor(h)
    _fail(h, session, code, threshold - 1)
    assert h.state("taro").locked_until is None
    with pytest.raises(CodeRejected):
        h.portal.verify_email_code(session, _wrong(code))
    assert h.state("taro").locked_until == h.clock.now() + duration
    # locked: even the right code is refused, and attempts do not extend the lock
    h.clock.advance(duration - 1)
    with refused(AccountLocked, "LOCKOUT_DURATION") as error:
        h.portal.verify_email_code(session, code)
    assert error[0].status_hint == 429
    assert h.state("taro").locked_until == h.clock.now() + 1
    h.clock.advance(1)
    fresh = h.login().session
    assert h.portal.verify_email_code(fresh, code).stage is Stage.AUTHENTICATED
    assert h.state("taro").failures == 0 and h.state("taro").locked_until is None


def test_lock_lifts_with_the_count_back_at_zero(iimc: Profile) -> None:
    h = make_harness(_lockout_profile(iimc))
    session, code = _first_factor(h)
    _fail(h, session, code, iimc.lockout_threshold)
    h.clock.advance(iimc.lockout_duration_seconds)
    session = h.login().session
    _fail(h, session, code, 1)  # one failure after the lock does not lock again
    assert h.state("taro").failures == 1 and h.state("taro").locked_until is None


def test_success_resets_the_failure_count(h: Harness) -> None:
    threshold = h.profile.lockout_threshold
    session, code = _first_factor(h)
    _fail(h, session, code, threshold - 1)
    session = renewed(h.portal.verify_email_code(session, code))
    session = h.login().session
    code = h.last_code(h.portal.send_login_code(session).address)
    _fail(h, session, code, threshold - 1)
    assert h.state("taro").locked_until is None
    assert h.portal.verify_email_code(session, code).stage is Stage.AUTHENTICATED


# --- the mail contract [MAIL_SENDER] [MAIL_SUBJECT_*] [MAIL_BODY_CODE] ------------------------


def _assert_contract(mail: OutgoingMail, profile: Profile, subject: str, digits: int) -> None:
    assert mail.sender == profile.mail_sender
    assert mail.subject == subject
    runs = re.findall(r"[0-9]{6,}", mail.body)
    assert len(runs) == 1, runs
    assert len(runs[0]) == digits


def test_mail_contract(h: Harness) -> None:
    p = h.profile
    _session, code = _first_factor(h)
    registration, login = h.outbox.messages
    _assert_contract(registration, p, p.mail_subject_otp, p.email_otp_digits)
    _assert_contract(login, p, p.mail_subject_otp, p.email_otp_digits)
    assert code in login.body
    h.portal.initialize(h.login_for_reset())
    reset = h.outbox.messages[-1]
    _assert_contract(reset, p, p.mail_subject_reset, p.confirmation_code_digits)
    assert reset.purpose == Purpose.RESET.value
    for mail in h.outbox.messages:
        assert "\r" not in mail.to + mail.subject and "\n" not in mail.to + mail.subject


# --- a failing relay ---------------------------------------------------------------------------


class FlakyMailer:
    def __init__(self) -> None:
        self.outbox = Outbox()
        self.down = False

    def send(self, mail: OutgoingMail) -> None:
        if self.down:
            raise ConnectionRefusedError("relay down")
        self.outbox.send(mail)


def test_mail_failure_is_mail_not_sent_and_resend_works_later(profile: Profile) -> None:
    mailer = FlakyMailer()
    h = make_harness(profile, mailer=mailer)
    h.add_user()
    session = h.login().session
    mailer.down = True
    with refused(MailNotSent, "EMAIL_OTP_TO_REGISTERED_ADDRESS") as error:
        h.portal.start_email_registration(session, "taro@gmail.com")
    assert error[0].status_hint == 503
    assert h.state("taro").addresses == [] and h.state("taro").failures == 0
    mailer.down = False
    h.portal.start_email_registration(session, "taro@gmail.com")
    assert h.portal.confirm_email_registration(session, code_in(mailer.outbox.messages[-1].body))
    assert h.state("taro").addresses == ["taro@gmail.com"]

    reset = h.portal.login_for_reset("taro", h.users["taro"]).session
    mailer.down = True
    with refused(MailNotSent, "RESET_CONFIRMATION_MAIL"):
        h.portal.initialize(reset)
    assert h.state("taro").reset_pending
    mailer.down = False
    screen = h.portal.resend(reset)
    assert screen.mailed
    assert h.portal.confirm_reset(reset, code_in(mailer.outbox.messages[-1].body)) is Stage.SETUP


def test_no_login_code_without_an_address(h: Harness) -> None:
    """spec/protocol.md §4.1: with no address the email screen sends nothing."""
    h.user_with_app()
    with refused(NothingPending, "EMAIL_OTP_TO_REGISTERED_ADDRESS"):
        h.portal.send_login_code(h.login().session)
    assert h.outbox.messages == []
