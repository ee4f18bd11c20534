"""The 2021 portal's reset by link (faq-totp-reset-2021.en.txt, protocol.md §19), in the core.

Virtual time and seeded randomness, as everywhere in tests/core: the lifetime is stepped over,
never waited for.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from ninsho.reference.core import links
from ninsho.reference.core.errors import (
    AuthenticationFailed,
    CodeRejected,
    InvalidInput,
    NothingPending,
    RateLimited,
    SessionExpired,
    UnknownAccount,
)
from ninsho.reference.core.state import AccountState, Purpose, Stage
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile, requirements

from .conftest import LINK_PROFILE_NAMES, Harness, make_harness, refused, renewed

ADDRESS = "taro.yamada@gmail.com"
_URL = re.compile(r"https?://\S+")


@pytest.fixture(params=LINK_PROFILE_NAMES)
def link_profile(request: pytest.FixtureRequest) -> Profile:
    return load_profile(request.param)


@pytest.fixture
def lh(link_profile: Profile) -> Harness:
    return make_harness(link_profile)


def _url_in_mail(h: Harness, to: str = ADDRESS) -> str:
    mail = h.outbox.latest(to)
    assert mail is not None, f"no mail to {to}"
    found = _URL.findall(mail.body)
    assert len(found) == 1, mail.body
    return str(found[0])


def _with_app_and_address(h: Harness, login_id: str = "taro", address: str = ADDRESS) -> bytes:
    """An account with an address and an app, the clock past the app's registration window."""
    h.user_with_address(login_id, address)
    session = h.login(login_id).session
    code = h.last_code(h.portal.send_login_code(session).address)
    session = renewed(h.portal.verify_email_code(session, code))
    secret = h.register_app(session)
    h.past_totp_steps(h.profile.totp_window_past_steps + h.profile.totp_window_future_steps + 1)
    return secret


def _initialize(h: Harness, login_id: str = "taro", address: str = ADDRESS) -> str:
    """FAQ 2–4: the reset login, "初期化", and the URL from the mail."""
    screen = h.portal.initialize(h.login_for_reset(login_id))
    assert screen.mailed and screen.login_id == login_id
    return _url_in_mail(h, address)


def _snapshot(h: Harness, login_id: str = "taro") -> AccountState:
    return h.state(login_id)


def test_the_bundled_2021_profile_resets_by_link() -> None:
    profile = load_profile("iimc-2021")
    assert profile.reset_mode == "link"
    assert profile.provenance["reset.mode"].source is not None
    assert profile.provenance["mail.subject_reset"].assumed
    assert profile.mail_subject_reset != load_profile("iimc").mail_subject_reset


def test_link_requirements_apply_only_in_their_mode() -> None:
    """[RESET_LINK_*] only with reset.mode = link; the code screen's only with code (§19.1)."""
    registry = requirements()
    code, link = load_profile("iimc"), load_profile("iimc-2021")
    for rid in ("RESET_LINK_MAIL", "RESET_LINK_SINGLE_USE", "RESET_LINK_TOKEN_STRENGTH"):
        assert registry[rid].inapplicable(link) is None
        assert "reset.mode" in (registry[rid].inapplicable(code) or "")
    for rid in ("RESET_CODE_DIGITS", "RESET_SCREEN", "HELPDESK_ISSUES_CODE"):
        assert registry[rid].inapplicable(code) is None
        assert "iimc-2021" in (registry[rid].inapplicable(link) or "")
    for rid in ("RESET_VOIDS_APPS", "RESET_CLEARS_EMAIL", "RESET_THEN_SETUP", "RESET_REAUTHENTICATE"):
        assert registry[rid].inapplicable(code) is None and registry[rid].inapplicable(link) is None
    keys = set(code.parameters)
    assert all(key in keys for r in registry.values() for key, _ in r.applies_when)


def test_whole_faq_procedure(lh: Harness) -> None:
    """FAQ 1–12: 初期化, the mail's URL, ID and password again, then the app anew
    [RESET_LINK_MAIL] [RESET_LINK_REQUIRES_PASSWORD] [RESET_VOIDS_APPS] [RESET_CLEARS_EMAIL]
    [RESET_THEN_SETUP]"""
    old = _with_app_and_address(lh)
    url = _initialize(lh)
    mail = lh.outbox.latest(ADDRESS)
    assert mail is not None
    assert mail.subject == lh.profile.mail_subject_reset and mail.sender == lh.profile.mail_sender
    assert url.startswith(lh.portal.link_base + "?token=")
    assert mail.body.startswith(url + "\n"), "the link comes first, on its own line"
    assert f"{lh.profile.confirmation_code_lifetime_seconds // 60}分" in mail.body
    before = _snapshot(lh)
    assert before.apps and before.address == ADDRESS, '"初期化" itself changes nothing'
    opened = lh.portal.open_reset_link(links.token_of(url), "taro", lh.users["taro"])
    assert opened.stage is Stage.SETUP
    after = _snapshot(lh)
    assert after.apps == [] and after.addresses == [] and not after.reset_pending
    assert list(after.sessions) and all(s.stage is Stage.SETUP for s in after.sessions.values())
    new = lh.register_app(opened.session)
    assert new != old
    assert lh.portal.settings(opened.session).stage is Stage.AUTHENTICATED


def test_link_is_single_use(lh: Harness) -> None:
    """[RESET_LINK_SINGLE_USE]: opened again, it is refused and changes nothing."""
    _with_app_and_address(lh)
    token = links.token_of(_initialize(lh))
    opened = lh.portal.open_reset_link(token, "taro", lh.users["taro"])
    lh.register_app(opened.session)
    before = _snapshot(lh)
    with refused(CodeRejected, "RESET_LINK_SINGLE_USE", field="token") as box:
        lh.portal.open_reset_link(token, "taro", lh.users["taro"])
    assert box[0].message_ja and box[0].message_en
    assert _snapshot(lh) == before


@pytest.mark.parametrize(("offset", "accepted"), [(-1, True), (0, False), (1, False)])
def test_link_lifetime_boundary(lh: Harness, offset: int, accepted: bool) -> None:
    """[RESET_LINK_LIFETIME]: accepted until confirmation_code.lifetime_seconds, not from then."""
    profile = lh.profile.replace(
        session_first_factor_seconds=10 * lh.profile.confirmation_code_lifetime_seconds
    )
    h = make_harness(profile)
    _with_app_and_address(h)
    token = links.token_of(_initialize(h))
    h.clock.advance(profile.confirmation_code_lifetime_seconds + offset)
    if accepted:
        assert h.portal.open_reset_link(token, "taro", h.users["taro"]).stage is Stage.SETUP
        return
    before = _snapshot(h)
    with refused(CodeRejected, "RESET_LINK_LIFETIME", field="token"):
        h.portal.open_reset_link(token, "taro", h.users["taro"])
    assert _snapshot(h) == before


def test_link_is_bound_to_its_account(lh: Harness) -> None:
    """[RESET_LINK_BOUND_TO_ACCOUNT]: another account's ID and password change neither account."""
    _with_app_and_address(lh)
    _with_app_and_address(lh, "hanako", "hanako@gmail.com")
    token = links.token_of(_initialize(lh))
    taro, hanako = _snapshot(lh), _snapshot(lh, "hanako")
    with refused(CodeRejected, "RESET_LINK_BOUND_TO_ACCOUNT", field="token"):
        lh.portal.open_reset_link(token, "hanako", lh.users["hanako"])
    assert (_snapshot(lh), _snapshot(lh, "hanako")) == (taro, hanako)
    assert lh.portal.open_reset_link(token, "taro", lh.users["taro"]).stage is Stage.SETUP


def test_link_needs_the_password(lh: Harness) -> None:
    """[RESET_LINK_REQUIRES_PASSWORD]: a wrong password is the login screen's answer, and the
    link still works afterwards."""
    _with_app_and_address(lh)
    token = links.token_of(_initialize(lh))
    before = _snapshot(lh)
    with refused(AuthenticationFailed, "FIRST_FACTOR_PASSWORD"):
        lh.portal.open_reset_link(token, "taro", lh.users["taro"] + "x")
    assert _snapshot(lh) == before
    assert lh.portal.open_reset_link(token, "taro", lh.users["taro"]).stage is Stage.SETUP


def test_token_strength_and_storage(link_profile: Profile) -> None:
    """[RESET_LINK_TOKEN_STRENGTH] 256 bits from the injected source; [CODE_STORED_HASHED]. Fifty
    links to one address: the mail limit, not the subject here, is lifted."""
    lh = make_harness(link_profile.replace(mail_limit_per_address=100))
    _with_app_and_address(lh)
    tokens = []
    session = lh.login_for_reset()
    for _ in range(50):
        lh.portal.resend(session)
        tokens.append(links.token_of(_url_in_mail(lh)))
    assert len(set(tokens)) == len(tokens)
    assert all(len(t) == links.TOKEN_CHARS and len(links.check_token(t)) * 6 >= 256 for t in tokens)
    spread = Counter("".join(tokens))
    assert len(spread) > 60, "a token uses the whole base64url alphabet"
    stored = _snapshot(lh)
    text = repr(stored.to_json())
    assert not any(t in text for t in tokens), "the store keeps only digests"
    assert [c.purpose for c in stored.codes].count(Purpose.RESET) == 1, "each resend voids the earlier link"
    with refused(CodeRejected, "RESET_LINK_BOUND_TO_ACCOUNT"):
        lh.portal.open_reset_link(tokens[0], "taro", lh.users["taro"])
    assert lh.portal.open_reset_link(tokens[-1], "taro", lh.users["taro"]).stage is Stage.SETUP


def test_same_seed_gives_same_token_different_seed_another(link_profile: Profile) -> None:
    """The token comes from the injected source, not from the core's own randomness."""

    def first_token(seed: int) -> str:
        h = make_harness(link_profile, seed=seed)
        _with_app_and_address(h)
        return links.token_of(_initialize(h))

    assert first_token(7) == first_token(7) != first_token(8)


def _bad_links(token: str) -> dict[str, str]:
    swapped = token.swapcase() if token.swapcase() != token else token[::-1]
    return {
        "truncated": f"{links.DEFAULT_LINK_BASE}?token={token[:-3]}",
        "too long": f"{links.DEFAULT_LINK_BASE}?token={token}A",
        "extra parameter": f"{links.DEFAULT_LINK_BASE}?token={token}&next=/admin",
        "twice": f"{links.DEFAULT_LINK_BASE}?token={token}&token={token}",
        "no token": f"{links.DEFAULT_LINK_BASE}?",
        "other alphabet": f"{links.DEFAULT_LINK_BASE}?token={token[:-1]}+",
        "other name": f"{links.DEFAULT_LINK_BASE}?Token={token}",
        "another case": f"{links.DEFAULT_LINK_BASE}?token={swapped}",
    }


@pytest.mark.parametrize(
    "kind",
    ["truncated", "too long", "extra parameter", "twice", "no token", "other alphabet", "other name"],
)
def test_malformed_links_are_refused_bilingually(lh: Harness, kind: str) -> None:
    """[RESET_LINK_BOUND_TO_ACCOUNT] [INPUT_ERRORS_PRECISE]: a clear refusal, nothing changed."""
    _with_app_and_address(lh)
    token = links.token_of(_initialize(lh))
    before = _snapshot(lh)
    with refused(InvalidInput, "RESET_LINK_BOUND_TO_ACCOUNT", field="token") as box:
        lh.portal.open_reset_link(links.token_of(_bad_links(token)[kind]), "taro", lh.users["taro"])
    assert "URL" in box[0].message_ja and "link" in box[0].message_en
    assert _snapshot(lh) == before
    assert lh.portal.open_reset_link(token, "taro", lh.users["taro"]).stage is Stage.SETUP


def test_token_in_another_case_is_refused(lh: Harness) -> None:
    """The token is compared exactly: the same letters in another case do not act."""
    _with_app_and_address(lh)
    token = links.token_of(_initialize(lh))
    before = _snapshot(lh)
    with refused(CodeRejected, "RESET_LINK_BOUND_TO_ACCOUNT", field="token"):
        lh.portal.open_reset_link(links.token_of(_bad_links(token)["another case"]), "taro", lh.users["taro"])
    assert _snapshot(lh) == before


@pytest.mark.parametrize("raw", ["", "x" * 43 + "\n", None, 42, "ab cd", "é" * 43])
def test_check_token_refuses_what_is_not_a_token(raw: object) -> None:
    with refused(InvalidInput, "RESET_LINK_BOUND_TO_ACCOUNT", field="token"):
        links.check_token(raw)


def test_code_paths_are_refused_in_link_mode(lh: Harness) -> None:
    """No confirmation code exists in link mode: "Confirm" and the helpdesk's code say so."""
    _with_app_and_address(lh)
    session = lh.login_for_reset()
    lh.portal.initialize(session)
    with refused(NothingPending, "RESET_LINK_MAIL"):
        lh.portal.confirm_reset(session, "12345678")
    with refused(NothingPending, "RESET_LINK_MAIL"):
        lh.portal.helpdesk_issue_code("taro")


def test_link_refused_in_code_mode(iimc: Profile) -> None:
    h = make_harness(iimc)
    h.add_user()
    with refused(NothingPending, "RESET_LINK_MAIL"):
        h.portal.open_reset_link("A" * links.TOKEN_CHARS, "taro", h.users["taro"])


def test_no_address_goes_to_the_helpdesk_and_the_open_screen_moves_on(lh: Harness) -> None:
    """FAQ "ICT Support Center" 1–2: the one mail goes to the center, naming the account and
    carrying no link or code; the center confirms; the open reset session is now in set-up,
    where the QR code is shown [RESET_LINK_HELPDESK_MAIL] [RESET_LINK_HELPDESK_CONFIRM]."""
    lh.user_with_app()
    session = lh.login_for_reset()
    sent = len(lh.outbox.messages)
    screen = lh.portal.initialize(session)
    assert not screen.mailed and screen.shown_address == lh.profile.reset_placeholder_address
    [notice] = lh.outbox.messages[sent:]
    assert notice.to == lh.profile.helpdesk_email and notice.sender == lh.profile.mail_sender
    assert notice.subject == lh.profile.mail_subject_reset and "taro" in notice.body
    assert not _URL.search(notice.body) and not re.search(r"\d{6,}", notice.body)
    assert not _snapshot(lh).codes, "no token, no code: the center confirms by its own action"
    lh.portal.helpdesk_confirm_reset("taro")
    assert _snapshot(lh).apps == []
    assert lh.portal.settings(session).stage is Stage.SETUP
    assert lh.portal.start_app_registration(session).uri.startswith("otpauth://totp/")
    with refused(NothingPending, "RESET_LINK_HELPDESK_CONFIRM"):
        lh.portal.helpdesk_confirm_reset("taro")


def test_notices_to_the_center_are_limited_by_account(lh: Harness) -> None:
    """Each "初期化" of an account with no address mails the center; past
    ``mail_limit.per_address`` of them in a window the next is refused and mails nothing, while
    another account's notice still goes; the center's confirm starts the count again
    [MAIL_RATE_LIMIT] (protocol.md §12.4)."""
    p = lh.profile
    lh.user_with_app()
    lh.user_with_app("hana")
    session = lh.login_for_reset()
    sent = len(lh.outbox.messages)
    for _ in range(p.mail_limit_per_address):
        lh.clock.advance(1)
        lh.portal.initialize(session)
    assert [m.to for m in lh.outbox.messages[sent:]] == [p.helpdesk_email] * p.mail_limit_per_address
    with refused(RateLimited, "MAIL_RATE_LIMIT") as box:
        lh.portal.initialize(session)
    assert "ICT Support Center" in box[0].message_en and "情報環境支援センター" in box[0].message_ja
    assert len(lh.outbox.messages) == sent + p.mail_limit_per_address
    lh.portal.initialize(lh.login_for_reset("hana"))  # the center's inbox is not one count
    assert len(lh.outbox.messages) == sent + p.mail_limit_per_address + 1
    lh.portal.helpdesk_confirm_reset("taro")
    lh.portal.initialize(lh.login_for_reset())
    assert lh.outbox.messages[-1].to == p.helpdesk_email and "taro" in lh.outbox.messages[-1].body


def test_the_center_does_not_revive_an_expired_screen(lh: Harness) -> None:
    """A reset screen left open past its session's lifetime stays ended after the confirm: the
    user logs in again, to the set-up of an account with no factor (protocol.md §19.5)."""
    lh.user_with_app()
    session = lh.login_for_reset()
    lh.portal.initialize(session)
    lh.clock.advance(lh.profile.session_first_factor_seconds)
    lh.portal.helpdesk_confirm_reset("taro")
    with refused(SessionExpired, "SESSION_EXPIRY"):
        lh.portal.settings(session)
    assert lh.login().stage is Stage.SETUP


def test_helpdesk_confirms_only_a_pending_reset_without_address(lh: Harness) -> None:
    _with_app_and_address(lh)
    with refused(NothingPending, "RESET_LINK_HELPDESK_CONFIRM"):
        lh.portal.helpdesk_confirm_reset("taro")
    _initialize(lh)
    before = _snapshot(lh)
    with refused(NothingPending, "RESET_LINK_HELPDESK_CONFIRM"):
        lh.portal.helpdesk_confirm_reset("taro")
    assert _snapshot(lh) == before
    with pytest.raises(UnknownAccount):
        lh.portal.helpdesk_confirm_reset("nobody")


def test_helpdesk_confirm_is_refused_in_code_mode(iimc: Profile) -> None:
    h = make_harness(iimc)
    h.user_with_app()
    h.portal.initialize(h.login_for_reset())
    with refused(NothingPending, "HELPDESK_ISSUES_CODE"):
        h.portal.helpdesk_confirm_reset("taro")
