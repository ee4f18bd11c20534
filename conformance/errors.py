"""The harness's one exception tree: every exception a check or a driver raises on purpose.

Each class says the verdict a check that raises it gets (:attr:`HarnessError.verdict`), and
whether it speaks for one named requirement or for every requirement the check is marked with
(:meth:`HarnessError.requirements`). ``results.verdicts_for`` reads those two and nothing else,
so a new kind of outcome is a new class here, not a new branch there.

::

    HarnessError
    ├── RequirementFailed   FAIL of one requirement (an AssertionError, so ``assert`` reads alike)
    ├── Advisory            WARN: a departure in the safe direction
    ├── Inconclusive        INCONCLUSIVE: too close to a time boundary to call
    ├── NotApplicable       NOT_APPLICABLE: the portal or the profile rules the check out
    ├── ConfigError         the run cannot start: a bad config, option or baseline (exit 4)
    └── DriverError         ERROR: the harness could not talk to the portal
        ├── ServerError     a 5xx (the concurrency checks count it as a lost race)
        ├── MailTimeout     no matching mail in time
        ├── LocalError      this machine's side failed (the SMTP sink's port taken): not the portal
        └── NotSupported    NOT_APPLICABLE: the driver declares the portal has no such action
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import ClassVar

from ninsho.conformance.verdicts import Verdict


class HarnessError(Exception):
    """The root. ``requirement``, when set, narrows the verdict to that one requirement."""

    verdict: ClassVar[Verdict] = Verdict.ERROR

    def __init__(self, message: str, requirement: str | None = None) -> None:
        super().__init__(message)
        self.requirement = requirement

    def requirements(self, marked: Sequence[str], registered: Container[str]) -> list[str]:
        """The requirements this outcome speaks for: the named one when it is registered,
        else every requirement the check is marked with."""
        if self.requirement is not None and self.requirement in registered:
            return [self.requirement]
        return list(marked)

    def reason(self) -> str:
        """The line the report shows for this outcome."""
        return str(self).strip() or type(self).__name__


class RequirementFailed(HarnessError, AssertionError):
    """The portal broke one named requirement, on evidence."""

    verdict = Verdict.FAIL

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(f"[{requirement}] {message}", requirement)


class Advisory(HarnessError):
    """The portal departs from the profile in the safe direction (e.g. a narrower TOTP
    window): a WARN, whatever the requirement's level."""

    verdict = Verdict.WARN

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(f"[{requirement}] {message}", requirement)


class Inconclusive(HarnessError):
    """Too close to a time boundary (or otherwise undecidable) to call: never a FAIL."""

    verdict = Verdict.INCONCLUSIVE

    def __init__(self, reason: str, requirement: str | None = None) -> None:
        super().__init__(reason, requirement)


class NotApplicable(HarnessError):
    """The portal does not have the feature the check needs (a reason is required)."""

    verdict = Verdict.NOT_APPLICABLE

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class ConfigError(HarnessError):
    """A bad portal config, option or baseline; ``key`` is the dotted key at fault
    (``portal.base_url``). The run does not start."""

    def __init__(self, key: str, message: str) -> None:
        # A command-line option (-m, --ninsho-fault) is named as such, not as a key of the file.
        super().__init__(f"{key}: {message}" if key.startswith("-") else f"portal config: [{key}] {message}")
        self.key = key


class DriverError(HarnessError):
    """The harness could not talk to the portal (network, unexpected page, 5xx): an ERROR
    verdict, never a FAIL."""

    def reason(self) -> str:
        return f"{type(self).__name__}: {super().reason()}"


class ServerError(DriverError):
    """The portal answered with a server error (5xx), or, in process, raised something that is
    not a refusal. An ERROR where a check did not provoke it; the concurrency checks count it,
    since a crash is how a lost race in a check-then-write usually shows (privacyIDEA's did)."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class MailTimeout(DriverError):
    """No matching mail arrived in time: reported as such, not as a FAIL of the portal."""


class LocalError(DriverError):
    """Something on the harness's own machine failed, not the portal: the SMTP sink cannot
    listen on its port (another program holds it), a local file cannot be read. Named as local,
    so that nobody goes looking for a network fault at the portal's end."""


class NotSupported(DriverError):
    """The driver cannot perform this action for this portal: NOT_APPLICABLE, with a reason."""

    verdict = Verdict.NOT_APPLICABLE

    def reason(self) -> str:
        return HarnessError.reason(self)


def expect(condition: object, requirement: str, message: str) -> None:
    """``assert`` that names the requirement it checks."""
    if not condition:
        raise RequirementFailed(requirement, message)
