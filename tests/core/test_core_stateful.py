"""A hypothesis state machine over the core's user and operator actions, with time travel.

The machine keeps its own model of what was mailed (from the outbox, stamped with the virtual
clock), which codes and TOTP steps were accepted, which app secrets were registered, pending or
voided by a reset, and which trust tokens a reset revoked. After every step it checks:

- no mailed code is accepted twice, and none after its lifetime;
- no TOTP (app, step) is accepted twice, and an app's accepted steps only increase;
- no pending or voided app secret ever passes the second factor;
- no blocked address is ever registered, and never more than email.max_addresses;
- a trust token granted before a confirmed reset never skips the second factor after it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ninsho.reference.core import addresses, otp
from ninsho.reference.core.errors import NinshoError
from ninsho.reference.core.state import Purpose, Stage
from ninsho.spec.registry import load_profile

from .conftest import ADDRESS_CASES, Harness, code_in, make_harness

PROFILE = load_profile("iimc")
ADDRESS_INPUTS = [c["input"] for c in ADDRESS_CASES]
OFFSETS = st.one_of(st.just(0), st.integers(-3, 3))  # TOTP offsets in steps, mostly the current one


@dataclass(frozen=True)
class Issued:
    purpose: str
    code: str
    at: float
    to: str | None


def _lifetime(purpose: str) -> int:
    if purpose == Purpose.RESET.value:
        return PROFILE.confirmation_code_lifetime_seconds
    return PROFILE.email_otp_lifetime_seconds


class PortalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h: Harness = make_harness(PROFILE, seed=7)
        self.seen_mail = 0
        self.issued: list[Issued] = []
        self.accepted_codes: set[tuple[str, str]] = set()
        self.accepted_steps: set[tuple[str, int]] = set()
        self.last_step: dict[str, int] = {}
        self.sessions: list[str] = []
        self.pending: set[str] = set()  # secret hex shown by the App tab, not registered
        self.registered: set[str] = set()
        self.voided: set[str] = set()
        self.trust_tokens: list[str] = []
        self.revoked_tokens: set[str] = set()
        self.successes: dict[str, int] = {}

    # --- helpers ------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.h.clock.now()

    def _collect_mail(self) -> None:
        messages = self.h.outbox.messages
        for mail in messages[self.seen_mail :]:
            self.issued.append(Issued(mail.purpose, code_in(mail.body), self.now, mail.to))
        self.seen_mail = len(messages)

    def _call(self, name: str, action: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an action; a NinshoError is an allowed answer, any other exception fails."""
        try:
            result = action(*args, **kwargs)
        except NinshoError:
            result = None
        else:
            self.successes[name] = self.successes.get(name, 0) + 1
        finally:
            self._collect_mail()
        return result

    def _accept_code(self, purpose: str, code: str) -> Issued:
        key = (purpose, code)
        assert key not in self.accepted_codes, f"{purpose} code {code} accepted twice"
        self.accepted_codes.add(key)
        issues = [i for i in self.issued if i.purpose == purpose and i.code == code]
        assert issues, f"{purpose} code {code} accepted but never issued"
        newest = max(issues, key=lambda i: i.at)
        assert self.now - newest.at < _lifetime(purpose), f"{purpose} code accepted after its lifetime"
        return newest

    def _apps(self) -> dict[str, int | None]:
        return {a.secret_hex: a.last_step for a in self.h.state("taro").apps}

    def _accept_step(self, before: dict[str, int | None]) -> None:
        after = self._apps()
        changed = [s for s, step in after.items() if before.get(s) != step]
        assert len(changed) == 1, "a TOTP success must move exactly one app's last step"
        (secret,) = changed
        step = after[secret]
        assert step is not None
        assert secret in self.registered and secret not in self.voided and secret not in self.pending
        assert (secret, step) not in self.accepted_steps, "a TOTP step accepted twice"
        assert step > self.last_step.get(secret, -1), "an older TOTP step accepted after a newer one"
        self.accepted_steps.add((secret, step))
        self.last_step[secret] = step

    # Choices lean towards what is most likely to work (the newest session, the newest code, the
    # pending secret), so that successes happen often enough for the invariants to bite.
    @staticmethod
    def _pick(data: st.DataObject, favourites: list[Any], everything: list[Any], label: str) -> Any:
        """Mostly the newest favourite, sometimes any of ``everything`` (cheap draws: an index)."""
        if favourites and data.draw(st.booleans(), label=f"favourite {label}"):
            return favourites[-1]
        return everything[data.draw(st.integers(0, len(everything) - 1), label=label)]

    def _session(self, data: st.DataObject) -> str:
        return self._pick(data, self.sessions, self.sessions, "session")

    def _code(self, data: st.DataObject, purpose: str, digits: int) -> str:
        known = [i.code for i in self.issued if i.purpose == purpose]
        if known and data.draw(st.booleans(), label="known code"):
            return self._pick(data, known, known, "code")
        return str(data.draw(st.integers(0, 10**digits - 1), label="random code")).zfill(digits)

    def _secret(self, data: st.DataObject, *, registering: bool = False) -> str | None:
        everything = sorted(self.pending | self.registered | self.voided)
        if not everything:
            return None
        pending, registered = sorted(self.pending), sorted(self.registered)
        favourite = (pending or registered if registering else registered or pending) or everything
        return self._pick(data, favourite, everything, "secret")

    def _totp(self, secret_hex: str, offset: int) -> str:
        step = otp.time_step(self.now, PROFILE.totp_period_seconds) + offset
        return otp.hotp(bytes.fromhex(secret_hex), max(step, 0), digits=PROFILE.totp_digits)

    # --- set-up -------------------------------------------------------------------------------
    @initialize(with_address=st.booleans(), with_app=st.booleans())
    def account(self, with_address: bool, with_app: bool) -> None:
        self.h.add_user("taro")
        session = self.h.login().session
        self.sessions.append(session)
        if with_address:
            self._call(
                "start_email_registration", self.h.portal.start_email_registration, session, "taro@gmail.com"
            )
            code = self._newest(Purpose.REGISTER_EMAIL.value)
            assert code is not None
            self._confirm_registration(session, code)
            self.second_factor_flow(trust=True, by_app=False, offset=0, data=None)  # type: ignore[arg-type]
            assert self.trust_tokens, "the initial trusted login failed"
        if with_app:
            self._start_app(session)
            self._confirm_app(session, sorted(self.pending)[0], 0)
            assert self.registered, "the initial app registration failed"

    # --- checked submissions (shared by the single-step rules and the flows) --------------------
    def _submit_email(self, session: str, code: str, trust: bool) -> None:
        result = self._call(
            "verify_email_code", self.h.portal.verify_email_code, session, code, trust_browser=trust
        )
        if result is not None:
            self._accept_code(Purpose.LOGIN.value, code)
            if result.trust_token:
                self.trust_tokens.append(result.trust_token)

    def _confirm_registration(self, session: str, code: str) -> None:
        result = self._call(
            "confirm_email_registration", self.h.portal.confirm_email_registration, session, code
        )
        if result is not None:
            issue = self._accept_code(Purpose.REGISTER_EMAIL.value, code)
            assert result.address == issue.to, "registered an address other than the one the code went to"

    def _start_app(self, session: str) -> None:
        shown = self._call("start_app_registration", self.h.portal.start_app_registration, session)
        if shown is not None:
            key = shown.manual_key
            self.pending = {base64.b32decode(key + "=" * (-len(key) % 8)).hex()}  # the newest replaces

    def _confirm_app(self, session: str, secret: str, offset: int) -> None:
        before = self._apps()
        code = self._totp(secret, offset)
        result = self._call("confirm_app_registration", self.h.portal.confirm_app_registration, session, code)
        if result is not None:
            assert secret in self.pending, "a secret that was not pending got registered"
            window = range(-PROFILE.totp_window_past_steps, PROFILE.totp_window_future_steps + 1)
            assert code in {self._totp(secret, o) for o in window}, (
                "registered with a code outside the window"
            )
            self.pending.discard(secret)
            self.registered.add(secret)
            after = self._apps()
            assert set(after) - set(before) == {secret}, "Register added another registration"
            step = after[secret]
            assert step is not None, "a registration without its matched step"
            self.accepted_steps.add((secret, step))
            self.last_step[secret] = step

    def _submit_totp(self, session: str, secret: str, offset: int) -> None:
        before = self._apps()
        result = self._call(
            "verify_app_code", self.h.portal.verify_app_code, session, self._totp(secret, offset)
        )
        if result is not None:
            self._accept_step(before)

    def _confirm_reset(self, session: str, code: str) -> None:
        registered = set(self._apps())
        result = self._call("confirm_reset", self.h.portal.confirm_reset, session, code)
        if result is not None:
            self._accept_code(Purpose.RESET.value, code)
            if PROFILE.reset_voids_apps:
                self.voided |= registered
                self.registered -= registered
            self.pending.clear()
            self.revoked_tokens |= set(self.trust_tokens)

    def _newest(self, purpose: str) -> str | None:
        codes = [i.code for i in self.issued if i.purpose == purpose]
        return codes[-1] if codes else None

    # --- single actions -----------------------------------------------------------------------
    @rule(trust=st.booleans(), data=st.data())
    def login(self, trust: bool, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from(self.trust_tokens)) if trust and self.trust_tokens else None
        result = self._call("login", self.h.login, trust_token=token)
        if result is not None:
            self.sessions.append(result.session)
            if token in self.revoked_tokens:
                assert result.stage is not Stage.AUTHENTICATED, (
                    "a revoked trust token skipped the second factor"
                )

    @rule()
    def login_for_reset(self) -> None:
        session = self._call("login_for_reset", self.h.login_for_reset)
        if session is not None:
            self.sessions.append(session)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def send_login_code(self, data: st.DataObject) -> None:
        self._call("send_login_code", self.h.portal.send_login_code, self._session(data))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), trust=st.booleans())
    def submit_email_code(self, data: st.DataObject, trust: bool) -> None:
        code = self._code(data, Purpose.LOGIN.value, PROFILE.email_otp_digits)
        self._submit_email(self._session(data), code, trust)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), address=st.sampled_from(ADDRESS_INPUTS))
    def start_email_registration(self, data: st.DataObject, address: str) -> None:
        self._call(
            "start_email_registration", self.h.portal.start_email_registration, self._session(data), address
        )

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def confirm_email_registration(self, data: st.DataObject) -> None:
        code = self._code(data, Purpose.REGISTER_EMAIL.value, PROFILE.email_otp_digits)
        self._confirm_registration(self._session(data), code)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def start_app_registration(self, data: st.DataObject) -> None:
        self._start_app(self._session(data))

    @precondition(lambda self: self.sessions and (self.pending or self.registered or self.voided))
    @rule(data=st.data(), offset=OFFSETS)
    def confirm_app_registration(self, data: st.DataObject, offset: int) -> None:
        secret = self._secret(data, registering=True)
        assert secret is not None
        self._confirm_app(self._session(data), secret, offset)

    @precondition(lambda self: self.sessions and (self.pending or self.registered or self.voided))
    @rule(data=st.data(), offset=OFFSETS)
    def submit_totp(self, data: st.DataObject, offset: int) -> None:
        secret = self._secret(data)
        assert secret is not None
        self._submit_totp(self._session(data), secret, offset)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), resend=st.booleans())
    def initialize_or_resend(self, data: st.DataObject, resend: bool) -> None:
        action = self.h.portal.resend if resend else self.h.portal.initialize
        self._call("initialize", action, self._session(data))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def confirm_reset(self, data: st.DataObject) -> None:
        code = self._code(data, Purpose.RESET.value, PROFILE.confirmation_code_digits)
        self._confirm_reset(self._session(data), code)

    # --- whole flows of the manuals, each step still checked ------------------------------------
    @rule(trust=st.booleans(), by_app=st.booleans(), offset=OFFSETS, data=st.data())
    def second_factor_flow(self, trust: bool, by_app: bool, offset: int, data: st.DataObject) -> None:
        result = self._call("login", self.h.login)
        if result is None:
            return
        self.sessions.append(result.session)
        if by_app and (self.registered or self.voided or self.pending):
            self.h.clock.advance(PROFILE.totp_period_seconds)  # a later login: the next step's code
            secret = self._secret(data)
            assert secret is not None
            self._submit_totp(result.session, secret, offset)
        else:
            self._call("send_login_code", self.h.portal.send_login_code, result.session)
            code = self._newest(Purpose.LOGIN.value)
            if code is not None:
                self._submit_email(result.session, code, trust)

    @precondition(lambda self: self.sessions)
    @rule(address=st.sampled_from(ADDRESS_INPUTS), data=st.data())
    def register_address_flow(self, address: str, data: st.DataObject) -> None:
        session = self._session(data)
        sent = self._call(
            "start_email_registration", self.h.portal.start_email_registration, session, address
        )
        code = self._newest(Purpose.REGISTER_EMAIL.value)
        if sent is not None and code is not None:
            self._confirm_registration(session, code)

    @precondition(lambda self: self.sessions)
    @rule(offset=OFFSETS, data=st.data())
    def register_app_flow(self, offset: int, data: st.DataObject) -> None:
        session = self._session(data)
        self._start_app(session)
        if self.pending:
            self._confirm_app(session, sorted(self.pending)[0], offset)

    @rule(
        by_helpdesk=st.booleans(),
        wait=st.integers(0, 2 * PROFILE.confirmation_code_lifetime_seconds),
        set_up_anew=st.booleans(),
    )
    def reset_flow(self, by_helpdesk: bool, wait: int, set_up_anew: bool) -> None:
        session = self._call("login_for_reset", self.h.login_for_reset)
        if session is None:
            return
        self.sessions.append(session)
        self._call("initialize", self.h.portal.initialize, session)
        if by_helpdesk:
            self.helpdesk()
        code = self._newest(Purpose.RESET.value)
        self.h.clock.advance(wait)
        if code is not None:
            self._confirm_reset(session, code)
        if set_up_anew:  # "set up mail anew" in the same session [RESET_THEN_SETUP]
            sent = self._call(
                "start_email_registration", self.h.portal.start_email_registration, session, "taro@gmail.com"
            )
            code = self._newest(Purpose.REGISTER_EMAIL.value)
            if sent is not None and code is not None:
                self._confirm_registration(session, code)

    @precondition(lambda self: self.trust_tokens)
    @rule(data=st.data())
    def reset_then_trusted_login(self, data: st.DataObject) -> None:
        """A confirmed reset, a new address, then a login with a token granted before it."""
        token = data.draw(st.sampled_from(self.trust_tokens), label="trust token")
        self.reset_flow(by_helpdesk=False, wait=0, set_up_anew=True)
        result = self._call("login", self.h.login, trust_token=token)
        if result is not None:
            self.sessions.append(result.session)
            if token in self.revoked_tokens:
                assert result.stage is not Stage.AUTHENTICATED, (
                    "a revoked trust token skipped the second factor"
                )

    # --- deliberate replays: the attacks the invariants are about ------------------------------
    @precondition(lambda self: self.accepted_steps)
    @rule(data=st.data())
    def replay_totp(self, data: st.DataObject) -> None:
        """Log in and submit the code of an already accepted (app, step)."""
        secret, step = data.draw(st.sampled_from(sorted(self.accepted_steps)), label="accepted step")
        result = self._call("login", self.h.login)
        if result is None:
            return
        self.sessions.append(result.session)
        before = self._apps()
        code = otp.hotp(bytes.fromhex(secret), step, digits=PROFILE.totp_digits)
        if self._call("verify_app_code", self.h.portal.verify_app_code, result.session, code) is not None:
            self._accept_step(before)

    @precondition(lambda self: self.revoked_tokens)
    @rule(data=st.data())
    def login_with_revoked_trust(self, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from(sorted(self.revoked_tokens)), label="revoked token")
        result = self._call("login", self.h.login, trust_token=token)
        if result is not None:
            self.sessions.append(result.session)
            assert result.stage is not Stage.AUTHENTICATED, "a revoked trust token skipped the second factor"

    @precondition(lambda self: self.accepted_codes)
    @rule(data=st.data())
    def replay_mailed_code(self, data: st.DataObject) -> None:
        """Submit an already accepted mailed code again, where its purpose is accepted."""
        purpose, code = data.draw(st.sampled_from(sorted(self.accepted_codes)), label="accepted code")
        session = self._session(data)
        if purpose == Purpose.LOGIN.value:
            self._submit_email(session, code, False)
        elif purpose == Purpose.REGISTER_EMAIL.value:
            self._confirm_registration(session, code)
        else:
            self._confirm_reset(session, code)

    @rule()
    def helpdesk(self) -> None:
        code = self._call("helpdesk", self.h.portal.helpdesk_issue_code, "taro")
        if code is not None:
            self.issued.append(Issued(Purpose.RESET.value, code, self.now, None))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def logout(self, data: st.DataObject) -> None:
        self._call("logout", self.h.portal.logout, self._session(data))

    @rule(
        seconds=st.one_of(
            st.integers(0, PROFILE.totp_period_seconds),
            st.integers(0, PROFILE.totp_period_seconds),
            st.integers(
                0, 2 * max(PROFILE.email_otp_lifetime_seconds, PROFILE.confirmation_code_lifetime_seconds)
            ),
        )
    )
    def time_passes(self, seconds: int) -> None:
        self.h.clock.advance(seconds)

    # --- invariants (the acceptance checks above run at each success) ----------------------------
    @invariant()
    def stored_state_is_sound(self) -> None:
        state = self.h.env.store.load("taro")
        if state is None:  # before the initial account exists
            return
        assert len(state.addresses) <= PROFILE.email_max_addresses, "more addresses than the profile allows"
        for address in state.addresses:
            normalized = addresses.normalize(address)
            assert str(normalized) == address, f"stored address {address!r} is not normalised"
            blocked = addresses.is_blocked(
                normalized, PROFILE.email_blocked_domains, subdomains=PROFILE.email_block_subdomains
            )
            assert not blocked, f"blocked address {address} registered"
        assert not ({a.secret_hex for a in state.apps} & self.voided), (
            "an app voided by a reset is still registered"
        )
        stored = repr(state.to_json())
        for issue in self.issued[-3:]:
            assert issue.code not in stored, "a code is stored in clear"


TestPortalMachine = PortalMachine.TestCase
TestPortalMachine.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
