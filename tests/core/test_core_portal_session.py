"""The first factor, session stages and lifetimes, logout and "Trust this browser"."""

from __future__ import annotations

import pytest

from ninsho.reference.core.errors import AuthenticationFailed, CodeRejected, NotPermitted, SessionExpired
from ninsho.reference.core.state import Stage
from ninsho.spec.profile import Profile

from .conftest import PASSWORD, Harness, base32_decode, make_harness, refused, renewed


def test_new_account_logs_in_to_setup(h: Harness) -> None:
    h.add_user()
    result = h.login()
    assert result.stage is Stage.SETUP
    assert result.methods == ()
    view = h.portal.settings(result.session)
    assert (view.login_id, view.stage, view.address, view.app_count) == ("taro", Stage.SETUP, None, 0)


def test_users_are_listed_and_removed(h: Harness) -> None:
    h.add_user("taro")
    h.add_user("hanako")
    assert h.portal.users() == ["hanako", "taro"]
    h.portal.remove_user("taro")
    assert h.portal.users() == ["hanako"]
    with pytest.raises(AuthenticationFailed):
        h.portal.login("taro", PASSWORD)


def test_unknown_id_and_wrong_password_get_identical_errors(h: Harness) -> None:
    """[FIRST_FACTOR_NO_ENUMERATION] same class, requirement, status, field and messages."""
    h.add_user()
    with refused(AuthenticationFailed, "FIRST_FACTOR_PASSWORD") as wrong_password:
        h.portal.login("taro", PASSWORD + "!")
    with refused(AuthenticationFailed, "FIRST_FACTOR_PASSWORD") as unknown_id:
        h.portal.login("jiro", PASSWORD)
    assert wrong_password[0].as_dict() == unknown_id[0].as_dict()
    assert wrong_password[0].status_hint == unknown_id[0].status_hint == 401
    assert "jiro" not in str(unknown_id[0].as_dict())
    with refused(AuthenticationFailed, "FIRST_FACTOR_PASSWORD") as reset_unknown:
        h.portal.login_for_reset("jiro", PASSWORD)
    assert reset_unknown[0].as_dict() == unknown_id[0].as_dict()


def test_methods_follow_the_registered_factors(h: Harness) -> None:
    h.user_with_address()
    first = h.login()
    assert first.stage is Stage.FIRST_FACTOR and first.methods == ("email",)
    code = h.last_code(h.portal.send_login_code(first.session).address)
    h.register_app(renewed(h.portal.verify_email_code(first.session, code)))
    assert h.login().methods == ("app", "email")


def test_first_factor_session_reaches_no_settings(h: Harness) -> None:
    """[SECOND_FACTOR_REQUIRED] settings, registration and reset before the second factor."""
    h.user_with_address()
    session = h.login().session
    for action in (
        lambda: h.portal.settings(session),
        lambda: h.portal.start_email_registration(session, "other@gmail.com"),
        lambda: h.portal.start_app_registration(session),
        lambda: h.portal.initialize(session),
    ):
        with refused(NotPermitted, "SECOND_FACTOR_REQUIRED"):
            action()
    assert h.outbox.messages == [h.outbox.latest("taro@gmail.com")]  # only the registration mail
    assert h.state("taro").pending_app_secret_hex is None


def test_setup_session_reaches_only_setup(h: Harness) -> None:
    """[SETUP_WITHOUT_FACTOR] no second-factor or reset actions from a setup session."""
    h.add_user()
    session = h.login().session
    digits = "0" * h.profile.email_otp_digits
    for action in (
        lambda: h.portal.send_login_code(session),
        lambda: h.portal.verify_email_code(session, digits),
        lambda: h.portal.verify_app_code(session, "0" * h.profile.totp_digits),
        lambda: h.portal.initialize(session),
    ):
        with refused(NotPermitted, "SETUP_WITHOUT_FACTOR"):
            action()


def test_reset_session_reaches_only_the_reset_page(h: Harness) -> None:
    """[RESET_REAUTHENTICATE] a reset login opens Initialize and nothing else."""
    h.user_with_address()
    session = h.login_for_reset()
    with refused(NotPermitted, "SECOND_FACTOR_REQUIRED"):
        h.portal.settings(session)
    with refused(NotPermitted, "SECOND_FACTOR_REQUIRED"):
        h.portal.send_login_code(session)
    # and an ordinary (first-factor or authenticated) session cannot Initialize
    with refused(NotPermitted, "SECOND_FACTOR_REQUIRED"):
        h.portal.initialize(h.login().session)


def test_first_factor_session_expires(h: Harness) -> None:
    """[SESSION_EXPIRY] session.first_factor_seconds after the password, activity or not."""
    h.user_with_address()
    lifetime = h.profile.session_first_factor_seconds
    session = h.login().session
    h.clock.advance(lifetime - 1)
    h.portal.send_login_code(session)  # still alive one second before the end; activity does not extend it
    h.clock.advance(1)
    with refused(SessionExpired, "SESSION_EXPIRY"):
        h.portal.send_login_code(session)


def test_authenticated_session_expires_when_idle(h: Harness) -> None:
    """[SESSION_EXPIRY] session.idle_seconds without a request ends a settings session."""
    h.add_user()
    session = h.login().session
    idle = h.profile.session_idle_seconds
    touches = min(3, (h.profile.session_absolute_seconds - 1) // (idle - 1))  # within the absolute lifetime
    for _ in range(touches):  # each request restarts the idle time, beyond any first-factor limit
        h.clock.advance(idle - 1)
        h.portal.settings(session)
    h.clock.advance(idle)
    with refused(SessionExpired, "SESSION_EXPIRY"):
        h.portal.settings(session)
    with refused(SessionExpired, "SESSION_EXPIRY"):  # and it stays expired
        h.portal.settings(session)


def test_logout_ends_only_that_session(h: Harness) -> None:
    """[LOGOUT]"""
    h.add_user()
    one, two = h.login().session, h.login().session
    h.portal.logout(one)
    for action in (h.portal.settings, h.portal.logout, h.portal.start_app_registration):
        with refused(SessionExpired, "SESSION_EXPIRY"):
            action(one)
    assert h.portal.settings(two).login_id == "taro"


def test_session_of_a_removed_account_is_expired(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    h.portal.remove_user("taro")
    with refused(SessionExpired, "SESSION_EXPIRY"):
        h.portal.settings(session)


@pytest.mark.parametrize(
    "token", ["", ".", "dGFybw", "dGFybw.", "dGFybw.wrong-secret", "!!!.x", "dGFybw." + "x" * 129, "a.b.c"]
)
def test_forged_session_tokens_are_expired_sessions(h: Harness, token: str) -> None:
    h.add_user()
    h.login()
    with refused(SessionExpired, "SESSION_EXPIRY"):
        h.portal.settings(token)


def test_session_token_is_not_stored(h: Harness) -> None:
    h.add_user()
    session = h.login().session
    secret = session.partition(".")[2]
    assert secret not in str(h.state("taro").to_json())


# --- the absolute lifetime, the token at the second factor, stale sessions ------------------


@pytest.mark.SESSION_ABSOLUTE_LIFETIME
def test_an_active_session_ends_at_its_absolute_lifetime(h: Harness) -> None:
    """A request every idle_seconds - 1 kept a session alive for 48 hours: now it ends
    session.absolute_seconds after the login however often it is used, in every stage."""
    h.user_with_address()
    first = h.login().session
    authenticated = renewed(
        h.portal.verify_email_code(first, h.last_code(h.portal.send_login_code(first).address))
    )
    h.add_user("hanako")
    setup = h.login("hanako").session
    absolute, idle = h.profile.session_absolute_seconds, h.profile.session_idle_seconds
    ends = h.clock.now() + absolute
    while h.clock.now() + idle - 1 < ends:
        h.clock.advance(idle - 1)
        assert h.portal.settings(authenticated).stage is Stage.AUTHENTICATED
        assert h.portal.settings(setup).stage is Stage.SETUP
    h.clock.advance(ends - h.clock.now())
    for session in (authenticated, setup):
        with refused(SessionExpired, "SESSION_EXPIRY"):
            h.portal.settings(session)


@pytest.mark.SESSION_TOKEN_RENEWED
@pytest.mark.parametrize("by", ["email", "app"])
def test_the_second_factor_renews_the_token(h: Harness, by: str) -> None:
    """A copy of the token taken after the password is dead once the second factor passes; the
    session goes on under its new token, its times kept (the absolute lifetime still counts
    from the login)."""
    secret = h.user_with_app() if by == "app" else None
    if secret is None:
        h.user_with_address()
    before = set(h.state("taro").sessions)
    login = h.login()
    copy = login.session
    (old_key,) = set(h.state("taro").sessions) - before
    opened = h.state("taro").sessions[old_key].created_at
    h.clock.advance(1)
    if secret is not None:
        verified = h.portal.verify_app_code(login.session, h.totp(secret))
    else:
        verified = h.portal.verify_email_code(
            login.session, h.last_code(h.portal.send_login_code(copy).address)
        )
    new = renewed(verified)
    assert new != copy
    for action in (h.portal.settings, h.portal.logout, h.portal.send_login_code):
        with refused(SessionExpired, "SESSION_EXPIRY"):
            action(copy)
    assert h.portal.settings(new).stage is Stage.AUTHENTICATED
    after = h.state("taro").sessions
    (new_key,) = set(after) - before
    assert new_key != old_key and (after[new_key].created_at, after[new_key].stage) == (
        opened,
        Stage.AUTHENTICATED,
    )
    assert new.partition(".")[2] not in str(h.state("taro").to_json())


@pytest.mark.SESSION_TOKEN_RENEWED
def test_a_refused_second_factor_keeps_the_token(h: Harness) -> None:
    h.user_with_address()
    session = h.login().session
    code = h.last_code(h.portal.send_login_code(session).address)
    with pytest.raises(CodeRejected):
        h.portal.verify_email_code(session, code[:-1] + str((int(code[-1]) + 1) % 10))
    assert renewed(h.portal.verify_email_code(session, code)) != session


@pytest.mark.STALE_SESSIONS_END
@pytest.mark.parametrize("factor", ["address", "app"])
def test_a_registered_factor_ends_the_other_setup_sessions(h: Harness, factor: str) -> None:
    """Two password logins while the account has no factor: once one registers a factor, the
    other can neither reach the settings nor register one of its own."""
    h.add_user()
    stale, owner = h.login().session, h.login().session
    stale_secret = h.portal.start_app_registration(stale).manual_key
    if factor == "app":
        h.register_app(owner)
    else:
        h.register_address(owner, "taro@gmail.com")
    for action in (
        lambda: h.portal.settings(stale),
        lambda: h.portal.start_email_registration(stale, "evil@gmail.com"),
        lambda: h.portal.confirm_app_registration(stale, h.totp(base32_decode(stale_secret))),
    ):
        with refused(SessionExpired, "SESSION_EXPIRY"):
            action()
    assert h.portal.settings(owner).stage is Stage.AUTHENTICATED
    assert len(h.state("taro").sessions) == 1


@pytest.mark.STALE_SESSIONS_END
def test_a_factor_ends_no_session_beyond_set_up(h: Harness) -> None:
    """Only set-up sessions end: an address changed in a signed-in session leaves the other
    signed-in and first-factor sessions of the account alone."""
    h.user_with_address()
    first, waiting = h.login().session, h.login().session
    signed_in = renewed(
        h.portal.verify_email_code(first, h.last_code(h.portal.send_login_code(first).address))
    )
    other = h.login().session
    other = renewed(h.portal.verify_email_code(other, h.last_code(h.portal.send_login_code(other).address)))
    h.register_address(signed_in, "new@gmail.com")
    assert h.portal.settings(other).stage is Stage.AUTHENTICATED
    h.portal.send_login_code(waiting)


@pytest.mark.STALE_SESSIONS_END
def test_a_confirmed_reset_ends_every_other_session(h: Harness) -> None:
    """A session opened before the reset, signed in or in set-up, would set up the emptied
    account: it ends, and only the reset session goes on."""
    h.user_with_address()
    first = h.login().session
    signed_in = renewed(
        h.portal.verify_email_code(first, h.last_code(h.portal.send_login_code(first).address))
    )
    waiting = h.login().session
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    h.portal.confirm_reset(reset, h.last_code("taro@gmail.com"))
    for session in (signed_in, waiting):
        with refused(SessionExpired, "SESSION_EXPIRY"):
            h.portal.settings(session)
    assert h.portal.settings(reset).stage is Stage.SETUP


# --- "Trust this browser" [TRUST_BROWSER] [TRUST_BROWSER_EXPIRY] -----------------------------


def _trusted_login(h: Harness) -> str:
    h.user_with_address()
    session = h.login().session
    code = h.last_code(h.portal.send_login_code(session).address)
    verified = h.portal.verify_email_code(session, code, trust_browser=True)
    assert verified.stage is Stage.AUTHENTICATED
    assert verified.trust_token is not None
    assert verified.trust_token not in str(h.state("taro").to_json())
    return verified.trust_token


def test_trusted_browser_skips_the_second_factor_until_it_expires(h: Harness) -> None:
    token = _trusted_login(h)
    mails = len(h.outbox.messages)
    h.clock.advance(h.profile.trust_browser_duration_seconds - 1)
    result = h.login(trust_token=token)
    assert result.stage is Stage.AUTHENTICATED
    h.portal.settings(result.session)
    h.portal.logout(result.session)  # logout does not revoke the trust
    assert h.login(trust_token=token).stage is Stage.AUTHENTICATED
    h.clock.advance(1)
    assert h.login(trust_token=token).stage is Stage.FIRST_FACTOR
    assert len(h.outbox.messages) == mails


def test_trust_needs_the_password_and_the_right_token(h: Harness) -> None:
    token = _trusted_login(h)
    with refused(AuthenticationFailed, "FIRST_FACTOR_PASSWORD"):
        h.portal.login("taro", "wrong", trust_token=token)
    assert h.login(trust_token=token[:-1] + ("A" if token[-1] != "A" else "B")).stage is Stage.FIRST_FACTOR
    h.add_user("hanako")
    h.register_address(h.login("hanako").session, "hanako@gmail.com")
    assert h.login("hanako", trust_token=token).stage is Stage.FIRST_FACTOR  # bound to its account


def test_no_trust_without_the_tick(h: Harness) -> None:
    h.user_with_address()
    session = h.login().session
    verified = h.portal.verify_email_code(session, h.last_code(h.portal.send_login_code(session).address))
    assert verified.trust_token is None
    assert h.state("taro").trusted_browsers == {}


def test_trust_duration_zero_trusts_no_browser(iimc: Profile) -> None:
    h = make_harness(iimc.replace(trust_browser_duration_seconds=0))
    h.user_with_address()
    session = h.login().session
    code = h.last_code(h.portal.send_login_code(session).address)
    assert h.portal.verify_email_code(session, code, trust_browser=True).trust_token is None
    assert h.state("taro").trusted_browsers == {}


@pytest.mark.parametrize("token", [None, "", "x" * 129, 12345, b"bytes"], ids=repr)
def test_malformed_trust_tokens_are_ignored(h: Harness, token: object) -> None:
    h.user_with_address()
    assert h.login(trust_token=token).stage is Stage.FIRST_FACTOR
