"""The harness's hooks for a session that uses Ninsho: markers, fixtures, verdicts, reports.

:mod:`ninsho.conformance.plugin` (the pytest11 entry point) registers this module only in such a
session, so a QA team's other test runs see none of its markers, fixtures or summaries. With
``--ninsho-portal FILE`` and no test paths, the session runs the bundled checks
(``ninsho.conformance.checks``) against that portal.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _pytest import junitxml

import ninsho.conformance.distributed as distributed  # by its full name: pytester's reruns import it afresh
from ninsho.conformance import applicability, realtime, reports, selection, startup
from ninsho.conformance import config as portal_config
from ninsho.conformance.applicability import require_applicable
from ninsho.conformance.connect import check_driver, connection_for
from ninsho.conformance.drivers.embedded import FAULT_NAMES
from ninsho.conformance.errors import ConfigError, HarnessError
from ninsho.conformance.keys import (
    CONFIG_KEY,
    CONNECTION_KEY,
    LEDGER_KEY,
    OTHER_FAILURES_KEY,
    RESULTS_KEY,
    SUITE_KEY,
    TARGET_KEY,
    WALL_KEY,
)
from ninsho.conformance.messages import did_you_mean
from ninsho.conformance.naming import check_title
from ninsho.conformance.preflight import preflight
from ninsho.conformance.results import Baseline, Summary, exit_status, summarise, verdicts_for
from ninsho.conformance.target import Target
from ninsho.conformance.verdicts import CheckResult, Verdict
from ninsho.conformance.waits import Countdown, current_purpose
from ninsho.spec.errors import SpecError
from ninsho.spec.profile import Profile
from ninsho.spec.registry import Requirement, load_profile, profile_names, requirements

pytest_plugins = ["ninsho.conformance.fixtures", "ninsho.conformance.steps"]

REGISTRY_KEY = pytest.StashKey[dict[str, Requirement]]()
BASELINE_KEY = pytest.StashKey[Baseline]()
CURRENT_ITEM_KEY = pytest.StashKey[pytest.Item]()  # the check running in the main thread
PROFILE_KEY = pytest.StashKey[Profile]()  # the profile the run judges by
START_FAILED_KEY = pytest.StashKey[int]()  # the exit status of a run that could not start
STARTED_KEY = pytest.StashKey[tuple[datetime, float]]()  # when the run began: (UTC, monotonic)
SHORT_FAILURES_KEY = pytest.StashKey[bool]()  # a failed check shows a short block, not a traceback
LEVELS = ("MUST", "SHOULD", "MAY")
CHECKS_DIR = Path(__file__).parent / "checks"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STARTED_KEY] = (datetime.now(UTC), time.monotonic())
    config.stash[SHORT_FAILURES_KEY] = not _traceback_asked_for(config)
    # The verdicts are gathered from the test reports; a pytest-xdist worker's go to the
    # controller on them, and the controller writes the reports.
    writer = not distributed.is_worker(config)
    config.pluginmanager.register(distributed.Reports(config, gather=writer), "ninsho-reports")
    if writer:
        startup.remove_stale_reports(config)
    registry = requirements()
    config.stash[REGISTRY_KEY] = registry
    config.stash[RESULTS_KEY] = []
    config.stash[OTHER_FAILURES_KEY] = 0
    for rid, req in registry.items():
        config.addinivalue_line("markers", f"{rid}: [{req.level}] {req.statement}")
    for level in LEVELS:
        config.addinivalue_line("markers", f"{level}: checks of {level} requirements (added automatically)")
    for area in sorted({r.area for r in registry.values()}):
        config.addinivalue_line(
            "markers", f"area_{area}: checks of the {area} requirements (added automatically)"
        )
    try:
        config.stash[CONFIG_KEY] = portal_config.load(
            config.getoption("ninsho_portal"),
            overrides={
                "portal.base_url": config.getoption("ninsho_url"),
                "portal.driver": config.getoption("ninsho_driver"),
                "portal.profile": config.getoption("ninsho_profile"),
                "clock.mode": config.getoption("ninsho_clock"),
                "html.site_map": config.getoption("ninsho_site_map"),
            },
        )
        startup.check_writable(config)
        selection.check_marker_expression(
            config.option.markexpr, registry, LEVELS, selection.marker_names(config.getini("markers"))
        )
        _check_profile(config.stash[CONFIG_KEY].profile)
        config.stash[PROFILE_KEY] = load_profile(config.stash[CONFIG_KEY].profile)
        _check_fault(config)
        _check_portal_set_up(config)
        portal = config.stash[CONFIG_KEY]
        config.stash[CONFIG_KEY] = distributed.configure(config, portal, _prerun_in_real_time)
        baseline = config.getoption("ninsho_baseline")
        config.stash[BASELINE_KEY] = Baseline.load(Path(baseline), registry) if baseline else Baseline()
    except (ConfigError, SpecError, ValueError) as exc:
        startup.write_not_started(config, str(exc))
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("ninsho_portal") and config.args_source is not pytest.Config.ArgsSource.ARGS:
        config.args = [str(CHECKS_DIR)]


def _traceback_asked_for(config: pytest.Config) -> bool:
    """Whether the user asked for pytest's tracebacks (``--tb``, on the command line or in
    addopts): then a failed check shows them, as pytest would."""
    if config.option.tbstyle != "auto":
        return True
    return any(str(arg).startswith("--tb") for arg in config.invocation_params.args)


def _check_profile(name: str) -> None:
    """A profile is a bundled name or a file; a typo of a name gets the nearest one."""
    if name in profile_names() or Path(name).is_file():
        return
    if Path(name).suffix == ".toml" or "/" in name:
        raise ConfigError("portal.profile", f"the profile file {name} does not exist")
    raise ConfigError(
        "portal.profile",
        f"no profile {name!r}{did_you_mean(name, profile_names())} (bundled: {', '.join(profile_names())}; or a file)",
    )


def _check_portal_set_up(config: pytest.Config) -> None:
    """What can be known before the session starts, in one line each: a driver no package
    provides, and a secret's environment variable that is not set (a dry run needs neither)."""
    portal = config.stash[CONFIG_KEY]
    if portal.embedded:
        return
    check_driver(portal.driver)
    if config.getoption("ninsho_list") or config.getoption("ninsho_dry_run"):
        return
    for variable, key in portal_config.required_secrets(portal):
        if not os.environ.get(variable):
            raise ConfigError(key, f"names the environment variable {variable}, which is not set")


def _check_fault(config: pytest.Config) -> None:
    fault = config.getoption("ninsho_fault")
    if fault is None:
        return
    if not config.stash[CONFIG_KEY].embedded:
        raise ConfigError("--ninsho-fault", "works only with the embedded reference")
    if fault not in FAULT_NAMES:
        raise ConfigError(
            "--ninsho-fault",
            f"no fault {fault!r}{did_you_mean(fault, FAULT_NAMES)} (known: {', '.join(FAULT_NAMES)})",
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    """JUnit: the suite is named ``ninsho`` (unless the ini names it), and carries the portal,
    the profile and the versions as suite properties, for CI pages that show them."""
    config = session.config
    xml = config.stash.get(junitxml.xml_key, None)
    if xml is None or CONFIG_KEY not in config.stash:
        return
    if config.getini("junit_suite_name") == "pytest":
        xml.suite_name = "ninsho"
    portal = config.stash[CONFIG_KEY]
    run = reports.RunInfo(portal)
    for name, value in (
        ("portal", run.portal),
        ("profile", portal.profile),
        ("driver", portal.driver),
        ("clock", portal.clock),
        ("harness_version", run.harness_version),
        ("spec_version", run.spec),
    ):
        xml.add_global_property(name, value)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the level and area markers, so ``-m MUST`` and ``-m area_totp`` select."""
    registry = config.stash[REGISTRY_KEY]
    suite = config.stash[SUITE_KEY] = set()  # before -m and -k deselect: every check collected
    for item in items:
        for rid in requirement_ids(item, registry):
            suite.add(rid)
            item.add_marker(registry[rid].level)
            item.add_marker(f"area_{registry[rid].area}")
            item.user_properties.append(("requirement", rid))


def requirement_ids(item: pytest.Item, registry: dict[str, Requirement]) -> list[str]:
    seen: list[str] = []
    for mark in item.iter_markers():
        if mark.name in registry and mark.name not in seen:
            seen.append(mark.name)
    return seen


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's loops: the pre-flight runs on its controller
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    config = session.config
    if distributed.is_worker(config):
        return None  # the controller ran the pre-flight; a real-time share is pre-run by distributed.Worker
    if not (config.getoption("ninsho_list") or config.getoption("ninsho_dry_run")):
        try:
            _preflight(session)
        except startup.StartFailed as failed:
            startup.write_not_started(config, str(failed))
            config.stash[START_FAILED_KEY] = failed.status
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(str(failed), red=True, bold=True)
            return True  # no check runs
        _prerun_in_real_time(session)
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    plan = reports.plan(
        session.items,
        config.stash[REGISTRY_KEY],
        config.stash[CONFIG_KEY],
        dry_run=config.getoption("ninsho_dry_run"),
    )
    for line in plan:
        reporter.write_line(line) if reporter else print(line)
    return True


def _preflight(session: pytest.Session) -> None:
    """Before any check against a deployed portal: one round that tries what the run needs."""
    config = session.config
    connection = connection_for(config)
    if connection is None or not (session.items or distributed.is_controller(config)):
        return  # (xdist's controller collects nothing: its workers do)
    lanes = getattr(getattr(connection, "clock", None), "lanes", False) is True  # clocks.TestClock.lanes
    if distributed.is_controller(config) and config.stash[CONFIG_KEY].clock == "test-clock" and not lanes:
        raise startup.StartFailed(
            "-n: the portal's test clock is one clock for the whole portal (it keeps no lanes, spec/protocol.md"
            " §17), and each worker would move it under the others' checks: run with -n 0, or with [clock]"
            ' mode = "real"',
            pytest.ExitCode.USAGE_ERROR,
        )
    problem = preflight(connection.target(), config.stash[CONFIG_KEY])
    if problem is not None:
        raise startup.StartFailed(problem.line(), problem.status)


def _prerun_in_real_time(session: pytest.Session, items: list[pytest.Item] | None = None) -> None:
    """Real time against a deployed portal: run the checks' waits concurrently (realtime.py);
    ``items``: a worker's share of them (distributed.py), or every item of the session."""
    config = session.config
    items = session.items if items is None else items
    connection = connection_for(config)
    if connection is None or config.stash[CONFIG_KEY].clock != "real" or not items:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    ledger = config.stash[LEDGER_KEY] = realtime.WaitLedger()
    lock = threading.Lock()
    countdown = _countdown(reporter)

    def on_wait(seconds: float) -> None:
        if not realtime.in_prerun():
            # A check outside the concurrent pre-run (a feature scenario) would wait alone, and
            # the run would pay the sum of such waits. The concurrent probes measure the same
            # requirements in real time; the test clock runs the scenario in full.
            pytest.skip(
                f"this scenario waits {seconds:.0f} s on the portal's real clock, one scenario after "
                f"another; in real time {judged_instead(config, session.items)} (the test clock runs it)"
            )
        ledger.add(seconds)
        with lock:
            purpose = current_purpose() or f"check “{realtime.current_title()}”"
            countdown.begin(purpose, seconds, realtime.current_title())

    clock = connection.target().clock
    clock = getattr(clock, "inner", clock)  # the run's shared clock, under the target's own view
    if hasattr(clock, "on_wait"):
        clock.on_wait = on_wait
    pool = getattr(connection, "pool", None)
    if pool is not None:
        countdown.line(pool_plan(len(pool.accounts), sum(map(realtime.runnable, items))))
        if "reset" in _lacks(config):
            countdown.line(pool_used_up(len(pool.accounts), sum(map(_applicable, items))))
    try:
        # A check the profile rules out is NOT_APPLICABLE at its setup: it never runs its waits.
        wall = realtime.prerun([i for i in items if _applicable(i)], connection.target, countdown.line)
    finally:
        countdown.stop()
    config.stash[WALL_KEY] = wall


def _countdown(reporter: Any) -> Countdown:
    """The waits' countdown on pytest's terminal: one line rewritten in place on a terminal,
    one line per wait in a log."""
    if reporter is None:
        return Countdown(print)

    def status(text: str) -> None:
        width = max(20, int(getattr(getattr(reporter, "_tw", None), "fullwidth", 80)) - 1)
        reporter.write("\r" + text[:width].ljust(width) + ("" if text else "\r"), flush=True)

    tty = bool(getattr(reporter, "isatty", False)) and callable(getattr(reporter, "write", None))
    return Countdown(reporter.write_line, status if tty else None)


def judged_instead(config: pytest.Config, items: list[pytest.Item]) -> str:
    """Which concurrent probes judge, in real time, the requirements of the scenario running now."""
    item = config.stash.get(CURRENT_ITEM_KEY, None)
    registry = config.stash[REGISTRY_KEY]
    if item is None:
        return "the concurrent probes judge its requirements"
    probes = [i for i in items if realtime.runnable(i)]
    parts = []
    for rid in requirement_ids(item, registry):
        names = sorted({p.name.split("[")[0] for p in probes if rid in requirement_ids(p, registry)})
        parts.append(f"{rid} by {', '.join(names)}" if names else f"{rid} by no probe")
    return "the probes judge its requirements: " + "; ".join(parts)


def _lacks(config: pytest.Config) -> dict[str, str]:
    """The areas whose flow the portal declares it lacks (an optional ``lacks()`` of the
    connection, e.g. the html driver's site map), each with the declaration."""
    lacks = getattr(config.stash.get(CONNECTION_KEY, None), "lacks", None)
    return dict(lacks()) if callable(lacks) else {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check that walks a path the profile rules out, or a flow the portal declares it lacks,
    is NOT_APPLICABLE (protocol.md §19.1)."""
    registry, profile = item.config.stash[REGISTRY_KEY], item.config.stash.get(PROFILE_KEY, None)
    if profile is not None:
        require_applicable(requirement_ids(item, registry), registry, profile, _lacks(item.config))


def _applicable(item: pytest.Item) -> bool:
    registry, profile = item.config.stash[REGISTRY_KEY], item.config.stash.get(PROFILE_KEY, None)
    ids = requirement_ids(item, registry)
    return profile is None or applicability.reason(ids, registry, profile, _lacks(item.config)) is None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    item.config.stash[CURRENT_ITEM_KEY] = item


def pool_used_up(accounts: int, checks: int) -> str:
    """A portal that declares no reset cannot have an account put back once a check registered
    a factor on it: the run uses accounts up, and a check that finds none left is an ERROR."""
    return (
        f"pool: the portal declares no reset, so an account a check registered a factor on is not put"
        f" back: {checks} checks may each use up one or more of the {accounts} accounts listed"
        " (a check may register on several); list more in [accounts] pool if a check finds none left"
    )


def pool_plan(accounts: int, concurrent: int) -> str:
    """What a pool of ``accounts`` means for ``concurrent`` checks that run at once in real time."""
    if accounts >= concurrent:
        return f"pool: {accounts} accounts for {concurrent} concurrent checks: full parallelism"
    rounds = -(-concurrent // accounts)
    return (
        f"pool: full parallelism needs {concurrent} accounts (one per concurrent check); with {accounts},"
        f" checks wait for a free account, in up to {rounds} rounds: the run may take up to about"
        f" {rounds}× its longest chain of waits"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A check already run concurrently reports its stored outcome here."""
    outcome = pyfuncitem.stash.get(realtime.OUTCOME_KEY, None)
    if outcome is None:
        return None
    pyfuncitem.stash[TARGET_KEY] = outcome.target
    if outcome.error is not None:
        raise outcome.error
    return True


@pytest.hookimpl(tryfirst=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_in_own_words(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> pytest.TestReport | None:
    """A check's failure that the verdict's own words will report (:func:`_own_words`) gets
    a one-line longrepr instead of pytest's traceback, which would be thrown away: building
    one reads and parses the source of every module on its way, about 50 ms a check (a
    NOT_APPLICABLE run through the pages has dozens; benchmarks/README.md, item 7)."""
    excinfo = call.excinfo
    if excinfo is None or not _own_words(item, excinfo.value):
        return None
    if not requirement_ids(item, item.config.stash[REGISTRY_KEY]):
        return None  # not a check: its failure is the project's own, with its traceback
    # The report pytest would make of a call that raised nothing, then made the failure it was.
    report = pytest.TestReport.from_item_and_call(
        item, pytest.CallInfo.from_call(lambda: None, when=call.when)
    )
    report.outcome = "failed"
    report.longrepr = f"{type(excinfo.value).__name__}: {excinfo.value}"
    report.start, report.stop, report.duration = call.start, call.stop, call.duration
    return report


def _own_words(item: pytest.Item, exc: BaseException) -> bool:
    """Whether the report of a check that raised ``exc`` shows the verdict's words, not a
    traceback: a NOT_APPLICABLE or INCONCLUSIVE is a skip with its reason and a WARN a pass
    with its note (:func:`_align_report`); with short failures, a FAIL or an ERROR that the
    harness raised is :func:`reports.failure_block`."""
    if isinstance(exc, HarnessError) and exc.verdict in (
        Verdict.NOT_APPLICABLE,
        Verdict.INCONCLUSIVE,
        Verdict.WARN,
    ):
        return True
    return item.config.stash[SHORT_FAILURES_KEY] and isinstance(exc, (HarnessError, AssertionError))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    registry = item.config.stash[REGISTRY_KEY]
    rids = requirement_ids(item, registry)
    if not rids:
        return  # not a check: distributed.Reports counts its failure
    if not _judged_phase(report):
        distributed.attach(report, [])
        return
    excinfo = call.excinfo.value if call.excinfo is not None else None
    target = item.stash.get(TARGET_KEY, None)
    soft = target.transcript.soft_failures if isinstance(target, Target) else ()
    results = verdicts_for(item.nodeid, rids, registry, excinfo, soft)
    title = check_title(item)
    for r in results:
        r.title, r.language = title.text, title.language
        if isinstance(target, Target):
            # a soft failure of a requirement the check is not marked with: its figures are not that one's
            r.measured = dict(target.measured) if r.requirement in rids else {}
            r.evidence = list(target.transcript.lines)
    baseline = item.config.stash[BASELINE_KEY]
    for r in results:
        r.expected_failure = baseline.expected.get(r.requirement)
        item.user_properties.append(("verdict", f"{r.requirement}={r.verdict.value}"))
    # Gathered from the report (distributed.Reports), here or on pytest-xdist's controller.
    distributed.attach(report, results)
    _align_report(report, results)
    if (
        report.failed
        and item.config.stash[SHORT_FAILURES_KEY]
        and isinstance(excinfo, (HarnessError, AssertionError))
    ):
        # The requirement, the figures, the reason and where the evidence is: a traceback through
        # pytest-bdd and the harness says nothing about the portal (--tb brings it back).
        report.longrepr = reports.failure_block(results, item.config.getoption("ninsho_html"))


def _judged_phase(report: pytest.TestReport) -> bool:
    """The call phase judges; a setup that fails or skips judges too (the call never runs)."""
    return report.when == "call" or (report.when == "setup" and not report.passed)


def _align_report(report: pytest.TestReport, results: list[CheckResult]) -> None:
    """Make pytest's own outcome agree with the verdicts (a WARN is not a failed test)."""
    verdicts = {r.verdict for r in results}
    expected = all(r.expected_failure for r in results if r.verdict in (Verdict.FAIL, Verdict.WARN))
    if Verdict.FAIL in verdicts and report.passed and not expected:  # a soft failure: the check went on
        report.outcome = "failed"
        report.longrepr = "; ".join(r.reason for r in results if r.verdict is Verdict.FAIL)
        return
    if Verdict.FAIL in verdicts and expected:
        report.outcome = "skipped"
        report.wasxfail = "expected failure (baseline): " + "; ".join(
            sorted({r.expected_failure or "" for r in results})
        )
    elif verdicts <= {Verdict.PASS, Verdict.WARN, Verdict.SKIPPED} and Verdict.WARN in verdicts:
        # (SKIPPED here: the requirements a WARN stopped the check before: results._not_reached)
        report.outcome = "passed"
        report.sections.append(("ninsho", "WARN: " + "; ".join(r.reason for r in results if r.reason)))
    elif verdicts & {Verdict.NOT_APPLICABLE, Verdict.INCONCLUSIVE} and not verdicts & {
        Verdict.FAIL,
        Verdict.ERROR,
    }:
        reason = "; ".join(f"{r.verdict.value}: {r.reason}" for r in results if r.verdict is not Verdict.PASS)
        report.outcome = "skipped"
        report.longrepr = (str(report.location[0]), (report.location[1] or 0) + 1, reason)


def _rows(config: pytest.Config, results: list[CheckResult]) -> list[Summary]:
    suite: set[str] = config.stash.get(SUITE_KEY, set())
    results = distributed.in_collection_order(config, results)
    return summarise(results, config.stash[REGISTRY_KEY], config.stash[BASELINE_KEY], suite)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, [])
    if not results:
        return
    rows = _rows(config, results)
    terminalreporter.section("Ninsho verdicts by requirement")
    for line in reports.terminal_table(rows):
        terminalreporter.write_line(line)
    pool = getattr(config.stash.get(CONNECTION_KEY, None), "pool", None)
    for login_id, why in sorted(getattr(pool, "retired", {}).items()):
        terminalreporter.write_line(
            f"pool account {login_id} left the pool, not put back: {why}", yellow=True
        )
    ledger = config.stash.get(LEDGER_KEY, None)
    real_time = None
    if ledger is not None and ledger.waits:
        real_time = {
            "waits": len(ledger.waits),
            "longest_seconds": ledger.longest,
            "sum_seconds": ledger.total,
            "wall_seconds": config.stash[WALL_KEY],
        }
        terminalreporter.write_line(
            f"real-time waits: {len(ledger.waits)}, longest {ledger.longest:.1f} s, sum {ledger.total:.1f} s; "
            f"the concurrent checks took {config.stash[WALL_KEY]:.1f} s of wall time"
        )
    started, began = config.stash[STARTED_KEY]
    run = reports.RunInfo(
        config.stash[CONFIG_KEY],
        started_at=started,
        duration_seconds=time.monotonic() - began,
        strict=bool(config.getoption("ninsho_strict")),
        real_time=real_time,
        html_report=config.getoption("ninsho_html"),
        fault=config.getoption("ninsho_fault"),
    )
    for option, write in (
        ("ninsho_json", reports.write_json),
        ("ninsho_html", reports.write_html),
        ("ninsho_md", reports.write_markdown),
    ):
        if path := config.getoption(option):
            write(Path(path), rows, run)
            terminalreporter.write_line(f"report written: {path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    connection = config.stash.get(CONNECTION_KEY, None)
    if connection is not None:
        connection.close()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if START_FAILED_KEY in config.stash:
        session.exitstatus = config.stash[START_FAILED_KEY]
        return
    results = config.stash.get(RESULTS_KEY, [])
    if not results or exitstatus not in (0, 1):
        return
    rows = _rows(config, results)
    status = exit_status(rows, strict=config.getoption("ninsho_strict"))
    if config.stash[OTHER_FAILURES_KEY] and status == 0:
        status = 1  # a plain test failed beside the checks: never hide it
    session.exitstatus = status
