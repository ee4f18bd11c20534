"""The helpdesk through an operator's command: for a portal that has no operator API.

The manuals' helpdesk reads a confirmation code out over the phone (``app-reset.en.txt`` and
``email-change.en.txt`` 【If you cannot confirm…】). A staging portal usually has a command for
that on its operators' side, e.g. ``ssh ops portalctl helpdesk {login_id}``. ``[operator]
command`` names it: the harness runs it for each helpdesk check, with ``{login_id}`` filled in,
and reads the code from its standard output.

The 2021 portal (``reset.mode = "link"``) has a helpdesk that confirms the reset itself once it
has verified the caller (``faq-totp-reset-2021.en.txt`` "ICT Support Center" ①–②, protocol.md
§19.5): ``[operator] confirm_command`` names that command (the reference's is ``ninsho helpdesk
confirm {login_id}``); exit status 0 is the confirm done.

A template is split like a shell line (shlex), then ``{login_id}`` is filled into each word:
no shell runs it, so no login ID can inject one.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from typing import Protocol

from ninsho.conformance.errors import ConfigError, DriverError, NotApplicable
from ninsho.conformance.interfaces import Outcome

DEFAULT_TIMEOUT_SECONDS = 60.0


class Helpdesk(Protocol):
    """What the harness asks of the ICT Support Center: a confirmation code for a pending reset."""

    def helpdesk_code(self, login_id: str) -> Outcome: ...


class ConfirmingHelpdesk(Helpdesk, Protocol):
    """… and, for a portal that resets by link (protocol.md §19.5), the confirm of that reset."""

    def helpdesk_confirm(self, login_id: str) -> Outcome: ...


class OperatorCommand:
    """One operator command from its template; ``key`` is the config key that names it."""

    def __init__(self, template: str, key: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.key, self.timeout = key, timeout
        try:
            self.words = shlex.split(template)
        except ValueError as exc:
            raise ConfigError(key, f"cannot be split into words: {exc}") from None
        if not self.words or not any("{login_id}" in word for word in self.words):
            raise ConfigError(key, "must name the account as {login_id}")

    @property
    def label(self) -> str:
        section, _, name = self.key.partition(".")
        return f"[{section}] {name}"

    def argv(self, login_id: str) -> list[str]:
        return [word.replace("{login_id}", login_id) for word in self.words]

    def run(self, login_id: str) -> subprocess.CompletedProcess[str] | Outcome:
        """The command's run; another exit status than 0 is the helpdesk's refusal (no reset
        pending, say), with its last line of standard error as the reason."""
        argv = self.argv(login_id)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise DriverError(f"{self.label}: {argv[0]!r} was not found") from None
        except subprocess.TimeoutExpired:
            raise DriverError(
                f"{self.label} did not finish in {self.timeout:g} s: {shlex.join(argv)}"
            ) from None
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            return Outcome(ok=False, error="helpdesk_refused", message_en=why, message_ja=why)
        return done

    def preflight(self) -> None:
        if shutil.which(self.words[0]) is None:
            raise ConfigError(self.key, f"{self.words[0]!r} is not a command on this machine")


class CommandHelpdesk:
    """The helpdesk as commands (a :class:`Helpdesk`): ``template`` issues a code (``[operator]
    command``), ``confirm`` confirms a link-mode reset (``[operator] confirm_command``); either
    may be missing, and what is missing is NOT_APPLICABLE, with the key that would provide it."""

    def __init__(
        self,
        template: str | None,
        digits: int,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        *,
        confirm: str | None = None,
    ) -> None:
        self.issue = OperatorCommand(template, "operator.command", timeout) if template is not None else None
        self.confirm = OperatorCommand(confirm, "operator.confirm_command", timeout) if confirm else None
        self.digits = digits

    def argv(self, login_id: str) -> list[str]:
        return self.issue.argv(login_id) if self.issue is not None else []

    def helpdesk_code(self, login_id: str) -> Outcome:
        """Exit 0 and one code on standard output: issued."""
        if self.issue is None:
            raise NotApplicable("the helpdesk issues codes by phone, and no [operator] command is configured")
        done = self.issue.run(login_id)
        if isinstance(done, Outcome):
            return done
        codes = set(re.findall(rf"(?<!\d)\d{{{self.digits}}}(?!\d)", done.stdout))
        if len(codes) != 1:
            raise DriverError(
                f"[operator] command printed {len(codes)} {self.digits}-digit codes, not one:"
                f" {shlex.join(self.issue.argv(login_id))}"
            )
        return Outcome(ok=True, data={"code": codes.pop()})

    def helpdesk_confirm(self, login_id: str) -> Outcome:
        """Exit 0: the pending reset is confirmed, and the caller's open screen goes on."""
        if self.confirm is None:
            raise NotApplicable(
                "the helpdesk confirms the reset by phone, and no [operator] confirm_command is configured"
            )
        done = self.confirm.run(login_id)
        return done if isinstance(done, Outcome) else Outcome(ok=True, stage="setup")

    def preflight(self) -> None:
        for command in (self.issue, self.confirm):
            if command is not None:
                command.preflight()


def command_helpdesk(command: str | None, confirm: str | None, digits: int) -> CommandHelpdesk | None:
    """The helpdesk of ``[operator] command`` and ``confirm_command``; None when neither is set."""
    if command is None and confirm is None:
        return None
    return CommandHelpdesk(command, digits, confirm=confirm)


__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "CommandHelpdesk",
    "ConfirmingHelpdesk",
    "Helpdesk",
    "OperatorCommand",
    "command_helpdesk",
]
