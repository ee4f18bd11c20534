"""One round before any check: does everything a run depends on work?

A portal started without its admin token once made all 274 checks ERROR, with 12,857 lines of
tracebacks. Here each dependency is tried once, in the order a person would look: the portal
answers, its clock, the operator's credentials, the mailbox, the pool accounts' passwords.
The first that fails is one line naming what to fix, and no check runs.

Each part may offer a ``preflight()`` method of its own (the built-in operators and mailboxes
do; a vendor's may): it raises a :class:`HarnessError` saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.errors import ConfigError, DriverError, HarnessError
from ninsho.conformance.interfaces import Account
from ninsho.conformance.target import Target

EXIT_USAGE = 4  # something to fix in the config, the environment or the credentials
EXIT_ERROR = 6  # the portal or the infrastructure does not work


@dataclass(frozen=True)
class Problem:
    step: str
    message: str
    status: int

    def line(self) -> str:
        return f"pre-flight: {self.step}: {self.message}"


def preflight(target: Target, config: PortalConfig) -> Problem | None:
    """The first problem found, or None when the run can start."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("the portal and its clock", target.clock.now),
        ("the operator", _optional(target.operator)),
        ("the mailbox", _optional(target.mailbox)),
    ]
    if config.provision == "pool":
        steps.append(("the pool accounts", lambda: _pool_passwords(target, config)))
    for step, run in steps:
        try:
            run()
        except ConfigError as exc:
            return Problem(step, str(exc), EXIT_USAGE)
        except DriverError as exc:
            return Problem(step, str(exc), EXIT_ERROR)
        except HarnessError as exc:
            return Problem(step, str(exc), EXIT_USAGE)
    return None


def _optional(part: object) -> Callable[[], object]:
    check = getattr(part, "preflight", None)
    return check if callable(check) else (lambda: None)


def _pool_passwords(target: Target, config: PortalConfig) -> None:
    """Each pool account logs in with the configured password (the first factor only)."""
    password = config.secret(config.password_env, "accounts.password_env")
    refused = []
    for login_id in config.pool:
        browser = target.browser()
        outcome = browser.login(Account(login_id, password))
        if outcome.ok:
            browser.logout()
        else:
            refused.append(f"{login_id} ({outcome.error})")
    if refused:
        raise ConfigError(
            "accounts.password_env",
            f"the portal refused the password in ${config.password_env} for {', '.join(refused)}",
        )
