"""The authenticator app: registration with a current code, the TOTP window and replay."""

from __future__ import annotations

import pyotp
import pytest

from ninsho.reference.core import otp
from ninsho.reference.core.errors import AccountLocked, CodeRejected, NothingPending
from ninsho.reference.core.state import Stage
from ninsho.spec.profile import Profile

from .conftest import Harness, base32_decode, make_harness, refused, renewed

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _offsets(profile: Profile) -> list[int]:
    """Every offset in the window and one step beyond each edge."""
    return list(range(-profile.totp_window_past_steps - 1, profile.totp_window_future_steps + 2))


# --- registration [APP_REGISTER_REQUIRES_CODE] [APP_PROVISIONING_URI] [APP_MANUAL_KEY] ----------


def test_provisioning_shows_one_fresh_secret(h: Harness) -> None:
    p = h.profile
    h.add_user()
    session = h.login().session
    shown = h.portal.start_app_registration(session)
    secret = base32_decode(shown.manual_key)
    assert len(secret) == p.totp_secret_bytes
    parsed = pyotp.parse_uri(shown.uri)
    assert parsed.byte_secret() == secret
    assert (parsed.digits, parsed.interval, parsed.issuer, parsed.name) == (
        p.totp_digits,
        p.totp_period_seconds,
        p.totp_issuer,
        "taro",
    )
    assert h.state("taro").pending_app_secret_hex == secret.hex()
    assert h.state("taro").apps == [] and h.portal.settings(session).app_count == 0
    again = base32_decode(h.portal.start_app_registration(session).manual_key)
    assert again != secret  # [TOTP_SECRET_STRENGTH] a fresh secret each time


def test_register_with_a_current_code(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    secret = h.register_app(session)
    state = h.state("taro")
    assert [a.secret_hex for a in state.apps] == [secret.hex()]
    assert state.pending_app_secret_hex is None
    assert h.portal.settings(session).stage is Stage.AUTHENTICATED
    assert h.login().methods == ("app",)


def test_register_without_scanning_is_nothing_pending(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    with refused(NothingPending, "APP_REGISTER_REQUIRES_CODE"):
        h.portal.confirm_app_registration(session, "0" * h.profile.totp_digits)


def test_register_with_a_wrong_or_stale_code_is_refused(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    secret = base32_decode(h.portal.start_app_registration(session).manual_key)
    for offset in (-h.profile.totp_window_past_steps - 1, h.profile.totp_window_future_steps + 1):
        with refused(CodeRejected, "APP_REGISTER_REQUIRES_CODE", "code"):
            h.portal.confirm_app_registration(session, h.totp(secret, offset))
    assert h.state("taro").apps == [] and h.state("taro").failures == 2
    h.portal.confirm_app_registration(session, h.totp(secret))
    assert len(h.state("taro").apps) == 1


def test_a_second_scan_voids_the_first_pending_secret(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    first = base32_decode(h.portal.start_app_registration(session).manual_key)
    second = base32_decode(h.portal.start_app_registration(session).manual_key)
    if h.totp(first) != h.totp(second):
        with refused(CodeRejected, "APP_REGISTER_REQUIRES_CODE"):
            h.portal.confirm_app_registration(session, h.totp(first))
    h.portal.confirm_app_registration(session, h.totp(second))
    assert [a.secret_hex for a in h.state("taro").apps] == [second.hex()]


def test_a_pending_secret_cannot_log_in(h: Harness) -> None:
    """[APP_REGISTER_REQUIRES_CODE] a scanned but unregistered secret never passes."""
    h.user_with_address()
    session = h.login().session
    session = renewed(
        h.portal.verify_email_code(session, h.last_code(h.portal.send_login_code(session).address))
    )
    pending = base32_decode(h.portal.start_app_registration(session).manual_key)
    first_factor = h.login().session
    for offset in range(-h.profile.totp_window_past_steps, h.profile.totp_window_future_steps + 1):
        with refused(CodeRejected, "TOTP_WINDOW"):
            h.portal.verify_app_code(first_factor, h.totp(pending, offset))
    assert h.state("taro").pending_app_secret_hex == pending.hex()


def test_the_registration_code_cannot_log_in_again(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    secret = base32_decode(h.portal.start_app_registration(session).manual_key)
    code = h.totp(secret)
    h.portal.confirm_app_registration(session, code)
    with refused(CodeRejected, "TOTP_REPLAY") as error:
        h.portal.verify_app_code(h.login().session, code)
    assert error[0].reason == "replayed"


# --- the window [TOTP_WINDOW] -----------------------------------------------------------------


@pytest.mark.parametrize("phase", ["first-second", "middle", "last-second"])
def test_totp_window_edges(profile: Profile, phase: str) -> None:
    period = profile.totp_period_seconds
    second = {"first-second": 0, "middle": period // 2, "last-second": period - 1}[phase]
    for offset in _offsets(profile):
        h = make_harness(profile)
        secret = h.user_with_app()
        step = otp.time_step(h.clock.now(), period)
        h.clock.set(step * period + second)
        session = h.login().session
        code = h.totp(secret, offset)
        inside = -profile.totp_window_past_steps <= offset <= profile.totp_window_future_steps
        if inside:
            assert h.portal.verify_app_code(session, code).stage is Stage.AUTHENTICATED, offset
            assert h.state("taro").apps[0].last_step == step + offset
        else:
            with refused(CodeRejected, "TOTP_WINDOW") as error:
                h.portal.verify_app_code(session, code)
            assert error[0].reason == "wrong"
            assert h.state("taro").failures == 1


def test_codes_with_full_width_digits_and_spaces_are_accepted(h: Harness) -> None:
    secret = h.user_with_app()
    code = h.totp(secret).translate(FULL_WIDTH)
    assert code != h.totp(secret)
    assert h.portal.verify_app_code(h.login().session, f"　{code} ").stage is Stage.AUTHENTICATED


# --- replay [TOTP_REPLAY] ---------------------------------------------------------------------


def test_the_same_code_twice_is_refused(h: Harness) -> None:
    secret = h.user_with_app()
    code = h.totp(secret)
    h.portal.verify_app_code(h.login().session, code)
    with refused(CodeRejected, "TOTP_REPLAY") as error:
        h.portal.verify_app_code(h.login().session, code)
    assert error[0].reason == "replayed"
    assert h.state("taro").failures == 0  # a replay is no failed attempt [REPLAY_NOT_COUNTED]


def test_an_older_step_after_a_newer_one_is_refused(h: Harness) -> None:
    past, future = h.profile.totp_window_past_steps, h.profile.totp_window_future_steps
    assert past + future >= 1
    secret = h.user_with_app()
    newer, older = h.totp(secret, future), h.totp(secret, -past)
    h.portal.verify_app_code(h.login().session, newer)
    if older != newer:
        with refused(CodeRejected, "TOTP_REPLAY"):
            h.portal.verify_app_code(h.login().session, older)


def test_a_used_code_stays_used_as_time_moves_on(h: Harness) -> None:
    secret = h.user_with_app()
    code = h.totp(secret)
    h.portal.verify_app_code(h.login().session, code)
    for _ in range(h.profile.totp_window_past_steps):
        h.past_totp_steps(1)
        with refused(CodeRejected, "TOTP_REPLAY"):
            h.portal.verify_app_code(h.login().session, code)
    h.past_totp_steps(1)
    with refused(CodeRejected, "TOTP_WINDOW"):  # and then it is simply out of the window
        h.portal.verify_app_code(h.login().session, code)
    assert h.portal.verify_app_code(h.login().session, h.totp(secret)).stage is Stage.AUTHENTICATED


def test_each_app_keeps_its_own_last_step(h: Harness) -> None:
    first = h.user_with_app()
    session = h.login().session
    session = renewed(h.portal.verify_app_code(session, h.totp(first)))
    second = h.register_app(session)
    assert len(h.state("taro").apps) == 2
    h.past_totp_steps(1)
    h.portal.verify_app_code(h.login().session, h.totp(second))
    h.portal.verify_app_code(h.login().session, h.totp(first))
    with refused(CodeRejected, "TOTP_REPLAY"):
        h.portal.verify_app_code(h.login().session, h.totp(second))


def test_wrong_app_codes_lock_the_account(h: Harness) -> None:
    secret = h.user_with_app()
    session = h.login().session
    wrong = h.totp(secret, h.profile.totp_window_future_steps + 1)
    for _ in range(h.profile.lockout_threshold):
        with pytest.raises(CodeRejected):
            h.portal.verify_app_code(session, wrong)
    with refused(AccountLocked, "LOCKOUT_DURATION"):
        h.portal.verify_app_code(session, h.totp(secret))
