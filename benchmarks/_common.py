"""Shared plumbing for the benchmarks: free loopback ports, a `ninsho serve` that is always
stopped (tests/servers.py: its own process group, recorded, so a benchmark that is killed leaves
it to the next start's sweep), peak memory from /proc, and the machine's description.

The benchmarks compare figures within one run (ratios), because absolute times on a shared
2-core machine drift; everything here exists to keep those runs bounded and tidy.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import servers

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def ninsho_command() -> list[str]:
    """The ``ninsho`` console script beside this interpreter (not a pyenv shim, which would add
    its own start-up to every timing)."""
    beside = Path(PYTHON).with_name("ninsho")
    return [str(beside)] if beside.exists() else [shutil.which("ninsho") or "ninsho"]


@dataclass(frozen=True)
class Finished:
    """A command run to its end: its wall time, its resource use and its workers' (wait4),
    its exit status and its output."""

    wall: float
    usage: resource.struct_rusage
    status: int
    output: str


def run_to_end(cmd: list[str], cwd: Path, env: dict[str, str], out_path: Path) -> Finished:
    """Run ``cmd`` with its output in ``out_path``; killed if the benchmark is interrupted."""
    started = time.monotonic()
    with out_path.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
    wall = time.monotonic() - started
    return Finished(wall, usage, os.waitstatus_to_exitcode(status), out_path.read_text(errors="replace"))


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (a server's workers), from /proc/PID/task/*/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time that ``pid`` and its live descendants have used (/proc/PID/stat)."""
    total = 0
    for each in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size of a live process (VmHWM), in KiB; None when it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Server:
    """A running `ninsho serve`, with what a client needs to reach and administer it."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    admin_token: str
    smtp_port: int | None
    db: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def ninsho_server(
    *,
    profile: str = "fast-test",
    smtp_port: int | None = None,
    test_clock: bool = False,
    hash_cost: int | None = None,
    startup_timeout: float = 20.0,
    db_dir: Path | None = None,
    db: Path | None = None,
    workers: int = 1,
) -> Iterator[Server]:
    """Start `ninsho serve` on a free loopback port with a throw-away database; always stop it.

    The server is stopped by its own process group (SIGTERM, then SIGKILL after 5 s), never by
    name; what a killed benchmark left is swept when the next server starts.
    ``db_dir`` puts the database elsewhere than the default temporary folder (e.g. /dev/shm);
    ``db`` serves an existing database instead (its pepper file beside it).
    ``workers`` > 1 is ``serve --workers N``, which needs ``--smtp``: without ``smtp_port`` it
    gets a loopback port nobody listens on, for benchmarks that mail nothing.
    """
    port = free_port()
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="ninsho-bench-", dir=db_dir) as tmp:
        db = db or Path(tmp) / "bench.sqlite"
        cmd = [PYTHON, "-m", "ninsho.reference.cli", "serve", "--port", str(port), "--db", str(db)]
        cmd += [
            "--profile",
            profile,
            "--admin-token-env",
            "NINSHO_BENCH_ADMIN_TOKEN",
            "--log-level",
            "warning",
        ]
        if smtp_port is None and workers > 1:
            smtp_port = free_port()
        if smtp_port is not None:
            cmd += ["--smtp", f"127.0.0.1:{smtp_port}"]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        if test_clock:
            cmd.append("--test-clock")
        if hash_cost is not None:
            cmd += ["--hash-cost", str(hash_cost)]
        env = dict(os.environ, NINSHO_BENCH_ADMIN_TOKEN=token)
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115 - closed below
        tracked = servers.start(
            cmd, label="ninsho serve for a benchmark", cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        server = Server(tracked.process, f"http://127.0.0.1:{port}", port, token, smtp_port, db)
        try:
            _wait_ready(server, startup_timeout, Path(tmp) / "server.log")
            yield server
        finally:
            tracked.stop(timeout=5.0)
            log.close()


def _wait_ready(server: Server, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"ninsho serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(server.base_url + "/api/v1/noop", timeout=1.0).status_code < 300:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"ninsho serve did not answer in {timeout} s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop one process we started, by its PID."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def machine() -> dict[str, str]:
    """nproc, CPU model, memory and Python: printed beside every set of figures."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def print_machine() -> None:
    m = machine()
    print(
        f"machine: nproc={m['nproc']}, {m['cpu']}, {m['memory']} RAM, "
        f"Python {m['python']}, Linux {m['kernel']}"
    )
