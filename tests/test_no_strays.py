"""Tests leave nothing running (issue "Staging-ready runs", item 8): a server that a test starts
is stopped when the test fails, when pytest is terminated, and, when pytest is killed outright,
by the next session's sweep (tests/servers.py, tests/conftest.py).

Each case runs an inner pytest session in its own process group, with its own run directory
(``$NINSHO_TEST_SERVERS_DIR``), whose one test starts a real ``ninsho serve`` through
ServerProcess. Whatever happens, the ``finally`` kills the inner session's group and the
server's, so this test leaves nothing behind even when it fails.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.web.support import REPO, cli_env

pytestmark = pytest.mark.slow

READY_TIMEOUT_SECONDS = 45.0  # a server start is ~2 s here; the bound is for a loaded machine
SESSION_TIMEOUT_SECONDS = 45.0

INNER_TEST = """
import json, os, time
from pathlib import Path
from tests.web.support import ServerProcess

def test_starts_a_server(tmp_path):
    server = ServerProcess(tmp_path / "server", test_clock=False).start()
    ready = {"pgid": server.process.pid, "url": server.url}
    Path(os.environ["INNER_READY"]).write_text(json.dumps(ready))
    if os.environ["INNER_THEN"] == "fail":
        assert False, "the inner test fails with its server running, and no finalizer"
    time.sleep(300)  # until it is killed
"""


@dataclass
class Inner:
    """An inner pytest session and the server its test started."""

    process: subprocess.Popen[bytes]
    folder: Path
    run_dir: Path
    pgid: int = 0
    leader_start: int | None = None
    url: str = ""

    @property
    def record(self) -> Path:
        return self.run_dir / f"{self.pgid}.json"

    def output(self) -> str:
        return (self.folder / "output.txt").read_text(errors="replace")

    def wait_for_server(self) -> None:
        """Until the inner test has written where its server answers, and it does answer."""
        ready = self.folder / "ready.json"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not ready.exists():
            assert self.process.poll() is None, f"the inner session ended early:\n{self.output()}"
            assert time.monotonic() < deadline, f"no server in {READY_TIMEOUT_SECONDS} s:\n{self.output()}"
            time.sleep(0.05)  # polling for another process's file
        started = json.loads(ready.read_text())
        self.pgid, self.url = int(started["pgid"]), str(started["url"])
        self.leader_start = servers.start_time(self.pgid)

    def server_left(self) -> list[int]:
        """The server's live processes: none once its group has ended (or its ID is another's)."""
        if not self.pgid:
            return []
        leader = servers.start_time(self.pgid)
        if leader is not None and leader != self.leader_start:
            return []  # the PID was reused: the server's group ended before
        return servers.group_members(self.pgid)

    def clean_up(self) -> None:
        """SIGKILL to both groups, for a case that failed half-way: nothing may outlive it."""
        if self.process.poll() is None:  # not reaped: the group's ID is still the session's
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.server_left():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)


def _session(folder: Path, run_dir: Path, test_file: Path, then: str) -> subprocess.Popen[bytes]:
    """``python -m pytest`` with the project's conftest (``-p tests.conftest``: its sweep and its
    guards) on one file outside the repository, in its own process group."""
    (folder / "pytest.ini").write_text("[pytest]\n")  # not the repository's settings
    env = cli_env(
        NINSHO_TEST_SERVERS_DIR=str(run_dir), INNER_READY=str(folder / "ready.json"), INNER_THEN=then
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    command += ["-p", "tests.conftest", "-c", str(folder / "pytest.ini"), "--basetemp", str(folder / "tmp")]
    with (folder / "output.txt").open("ab") as out:
        return subprocess.Popen(
            [*command, str(test_file)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextlib.contextmanager
def inner_session(tmp_path: Path, then: str) -> Iterator[Inner]:
    folder, run_dir = tmp_path / "inner", tmp_path / "run"
    folder.mkdir()
    test_file = folder / "test_inner.py"
    test_file.write_text(INNER_TEST)
    inner = Inner(_session(folder, run_dir, test_file, then), folder, run_dir)
    try:
        yield inner
    finally:
        inner.clean_up()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


def test_a_killed_session_leaves_its_server_to_the_next_sessions_sweep(tmp_path: Path) -> None:
    with inner_session(tmp_path, "sleep") as inner:
        inner.wait_for_server()
        assert _answers(inner.url)
        assert inner.record.exists(), "a running server is recorded"
        inner.process.send_signal(signal.SIGKILL)  # no finalizer, no atexit, no signal handler
        inner.process.wait(timeout=10)
        # The bug was a server still running now, re-parented to init; with no PDEATHSIG it still
        # runs here (and would be fine gone): what matters is that the next session ends it.
        print(f"after SIGKILL: server group {inner.pgid} {'alive' if inner.server_left() else 'gone'}")

        empty = tmp_path / "next" / "test_next.py"
        empty.parent.mkdir()
        empty.write_text("def test_nothing():\n    pass\n")
        following = _session(empty.parent, inner.run_dir, empty, "sleep")
        try:
            assert following.wait(timeout=SESSION_TIMEOUT_SECONDS) == 0
        finally:
            if following.poll() is None:
                os.killpg(following.pid, signal.SIGKILL)
                following.wait(timeout=10)
        said = (empty.parent / "output.txt").read_text()
        assert inner.server_left() == [], "the next session stopped the killed session's server"
        assert not inner.record.exists()
        assert not _answers(inner.url)
        assert f"group {inner.pgid}" in said, said  # and said so


def test_a_failing_test_leaves_no_server(tmp_path: Path) -> None:
    with inner_session(tmp_path, "fail") as inner:
        inner.wait_for_server()
        code = inner.process.wait(timeout=SESSION_TIMEOUT_SECONDS)
        assert code == 1, inner.output()  # the test failed, the session ended
        assert inner.server_left() == [], "stopped at the inner session's exit, no sweep needed"
        assert not inner.record.exists()


def test_a_terminated_session_stops_its_server(tmp_path: Path) -> None:
    with inner_session(tmp_path, "sleep") as inner:
        inner.wait_for_server()
        inner.process.send_signal(signal.SIGTERM)
        assert inner.process.wait(timeout=SESSION_TIMEOUT_SECONDS) == -signal.SIGTERM
        assert inner.server_left() == [], "stopped by the session's SIGTERM handler"
        assert not inner.record.exists()


# --- the sweep's guards, on `sleep` groups ---------------------------------------------------
@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(servers.RUN_DIR_ENV, str(tmp_path / "run"))
    return servers.run_dir()


@contextlib.contextmanager
def sleeping_group() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _rewrite(path: Path, **fields: object) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def _gone(process: subprocess.Popen[bytes]) -> bool:
    """Ended: ``sleep`` never ends by itself within a test; reaps the zombie."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    return process.returncode is not None


def test_the_sweep_leaves_a_live_owners_servers_and_kills_a_dead_owners(run_dir: Path) -> None:
    server = servers.start(["sleep", "60"], label="a sleep")
    try:
        assert servers.sweep(run_dir) == [] and server.path.exists()  # its owner (this) lives
        _rewrite(server.path, owner_start=-2)  # as if this PID now were another process
        (swept,) = servers.sweep(run_dir)
        assert swept.stopped == (server.pgid,) and _gone(server.process) and not server.path.exists()
    finally:
        server.stop()


def test_the_sweep_kills_no_group_whose_leader_is_another_process(run_dir: Path) -> None:
    with sleeping_group() as other:
        record = servers.Record(
            other.pid, (servers.start_time(other.pid) or 0) + 1, servers.boot_id(), 1, -2, ("x",), "", 0.0
        )
        path = record.write(run_dir)  # names `other`'s group, but another leader start: reused
        (swept,) = servers.sweep(run_dir)
        assert swept.stopped == () and other.poll() is None and not path.exists()


def test_the_privacyidea_examples_record_is_one_the_sweep_reads(run_dir: Path) -> None:
    """The example (a package of its own) writes tests/servers.py's record format itself."""
    path = REPO / "examples" / "privacyidea_driver" / "ninsho_privacyidea" / "server.py"
    spec = importlib.util.spec_from_file_location("_privacyidea_server_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    with sleeping_group() as gunicorn:
        written = module._record(gunicorn, ["sleep", "60"])
        assert written == run_dir / f"{gunicorn.pid}.json"
        record = servers.Record.load(written)
        assert record is not None and record.owner_alive()
        _rewrite(written, owner_start=-2)
        (swept,) = servers.sweep(run_dir)
        assert swept.stopped == (gunicorn.pid,) and _gone(gunicorn) and not written.exists()
