"""Shared fixtures for the core's tests: bundled profiles, vectors and an embedded portal.

Everything runs on virtual time (``VirtualClock``), seeded randomness (``SeededRandom``) and the
in-process ``Outbox``; nothing here sleeps or touches the network.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from ninsho.reference.clocks import VirtualClock
from ninsho.reference.core import otp
from ninsho.reference.core.errors import NinshoError
from ninsho.reference.core.portal import LoginResult, Portal, Verified
from ninsho.reference.core.state import AccountState
from ninsho.reference.embedded import Embedded, embedded_portal
from ninsho.reference.outbox import Outbox
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile, profile_names, read_toml, requirements
from tests.address_cases import case_dicts

PROFILE_NAMES = profile_names()
# The flows of the 2024 manuals reset by code; a link-mode profile has its own tests
# (test_core_reset_link.py), since §9.2–§9.4 and §10 do not apply to it (protocol.md §19).
CODE_PROFILE_NAMES = [name for name in PROFILE_NAMES if load_profile(name).reset_mode == "code"]
LINK_PROFILE_NAMES = [name for name in PROFILE_NAMES if load_profile(name).reset_mode == "link"]
ADDRESS_CASES: list[dict[str, Any]] = case_dicts()  # the address vectors under iimc
RFC6238: dict[str, Any] = read_toml("vectors/rfc6238.toml")
REQUIREMENT_IDS = frozenset(requirements())

# A start time in the middle of a TOTP step for every bundled period, far from the epoch.
START = 1_700_000_000.0
PASSWORD = "correct horse battery staple"
_CODE_IN_BODY = re.compile(r":\s*([0-9]+)\s*$", re.MULTILINE)


@pytest.fixture(params=CODE_PROFILE_NAMES)
def profile(request: pytest.FixtureRequest) -> Profile:
    """Each bundled profile that resets by code in turn: the flows must hold for every one."""
    return load_profile(request.param)


@pytest.fixture
def iimc() -> Profile:
    return load_profile("iimc")


def code_in(mail_body: str) -> str:
    """The code a mail carries: the digits after the last ``label: `` line."""
    found = _CODE_IN_BODY.findall(mail_body)
    assert found, f"no code in mail body:\n{mail_body}"
    return str(found[-1])


@contextmanager
def refused(kind: type[NinshoError], requirement: str, field: str | None = None) -> Iterator[list[Any]]:
    """``pytest.raises`` that also checks the error's requirement ID (from the registry) and field."""
    assert requirement in REQUIREMENT_IDS, f"{requirement} is not in spec/requirements.toml"
    box: list[Any] = []
    with pytest.raises(kind) as info:
        yield box
    error = info.value
    assert type(error) is kind, f"expected exactly {kind.__name__}, got {type(error).__name__}"
    assert error.requirement == requirement, f"{error.requirement} != {requirement}: {error}"
    if field is not None:
        assert error.field == field
    box.append(error)


@dataclass
class Harness:
    """The embedded portal plus the few steps every flow test repeats."""

    env: Embedded
    profile: Profile
    users: dict[str, str] = field(default_factory=dict)

    @property
    def portal(self) -> Portal:
        return self.env.portal

    @property
    def outbox(self) -> Outbox:
        return self.env.outbox

    @property
    def clock(self) -> VirtualClock:
        assert isinstance(self.env.clock, VirtualClock)
        return self.env.clock

    def state(self, login_id: str) -> AccountState:
        state = self.env.store.load(login_id)
        assert state is not None
        return state

    def add_user(self, login_id: str = "taro", password: str = PASSWORD) -> str:
        self.portal.add_user(login_id, password)
        self.users[login_id] = password
        return login_id

    def login(self, login_id: str = "taro", **kwargs: Any) -> LoginResult:
        return self.portal.login(login_id, self.users[login_id], **kwargs)

    def login_for_reset(self, login_id: str = "taro") -> str:
        return self.portal.login_for_reset(login_id, self.users[login_id]).session

    def last_code(self, to: str) -> str:
        mail = self.outbox.latest(to)
        assert mail is not None, f"no mail to {to}"
        return code_in(mail.body)

    def register_address(self, session: str, address: str) -> str:
        """ "Send One-Time Password" then "Confirm": the address registered."""
        sent = self.portal.start_email_registration(session, address)
        return self.portal.confirm_email_registration(session, self.last_code(sent.address)).address

    def totp(self, secret: bytes, offset_steps: int = 0) -> str:
        """The code an app with ``secret`` shows ``offset_steps`` away from the portal's step."""
        p = self.profile
        step = otp.time_step(self.clock.now(), p.totp_period_seconds) + offset_steps
        return otp.hotp(secret, step, digits=p.totp_digits, algorithm=p.totp_algorithm)

    def register_app(self, session: str) -> bytes:
        """Scan and "Register" with the current code; returns the app's secret."""
        provisioning = self.portal.start_app_registration(session)
        secret = base32_decode(provisioning.manual_key)
        self.portal.confirm_app_registration(session, self.totp(secret))
        return secret

    def past_totp_steps(self, steps: int) -> None:
        """Move the clock ``steps`` whole TOTP periods on."""
        self.clock.advance(steps * self.profile.totp_period_seconds)

    def user_with_address(self, login_id: str = "taro", address: str = "taro@gmail.com") -> str:
        self.add_user(login_id)
        self.register_address(self.login(login_id).session, address)
        return login_id

    def user_with_app(self, login_id: str = "taro") -> bytes:
        """A user whose only factor is an app; the clock is moved past the registration step
        and its window so that the next current code is fresh."""
        self.add_user(login_id)
        secret = self.register_app(self.login(login_id).session)
        self.past_totp_steps(self.profile.totp_window_past_steps + self.profile.totp_window_future_steps + 1)
        return secret


def renewed(verified: Verified) -> str:
    """The token a passed second factor gave the session: the one it had before is dead
    [SESSION_TOKEN_RENEWED], so a test that goes on in the session goes on with this one."""
    assert verified.session is not None, "the second factor gave the session no new token"
    return verified.session


def base32_decode(key: str) -> bytes:
    return base64.b32decode(key + "=" * (-len(key) % 8))


def make_harness(profile: Profile, *, seed: int = 1234, mailer: Any = None) -> Harness:
    env = embedded_portal(profile, clock=VirtualClock(START), seed=seed)
    if mailer is not None:
        env.portal.mailer = mailer
    return Harness(env, profile)


@pytest.fixture
def h(profile: Profile) -> Harness:
    return make_harness(profile)
