"""Which checks a profile or the portal rules out (spec/protocol.md §19.1): the registry's
``applies_when``, and the areas whose flow the portal declares it lacks (``lacks``, from the
connection: the html driver's ``capabilities.reset = false`` lacks "reset" and "helpdesk").

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
    requirement_ids: Iterable[str],
    registry: Mapping[str, Requirement],
    profile: Profile,
    lacks: Mapping[str, str] | None = None,
) -> str | None:
    """Why the profile, or a flow the portal lacks (area -> the declaration that says so), rules
    out a check marked with ``requirement_ids``, or None.

    The IDs are read in sorted order, so that a check gives the same reason in every process: a
    feature scenario's tags reach its markers in the order of a set (pytest-bdd), which follows
    the string hash, and so changed from one run to the next."""
    ids = sorted(requirement_ids)
    for rid in ids:
        why = registry[rid].inapplicable(profile)
        if why is not None:
            return f"{why}: this check walks that path"
    for rid in ids:
        declared = (lacks or {}).get(registry[rid].area)
        if declared is not None:
            return f"{declared}: this check walks that flow ({rid})"
    return None


def require_applicable(
    requirement_ids: Iterable[str],
    registry: Mapping[str, Requirement],
    profile: Profile,
    lacks: Mapping[str, str] | None = None,
) -> None:
    why = reason(requirement_ids, registry, profile, lacks)
    if why is not None:
        raise NotApplicable(why)
