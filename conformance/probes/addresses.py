"""The address vectors of spec/vectors/addresses.toml, as the checks and the features read them.

One place decides what a case expects under a profile and which requirement its verdict speaks
for, so that a feature scenario and a check FAIL the same ID for the same case. The vectors are
written for the iimc list of blocked domains: under a profile with another list they do not
apply, and say so (NOT_APPLICABLE) rather than judge by the wrong list.
"""

from __future__ import annotations

from typing import Any

from ninsho.conformance.errors import NotApplicable
from ninsho.spec.profile import Profile
from ninsho.spec.registry import read_toml

VECTOR_DOMAINS = ("st.kyoto-u.ac.jp", "kyoto-u.ac.jp", "ms.c.kyoto-u.ac.jp")


def address_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = read_toml("vectors/addresses.toml")["case"]
    return cases


def expected_verdict(case: dict[str, Any], profile: Profile) -> str:
    """The vectors' verdict, or the one they give for a profile without the subdomain rule."""
    if sorted(profile.email_blocked_domains) != sorted(VECTOR_DOMAINS):
        raise NotApplicable(
            f"the address vectors are written for {', '.join(VECTOR_DOMAINS)}; "
            f"the profile blocks {', '.join(profile.email_blocked_domains)}"
        )
    if not profile.email_block_subdomains and "verdict_without_subdomain_rule" in case:
        return str(case["verdict_without_subdomain_rule"])
    return str(case["verdict"])


def requirement_of(case: dict[str, Any], profile: Profile | None = None) -> str:
    """A syntax error is EMAIL_ADDRESS_SYNTAX; a blocked domain itself EMAIL_BLOCKED_DOMAIN, one
    under it EMAIL_BLOCKED_SUBDOMAIN; an accepted domain that contains a blocked name
    EMAIL_LOOKALIKE_ACCEPTED; any other, or a verdict the profile's subdomain rule changes,
    EMAIL_ADDRESS_NORMALIZATION. Without a profile: the requirement under iimc's rules."""
    if profile is not None and expected_verdict(case, profile) != case["verdict"]:
        return "EMAIL_ADDRESS_NORMALIZATION"
    if case["verdict"] == "invalid":
        return "EMAIL_ADDRESS_SYNTAX"
    domain = str(case["normalized"]).rpartition("@")[2]
    if case["verdict"] == "blocked":
        return "EMAIL_BLOCKED_DOMAIN" if domain in VECTOR_DOMAINS else "EMAIL_BLOCKED_SUBDOMAIN"
    if any(name in domain for name in VECTOR_DOMAINS):
        return "EMAIL_LOOKALIKE_ACCEPTED"
    return "EMAIL_ADDRESS_NORMALIZATION"
