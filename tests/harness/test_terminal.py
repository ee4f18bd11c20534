"""The terminal on a failure and in a wait: a FAIL is a short block (the requirement, the figures,
the reason, where the evidence is), ``--tb`` brings pytest's traceback back, and a real-time
wait says what it waits for and how long is left, in place on a terminal."""

from __future__ import annotations

import pytest

from ninsho.conformance import waits
from ninsho.conformance.target import Target
from ninsho.conformance.transcript import RecordingClock, Transcript
from ninsho.conformance.waits import Countdown, waiting_for

CHECKS = ["--pyargs", "ninsho.conformance.checks", "-p", "no:cacheprovider"]
WINDOW_FAIL = ("-k", "test_totp_window or clock_offset", "--ninsho-fault", "wide-window")
INTERNALS = ("def expect(", "conformance/errors.py", "_pytest", "pytest_bdd/", "call_fixture_func")


def test_a_fail_is_a_short_block(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*CHECKS, *WINDOW_FAIL, "-q", "--ninsho-html", "report.html")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "TOTP_WINDOW FAIL: accepted -3…+3 · profile -1…+1 · 11 submissions",
            "  accepted -3…+3, but the profile allows only [[]-1, 0, 1[]]",
            "  evidence: report.html#c-* (* lines; --tb=short for the traceback)",
        ]
    )
    failures = (
        result.stdout.str().split("= FAILURES =")[1].split("Ninsho verdicts")[0].split("warnings summary")[0]
    )
    for internal in INTERNALS:
        assert internal not in failures, internal
    assert len(failures.splitlines()) < 40, failures


def test_tb_brings_the_traceback_back(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*CHECKS, *WINDOW_FAIL, "-q", "--tb=long")
    assert result.ret == 1
    assert "def expect(" in result.stdout.str() and "RequirementFailed" in result.stdout.str()


def test_a_harness_bug_keeps_its_traceback(pytester: pytest.Pytester) -> None:
    """Only the harness's own outcomes are shortened: a TypeError in a check is a bug to read."""
    pytester.makeconftest("pytest_plugins = ['ninsho.conformance.hooks']")
    pytester.makepyfile(
        test_bug="""
import pytest

@pytest.mark.LOGOUT
def test_broken(portal):
    raise TypeError("a bug in the harness")
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "test_bug.py")
    assert "Traceback" in result.stdout.str() or "raise TypeError" in result.stdout.str()


# The conftest of a run that counts the tracebacks pytest builds, by the exception's type.
TRACEBACKS_COUNTED = """
from _pytest._code.code import ExceptionInfo

pytest_plugins = ["ninsho.conformance.hooks"]
built = []
_getrepr = ExceptionInfo.getrepr


def _counted(self, *args, **kwargs):
    built.append(type(self.value).__name__)
    return _getrepr(self, *args, **kwargs)


ExceptionInfo.getrepr = _counted


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"tracebacks built: {sorted(built)}")
"""


@pytest.mark.parametrize("tb", [(), ("--tb=long",)], ids=["short-failures", "tb-long"])
def test_a_verdict_in_its_own_words_builds_no_traceback(
    pytester: pytest.Pytester, tb: tuple[str, ...]
) -> None:
    """A traceback reads and parses the source of every module on its way (about 50 ms a
    check): a NOT_APPLICABLE, an INCONCLUSIVE or a WARN is reported in its own words, and so is a
    FAIL unless ``--tb`` asks for pytest's, so none is built for them. A harness bug's is."""
    pytester.makeconftest(TRACEBACKS_COUNTED)
    pytester.makepyfile(
        test_words="""
import pytest
from ninsho.conformance.errors import Advisory, Inconclusive, NotApplicable, RequirementFailed

@pytest.mark.LOGOUT
def test_not_applicable(portal):
    raise NotApplicable("the profile rules it out")

@pytest.mark.LOGOUT
def test_inconclusive(portal):
    raise Inconclusive("too near a step's end")

@pytest.mark.LOGOUT
def test_warn(portal):
    raise Advisory("LOGOUT", "narrower than the profile")

@pytest.mark.LOGOUT
def test_fail(portal):
    raise RequirementFailed("LOGOUT", "the session outlived Logout")

@pytest.mark.LOGOUT
def test_bug(portal):
    raise TypeError("a bug in the harness")
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "test_words.py", "-rs", *tb)
    built = "['RequirementFailed', 'TypeError']" if tb else "['TypeError']"
    result.stdout.fnmatch_lines([f"tracebacks built: {built}"])
    result.stdout.fnmatch_lines(
        ["*NOT_APPLICABLE: the profile rules it out*", "*INCONCLUSIVE: too near a step's end*"]
    )
    result.assert_outcomes(passed=1, failed=2, skipped=2)
    out = result.stdout.str()
    assert "raise TypeError" in out and "a bug in the harness" in out
    assert "the session outlived Logout" in out
    assert ("raise RequirementFailed" in out) == bool(tb), out


# --- waits ---------------------------------------------------------------------------------
class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_countdown_says_what_it_waits_for_and_what_is_left() -> None:
    clock, shown, lines = FakeTime(), [], []
    countdown = Countdown(lines.append, shown.append, clock=clock, tick_seconds=3600)
    try:
        countdown.begin("email code lifetime", 600, "A code submitted … is refused")
        clock.now += 188
        countdown.refresh()
        assert shown[-1] == "waiting: email code lifetime, 600 s: 412 s left"
        countdown.begin("lockout duration", 900)
        countdown.refresh()
        assert shown[-1] == (
            "waiting: email code lifetime, 600 s: 412 s left · lockout duration, 900 s: 900 s left"
            " (all done in 900 s)"
        )
        countdown.line("pool: 12 accounts")
        assert lines == ["pool: 12 accounts"] and shown[-2] == "", "the status line is cleared first"
        clock.now += 1000
        countdown.refresh()
        assert shown[-1] == "", "ended waits leave the line"
    finally:
        countdown.stop()


def test_without_a_terminal_each_wait_is_one_line() -> None:
    lines: list[str] = []
    countdown = Countdown(lines.append)
    countdown.begin("email code lifetime", 601, "A code submitted … is refused")
    countdown.stop()
    assert lines == ["waiting 601 s of real time for the email code lifetime (A code submitted … is refused)"]


class FakeRealClock:
    kind = "real"

    def __init__(self) -> None:
        self.waited: list[tuple[float, str | None]] = []
        self.t = 1_700_000_000.0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.waited.append((seconds, waits.current_purpose()))  # what the plugin's on_wait reads
        self.t += seconds


def test_a_wait_is_in_the_evidence_with_its_purpose() -> None:
    inner, transcript = FakeRealClock(), Transcript()
    clock = RecordingClock(inner, transcript, lambda: "email code lifetime")
    transcript.attach(clock)
    clock.advance(601)
    with waiting_for("next unused TOTP step"):
        clock.advance(31)
    assert inner.waited == [(601, "email code lifetime"), (31, "next unused TOTP step")]
    assert transcript.lines[1].endswith("clock: waiting 601 s of real time for the email code lifetime")
    assert transcript.lines[2].startswith("[+601.0 s | ") and "next unused TOTP step" in transcript.lines[2]


def test_every_target_sees_the_shared_clock_through_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = FakeRealClock()
    targets = [
        Target(profile=None, operator=None, mailbox=None, clock=shared, new_driver=lambda: None)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    targets[0].clock.advance(5)
    assert shared.waited == [(5, None)]
    assert any("5.0 s" in line or "5 s" in line for line in targets[0].transcript.lines)
    assert not targets[1].transcript.lines, "a move is written into its own target's evidence only"
    assert targets[0].clock.inner is shared
