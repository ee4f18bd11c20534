"""Which session stage allows which action, and the stage that follows: the session's state
machine as data, in the manner of h11's ``_state.py``.

:class:`~.portal.Portal` reads this one table instead of a stage tuple per method, so the rule
of spec/protocol.md §11.1 ("stage × action → next stage") is written down once in the core, and a
test compares it with the spec's table. Logging in is not here: it opens a session rather than
acting in one, and the stage it opens depends on the account (§2.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from .state import Stage


class Action(StrEnum):
    """What a session can do; each value is the action's operation in the JSON binding."""

    REQUEST_EMAIL_CODE = "requestEmailCode"
    SUBMIT_APP_CODE = "submitAppCode"
    SUBMIT_EMAIL_CODE = "submitEmailCode"
    SETTINGS = "settings"
    REGISTER_EMAIL = "registerEmail"
    CONFIRM_EMAIL = "confirmEmail"
    START_APP_REGISTRATION = "startAppRegistration"
    REGISTER_APP = "registerApp"
    INITIALIZE = "initialize"
    RESEND = "resend"
    CONFIRM_RESET = "confirmReset"
    LOGOUT = "logout"


SAME: Final = "same"  # the stage does not change
ENDED: Final = "ended"  # the session ends
Follows = Stage | Literal["same", "ended"]


@dataclass(frozen=True)
class Transition:
    """The stages in which an action is allowed, and what follows when it is accepted.

    A refused action (a wrong code, nothing pending, a lockout) changes no stage.
    """

    allowed: frozenset[Stage]
    follows: Follows

    def after(self, stage: Stage) -> Stage | None:
        """The stage once the action is accepted in ``stage``; ``None`` when the session ends.

        Raises ``ValueError`` for a stage the action is not allowed in: nothing follows there.
        """
        if stage not in self.allowed:
            raise ValueError(f"not allowed in {stage}")
        if self.follows == ENDED:
            return None
        return stage if self.follows == SAME else Stage(self.follows)


_SETTINGS = frozenset({Stage.SETUP, Stage.AUTHENTICATED})

TABLE: Mapping[Action, Transition] = {
    Action.REQUEST_EMAIL_CODE: Transition(frozenset({Stage.FIRST_FACTOR}), SAME),
    Action.SUBMIT_APP_CODE: Transition(frozenset({Stage.FIRST_FACTOR}), Stage.AUTHENTICATED),
    Action.SUBMIT_EMAIL_CODE: Transition(frozenset({Stage.FIRST_FACTOR}), Stage.AUTHENTICATED),
    Action.SETTINGS: Transition(_SETTINGS, SAME),
    Action.REGISTER_EMAIL: Transition(_SETTINGS, SAME),
    Action.CONFIRM_EMAIL: Transition(_SETTINGS, Stage.AUTHENTICATED),
    Action.START_APP_REGISTRATION: Transition(_SETTINGS, SAME),
    Action.REGISTER_APP: Transition(_SETTINGS, Stage.AUTHENTICATED),
    Action.INITIALIZE: Transition(frozenset({Stage.RESET}), SAME),
    Action.RESEND: Transition(frozenset({Stage.RESET}), SAME),
    Action.CONFIRM_RESET: Transition(frozenset({Stage.RESET}), Stage.SETUP),
    Action.LOGOUT: Transition(frozenset(Stage), ENDED),
}


def destination(action: Action) -> Stage:
    """The one stage an accepted ``action`` leads to, for the outcomes that report it."""
    follows = TABLE[action].follows
    if follows in (SAME, ENDED):
        raise ValueError(f"{action} leads to no one stage: {follows}")
    return Stage(follows)


def matrix() -> dict[Action, dict[Stage, Stage | None]]:
    """The table as spec/protocol.md §11.1 writes it: per action, each allowing stage → the next."""
    return {a: {s: t.after(s) for s in Stage if s in t.allowed} for a, t in TABLE.items()}
