"""Reset ("Initialize"): the confirmation code, what a confirmed reset voids, the no-address
placeholder and the helpdesk."""

from __future__ import annotations

import pytest

from ninsho.reference.core import addresses
from ninsho.reference.core.errors import (
    CodeRejected,
    InvalidInput,
    NothingPending,
    SessionExpired,
    UnknownAccount,
)
from ninsho.reference.core.state import Stage
from ninsho.spec.profile import Profile

from .conftest import Harness, make_harness, refused, renewed


def _wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def _long_session(profile: Profile) -> Profile:
    """Reset sessions that outlive the confirmation code, so only the code's lifetime refuses."""
    return profile.replace(session_first_factor_seconds=2 * profile.confirmation_code_lifetime_seconds + 1)


def _full_account(h: Harness) -> tuple[bytes, str, str]:
    """An account with an address, an app and a trusted browser; returns (secret, trust token,
    an authenticated session)."""
    h.user_with_address()
    session = h.login().session
    code = h.last_code(h.portal.send_login_code(session).address)
    verified = h.portal.verify_email_code(session, code, trust_browser=True)
    token, session = verified.trust_token, renewed(verified)
    assert token is not None
    secret = h.register_app(session)
    h.past_totp_steps(h.profile.totp_window_past_steps + h.profile.totp_window_future_steps + 1)
    return secret, token, session


def test_initialize_mails_a_confirmation_code_to_the_masked_address(h: Harness) -> None:
    """[RESET_CONFIRMATION_MAIL] [RESET_SCREEN] [RESET_ADDRESS_MASKED]"""
    h.user_with_address(address="taro.yamada@gmail.com")
    screen = h.portal.initialize(h.login_for_reset())
    assert screen.login_id == "taro"
    assert screen.mailed
    assert screen.shown_address == addresses.mask("taro.yamada@gmail.com") == "ta*****@gmail.com"
    mail = h.outbox.messages[-1]
    assert mail.to == "taro.yamada@gmail.com" and mail.subject == h.profile.mail_subject_reset
    assert len(h.last_code("taro.yamada@gmail.com")) == h.profile.confirmation_code_digits
    assert h.state("taro").reset_pending


def test_confirmed_reset_voids_everything_and_opens_setup(h: Harness) -> None:
    """[RESET_VOIDS_APPS] [RESET_CLEARS_EMAIL] [TRUST_BROWSER_REVOKED_BY_RESET] [RESET_THEN_SETUP]"""
    assert h.profile.reset_voids_apps and h.profile.reset_clears_email
    secret, token, other_session = _full_account(h)
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    assert h.portal.confirm_reset(reset, h.last_code("taro@gmail.com")) is Stage.SETUP
    state = h.state("taro")
    assert (state.apps, state.addresses, state.trusted_browsers) == ([], [], {})
    assert state.pending_app_secret_hex is None and not state.reset_pending
    assert len(state.sessions) == 1  # only the reset session is left
    with refused(SessionExpired, "SESSION_EXPIRY"):
        h.portal.settings(other_session)
    assert h.portal.settings(reset).stage is Stage.SETUP
    # set up anew; the old trusted browser and the old app no longer pass
    h.register_address(reset, "new@gmail.com")
    login = h.login(trust_token=token)
    assert login.stage is Stage.FIRST_FACTOR and login.methods == ("email",)
    for offset in range(-h.profile.totp_window_past_steps, h.profile.totp_window_future_steps + 1):
        with refused(CodeRejected, "TOTP_WINDOW"):
            h.portal.verify_app_code(login.session, h.totp(secret, offset))


@pytest.mark.parametrize(("voids_apps", "clears_email"), [(False, True), (True, False), (False, False)])
def test_what_a_reset_voids_follows_the_profile(iimc: Profile, voids_apps: bool, clears_email: bool) -> None:
    h = make_harness(iimc.replace(reset_voids_apps=voids_apps, reset_clears_email=clears_email))
    secret, _, _ = _full_account(h)
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    h.portal.confirm_reset(reset, h.last_code("taro@gmail.com"))
    state = h.state("taro")
    assert bool(state.apps) is not voids_apps
    assert bool(state.addresses) is not clears_email
    assert state.trusted_browsers == {}
    if not voids_apps:
        assert h.portal.verify_app_code(h.login().session, h.totp(secret)).stage is Stage.AUTHENTICATED


def test_wrong_confirmation_code(h: Harness) -> None:
    h.user_with_address()
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    code = h.last_code("taro@gmail.com")
    with refused(CodeRejected, "RESET_CONFIRMATION_MAIL", "code"):
        h.portal.confirm_reset(reset, _wrong(code))
    assert h.state("taro").addresses == ["taro@gmail.com"] and h.state("taro").failures == 1
    assert h.portal.confirm_reset(reset, code) is Stage.SETUP
    assert h.state("taro").failures == 0


def test_confirm_without_initialize_is_nothing_pending(h: Harness) -> None:
    h.user_with_address()
    with refused(NothingPending, "RESET_CONFIRMATION_MAIL"):
        h.portal.confirm_reset(h.login_for_reset(), "0" * h.profile.confirmation_code_digits)


def test_confirmation_code_is_single_use(h: Harness) -> None:
    h.user_with_address()
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    code = h.last_code("taro@gmail.com")
    h.portal.confirm_reset(reset, code)
    again = h.login_for_reset()
    with refused(NothingPending, "RESET_CONFIRMATION_MAIL"):
        h.portal.confirm_reset(again, code)


def test_confirmation_code_belongs_to_the_pending_reset(h: Harness) -> None:
    """spec/protocol.md §9.2 and §11: the pending reset and its code belong to the account, so
    the code confirms in a new reset session too (the helpdesk path relies on it)."""
    h.user_with_address()
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    code = h.last_code("taro@gmail.com")
    assert h.portal.confirm_reset(h.login_for_reset(), code) is Stage.SETUP


def test_confirmation_code_lifetime_boundary(profile: Profile) -> None:
    """[RESET_CODE_LIFETIME]"""
    lifetime = profile.confirmation_code_lifetime_seconds
    for elapsed, passes in ((lifetime - 1, True), (lifetime, False)):
        h = make_harness(_long_session(profile))
        h.user_with_address()
        reset = h.login_for_reset()
        h.portal.initialize(reset)
        code = h.last_code("taro@gmail.com")
        h.clock.advance(elapsed)
        if passes:
            assert h.portal.confirm_reset(reset, code) is Stage.SETUP
        else:
            with refused(CodeRejected, "RESET_CODE_LIFETIME") as error:
                h.portal.confirm_reset(reset, code)
            assert error[0].reason == "expired"


def test_resend_voids_the_previous_confirmation_code(h: Harness) -> None:
    h.user_with_address()
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    first = h.last_code("taro@gmail.com")
    with pytest.raises(CodeRejected):
        h.portal.confirm_reset(reset, _wrong(first))
    screen = h.portal.resend(reset)
    assert screen.mailed and screen.shown_address == addresses.mask("taro@gmail.com")
    second = h.last_code("taro@gmail.com")
    assert second != first and h.state("taro").failures == 1
    with refused(CodeRejected, "RESET_CONFIRMATION_MAIL"):
        h.portal.confirm_reset(reset, first)
    assert h.portal.confirm_reset(reset, second) is Stage.SETUP


# --- no address: the placeholder and the helpdesk [RESET_NO_ADDRESS_PLACEHOLDER] ---------------


def test_no_address_reset_shows_the_placeholder_and_mails_nothing(h: Harness) -> None:
    h.user_with_app()
    mails = len(h.outbox.messages)
    screen = h.portal.initialize(h.login_for_reset())
    assert screen.shown_address == h.profile.reset_placeholder_address
    assert not screen.mailed
    assert len(h.outbox.messages) == mails == 0
    assert h.state("taro").reset_pending and h.state("taro").codes == []


def test_helpdesk_code_confirms_a_no_address_reset(h: Harness) -> None:
    """[HELPDESK_ISSUES_CODE]"""
    secret = h.user_with_app()
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    code = h.portal.helpdesk_issue_code("taro")
    assert len(code) == h.profile.confirmation_code_digits and code.isdigit()
    assert h.outbox.messages == []  # read out, not mailed
    assert code not in repr(h.state("taro").to_json())
    assert h.portal.confirm_reset(reset, code) is Stage.SETUP
    assert h.state("taro").apps == []
    h.register_address(reset, "taro@gmail.com")
    with refused(CodeRejected, "TOTP_WINDOW"):
        h.portal.verify_app_code(h.login().session, h.totp(secret))


def test_helpdesk_code_lifetime(profile: Profile) -> None:
    h = make_harness(_long_session(profile))
    h.user_with_app()
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    code = h.portal.helpdesk_issue_code("taro")
    h.clock.advance(profile.confirmation_code_lifetime_seconds)
    with refused(CodeRejected, "RESET_CODE_LIFETIME"):
        h.portal.confirm_reset(reset, code)
    newer = h.portal.helpdesk_issue_code("taro")  # the operator can issue a new one
    h.clock.advance(profile.confirmation_code_lifetime_seconds - 1)
    assert h.portal.confirm_reset(reset, newer) is Stage.SETUP


def test_helpdesk_refuses_accounts_with_an_address(h: Harness) -> None:
    """[HELPDESK_PENDING_ONLY] a pending reset with an address: the code goes by mail only."""
    h.user_with_address()
    h.portal.initialize(h.login_for_reset())
    before = h.state("taro").to_json()
    with refused(NothingPending, "HELPDESK_PENDING_ONLY"):
        h.portal.helpdesk_issue_code("taro")
    assert h.state("taro").to_json() == before


def test_helpdesk_refuses_accounts_without_a_pending_reset(h: Harness) -> None:
    h.user_with_app()
    before = h.state("taro").to_json()
    with refused(NothingPending, "HELPDESK_PENDING_ONLY"):
        h.portal.helpdesk_issue_code("taro")
    assert h.state("taro").to_json() == before
    with pytest.raises(UnknownAccount):
        h.portal.helpdesk_issue_code("nobody")
    with refused(InvalidInput, "FIRST_FACTOR_PASSWORD", "login_id"):
        h.portal.helpdesk_issue_code("taro\r\n")


def test_confirmed_reset_voids_every_pending_code(iimc: Profile) -> None:
    """spec/protocol.md §9.5: "void every pending code" — login and register codes too."""
    h = make_harness(iimc.replace(reset_clears_email=False))
    h.user_with_address()
    authenticated = h.login().session
    authenticated = renewed(
        h.portal.verify_email_code(
            authenticated, h.last_code(h.portal.send_login_code(authenticated).address)
        )
    )
    h.portal.start_email_registration(authenticated, "other@gmail.com")
    register_code = h.last_code("other@gmail.com")
    login_code = h.last_code(h.portal.send_login_code(h.login().session).address)
    reset = h.login_for_reset()
    h.portal.initialize(reset)
    h.portal.confirm_reset(reset, h.last_code("taro@gmail.com"))
    assert h.state("taro").codes == []
    with refused(CodeRejected, "EMAIL_REGISTRATION_CONFIRM"):
        h.portal.confirm_email_registration(reset, register_code)
    assert h.state("taro").addresses == ["taro@gmail.com"]
    with refused(CodeRejected, "SECOND_FACTOR_REQUIRED"):
        h.portal.verify_email_code(h.login().session, login_code)


def test_initialize_alone_changes_nothing(h: Harness) -> None:
    """spec/protocol.md §9.2: the apps and the address stay valid until "Confirm"."""
    secret, _, _ = _full_account(h)
    h.portal.initialize(h.login_for_reset())
    state = h.state("taro")
    assert state.addresses == ["taro@gmail.com"] and len(state.apps) == 1
    assert h.portal.verify_app_code(h.login().session, h.totp(secret)).stage is Stage.AUTHENTICATED
