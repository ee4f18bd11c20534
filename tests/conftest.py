"""The project's own tests are marked with requirement IDs too, so they register the registry's
IDs as markers, as every Ninsho session does; they do not load the harness itself, which wakes
only in conformance runs (ninsho.conformance.plugin).

Every session also starts by sweeping the servers that killed sessions left running, and stops
its own at exit and on SIGTERM (tests/servers.py: a killed pytest runs no finalizer)."""

from __future__ import annotations

import pytest

# The QR decoder's extension (zxingcpp, built with nanobind) aborts the process when it is
# imported a second time. Pytester's in-process runs drop the modules each run imported, and the
# embedded runs' web checks read the App tab's QR code on the reference's pages: imported here
# once, it outlives every such run (tests/harness/test_faulty_portals.py runs dozens).
import zxingcpp  # noqa: F401

from tests import servers

pytest_plugins = ["ninsho.conformance.markers"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Before any test: a stray holds a port and memory, and its old code answers requests."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for swept in servers.install_session_guards():
        if swept.stopped and reporter is not None:
            record = swept.record
            reporter.write_line(
                f"stopped a server that a killed run (pid {record.owner_pid}) left running: "
                f"{record.label or ' '.join(record.command)} (group {record.pgid})"
            )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, whole: under ``-n 2 --dist loadfile`` (the README's test command)
    each worker takes files in this order, and a peer's real-time runs (minutes of waiting, that
    overlap with the other worker's CPU work) would otherwise start last and run alone. A file
    keeps its own order; so does the rest."""
    rank: dict[str, int] = {}
    for item in items:
        here = 0 if item.get_closest_marker("peer") else 1 if item.get_closest_marker("slow") else 2
        rank[item.path.as_posix()] = min(here, rank.get(item.path.as_posix(), 2))
    items.sort(key=lambda item: rank[item.path.as_posix()])
