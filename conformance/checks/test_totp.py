"""TOTP: the window, replay, and the code format (RFC 6238 §4, §5.2)."""

from __future__ import annotations

import pytest

from ninsho.conformance.actions import scan
from ninsho.conformance.errors import Advisory, expect
from ninsho.conformance.probes.concurrent import SUBMISSIONS, submit_at_once
from ninsho.conformance.probes.enrol import code_for_step, enrol_app, settle_in_step, step_of, wait_for_step
from ninsho.conformance.probes.totp_window import measure_window
from ninsho.conformance.target import Target


@pytest.mark.TOTP_WINDOW
def test_totp_window(portal: Target) -> None:
    """Measure the accepted step offsets from past to future; wider than the profile fails."""
    p = portal.profile
    m = measure_window(portal)
    allowed = range(-p.totp_window_past_steps, p.totp_window_future_steps + 1)
    portal.measure("window", m.describe())
    portal.measure("profile_window", f"{-p.totp_window_past_steps:+d}…{p.totp_window_future_steps:+d}")
    expect(m.results.get(0), "TOTP_WINDOW", "the code of the current step was refused")
    wider = [o for o in m.accepted if o not in allowed]
    expect(not wider, "TOTP_WINDOW", f"{m.describe()}, but the profile allows only {list(allowed)}")
    narrower = [o for o in allowed if not m.results.get(o, False)]
    if narrower:
        raise Advisory("TOTP_WINDOW", f"{m.describe()}: offsets {narrower} of the profile's window refused")


@pytest.mark.TOTP_REPLAY
def test_totp_same_code_twice(portal: Target) -> None:
    """A code that logged in once is refused the second time, in the same step."""
    enrolled = enrol_app(portal)
    assert enrolled.totp is not None
    wait_for_step(portal, enrolled.registered_step + 1)
    settle_in_step(portal, needed_seconds=4 * portal.margin_seconds)
    code = code_for_step(enrolled.totp, step_of(portal))
    driver = enrolled.driver
    driver.login(enrolled.account)
    expect(driver.submit_app_code(code).ok, "TOTP_WINDOW", "a current code was refused")
    driver.logout()
    driver.login(enrolled.account)
    expect(driver.submit_app_code(code).refused, "TOTP_REPLAY", "the same code was accepted twice")


@pytest.mark.TOTP_REPLAY
def test_totp_older_step_after_newer(portal: Target) -> None:
    """After the code of step T is accepted, the code of step T-1 (inside the window) is refused."""
    if portal.profile.totp_window_past_steps < 1:
        pytest.skip("the profile's window has no past step to replay")
    enrolled = enrol_app(portal)
    assert enrolled.totp is not None
    wait_for_step(portal, enrolled.registered_step + 2)
    settle_in_step(portal, needed_seconds=4 * portal.margin_seconds)
    driver, step = enrolled.driver, step_of(portal)
    driver.login(enrolled.account)
    expect(
        driver.submit_app_code(code_for_step(enrolled.totp, step)).ok,
        "TOTP_WINDOW",
        "a current code was refused",
    )
    driver.logout()
    driver.login(enrolled.account)
    older = driver.submit_app_code(code_for_step(enrolled.totp, step - 1))
    expect(older.refused, "TOTP_REPLAY", "the previous step's code was accepted after the current one")


@pytest.mark.TOTP_REPLAY
def test_totp_concurrent_submissions(portal: Target) -> None:
    """N browsers submit one valid code at the same moment: exactly one is accepted."""
    enrolled = enrol_app(portal)
    assert enrolled.totp is not None
    browsers = [portal.browser() for _ in range(SUBMISSIONS)]
    for browser in browsers:
        browser.login(enrolled.account)
    wait_for_step(portal, enrolled.registered_step + 1)
    settle_in_step(portal, needed_seconds=4 * portal.margin_seconds)
    code = code_for_step(enrolled.totp, step_of(portal))
    burst = submit_at_once(portal, browsers, lambda b: b.submit_app_code(code))
    expect(burst.exactly_one_succeeded, "TOTP_REPLAY", f"concurrent submissions of one code: {burst}")


@pytest.mark.TOTP_DIGITS
@pytest.mark.TOTP_ALGORITHM
@pytest.mark.APP_PROVISIONING_URI
@pytest.mark.TOTP_SECRET_STRENGTH
def test_totp_provisioning(portal: Target) -> None:
    """The QR code's otpauth URI states the profile's digits, period and algorithm, and a
    secret of at least the profile's length; the manual key is the same secret."""
    p = portal.profile
    driver, account = portal.browser(), portal.account()
    driver.login(account)
    shown = driver.start_app_registration()
    totp = scan(shown.uri)
    portal.measure(
        "uri_parameters", f"digits={totp.digits} period={totp.interval} algorithm={totp.digest().name}"
    )
    expect(totp.digits == p.totp_digits, "TOTP_DIGITS", f"the URI says {totp.digits} digits")
    expect(totp.interval == p.totp_period_seconds, "TOTP_ALGORITHM", f"the URI says period {totp.interval}")
    expect(
        totp.digest().name.upper().replace("-", "") == p.totp_algorithm,
        "TOTP_ALGORITHM",
        f"the URI says algorithm {totp.digest().name}",
    )
    secret_bits = len(totp.byte_secret()) * 8
    portal.measure("secret_bits", secret_bits)
    expect(secret_bits >= p.totp_secret_bytes * 8, "TOTP_SECRET_STRENGTH", f"a {secret_bits}-bit secret")
    expect(
        shown.manual_key.replace(" ", "").upper().rstrip("=") == totp.secret.upper().rstrip("="),
        "APP_PROVISIONING_URI",
        "the manual key and the QR code's secret differ",
    )
