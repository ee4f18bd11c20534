"""What a refusal *is*, in one vocabulary for every driver: the kinds of spec/protocol.md §16.3.

A check judges a refusal by its kind (``Outcome.error``): "refused as a code", "refused as a
blocked address". The kinds are the binding's normative error names (spec/openapi.yaml
``x-error-codes``), so a portal that follows the binding has ``kind == name``. But a portal
that names a refusal otherwise still refuses: the kind is then told by what §16.3 makes
normative besides the name, the status and the requirement the refusal carries, and the name
itself is judged by one requirement alone, BINDING_ERROR_NAMES (``name_departs``). A portal that
answers ``address_blocked`` where the binding says ``blocked_address`` so FAILs that one, never
EMAIL_BLOCKED_DOMAIN.

The JSON driver maps through :func:`kind_of`; the html driver maps a page's message to the
same kinds through its site map (drivers/html/sitemap.py ``ERRORS``); the in-process driver
has the reference's names, which are these.
"""

from __future__ import annotations

from dataclasses import dataclass

from ninsho.conformance.interfaces import Outcome

UNKNOWN = "refused"  # a refusal whose status no kind has: a 4xx the binding does not list


@dataclass(frozen=True)
class Kind:
    """One kind of refusal: its normative name, the statuses it may have, and the requirement
    whose ID it carries where §16.3 makes that telling (else the name decides among a status's
    kinds, and the first kind of a status is that status's default)."""

    name: str
    statuses: tuple[int, ...]
    carries: str | tuple[str, ...] | None = None

    def carried(self, requirement: str | None) -> bool:
        """Whether a refusal carrying ``requirement`` is of this kind by that alone."""
        ids = (self.carries,) if isinstance(self.carries, str) else self.carries or ()
        return requirement is not None and requirement in ids


# In §16.3's order within each status: the first of a status is its default.
KINDS: tuple[Kind, ...] = (
    Kind("invalid_input", (400,)),
    Kind("invalid_address", (400,), "EMAIL_ADDRESS_SYNTAX"),
    Kind("malformed_body", (400,)),
    Kind("code_rejected", (401,)),
    Kind("authentication_failed", (401,), "FIRST_FACTOR_PASSWORD"),
    Kind("session_expired", (401,), "SESSION_EXPIRY"),
    Kind("not_permitted", (403,)),
    Kind("csrf_rejected", (403,), "WEB_CSRF"),
    Kind("admin_refused", (403, 401)),
    Kind("not_found", (404,)),
    Kind("unknown_account", (404,)),
    Kind("test_clock_disabled", (404,), "TEST_CLOCK_DISABLED_BY_DEFAULT"),
    Kind("method_not_allowed", (405,)),
    Kind("nothing_pending", (409,)),
    Kind("conflict", (409,)),
    Kind("body_too_large", (413,)),
    Kind("unsupported_media_type", (415,)),
    Kind("blocked_address", (422,)),
    Kind("account_locked", (429,)),
    Kind("rate_limited", (429,), ("PASSWORD_THROTTLE", "MAIL_RATE_LIMIT")),
)
NAMES = frozenset(k.name for k in KINDS)
# The refusals that hold an answer back rather than judge the input: a limit, or a lock.
HELD_BACK = ("rate_limited", "account_locked")


def kind_of(status: int, name: str | None, requirement: str | None) -> str:
    """The kind of a refusal with ``status`` that names itself ``name`` and carries
    ``requirement``: the kind of that status whose requirement it carries, else the one it
    names, else the status's default; :data:`UNKNOWN` for a status no kind has."""
    candidates = [k for k in KINDS if status in k.statuses]
    if not candidates:
        return UNKNOWN
    for kind in candidates:
        if kind.carried(requirement):
            return kind.name
    return name if name in {k.name for k in candidates} else candidates[0].name


def name_departs(outcome: Outcome) -> str | None:
    """Why the name a refusal carried is not the binding's for its kind (None: it is, or the
    driver sees no names, as the html driver does)."""
    name = outcome.data.get("error_name")
    if outcome.ok or name is None or name == outcome.error or outcome.error == UNKNOWN:
        return None
    status = outcome.data.get("status")
    return (
        f"a {status} refusal of the kind {outcome.error!r} (by its status and requirement"
        f" {outcome.requirement}) is named {name!r}; the binding names it {outcome.error!r}"
    )
