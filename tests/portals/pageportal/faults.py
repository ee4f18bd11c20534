"""Deliberately faulty variants of the page portal, for the harness's own tests: each breaks
one rule, so the harness must FAIL exactly that requirement through the html driver."""

from __future__ import annotations

from .profile import Profile

WIDE_WINDOW_STEPS = 3
FAULTS = {
    "wide-window": f"app codes are accepted {WIDE_WINDOW_STEPS} steps before and after the current one"
    " (breaks TOTP_WINDOW)",
}


def faulty(profile: Profile, fault: str | None) -> Profile:
    """``profile`` as the faulty portal ``fault`` (one of :data:`FAULTS`) applies it."""
    if fault is None:
        return profile
    if fault == "wide-window":
        wide = {"totp.window_past_steps": WIDE_WINDOW_STEPS, "totp.window_future_steps": WIDE_WINDOW_STEPS}
        return Profile(profile.name, {**profile.values, **wide})
    raise ValueError(f"unknown fault {fault!r} ({', '.join(FAULTS)})")
