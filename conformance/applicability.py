"""Which checks a profile rules out: the registry's ``applies_when`` (spec/protocol.md §19.1).

A requirement that applies only under some profile values (the code screen's, with
``reset.mode = "code"``; the reset link's, with ``"link"``) is NOT_APPLICABLE under any other
profile. A check is marked with every requirement it walks through, so a check that carries one
such requirement walks that mode's path: under the other mode it cannot run at all, and every
requirement it carries reads NOT_APPLICABLE for it (another check may still judge them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ninsho.conformance.errors import NotApplicable
from ninsho.spec.profile import Profile
from ninsho.spec.registry import Requirement


def reason(
    requirement_ids: Iterable[str], registry: Mapping[str, Requirement], profile: Profile
) -> str | None:
    """Why the profile rules out a check marked with ``requirement_ids``, or None.

    The IDs are read in sorted order, so that a check gives the same reason in every process: a
    feature scenario's tags reach its markers in the order of a set (pytest-bdd), which follows
    the string hash, and so changed from one run to the next."""
    for rid in sorted(requirement_ids):
        why = registry[rid].inapplicable(profile)
        if why is not None:
            return f"{why}: this check walks that path"
    return None


def require_applicable(
    requirement_ids: Iterable[str], registry: Mapping[str, Requirement], profile: Profile
) -> None:
    why = reason(requirement_ids, registry, profile)
    if why is not None:
        raise NotApplicable(why)
