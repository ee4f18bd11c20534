"""``ninsho check -n N``: the checks on pytest-xdist's workers, judged once, on the controller.

A worker is a pytest session of its own, and what it keeps in ``config.stash`` never reaches the
controller that writes the reports: the problem of ``record_testsuite_property`` under xdist
(pytest#7767). So nothing the reports need stays on a worker:

* **Verdicts travel on the test reports.** A check's verdicts are worked out where it ran
  (hooks.pytest_runtest_makereport) and attached to its report (:data:`RESULTS_ATTRIBUTE`:
  pytest's reports may carry extra attributes). When a report is serialised (xdist sends every
  report to the controller through ``pytest_report_to_serializable``), they go as JSON text, and
  ``pytest_report_from_serializable`` reads them back (:class:`Reports`). The process that writes
  the reports gathers the verdicts from the reports it receives: the controller under xdist, and
  a single run the same way (with no serialising), so both take one path. The baseline and the
  exit status follow from the gathered verdicts, as in a single run.
* **What a worker knows once** (the requirements of every check it collected, its real-time
  waits, the pool accounts that left the pool) comes back in xdist's ``workeroutput`` when it
  ends (``pytest_testnodedown``), and the collection order from
  ``pytest_xdist_node_collection_finished``, so the reports list the checks as a single run does.
* **Real time against a deployed portal.** A worker pre-runs its checks concurrently, as a single
  run does (realtime.prerun), so that the waits overlap within each worker and across workers.
  That needs each worker's checks known before the first runs: each worker has a *share*
  (the items whose index modulo the worker count is its number; the manuals' scenarios, which
  name fixed addresses, all in the first), and the controller's scheduler
  (:func:`share_scheduler`) sends every worker its whole share at once, on a test clock too.
* **No account is used by two workers.** A pool's accounts are split between the workers by the
  same share; the admin API's accounts have random login IDs (``nsh`` and 48 random bits), so
  two workers never create the same one. Embedded, each worker has its own portals.
* **One SMTP port.** The portal relays mail to one port, and one process can listen there: the
  controller runs the SMTP sink and files every mail in a folder that the workers read
  (mailboxes.SpoolMailbox).
* **A test-clock lane per worker.** One clock for the whole portal would move under the other
  workers' checks. A portal whose test clock keeps lanes (spec/protocol.md §17, ``"lanes": true``)
  gets each worker's requests in a lane of their own, ``<run>-<share>``: a worker moves its own
  time, and its accounts are its own. The run token keeps two runs against one staging portal
  apart. ``-n`` with ``clock = "test-clock"`` against a portal without lanes ends the run before
  any check, in one line (hooks.py, on the controller).

The preflight runs once, on the controller, before any worker gets a check.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.errors import ConfigError
from ninsho.conformance.keys import (
    CONNECTION_KEY,
    LEDGER_KEY,
    OTHER_FAILURES_KEY,
    RESULTS_KEY,
    SUITE_KEY,
    WALL_KEY,
)
from ninsho.conformance.realtime import WaitLedger
from ninsho.conformance.verdicts import CheckResult, Verdict

RESULTS_ATTRIBUTE = "ninsho_results"  # on every test report of a check: its verdicts (JSON text on the wire)
SHARE = "ninsho_share"  # workerinput: the worker's share number, 0 … count-1
SPOOL = "ninsho_mail_spool"  # workerinput: the folder of the controller's SMTP sink
LANES = "ninsho_lanes"  # workerinput: the run's token, which each worker's test-clock lane starts with
OUTPUT = "ninsho"  # workeroutput: what the worker knows once (Worker.pytest_sessionfinish)
ORDER_KEY = pytest.StashKey[dict[str, int]]()  # the controller's: node ID → collection index

Prerun = Callable[[pytest.Session, list[pytest.Item]], None]


def is_worker(config: pytest.Config) -> bool:
    """A pytest-xdist worker: it runs checks, and its reports go to the controller."""
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """pytest-xdist's controller: it runs no check, and writes the reports."""
    option = config.option
    return (
        not is_worker(config)
        and getattr(option, "dist", "no") != "no"
        and bool(getattr(option, "tx", None))
        and not option.collectonly
    )


def _worker_count(config: pytest.Config) -> int:
    from xdist.workermanage import parse_tx_spec_config  # type: ignore[import-untyped]

    return len(parse_tx_spec_config(config))


# The manuals' scenarios (features/) name fixed addresses (taro@gmail.com, …), not their
# accounts' own: two workers running them at once would mail one address from two lanes, or
# read each other's codes, so they all run on the first share, one after the other.
FIXED_ADDRESSES = "test_features.py::"


def in_share(nodeid: str, index: int, share: int, count: int) -> bool:
    """Whether the item at ``index`` of the collection is in the worker's ``share``."""
    return (0 if FIXED_ADDRESSES in nodeid else index % count) == share


# --- verdicts on the reports -----------------------------------------------------------------
def attach(report: pytest.TestReport, results: list[CheckResult]) -> None:
    """Put a check's verdicts (none, in a phase that judges nothing) on its report."""
    setattr(report, RESULTS_ATTRIBUTE, results)


def results_of(report: pytest.TestReport) -> list[CheckResult] | None:
    """The verdicts a report carries; None for a report of a test that is not a check."""
    results: list[CheckResult] | None = getattr(report, RESULTS_ATTRIBUTE, None)
    return results


def _as_text(results: list[CheckResult]) -> str:
    """JSON text, which any report serialiser carries (xdist's, pytest-reportlog's); a figure
    JSON cannot hold becomes its text, as the JSON report writes it."""
    rows = [{f.name: getattr(r, f.name) for f in dataclasses.fields(r)} for r in results]
    return json.dumps(rows, ensure_ascii=False, default=str)


def _from_text(text: str) -> list[CheckResult]:
    return [CheckResult(**{**row, "verdict": Verdict(row["verdict"])}) for row in json.loads(text)]


class Reports:
    """Every process of a run: the verdicts on a report through its serialising, both ways;
    and, in the process that writes the reports (``gather``), every check's verdicts gathered."""

    def __init__(self, config: pytest.Config, *, gather: bool) -> None:
        self.config, self.gather = config, gather

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(self, report: Any) -> Generator[None, Any, Any]:
        data = yield
        if isinstance(data, dict) and isinstance(data.get(RESULTS_ATTRIBUTE), list):
            data[RESULTS_ATTRIBUTE] = _as_text(data[RESULTS_ATTRIBUTE])
        return data

    @pytest.hookimpl(wrapper=True)
    def pytest_report_from_serializable(self) -> Generator[None, Any, Any]:
        report = yield
        text = getattr(report, RESULTS_ATTRIBUTE, None)
        if isinstance(text, str):
            setattr(report, RESULTS_ATTRIBUTE, _from_text(text))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.gather:
            return
        results = results_of(report)
        if results is None:
            self.config.stash[OTHER_FAILURES_KEY] += int(report.failed)
        else:
            self.config.stash[RESULTS_KEY].extend(results)


def in_collection_order(config: pytest.Config, results: list[CheckResult]) -> list[CheckResult]:
    """The controller receives the verdicts in the order the workers finish: put them in the
    collection's, as a single run has them (each check's own in the order it gave them)."""
    order = config.stash.get(ORDER_KEY, None)
    if not order:
        return results
    return sorted(results, key=lambda r: order.get(r.check, len(order)))


# --- setting up a controller or a worker ------------------------------------------------------
def configure(config: pytest.Config, portal: PortalConfig, prerun: Prerun) -> PortalConfig:
    """The portal config of this process, with its part of a distributed run registered: a
    worker's share of the pool and the controller's mail; unchanged in a single run. A
    distributed run that cannot work says why (:class:`ConfigError`, before any worker starts)."""
    if is_worker(config):
        workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
        share, count = int(workerinput.get(SHARE, 0)), int(workerinput["workercount"])
        config.pluginmanager.register(Worker(config, share, count, prerun), "ninsho-worker")
        changes: dict[str, Any] = {}
        if portal.provision == "pool":
            changes["pool"] = portal.pool[share::count]
        if workerinput.get(SPOOL):
            changes |= {"mail_spool": workerinput[SPOOL], "mail_spool_reader": True}
        if workerinput.get(LANES):
            changes["clock_lane"] = f"{workerinput[LANES]}-{share}"
        return dataclasses.replace(portal, **changes)
    if not is_controller(config):
        return portal
    count = _worker_count(config)
    _refuse(config, portal, count)
    spool = None
    if not portal.embedded and portal.mailbox == "smtp-sink":
        spool = tempfile.mkdtemp(prefix="ninsho-mail-")
    real_time = not portal.embedded and portal.clock == "real"
    lanes = secrets.token_hex(4) if not portal.embedded and portal.clock == "test-clock" else None
    config.pluginmanager.register(Controller(config, count, spool, real_time, lanes), "ninsho-controller")
    return dataclasses.replace(portal, mail_spool=spool) if spool else portal


def _refuse(config: pytest.Config, portal: PortalConfig, count: int) -> None:
    if config.getoption("ninsho_list") or config.getoption("ninsho_dry_run"):
        raise ConfigError("-n", "a list or a dry run runs no check: leave out -n")
    if portal.provision == "pool" and len(portal.pool) < count:
        raise ConfigError(
            "-n",
            f"{count} workers need at least {count} pool accounts, one each ([accounts] pool lists"
            f" {len(portal.pool)}): list more, or run fewer workers",
        )


class Controller:
    """pytest-xdist's hooks on the controller (``optionalhook``: they exist only with xdist)."""

    def __init__(
        self, config: pytest.Config, count: int, spool: str | None, real_time: bool, lanes: str | None
    ) -> None:
        self.config, self.count, self.spool, self.real_time = config, count, spool, real_time
        self.lanes = lanes  # the run's token for the workers' test-clock lanes (None: no test clock)
        self.shares: dict[Any, int] = {}  # the live nodes' shares
        self.waited: dict[str, tuple[int, float, float]] = {}  # worker → (waits, began, ended)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Each worker its share (the lowest no live worker has: a worker that replaces a dead
        one takes its share), and the folder of the mail."""
        free = sorted(set(range(self.count)) - set(self.shares.values()))
        self.shares[node] = free[0] if free else len(self.shares) % self.count
        node.workerinput[SHARE] = self.shares[node]
        if self.spool is not None:
            node.workerinput[SPOOL] = self.spool
        if self.lanes is not None:
            node.workerinput[LANES] = self.lanes

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.config.stash.setdefault(ORDER_KEY, {nodeid: index for index, nodeid in enumerate(ids)})

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """Against a deployed portal (real time, test-clock lanes): every worker gets its whole
        share at once, the scenarios with fixed addresses all in the first."""
        return share_scheduler(config, log) if self.real_time or self.lanes else None

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker ended: what it knew once joins the run's (a crashed worker sends nothing;
        its checks' reports say so)."""
        self.shares.pop(node, None)
        output: dict[str, Any] | None = getattr(node, "workeroutput", {}).get(OUTPUT)
        if output is None:
            return
        stash = self.config.stash
        stash[SUITE_KEY] = stash.get(SUITE_KEY, set()) | set(output["suite"])
        if output["waits"]:
            stash.setdefault(LEDGER_KEY, WaitLedger()).waits.extend(output["waits"])
            began, ended = output["span"]
            self.waited[str(node.gateway.id)] = (len(output["waits"]), began, ended)
            # The wall time of the concurrent checks: from the first worker's start to the last one's end.
            stash[WALL_KEY] = max(e for _, _, e in self.waited.values()) - min(
                b for _, b, _ in self.waited.values()
            )
        pool = getattr(stash.get(CONNECTION_KEY, None), "pool", None)
        if pool is not None:
            pool.retired.update(output["retired"])

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Under the run's real-time line: each worker's part, to show that they waited at once."""
        if len(self.waited) > 1:
            first = min(b for _, b, _ in self.waited.values())
            parts = [
                f"{worker} {waits} waits from {began - first:.1f} s to {ended - first:.1f} s"
                for worker, (waits, began, ended) in sorted(self.waited.items())
            ]
            terminalreporter.write_line(f"real-time waits on {len(self.waited)} workers: " + "; ".join(parts))

    def pytest_unconfigure(self) -> None:
        if self.spool is not None:
            shutil.rmtree(self.spool, ignore_errors=True)


class Worker:
    """On a worker: the real-time pre-run of its share, and what it tells the controller."""

    def __init__(self, config: pytest.Config, share: int, count: int, prerun: Prerun) -> None:
        self.config, self.share, self.count, self.prerun = config, share, count, prerun
        self.started = False
        self.span = (
            0.0,
            0.0,
        )  # when the pre-run began and ended (the local wall clock: the controller compares)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        """At the worker's first check (the controller's pre-flight has passed, and the share
        has come): pre-run the share's real-time checks concurrently (hooks, realtime.prerun)."""
        if self.started:
            return
        self.started = True
        items = item.session.items
        began = time.time()
        mine = [it for i, it in enumerate(items) if in_share(it.nodeid, i, self.share, self.count)]
        self.prerun(item.session, mine)
        self.span = (began, time.time())

    def pytest_sessionfinish(self) -> None:
        stash = self.config.stash
        ledger = stash.get(LEDGER_KEY, None)
        pool = getattr(stash.get(CONNECTION_KEY, None), "pool", None)
        suite: set[str] = stash.get(SUITE_KEY, set())
        self.config.workeroutput[OUTPUT] = {  # type: ignore[attr-defined]
            "suite": sorted(suite),
            "waits": list(ledger.waits) if ledger is not None else [],
            "span": self.span,
            "retired": dict(getattr(pool, "retired", {})),
        }


def share_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's load scheduler, except that the first distribution sends every worker its whole
    share (:func:`in_share`) at once and then ends the workers' queues, as the load scheduler
    itself does when its first distribution holds every item. A worker that replaces a dead one
    gets what the dead one left, the load scheduler's way."""
    from xdist.scheduler import LoadScheduling  # type: ignore[import-untyped]

    class ShareScheduling(LoadScheduling):  # type: ignore[misc]
        def schedule(self) -> None:
            load: Any = self  # the load scheduler's state, which xdist does not type
            if load.collection is not None:
                super().schedule()
                return
            if not load._check_nodes_have_same_collection():
                load.log("**Different tests collected, aborting run**")
                return
            load.collection = next(iter(load.node2collection.values()))
            for node in load.nodes:
                share = int(node.workerinput[SHARE])
                indices = [
                    i for i, nodeid in enumerate(load.collection) if in_share(nodeid, i, share, load.numnodes)
                ]
                if indices:
                    load.node2pending[node].extend(indices)
                    node.send_runtest_some(indices)
            load.pending[:] = []
            for node in load.nodes:
                node.shutdown()

    return ShareScheduling(config, log)
