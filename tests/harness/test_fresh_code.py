"""The feature steps' "the one-time password the app shows" is never a code about to change: a
person waits for the next one, as the probes do (actions.settle_in_step). Before, the steps took
whatever step it was, and a code made 0.2 s before its step ended reached a portal with a window
of 0 steps (django-allauth's default) in the next step: a false FAIL of APP_REGISTER_REQUIRES_CODE
on a busy machine (tests/peers/test_allauth.py under two xdist workers)."""

from __future__ import annotations

import pyotp
import pytest

from ninsho.conformance.actions import step_at
from ninsho.conformance.drivers.embedded import embedded_target
from ninsho.conformance.steps.common import World, fresh_app_code
from ninsho.conformance.target import Target
from ninsho.reference.embedded import embedded_portal
from ninsho.spec.registry import load_profile

PROFILE = load_profile("iimc")
PERIOD = PROFILE.totp_period_seconds


def at_into_step(seconds_into: float, skew: float = 0.0) -> tuple[Target, World]:
    """An embedded portal whose (device) clock is ``seconds_into`` its TOTP step."""
    portal = embedded_target(embedded_portal(PROFILE, seed=21), PROFILE)
    into = (portal.clock.now() + skew) % PERIOD
    portal.clock.advance((seconds_into - into) % PERIOD)
    world = World(app=pyotp.TOTP(pyotp.random_base32()), margin_seconds=1.0, device_error_seconds=skew)
    return portal, world


def test_a_code_near_the_end_of_its_step_waits_for_the_next_step() -> None:
    portal, world = at_into_step(PERIOD - 0.5)
    step = step_at(PROFILE, portal.clock.now())
    code = fresh_app_code(world, portal.clock, PROFILE)
    assert world.last_app_step == step + 1
    assert code == world.app.at((step + 1) * PERIOD)  # type: ignore[union-attr]
    assert portal.clock.now() % PERIOD == pytest.approx(1.0)


def test_a_code_mid_step_is_taken_at_once() -> None:
    portal, world = at_into_step(PERIOD / 2)
    before = portal.clock.now()
    fresh_app_code(world, portal.clock, PROFILE)
    assert portal.clock.now() == before
    assert world.last_app_step == step_at(PROFILE, before)


def test_a_step_just_begun_is_waited_into_by_the_margin_not_a_whole_period() -> None:
    portal, world = at_into_step(0.25)
    step = step_at(PROFILE, portal.clock.now())
    fresh_app_code(world, portal.clock, PROFILE)
    assert world.last_app_step == step
    assert portal.clock.now() % PERIOD == pytest.approx(1.0)


def test_the_step_is_the_devices_when_its_clock_is_off() -> None:
    """The app's countdown is on the device's clock: 7 s fast, 0.5 s left on it."""
    portal, world = at_into_step(PERIOD - 0.5, skew=7.0)
    device_step = step_at(PROFILE, portal.clock.now() + 7.0)
    fresh_app_code(world, portal.clock, PROFILE)
    assert world.last_app_step == device_step + 1
    assert (portal.clock.now() + 7.0) % PERIOD == pytest.approx(1.0)


def test_a_used_step_waits_for_the_next_code_and_its_margin_only() -> None:
    portal, world = at_into_step(10.0)
    fresh_app_code(world, portal.clock, PROFILE)
    used = world.last_app_step
    assert used is not None
    second = fresh_app_code(world, portal.clock, PROFILE)
    assert world.last_app_step == used + 1
    assert second == world.app.at((used + 1) * PERIOD)  # type: ignore[union-attr]
    assert portal.clock.now() % PERIOD == pytest.approx(1.0)
