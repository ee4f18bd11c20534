"""The password throttle and the mail limit of the core (spec/protocol.md §3.1, §12.4, §12.5),
on virtual time: what the harness cannot see from one loopback address is judged here, by the
``client`` the edge passes in (tests/web judge the edge's own address and forwarded one)."""

from __future__ import annotations

import pytest

from ninsho.reference.core.errors import AccountLocked, AuthenticationFailed, NinshoError, RateLimited
from ninsho.reference.core.passwords import PasswordHasher
from ninsho.reference.core.rules import ACCOUNT_FAILURES_PER_HOUR
from ninsho.reference.stores.memory import SWEEP_EVERY
from ninsho.spec.profile import Profile

from .conftest import PASSWORD, Harness, make_harness, refused, renewed

WRONG = "not the password"


def _guess(h: Harness, login_id: str, times: int, client: str = "192.0.2.1") -> None:
    for _ in range(times):
        with refused(AuthenticationFailed, "FIRST_FACTOR_PASSWORD"):
            h.portal.login(login_id, WRONG, client=client)


class _Counting:
    """The portal's password hasher, noting every password it is asked to verify."""

    def __init__(self, hasher: PasswordHasher, seen: list[str]) -> None:
        self.hasher, self.seen = hasher, seen

    def verify_evenly(self, password: str, stored: str | None) -> bool:
        self.seen.append(password)
        return self.hasher.verify_evenly(password, stored)


def _trusted_token(h: Harness, login_id: str, address: str) -> str:
    """A browser trusted for the account: the email second factor with "Trust this browser"."""
    session = h.login(login_id).session
    h.portal.send_login_code(session)
    verified = h.portal.verify_email_code(session, h.last_code(address), trust_browser=True)
    assert verified.trust_token is not None
    return verified.trust_token


def test_the_right_password_is_held_back_like_a_wrong_one(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """max_failures wrong passwords in the window: the right one is refused as rate limited,
    unverified, with the seconds left; a window after the last failure it logs in."""
    p = h.profile
    h.add_user()
    _guess(h, "taro", p.password_throttle_max_failures)
    hashed: list[str] = []
    monkeypatch.setattr(h.portal, "hasher", _Counting(h.portal.hasher, hashed))
    with refused(RateLimited, "PASSWORD_THROTTLE") as box:
        h.login(client="192.0.2.1")
    assert box[0].status_hint == 429 and box[0].retry_after == p.password_throttle_window_seconds
    with refused(RateLimited, "PASSWORD_THROTTLE"):
        h.portal.login("taro", WRONG, client="192.0.2.1")  # the same answer: no oracle
    with refused(RateLimited, "PASSWORD_THROTTLE"):
        h.portal.login_for_reset("taro", PASSWORD, client="192.0.2.1")  # one count for both screens
    assert hashed == []  # a held-back attempt is not even checked
    h.clock.advance(p.password_throttle_window_seconds - 1)
    with refused(RateLimited, "PASSWORD_THROTTLE"):
        h.login(client="192.0.2.1")  # held attempts did not prolong it, nor did it lift early
    h.clock.advance(1)
    assert h.login(client="192.0.2.1").session


def test_an_unknown_id_is_throttled_like_a_known_one(h: Harness) -> None:
    h.add_user()
    for login_id in ("taro", "nobody"):
        _guess(h, login_id, h.profile.password_throttle_max_failures)
    answers = []
    for login_id in ("taro", "nobody"):
        with pytest.raises(RateLimited) as info:
            h.portal.login(login_id, WRONG, client="192.0.2.1")
        answers.append(info.value.as_dict())
    assert answers[0] == answers[1]


def test_one_clients_guessing_does_not_throttle_another(h: Harness) -> None:
    h.add_user()
    _guess(h, "taro", h.profile.password_throttle_max_failures, client="198.51.100.7")
    with refused(RateLimited, "PASSWORD_THROTTLE"):
        h.login(client="198.51.100.7")
    assert h.login(client="192.0.2.1").session  # the owner, from elsewhere


def test_a_trusted_browser_logs_in_through_a_strangers_throttle(iimc: Profile) -> None:
    h = make_harness(iimc)
    h.user_with_address()
    token = _trusted_token(h, "taro", "taro@gmail.com")
    _guess(h, "taro", iimc.password_throttle_max_failures)  # the stranger, from the owner's address
    with refused(RateLimited, "PASSWORD_THROTTLE"):
        h.login(client="192.0.2.1")
    assert h.login(trust_token=token, client="192.0.2.1").stage.value == "authenticated"


def test_the_account_as_a_whole_has_an_hours_bound(iimc: Profile) -> None:
    """100 wrong passwords an hour from many addresses throttle every untrusted client, and no
    trusted browser (OWASP ASVS 4.0.3 2.2.1)."""
    h = make_harness(iimc)
    h.user_with_address()
    token = _trusted_token(h, "taro", "taro@gmail.com")
    for n in range(ACCOUNT_FAILURES_PER_HOUR):
        _guess(h, "taro", 1, client=f"203.0.113.{n}")
    with refused(RateLimited, "PASSWORD_THROTTLE"):
        h.login(client="192.0.2.99")
    assert h.login(trust_token=token).stage.value == "authenticated"
    h.clock.advance(3600)
    assert h.login(client="192.0.2.99").session


def test_a_right_password_starts_its_client_again(h: Harness) -> None:
    h.add_user()
    _guess(h, "taro", h.profile.password_throttle_max_failures - 1)
    assert h.login(client="192.0.2.1").session
    _guess(h, "taro", h.profile.password_throttle_max_failures - 1)
    assert h.login(client="192.0.2.1").session


def test_mails_to_one_address_are_limited_until_a_code_is_used(h: Harness) -> None:
    p = h.profile
    h.user_with_address()
    session = h.login().session
    for _ in range(p.mail_limit_per_address):
        h.portal.send_login_code(session)
    sent, code = len(h.outbox.messages), h.last_code("taro@gmail.com")
    with refused(RateLimited, "MAIL_RATE_LIMIT") as box:
        h.portal.send_login_code(session)
    assert box[0].retry_after == p.mail_limit_window_seconds
    assert len(h.outbox.messages) == sent  # nothing mailed, and the code mailed last still works
    renewed(h.portal.verify_email_code(session, code))
    h.portal.send_login_code(h.login().session)
    assert len(h.outbox.messages) == sent + 1


def test_the_mail_limit_lifts_after_its_window(h: Harness) -> None:
    p = h.profile
    h.user_with_address()
    session = h.login().session
    for _ in range(p.mail_limit_per_address):
        h.portal.send_login_code(session)
    h.clock.advance(p.mail_limit_window_seconds)
    h.portal.send_login_code(h.login().session)


def test_registration_mails_count_per_address_across_accounts(iimc: Profile) -> None:
    """Registration codes to a stranger's address, from several set-up sessions: one count."""
    h = make_harness(iimc)
    for n in range(iimc.mail_limit_per_address):
        h.add_user(f"user{n}")
        h.portal.start_email_registration(h.login(f"user{n}").session, "victim@example.org")
    h.add_user("one.more")
    with refused(RateLimited, "MAIL_RATE_LIMIT"):
        h.portal.start_email_registration(h.login("one.more").session, "victim@example.org")


def test_a_locked_account_is_mailed_nothing(iimc: Profile) -> None:
    h = make_harness(iimc)
    h.user_with_address()
    session = h.login().session
    h.portal.send_login_code(session)
    for _ in range(iimc.lockout_threshold):
        with pytest.raises(NinshoError):  # refused, and the last one may say "locked"
            h.portal.verify_email_code(session, "00000000")
    sent = len(h.outbox.messages)
    with pytest.raises(AccountLocked):
        h.portal.send_login_code(session)
    reset = h.login_for_reset()
    with pytest.raises(AccountLocked):
        h.portal.initialize(reset)
    assert len(h.outbox.messages) == sent
    assert not h.state("taro").reset_pending  # the refused Initialize opened nothing


def test_guards_of_guessed_ids_do_not_pile_up(iimc: Profile) -> None:
    h = make_harness(iimc)
    for n in range(SWEEP_EVERY):
        _guess(h, f"guess{n}", 1)
    h.clock.advance(3600)
    for n in range(SWEEP_EVERY):  # enough writes for a sweep, an hour later
        _guess(h, f"late{n}", 1)
    guards = h.env.store._guards  # type: ignore[attr-defined]
    assert guards and not [key for key in guards if key.startswith("password:guess")]
