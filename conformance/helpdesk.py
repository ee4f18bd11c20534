"""The helpdesk through an operator's command: for a portal that has no operator API.

The manuals' helpdesk reads a confirmation code out over the phone (``app-reset.en.txt`` and
``email-change.en.txt`` 【If you cannot confirm…】). A staging portal usually has a command for
that on its operators' side, e.g. ``ssh ops portalctl helpdesk {login_id}``. ``[operator]
command`` names it: the harness runs it for each helpdesk check, with ``{login_id}`` filled in,
and reads the code from its standard output.

The template is split like a shell line (shlex), then ``{login_id}`` is filled into each word:
no shell runs it, so no login ID can inject one.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from typing import Protocol

from ninsho.conformance.errors import ConfigError, DriverError
from ninsho.conformance.interfaces import Outcome

DEFAULT_TIMEOUT_SECONDS = 60.0


class Helpdesk(Protocol):
    """What the harness asks of the ICT Support Center: a confirmation code for a pending reset."""

    def helpdesk_code(self, login_id: str) -> Outcome: ...


class CommandHelpdesk:
    """The helpdesk as a command (a :class:`Helpdesk`)."""

    def __init__(self, template: str, digits: int, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        try:
            self.words = shlex.split(template)
        except ValueError as exc:
            raise ConfigError("operator.command", f"cannot be split into words: {exc}") from None
        if not self.words or not any("{login_id}" in word for word in self.words):
            raise ConfigError("operator.command", "must name the account as {login_id}")
        self.digits, self.timeout = digits, timeout

    def argv(self, login_id: str) -> list[str]:
        return [word.replace("{login_id}", login_id) for word in self.words]

    def helpdesk_code(self, login_id: str) -> Outcome:
        """Exit 0 and one code on standard output: issued. Another exit status: the helpdesk
        refused (no reset pending, say), with its last line of standard error as the reason."""
        argv = self.argv(login_id)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise DriverError(f"[operator] command: {argv[0]!r} was not found") from None
        except subprocess.TimeoutExpired:
            raise DriverError(
                f"[operator] command did not finish in {self.timeout:g} s: {shlex.join(argv)}"
            ) from None
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            return Outcome(ok=False, error="helpdesk_refused", message_en=why, message_ja=why)
        codes = set(re.findall(rf"(?<!\d)\d{{{self.digits}}}(?!\d)", done.stdout))
        if len(codes) != 1:
            raise DriverError(
                f"[operator] command printed {len(codes)} {self.digits}-digit codes, not one: {shlex.join(argv)}"
            )
        return Outcome(ok=True, data={"code": codes.pop()})

    def preflight(self) -> None:
        if shutil.which(self.words[0]) is None:
            raise ConfigError("operator.command", f"{self.words[0]!r} is not a command on this machine")
