"""Deliberate faults for the clean-room portal, as switches (``serve --fault NAME``).

The three faults of issue #18 that the harness used to miss, so that each FAILs its requirement
against a second implementation too, not only against the reference (reference/faults.py has
the same three). Kept out of the clean room's own modules, which follow spec/ alone: each fault
wraps one of the portal's methods on the instance, and ``cli.py`` applies the switches it is
given. Never serve these but to prove the harness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .portal import Portal
from .store import Account, Code, Tx

PURPOSES = ("login", "register", "reset")


def count_reset_at_login(portal: Portal) -> None:
    """A right password resets the code-failure count (a lock already set stays)."""
    check_password = portal._check_password

    def resetting(login_id: str, password: str, **how: Any) -> int:
        account_id = check_password(login_id, password, **how)
        with portal.store.tx() as tx:
            account = tx.account(account_id)
            if account is not None:
                tx.set_failures(account_id, 0, account.locked_until)
        return account_id

    portal._check_password = resetting  # type: ignore[method-assign]


def code_any_purpose(portal: Portal) -> None:
    """A code is looked for among the live codes of every purpose, not only its own."""
    match = portal._match

    def any_purpose(tx: Tx, account_id: int, purpose: str, code: str, now: float) -> tuple[Code | None, str]:
        row, reason = match(tx, account_id, purpose, code, now)
        for other in (p for p in PURPOSES if row is None and p != purpose):
            found, _ = match(tx, account_id, other, code, now)
            if found is not None:
                return found, "ok"
        return row, reason

    portal._match = any_purpose  # type: ignore[method-assign]


def change_without_confirm(portal: Portal) -> None:
    """ "Send One-Time Password" to a new address replaces a registered one at once."""
    issue = portal._issue

    def switching(tx: Tx, account: Account, purpose: str, target: str | None, origin: str, now: float) -> str:
        code = issue(tx, account, purpose, target, origin, now)
        if purpose == "register" and account.address and target:
            tx.set_address(account.id, target)
        return code

    portal._issue = switching  # type: ignore[method-assign]


FAULTS: dict[str, Callable[[Portal], None]] = {
    "count-reset-at-login": count_reset_at_login,
    "code-any-purpose": code_any_purpose,
    "change-without-confirm": change_without_confirm,
}


def apply(portal: Portal, names: list[str]) -> Portal:
    """Switch on the faults ``names`` (each a key of :data:`FAULTS`) on ``portal``."""
    for name in names:
        FAULTS[name](portal)
    return portal
