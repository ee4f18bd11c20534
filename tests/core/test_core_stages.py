"""The session's stages as data: the core's table is the spec's, and the portal keeps to it.

reference/core/stages.py holds which stage allows which action and the stage that follows;
spec/protocol.md §11.1 states the same as a normative table. These tests parse the spec's table
and compare, then hold the portal to the table: every action in every stage (exhaustively), and
random action sequences (hypothesis), where an accepted action moves the stage exactly as the
table says and a refused one leaves it as it was.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ninsho.reference.core import otp
from ninsho.reference.core.errors import NinshoError, NotPermitted, SessionExpired
from ninsho.reference.core.portal import Verified
from ninsho.reference.core.stages import TABLE, Action, destination, matrix
from ninsho.reference.core.state import Purpose, Stage
from ninsho.spec.registry import load_profile, spec_root

from .conftest import Harness, code_in, make_harness

PROFILE = load_profile("iimc")
ADDRESS = "taro@gmail.com"
BLOCKED = "taro@kyoto-u.ac.jp"
_OPERATION = re.compile(r"\(`(\w+)`\)")


# --- the table, as the spec writes it -----------------------------------------------------------
def spec_table() -> dict[str, dict[Stage, Stage | None]]:
    """spec/protocol.md §11.1, parsed: operation → {allowing stage → next stage, None: ended}."""
    text = (spec_root() / "protocol.md").read_text(encoding="utf-8")
    section = text.split("### 11.1 ", 1)[1].split("\n---", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header, _, *body = ([cell.strip() for cell in row.strip("|").split("|")] for row in rows)
    stages = [Stage(cell.strip("`")) for cell in header[1:]]
    table: dict[str, dict[Stage, Stage | None]] = {}
    for action, *cells in body:
        found = _OPERATION.search(action)
        assert found, f"§11.1: no (`operation`) in {action!r}"
        table[found.group(1)] = {
            stage: None if cell == "(ended)" else Stage(cell.strip("`"))
            for stage, cell in zip(stages, cells, strict=True)
            if cell != "—"
        }
    return table


def test_the_core_table_is_the_spec_table() -> None:
    assert spec_table() == {str(action): row for action, row in matrix().items()}


def test_every_action_is_an_operation_of_the_binding() -> None:
    doc = yaml.safe_load((spec_root() / "openapi.yaml").read_text(encoding="utf-8"))
    operations = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    assert {str(a) for a in Action} <= operations


def test_destination_is_the_one_stage_an_action_leads_to() -> None:
    for action, transition in TABLE.items():
        after = {transition.after(stage) for stage in transition.allowed}
        if isinstance(transition.follows, Stage):
            assert after == {destination(action)}
        else:
            with pytest.raises(ValueError):
                destination(action)


# --- the portal keeps to the table ---------------------------------------------------------------
@dataclass
class Account:
    """One account and at most one live session on it, driven by the table's actions.

    One session at a time, so that the stage of "the" session can be read from the store without
    knowing how the portal digests tokens.
    """

    h: Harness
    session: str | None = None
    mailed: dict[str, str] = field(default_factory=dict)  # purpose → the latest code
    seen_mail: int = 0

    def stage(self) -> Stage | None:
        sessions = self.h.state("taro").sessions
        assert len(sessions) <= 1, "the account should have one session at most"
        return next(iter(sessions.values())).stage if sessions else None

    def open(self, *, reset: bool = False) -> Stage:
        """A new session, the previous one logged out first."""
        if self.session is not None:
            self.h.portal.logout(self.session)
        result = (
            self.h.portal.login_for_reset("taro", self.h.users["taro"]) if reset else self.h.login("taro")
        )
        self.session = result.session
        return result.stage

    def read_mail(self) -> None:
        messages = self.h.outbox.messages
        for mail in messages[self.seen_mail :]:
            self.mailed[mail.purpose] = code_in(mail.body)
        self.seen_mail = len(messages)

    def app_codes(self, *, pending: bool) -> list[str]:
        """The codes that the account's apps (or the app being registered) show now."""
        state, p = self.h.state("taro"), self.h.profile
        secrets = [state.pending_app_secret_hex] if pending else [a.secret_hex for a in state.apps]
        step = otp.time_step(self.h.clock.now(), p.totp_period_seconds)
        return [
            otp.hotp(bytes.fromhex(s), step + k, digits=p.totp_digits, algorithm=p.totp_algorithm)
            for s in secrets
            if s is not None
            for k in range(-p.totp_window_past_steps, p.totp_window_future_steps + 1)
        ]

    def code(self, right: str | None, digits: int, *, valid: bool) -> str:
        """The right code when asked for and known; otherwise one that nothing would accept."""
        if valid and right is not None:
            return right
        taken = {*self.mailed.values(), *self.app_codes(pending=False), *self.app_codes(pending=True)}
        return next(c for n in range(10**digits) if (c := str(n).zfill(digits)) not in taken)

    def call(self, action: Action, valid: bool) -> None:
        """``action`` on the session, with valid or invalid input."""
        assert self.session is not None
        p, portal, s = self.h.profile, self.h.portal, self.session
        totp = self.app_codes(pending=False)
        pending = self.app_codes(pending=True)
        mailed = self.mailed.get
        calls: dict[Action, Callable[[], object]] = {
            Action.REQUEST_EMAIL_CODE: lambda: portal.send_login_code(s),
            Action.SUBMIT_APP_CODE: lambda: portal.verify_app_code(
                s, self.code(totp[len(totp) // 2] if totp else None, p.totp_digits, valid=valid)
            ),
            Action.SUBMIT_EMAIL_CODE: lambda: portal.verify_email_code(
                s, self.code(mailed(Purpose.LOGIN), p.email_otp_digits, valid=valid)
            ),
            Action.SETTINGS: lambda: portal.settings(s),
            Action.REGISTER_EMAIL: lambda: portal.start_email_registration(s, ADDRESS if valid else BLOCKED),
            Action.CONFIRM_EMAIL: lambda: portal.confirm_email_registration(
                s, self.code(mailed(Purpose.REGISTER_EMAIL), p.email_otp_digits, valid=valid)
            ),
            Action.START_APP_REGISTRATION: lambda: portal.start_app_registration(s),
            Action.REGISTER_APP: lambda: portal.confirm_app_registration(
                s, self.code(pending[len(pending) // 2] if pending else None, p.totp_digits, valid=valid)
            ),
            Action.INITIALIZE: lambda: portal.initialize(s),
            Action.RESEND: lambda: portal.resend(s),
            Action.CONFIRM_RESET: lambda: portal.confirm_reset(
                s, self.code(mailed(Purpose.RESET), p.confirmation_code_digits, valid=valid)
            ),
            Action.LOGOUT: lambda: portal.logout(s),
        }
        try:
            result = calls[action]()
        finally:
            self.read_mail()
        if isinstance(result, Verified) and result.session:  # the old token is dead [SESSION_TOKEN_RENEWED]
            self.session = result.session

    def check(self, action: Action, valid: bool) -> None:
        """Run ``action`` and hold the portal to the table: refused where the table does not
        allow it, and moved (when accepted) or left alone (when refused) as it says."""
        before = self.stage()
        assert before is not None
        transition = TABLE[action]
        try:
            self.call(action, valid)
        except NinshoError as refusal:
            assert not isinstance(refusal, SessionExpired), "the session should still be live"
            assert self.stage() == before, f"{action} was refused ({refusal!r}) but moved {before}"
            if before in transition.allowed:
                assert not isinstance(refusal, NotPermitted), f"{action} is allowed in {before}"
            elif valid:  # valid input passes its checks, so the stage is what refuses it
                assert isinstance(refusal, NotPermitted), f"{action} in {before}: {refusal!r}"
            return
        assert before in transition.allowed, f"{action} was accepted in {before}"
        assert self.stage() == transition.after(before), f"{action} in {before} led to {self.stage()}"
        if self.stage() is None:
            self.session = None


def with_factors(factors: tuple[str, ...]) -> Account:
    """An account with ``factors`` registered, its one session just opened by a login.

    Its profile never locks the account and never stops mailing it: neither lockout nor the
    mail limit is the subject here, and with them a few wrong codes or mails would end a random
    sequence's chances to pass a factor.
    """
    unlimited = PROFILE.replace(lockout_threshold=10**6, mail_limit_per_address=10**6)
    account = Account(make_harness(unlimited, seed=5))
    h = account.h
    h.add_user("taro")
    session = h.login("taro").session
    if "address" in factors:
        h.register_address(session, ADDRESS)
    if "app" in factors:
        h.register_app(session)
        h.past_totp_steps(PROFILE.totp_window_past_steps + PROFILE.totp_window_future_steps + 1)
    h.portal.logout(session)
    account.read_mail()
    assert account.open() is (Stage.FIRST_FACTOR if factors else Stage.SETUP)
    return account


def in_stage(stage: Stage) -> Account:
    """A fresh account with its one session in ``stage``, reached through the flows."""
    account = with_factors(() if stage is Stage.SETUP else ("address",))
    if stage is Stage.RESET:
        account.open(reset=True)
    elif stage is Stage.AUTHENTICATED:
        account.check(Action.REQUEST_EMAIL_CODE, valid=True)
        account.check(Action.SUBMIT_EMAIL_CODE, valid=True)
    assert account.stage() is stage
    return account


@pytest.mark.SECOND_FACTOR_REQUIRED
@pytest.mark.SETUP_WITHOUT_FACTOR
@pytest.mark.RESET_REAUTHENTICATE
@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("action", list(Action))
def test_every_action_in_every_stage_follows_the_table(stage: Stage, action: Action) -> None:
    """Refused (NotPermitted, nothing changed) exactly where the table does not allow it."""
    account = in_stage(stage)
    account.check(action, valid=True)


# Every action, more often with valid input than not (valid input is what moves a stage), and
# the steps around them.
SEQUENCE_STEPS = st.sampled_from(
    [(action, valid) for action in Action for valid in (True, True, False)]
    + [(other, True) for other in ("login", "login for setup", "helpdesk", "wait")]
)
# The factors the account starts with, so that sequences start in every stage's neighbourhood.
FACTORS = st.sampled_from([(), ("address",), ("app",), ("address", "app")])


@pytest.mark.SECOND_FACTOR_REQUIRED
@pytest.mark.SETUP_WITHOUT_FACTOR
@pytest.mark.RESET_THEN_SETUP
@settings(max_examples=300, deadline=None)
@given(factors=FACTORS, steps=st.lists(SEQUENCE_STEPS, min_size=20, max_size=60))
def test_random_action_sequences_move_only_as_the_table_says(
    factors: tuple[str, ...], steps: list[tuple[Action | str, bool]]
) -> None:
    """Logins open the stages of §2.2, and every action after that either is refused and moves
    nothing, or is accepted and moves the session where the table says; so no sequence reaches
    a stage the table cannot reach."""
    account = with_factors(factors)
    opened_at = account.h.clock.now()
    for step, valid in steps:
        if step == "login":
            expected = Stage.FIRST_FACTOR if account.h.state("taro").has_factor else Stage.SETUP
            assert account.open() == account.stage() == expected
            opened_at = account.h.clock.now()
        elif step == "login for setup":
            assert account.open(reset=True) == account.stage() == Stage.RESET
            opened_at = account.h.clock.now()
        elif step == "helpdesk":
            # Refused with nothing pending or an address registered: the helpdesk issues nothing.
            with contextlib.suppress(NinshoError):
                account.mailed[Purpose.RESET] = account.h.portal.helpdesk_issue_code("taro")
        elif step == "wait":
            period = account.h.profile.totp_period_seconds
            if account.h.clock.now() + period < opened_at + account.h.profile.session_first_factor_seconds:
                account.h.clock.advance(period)  # a fresh TOTP step, the session still live
        elif account.session is not None:
            assert isinstance(step, Action)
            account.check(step, valid)
