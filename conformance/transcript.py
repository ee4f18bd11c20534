"""Evidence: every exchange with the portal and every mail read, secrets redacted, each at its time.

Checks never write evidence themselves. The harness wraps the driver and the mailbox it hands
them, so the transcript of a FAIL shows exactly what was sent and answered, whatever the driver.

Time is evidence too: "refused just after its lifetime" means nothing to a reader who cannot see
that 600 s passed. So every line carries its time on the portal's clock, relative to the check's
first line and as the time of day (``[+601.0 s | 22:23:21]``), and the target's clock is wrapped
(:class:`RecordingClock`, one per target over the run's shared clock) so that each move of the
test clock and each real-time wait is a line of its own, with what it was for. A TOTP code the
check made for a known step (``actions.StepCode``) is shown with its offset from the portal's
current step.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ninsho.conformance import waits
from ninsho.conformance.actions import StepCode, mail_timeout, quiet_seconds
from ninsho.conformance.errors import NotSupported, RequirementFailed
from ninsho.conformance.interfaces import Clock, Driver, Mail, Mailbox, Outcome, Provisioning
from ninsho.conformance.mail_contract import judge_mail
from ninsho.conformance.refusals import name_departs
from ninsho.spec.profile import Profile

# A one-time code: 6 to 10 digits standing alone. Not a part of a decimal number, so that a
# timestamp (1700000600.0) is never mistaken for a code.
_CODE = re.compile(r"(?<![0-9A-Za-z.])\d{6,10}(?![0-9A-Za-z]|\.\d)")
_SECRET = re.compile(r"(secret=|manual_key['\"]?[:=]\s*['\"]?)[A-Z2-7]+(?: [A-Z2-7]+)*", re.IGNORECASE)
_TOKEN = re.compile(
    r"((?:[\w-]*token|session|password|passwd|secret|authorization|cookie|csrf\w*|api[_-]?key)['\"]?[:=]\s*['\"]?"
    r"(?:Bearer )?)(?!(?:[#*]+|null)(?:[\s'\",&};]|$))[^\s'\",&};]+",
    re.IGNORECASE,
)
MAX_LINE = 2000
STAMP = re.compile(r"^\[[+-]\d+\.\d s \| \d\d:\d\d:\d\d(?:\.\d)?\] ")  # the time a line carries


def redact(text: str) -> str:
    """Hide one-time codes, TOTP secrets, tokens and passwords, and nothing else."""
    text = _CODE.sub(lambda m: "#" * len(m.group(0)), text)
    text = _SECRET.sub(r"\1[redacted]", text)
    text = _TOKEN.sub(r"\1[redacted]", text)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


def time_of_day(portal_time: float) -> str:
    """The portal's time as a UTC time of day (the date is in the transcript's first line)."""
    return datetime.fromtimestamp(portal_time, UTC).strftime("%H:%M:%S")


class Transcript:
    """A check's evidence: redacted lines, each stamped with the portal's time once a clock is
    attached (the target attaches its own; a transcript without one, such as the pool's, has no
    stamps)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        # A broken rule the check found and went on past (a mail's wrong subject): a FAIL of
        # that requirement whatever the check's own outcome (results.verdicts_for).
        self.soft_failures: list[RequirementFailed] = []
        self._clock: RecordingClock | None = None
        self._start: float | None = None
        self._lock = threading.Lock()
        self._held = threading.local()

    def fail_softly(self, requirement: str, message: str) -> None:
        """``requirement`` is broken, on this evidence; the check goes on."""
        failure = RequirementFailed(requirement, message)
        self.soft_failures.append(failure)
        self.add(f"FAIL {failure} (the check goes on)")

    def attach(self, clock: RecordingClock) -> None:
        self._clock = clock

    def portal_time(self) -> float | None:
        """The portal's time now, as well as the harness knows it without asking (None: unknown)."""
        return self._clock.portal_time() if self._clock is not None else None

    def add(self, line: str) -> None:
        stamp = self._stamp()
        held: list[str] | None = getattr(self._held, "lines", None)
        (self.lines if held is None else held).append(stamp + redact(line))

    @contextmanager
    def held(self) -> Iterator[list[str]]:
        """The lines this thread adds meanwhile go to the list yielded, not the transcript.

        Browsers submitting at once (probes/concurrent) would otherwise interleave their lines
        in the order the threads happened to run, and two runs of one check would read
        differently; :meth:`put_back` adds the lists in the browsers' order, each line still
        stamped with its own time."""
        lines: list[str] = []
        self._held.lines = lines
        try:
            yield lines
        finally:
            self._held.lines = None

    def put_back(self, held: Sequence[list[str]]) -> None:
        for lines in held:
            self.lines.extend(lines)

    def _stamp(self) -> str:
        now = self.portal_time()
        if now is None:
            return ""
        with self._lock:
            first = self._start is None
            if first:
                self._start = now
            start = self._start
        assert start is not None
        if first and self._clock is not None:
            began = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            self.lines.append(
                f"[+0.0 s | {time_of_day(now)}] clock: {self._clock.kind}; the check began at {began} on the portal's clock"
            )
        return f"[{now - start:+.1f} s | {time_of_day(now)}] "


class RecordingClock:
    """One target's view of the run's shared clock: the same time, and every move of it in the
    target's transcript (a test-clock or virtual move, or a real-time wait, each with what it is
    for). It also tells the transcript the portal's time for each line without asking the
    portal: a virtual or real clock is read directly (no request), a test clock is estimated from
    its last reading, the time since, and the moves made since."""

    def __init__(
        self, inner: Clock, transcript: Transcript, purpose: Callable[[], str] | None = None
    ) -> None:
        self.inner = inner
        self.kind = inner.kind
        self._transcript = transcript
        self._purpose = purpose or (lambda: "")
        self._base: tuple[float, float] | None = None  # (a portal reading, time.monotonic() then)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # uncertainty, offset, …: the shared clock's own
        return getattr(self.inner, name)

    def now(self) -> float:
        portal = self.inner.now()
        with self._lock:
            self._base = (portal, time.monotonic())
        return portal

    def advance(self, seconds: float) -> None:
        what = waits.current_purpose() or self._purpose()
        if seconds > 0:
            why = f" for the {what}" if what else ""
            if self.kind == "real":
                self._transcript.add(f"clock: waiting {waits.seconds_text(seconds)} of real time{why}")
            else:
                name = self.kind.replace("-clock", "")
                self._transcript.add(f"clock: the {name} clock moves {seconds:.1f} s forward{why}")
        if what:
            with waits.waiting_for(what):
                self.inner.advance(seconds)
        else:
            self.inner.advance(seconds)
        if seconds > 0 and self.kind != "real":
            with self._lock:
                if self._base is not None:
                    self._base = (self._base[0] + seconds, self._base[1])

    def portal_time(self) -> float | None:
        if self.kind in ("virtual", "real"):
            return self.inner.now()
        with self._lock:
            base = self._base
        if base is None:
            try:
                return self.now()  # one reading, then estimates from it
            except Exception:  # the transcript must never break a check: the line goes unstamped
                return None
        return base[0] + (time.monotonic() - base[1])


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
        number = (
            sum(1 for line in self._transcript.lines if STAMP.sub("", line).startswith("new browser")) + 2
        )
        self._transcript.add(f"new browser {number}")
        return RecordingDriver(self._inner.fresh(), self._transcript, f"browser {number}", self._watch)

    def copy_session(self) -> RecordingDriver:
        """A copy of this browser's session (interfaces.SessionCopier), recorded as a browser of
        its own; a driver without the capability says so, and the check is NOT_APPLICABLE."""
        copier = getattr(self._inner, "copy_session", None)
        if not callable(copier):
            raise NotSupported(
                f"the {self.name} driver cannot copy a session's token (no copy_session,"
                " conformance/interfaces.py SessionCopier)"
            )
        label = f"copy of {self._label}'s session"
        self._transcript.add(f"{label}: the cookies (or token) {self._label} holds now, copied")
        return RecordingDriver(copier(), self._transcript, label, self._watch)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute
        return self._recorded(name, attribute)

    def _recorded(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            step = self._step_note(args)
            result = call(*args, **kwargs)
            if self._watcher is not None:
                self._watcher(name, args, result)
            if isinstance(result, Outcome):
                for exchange in result.evidence:
                    self._transcript.add(
                        f"{self._label}: {exchange.action} {exchange.request}{step} -> {exchange.response}"
                    )
                if not result.evidence:
                    verdict = "ok" if result.ok else f"refused {result.error} [{result.requirement}]"
                    self._transcript.add(f"{self._label}: {name}{step} -> {verdict}")
                departs = name_departs(result)  # every refusal of every check speaks for the names
                if departs is not None:
                    self._transcript.fail_softly("BINDING_ERROR_NAMES", departs)
            elif isinstance(result, Provisioning):
                self._transcript.add(f"{self._label}: {name} -> otpauth URI shown (secret redacted)")
            return result

        return wrapper

    def _step_note(self, args: tuple[Any, ...]) -> str:
        """`` (TOTP step +2)``: a code made for a known step, against the portal's step now."""
        code = args[0] if args else None
        if not isinstance(code, StepCode):
            return ""
        now = self._transcript.portal_time()
        if now is None:
            return f" (TOTP code of step {code.step})"
        return f" (TOTP step {code.step - int(now // code.period):+d})"


class RecordingMailbox:
    """A mailbox that writes what it reads into a transcript, and carries the run's timeouts
    (``timeout_seconds``, ``quiet_seconds``) for the actions that read it.

    With the check's ``profile`` it also judges each mail it finds against the mail contract
    (:func:`~ninsho.conformance.mail_contract.judge_mail`): a wrong sender, subject, digit count,
    body or encoding is a FAIL of that requirement in the transcript's ``soft_failures``, and the
    check goes on with the mail, as a user who reads a mail with an odd subject still copies its
    code. The mail is found by recipient and time alone (``subject`` says which mail the caller
    expects, and so which contract applies), so a wrong subject is never a timeout."""

    def __init__(
        self,
        inner: Mailbox,
        transcript: Transcript,
        *,
        timeout_seconds: float | None = None,
        profile: Profile | None = None,
    ) -> None:
        self._inner = inner
        self._transcript = transcript
        self._profile = profile
        self.quiet_seconds = quiet_seconds(inner)
        self.timeout_seconds = mail_timeout(inner) if timeout_seconds is None else timeout_seconds

    def wait_for(self, to: str, *, subject: str | None = None, since: float, timeout: float) -> Mail:
        return self._read(
            to,
            subject,
            since,
            lambda: self._inner.wait_for(to, subject=subject, since=since, timeout=timeout),
        )

    def wait_for_containing(
        self, to: str, text: str, *, subject: str | None = None, since: float, timeout: float
    ) -> Mail:
        """The inner mailbox's own, or its newest mail when it has none (interfaces.Mailbox)."""
        finder = getattr(self._inner, "wait_for_containing", None)
        if finder is None:
            return self.wait_for(to, subject=subject, since=since, timeout=timeout)
        return self._read(
            to, subject, since, lambda: finder(to, text, subject=subject, since=since, timeout=timeout)
        )

    def _read(self, to: str, subject: str | None, since: float, find: Callable[[], Mail]) -> Mail:
        try:
            mail = find()
        except Exception as exc:
            self._transcript.add(f"mailbox: no mail to {to} since {since:.1f} ({exc})")
            raise
        self._transcript.add(f"mailbox: mail to {mail.to} from {mail.sender} subject {mail.subject!r}")
        self._transcript.add("mailbox: body: " + mail.body.replace("\n", " ⏎ "))
        if self._profile is not None and subject is not None:
            judge_mail(mail, subject, self._profile, self._transcript.fail_softly)
        return mail
