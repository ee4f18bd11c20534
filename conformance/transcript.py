"""Evidence: every exchange with the portal and every mail read, secrets redacted.

Checks never write evidence themselves. The harness wraps the driver and the mailbox it hands
them, so the transcript of a FAIL shows exactly what was sent and answered, whatever the driver.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ninsho.conformance.actions import mail_timeout, quiet_seconds
from ninsho.conformance.interfaces import Driver, Mail, Mailbox, Outcome, Provisioning

_CODE = re.compile(r"(?<![0-9A-Za-z])\d{6,10}(?![0-9A-Za-z])")
_SECRET = re.compile(r"(secret=|manual_key['\"]?[:=]\s*['\"]?)[A-Z2-7]+", re.IGNORECASE)
_TOKEN = re.compile(
    r"((?:token|session|password|Authorization)['\"]?[:=]\s*['\"]?(?:Bearer )?)[^\s'\",&}]+", re.IGNORECASE
)
MAX_LINE = 2000


def redact(text: str) -> str:
    """Hide one-time codes, TOTP secrets, tokens and passwords."""
    text = _CODE.sub(lambda m: "#" * len(m.group(0)), text)
    text = _SECRET.sub(r"\1[redacted]", text)
    text = _TOKEN.sub(r"\1[redacted]", text)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


class Transcript:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(redact(line))


# Told of every call a browser makes and what the portal answered: (action, arguments, answer).
Watcher = Callable[[str, tuple[Any, ...], Any], None]


class RecordingDriver:
    """A driver that writes what it does into a transcript; otherwise the driver itself.
    ``watch`` makes a watcher for each browser (a fresh one for :meth:`fresh`)."""

    def __init__(
        self,
        inner: Driver,
        transcript: Transcript,
        label: str = "browser 1",
        watch: Callable[[], Watcher] | None = None,
    ) -> None:
        self._inner = inner
        self._transcript = transcript
        self._label = label
        self._watch = watch
        self._watcher = watch() if watch else None
        self.name = inner.name

    def fresh(self) -> RecordingDriver:
        number = sum(1 for line in self._transcript.lines if line.startswith("new browser")) + 2
        self._transcript.add(f"new browser {number}")
        return RecordingDriver(self._inner.fresh(), self._transcript, f"browser {number}", self._watch)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute
        return self._recorded(name, attribute)

    def _recorded(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = call(*args, **kwargs)
            if self._watcher is not None:
                self._watcher(name, args, result)
            if isinstance(result, Outcome):
                for exchange in result.evidence:
                    self._transcript.add(
                        f"{self._label}: {exchange.action} {exchange.request} -> {exchange.response}"
                    )
                if not result.evidence:
                    verdict = "ok" if result.ok else f"refused {result.error} [{result.requirement}]"
                    self._transcript.add(f"{self._label}: {name} -> {verdict}")
            elif isinstance(result, Provisioning):
                self._transcript.add(f"{self._label}: {name} -> otpauth URI shown (secret redacted)")
            return result

        return wrapper


class RecordingMailbox:
    """A mailbox that writes what it reads into a transcript, and carries the run's timeouts
    (``timeout_seconds``, ``quiet_seconds``) for the actions that read it."""

    def __init__(
        self, inner: Mailbox, transcript: Transcript, *, timeout_seconds: float | None = None
    ) -> None:
        self._inner = inner
        self._transcript = transcript
        self.quiet_seconds = quiet_seconds(inner)
        self.timeout_seconds = mail_timeout(inner) if timeout_seconds is None else timeout_seconds

    def wait_for(self, to: str, *, subject: str, since: float, timeout: float) -> Mail:
        try:
            mail = self._inner.wait_for(to, subject=subject, since=since, timeout=timeout)
        except Exception as exc:
            self._transcript.add(f"mailbox: no mail to {to} subject {subject!r} ({exc})")
            raise
        self._transcript.add(f"mailbox: mail to {mail.to} from {mail.sender} subject {mail.subject!r}")
        self._transcript.add("mailbox: body: " + mail.body.replace("\n", " ⏎ "))
        return mail
