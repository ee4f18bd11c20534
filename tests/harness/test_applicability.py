"""applicability.reason: which requirement a ruled-out check's NOT_APPLICABLE names.

A feature scenario's tags reach pytest in the order of a set, so a reason that named the first
inapplicable ID read differently from one process to the next (PYTHONHASHSEED). It must not
depend on the order the IDs come in.
"""

from __future__ import annotations

from itertools import permutations

from ninsho.conformance import applicability
from ninsho.spec.registry import load_profile, requirements


def test_the_reason_does_not_depend_on_the_order_of_the_tags() -> None:
    registry, profile = requirements(), load_profile("iimc")  # reset by code: the link's are ruled out
    link_only = sorted(rid for rid in registry if registry[rid].inapplicable(profile) is not None)
    assert len(link_only) >= 2, "the check needs two requirements iimc rules out"
    tags = [*link_only[:3], "TOTP_WINDOW"]
    reasons = {applicability.reason(order, registry, profile) for order in permutations(tags)}
    assert len(reasons) == 1
    (reason,) = reasons
    assert reason is not None and reason.startswith(f"{link_only[0]} applies only with"), reason


def test_an_applicable_check_has_no_reason() -> None:
    registry = requirements()
    assert applicability.reason(["TOTP_WINDOW", "EMAIL_OTP_LIFETIME"], registry, load_profile("iimc")) is None


def test_a_flow_the_portal_lacks_rules_out_every_check_that_walks_it() -> None:
    """A check marked with a reset requirement walks "Initialize", whatever else it judges."""
    registry, profile = requirements(), load_profile("iimc")
    lacks = {"reset": "the site map declares no reset (capabilities.reset = false)"}
    reason = applicability.reason(["TRUST_BROWSER", "RESET_VOIDS_APPS"], registry, profile, lacks)
    assert reason == f"{lacks['reset']}: this check walks that flow (RESET_VOIDS_APPS)"
    assert applicability.reason(["TRUST_BROWSER", "TOTP_WINDOW"], registry, profile, lacks) is None
    # The profile's reason comes first: it holds whatever the portal declares.
    assert "applies only with reset.mode = 'link'" in str(
        applicability.reason(["RESET_LINK_MAIL"], registry, profile, lacks)
    )
