"""Servers that the project's tests and benchmarks start, and that nothing outlives.

Why this exists: a pytest run that fails runs its finalizers, but one that is killed (SIGKILL, the
OOM killer, a CI timeout) runs none, and its servers were re-parented to init, keeping their
ports and memory (privacyIDEA's gunicorn masters, with their workers). So every server here:

* runs in its own process group (``start_new_session``): one ``killpg`` reaches all of it,
  gunicorn's workers included, and a Ctrl-C meant for pytest no longer reaches it half-way
  through a request (pytest's own teardown stops it);
* is recorded, while it runs, in a PID file in a per-user run directory: its group, the start
  time of its leader, the boot it started in, its command, and the process that owns it;
* is swept at the next start (every pytest session, tests/conftest.py, and every server start
  here): a record whose owner has gone is a stray, whose group is killed if it is still the same
  group, and the record removed.

The owning process also stops its servers at exit and on SIGTERM or SIGHUP
(:func:`install_session_guards`), but only the sweep covers SIGKILL.

PID reuse: a record's group is killed only when its leader is the very process recorded
(same PID, same start time in clock ticks since boot, same boot id) or, the leader gone, while
processes of that group remain (Linux never hands out a PID that is still some group's ID, so
they are the leader's own). The command is recorded for people reading the file, and not
compared: gunicorn rewrites its process title.

Standard library only, no ``ninsho`` import: benchmarks/_common.py imports it as well, and the
privacyIDEA example (a separate package) writes the same record itself (:data:`RECORD_FORMAT`).
Linux only where it matters: without /proc, identities cannot be checked and nothing is swept.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

RUN_DIR_ENV = "NINSHO_TEST_SERVERS_DIR"  # a test points its inner runs elsewhere with it
# The "format" field; examples/privacyidea_driver/ninsho_privacyidea/server.py writes it too.
RECORD_FORMAT = 1
STOP_TIMEOUT_SECONDS = 10.0
KILL_TIMEOUT_SECONDS = 5.0
PROC = Path("/proc")
HAVE_PROC = (PROC / "self" / "stat").exists()


# --- identities from /proc ------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (which may hold spaces and parentheses): index 0 is
    field 3 (state), 2 is field 5 (process group), 19 is field 22 (start time)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    return text[text.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot: with the PID, its identity."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def boot_id() -> str:
    """This boot's id: a record from an earlier boot names processes that are long gone."""
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group (a zombie is dead: it holds no port and no memory,
    only its exit status, until its new parent, init, collects it)."""
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # polling the kernel's process table: nothing to wait on
    return True


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def terminate_group(pgid: int, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM to the group, SIGKILL to what is left after ``timeout``; back once none is live."""
    _signal_group(pgid, signal.SIGTERM)
    if not _wait_group_gone(pgid, timeout):
        _signal_group(pgid, signal.SIGKILL)
        _wait_group_gone(pgid, KILL_TIMEOUT_SECONDS)


# --- the run directory and its records ------------------------------------------------------
def run_dir() -> Path:
    """/tmp/ninsho-test-servers-UID, or ``$NINSHO_TEST_SERVERS_DIR``: one fixed place, not
    $XDG_RUNTIME_DIR, which a CI job, cron or sudo lacks and logout removes, so that the next
    session finds what a killed one left whatever started either. Private to the user: a
    directory that someone else owns, or a link, is refused rather than trusted."""
    configured = os.environ.get(RUN_DIR_ENV)
    path = Path(configured) if configured else Path("/tmp") / f"ninsho-test-servers-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise RuntimeError(f"{path}: not a directory of this user's; remove it or set {RUN_DIR_ENV}")
    return path


@dataclass(frozen=True)
class Record:
    """What a PID file holds (JSON, ``format`` 1)."""

    pgid: int
    leader_start: int
    boot_id: str
    owner_pid: int
    owner_start: int
    command: tuple[str, ...]
    label: str
    started_at: float  # Unix time, for people reading the file

    @classmethod
    def load(cls, path: Path) -> Record | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != RECORD_FORMAT:
                return None
            return cls(
                int(data["pgid"]),
                int(data["leader_start"]),
                str(data["boot_id"]),
                int(data["owner_pid"]),
                int(data["owner_start"]),
                tuple(str(part) for part in data["command"]),
                str(data.get("label", "")),
                float(data.get("started_at", 0.0)),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def write(self, folder: Path) -> Path:
        """Written whole under a temporary name, then renamed: a sweep never reads half a file."""
        path = folder / f"{self.pgid}.json"
        partial = folder / f".{self.pgid}.json.partial"
        body = {"format": RECORD_FORMAT, **dataclasses.asdict(self), "command": list(self.command)}
        partial.write_text(json.dumps(body, indent=1), encoding="utf-8")
        os.replace(partial, path)
        return path

    def owner_alive(self) -> bool:
        return self.boot_id == boot_id() and start_time(self.owner_pid) == self.owner_start

    def stray_members(self) -> list[int]:
        """The live processes that are still this record's server: none if the group has ended
        or its number now belongs to someone else."""
        if self.boot_id != boot_id():
            return []
        leader = start_time(self.pgid)
        if leader is not None and leader != self.leader_start:
            return []  # the PID was reused: the recorded group ended before that was possible
        return group_members(self.pgid)


@dataclass(frozen=True)
class Swept:
    """A record the sweep found orphaned: the processes it stopped (none if already gone)."""

    record: Record
    stopped: tuple[int, ...]


def sweep(folder: Path | None = None) -> list[Swept]:
    """Stops the servers whose owner has gone and removes their records; a live owner's records
    (another session's running now, or this one's) are left alone."""
    if not HAVE_PROC:
        return []
    folder = folder or run_dir()
    swept = []
    for path in sorted(folder.glob("*.json")):
        record = Record.load(path)
        if record is None:  # written whole or not at all: unreadable means not ours to trust
            path.unlink(missing_ok=True)
            continue
        if record.owner_alive():
            continue
        members = record.stray_members()
        if members:
            terminate_group(record.pgid)
        path.unlink(missing_ok=True)
        swept.append(Swept(record, tuple(members)))
    return swept


# --- servers this process starts ------------------------------------------------------------
_OWNED: dict[int, Server] = {}
_OWNED_LOCK = threading.RLock()  # re-entered by a signal handler on the main thread


class Server:
    """A process started in its own group, recorded until it is stopped."""

    def __init__(self, process: subprocess.Popen[bytes], record: Record, path: Path) -> None:
        self.process = process
        self.record = record
        self.path = path

    @property
    def pgid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """SIGTERM to the whole group, SIGKILL after ``timeout``; no member left (a worker
        outliving its master included), the leader reaped, the record removed. Its exit status.

        The leader is reaped last: until then its PID, the group's ID, cannot be reused, so
        every signal reaches this group and no other."""
        if self.process.returncode is None:
            if HAVE_PROC:
                terminate_group(self.pgid, timeout)
            else:
                _signal_group(self.pgid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(self.pgid, signal.SIGKILL)
            self.process.wait(timeout=KILL_TIMEOUT_SECONDS)
        self.forget()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL to the whole group: no shutdown handler runs, as in a crash."""
        if self.process.returncode is None:
            _signal_group(self.pgid, signal.SIGKILL)
            if HAVE_PROC:
                _wait_group_gone(self.pgid, KILL_TIMEOUT_SECONDS)
            self.process.wait(timeout=KILL_TIMEOUT_SECONDS)
        self.forget()

    def forget(self) -> None:
        """For a server whose leader has ended and been reaped (``poll()`` saw it exit): any
        member left is stopped (while one lives, the group's ID is not reused), the record goes."""
        if HAVE_PROC and group_members(self.pgid):
            terminate_group(self.pgid, timeout=KILL_TIMEOUT_SECONDS)
        self.path.unlink(missing_ok=True)
        with _OWNED_LOCK:
            _OWNED.pop(self.pgid, None)


def start(
    command: Sequence[str],
    *,
    label: str = "",
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    stdout: IO[Any] | int | None = None,
    stderr: IO[Any] | int | None = None,
) -> Server:
    """Sweeps what killed runs left, then starts ``command`` in a new session (its own process
    group) and records it; stop it with :meth:`Server.stop`.

    In its own group, the server no longer gets the signals sent to its owner's group (a
    terminal's Ctrl-C, ``killpg`` by benchmarks/run_all.py): the owner stops it at exit and on
    SIGTERM/SIGHUP instead (:func:`install_guards`)."""
    install_guards()
    folder = run_dir()
    sweep(folder)
    process = subprocess.Popen(
        list(command), cwd=cwd, env=env, stdout=stdout, stderr=stderr, start_new_session=True
    )
    try:
        record = Record(
            pgid=process.pid,
            leader_start=start_time(process.pid) or -1,
            boot_id=boot_id(),
            owner_pid=os.getpid(),
            owner_start=start_time(os.getpid()) or -1,
            command=tuple(str(part) for part in command),
            label=label,
            started_at=time.time(),
        )
        server = Server(process, record, record.write(folder))
    except BaseException:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
        raise
    with _OWNED_LOCK:
        _OWNED[server.pgid] = server
    return server


def stop_all(timeout: float = 5.0) -> None:
    """Every server this process started and has not stopped: at exit, and on SIGTERM/SIGHUP."""
    with _OWNED_LOCK:
        owned = list(_OWNED.values())
    for server in owned:
        with contextlib.suppress(Exception):
            server.stop(timeout=timeout)


def _stop_all_then_die(signum: int, frame: FrameType | None) -> None:
    """Stops this process's servers, then dies of the same signal, as it would have."""
    stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_EXIT_GUARDED = False
_SIGNALS_GUARDED = False


def install_guards() -> None:
    """Stop this process's servers at exit and on SIGTERM/SIGHUP, once; a signal that someone
    else already handles is left to them. Only the main thread may set handlers: a server
    started from another thread first gets the exit guard, the signal ones at the next call
    from the main thread."""
    global _EXIT_GUARDED, _SIGNALS_GUARDED
    with _OWNED_LOCK:
        if not _EXIT_GUARDED:
            _EXIT_GUARDED = True
            atexit.register(stop_all)
        if _SIGNALS_GUARDED or threading.current_thread() is not threading.main_thread():
            return
        _SIGNALS_GUARDED = True
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, _stop_all_then_die)


def install_session_guards() -> list[Swept]:
    """For a pytest session's start: sweep what killed runs left, then :func:`install_guards`."""
    swept = sweep()
    install_guards()
    return swept
