"""Malformed input: every entry point answers with a precise InvalidInput / InvalidAddress (or an
expired session for a forged token), never another exception, and the stored data stays intact
[INPUT_ERRORS_PRECISE]."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ninsho.reference.core.errors import InvalidAddress, InvalidInput, NinshoError, SessionExpired
from ninsho.reference.core.passwords import MAX_PASSWORD_CHARS
from ninsho.reference.core.state import Stage
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

from .conftest import PASSWORD, Harness, make_harness, refused, renewed

HUGE = "1" * 100_000
BAD_LOGIN_IDS: list[Any] = [
    None,
    42,
    b"taro",
    "",
    " ",
    "taro\n",
    "taro\r\n",
    "taro\x00",
    "taro yamada",
    "-taro",
    ".taro",
    "たろう",
    "ｔａｒｏ",
    "a" * 65,
    HUGE,
]
BAD_PASSWORDS: list[Any] = [None, 42, b"pw", "", "x" * (MAX_PASSWORD_CHARS + 1), HUGE]


def _bad_codes(digits: int) -> dict[str, Any]:
    good = "1" * digits
    return {
        "none": None,
        "int": int(good),
        "bytes": good.encode(),
        "list": [good],
        "empty": "",
        "too-short": good[:-1],
        "too-long": good + "1",
        "letters": "a" * digits,
        "one-letter": good[:-1] + "O",
        "sign": "+" + good[1:],
        "decimal-point": good[:-1] + ".",
        "arabic-indic-digits": "١" * digits,  # digits, but not ASCII after NFKC
        "superscript-overflow": good + "¹",  # NFKC turns ¹ into 1: one digit too many
        "crlf-inside": good[:2] + "\r\n" + good[2:] + "1",
        "huge": HUGE,
        "padded-past-64": good + " " * (64 - digits) + "1",  # not cut at 64: refused whole
    }


def _entry_points(h: Harness, profile: Profile) -> dict[str, tuple[Callable[[Any], Any], str, int]]:
    """For each code field: (submit, requirement, digits), each in a session of the right stage."""
    h.user_with_address()
    first = h.login().session
    h.portal.send_login_code(first)
    settings_session = h.login().session
    settings_session = renewed(h.portal.verify_email_code(settings_session, h.last_code("taro@gmail.com")))
    h.portal.start_app_registration(settings_session)
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    return {
        "app": (lambda c: h.portal.verify_app_code(first, c), "TOTP_DIGITS", profile.totp_digits),
        "email": (
            lambda c: h.portal.verify_email_code(first, c),
            "EMAIL_OTP_DIGITS",
            profile.email_otp_digits,
        ),
        "register-address": (
            lambda c: h.portal.confirm_email_registration(settings_session, c),
            "EMAIL_OTP_DIGITS",
            profile.email_otp_digits,
        ),
        "register-app": (
            lambda c: h.portal.confirm_app_registration(settings_session, c),
            "TOTP_DIGITS",
            profile.totp_digits,
        ),
        "reset": (
            lambda c: h.portal.confirm_reset(reset, c),
            "RESET_CODE_DIGITS",
            profile.confirmation_code_digits,
        ),
    }


@pytest.mark.parametrize("field", ["app", "email", "register-address", "register-app", "reset"])
def test_malformed_codes_are_invalid_input(profile: Profile, field: str) -> None:
    h = make_harness(profile)
    submit, requirement, digits = _entry_points(h, profile)[field]
    before = h.state("taro").to_json()
    for name, code in _bad_codes(digits).items():
        with refused(InvalidInput, requirement, "code") as error:
            submit(code)
        assert str(digits) in error[0].message_en, name
    after = h.state("taro").to_json()
    assert after["failures"] == before["failures"] == 0  # malformed input is not a failed attempt
    assert after["codes"] == before["codes"] and after["apps"] == before["apps"]


def test_full_width_and_spaced_codes_are_read_as_digits(h: Harness) -> None:
    """spec/protocol.md §12.1: NFKC, then every white space removed."""
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    h.user_with_address()
    session = h.login().session
    code = h.last_code(h.portal.send_login_code(session).address)
    spaced = " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    assert (
        h.portal.verify_email_code(session, f"\u3000{spaced.translate(full_width)}\t").stage
        is Stage.AUTHENTICATED
    )


@pytest.mark.parametrize("login_id", BAD_LOGIN_IDS, ids=repr)
def test_malformed_login_ids(h: Harness, login_id: Any) -> None:
    h.add_user()
    for action in (
        lambda: h.portal.login(login_id, PASSWORD),
        lambda: h.portal.login_for_reset(login_id, PASSWORD),
        lambda: h.portal.add_user(login_id, PASSWORD),
        lambda: h.portal.helpdesk_issue_code(login_id),
    ):
        with refused(InvalidInput, "FIRST_FACTOR_PASSWORD", "login_id"):
            action()
    assert h.portal.users() == ["taro"]


@pytest.mark.parametrize("password", BAD_PASSWORDS, ids=lambda p: repr(p)[:20])
def test_malformed_passwords(h: Harness, password: Any) -> None:
    h.add_user()
    with refused(InvalidInput, "FIRST_FACTOR_PASSWORD", "password"):
        h.portal.login("taro", password)
    with refused(InvalidInput, "FIRST_FACTOR_PASSWORD", "password"):
        h.portal.add_user("hanako", password)
    assert h.portal.users() == ["taro"]


def test_longest_password_is_verified_in_full(h: Harness) -> None:
    longest = "p" * MAX_PASSWORD_CHARS
    h.add_user("taro", longest)
    assert h.login().stage is Stage.SETUP
    with pytest.raises(NinshoError):
        h.portal.login("taro", longest[:-1] + "q")


@pytest.mark.parametrize(
    "address", [None, 42, b"taro@gmail.com", ["taro@gmail.com"], "x" * 2000 + "@gmail.com", HUGE], ids=repr
)
def test_malformed_addresses(h: Harness, address: Any) -> None:
    h.add_user()
    session = h.login().session
    with refused(InvalidAddress, "EMAIL_ADDRESS_SYNTAX", "address"):
        h.portal.start_email_registration(session, address)
    assert h.outbox.messages == [] and h.state("taro").codes == []


@pytest.mark.parametrize(
    "token", [None, 42, b"x.y", HUGE, "x" * 10_000 + "." + "y"], ids=lambda t: repr(t)[:20]
)
def test_malformed_session_tokens(h: Harness, token: Any) -> None:
    h.add_user()
    with refused(SessionExpired, "SESSION_EXPIRY"):
        h.portal.settings(token)
    with refused(SessionExpired, "SESSION_EXPIRY"):
        h.portal.logout(token)


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=16),
    st.text(max_size=80),
    st.text(alphabet="0123456789０１２３４５６７８９ \t\r\n", max_size=20),
    st.lists(st.text(max_size=4), max_size=2),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=ANYTHING,
    where=st.sampled_from(["login_id", "password", "address", "code", "email", "reset", "session"]),
)
def test_any_input_gives_a_ninsho_error_or_a_result(value: Any, where: str) -> None:
    iimc = load_profile("iimc")  # not the fixture: hypothesis runs the body many times
    h = make_harness(iimc)
    entry = _entry_points(h, iimc)
    settings_session = h.login().session  # first factor: only for the session probe
    actions: dict[str, Callable[[], Any]] = {
        "login_id": lambda: h.portal.login(value, PASSWORD),
        "password": lambda: h.portal.login("taro", value),
        "address": lambda: h.portal.start_email_registration(h.login_for_reset(), value),
        "code": lambda: entry["app"][0](value),
        "email": lambda: entry["register-address"][0](value),
        "reset": lambda: entry["reset"][0](value),
        "session": lambda: h.portal.settings(value if value is not None else settings_session),
    }
    try:
        actions[where]()
    except NinshoError as error:
        assert error.status_hint < 500 or error.code == "mail_not_sent"
        assert error.requirement
