"""A throw-away privacyIDEA server on loopback, for running the Ninsho harness against it.

privacyIDEA goes into its own virtual environment (never the project's: it pins nothing and pulls
in Flask, SQLAlchemy and a hundred MB more), cached under ``$NINSHO_PI_VENV`` or
``~/.cache/ninsho/privacyidea-venv`` so that only the first run pays for the install. Each
server gets a fresh temporary folder with SQLite, its keys, its log and its ``pi.cfg``; it serves
with gunicorn in the production config, relays mail to the harness's SMTP sink, and is stopped
by its process group (the master and its workers) and its folder removed when the context ends.
While it runs it is recorded in Ninsho's run directory for test servers, so that if the process
that started it is killed, the next Ninsho test session stops it (see ``_record``).

CLI::

    python -m ninsho_privacyidea.server install          # warm the cache, print the time taken
    python -m ninsho_privacyidea.server run -- ninsho check PORTAL.toml
    python -m ninsho_privacyidea.server up               # prints a state file and the environment
    python -m ninsho_privacyidea.server down STATE.json

``run`` sets ``NINSHO_BASE_URL``, ``NINSHO_MAILBOX_PORT``, ``NINSHO_ADMIN_TOKEN`` (the admin's
password, which the driver exchanges for a session token) and ``NINSHO_PI_PORTAL`` (a portal
config written for this server) for the command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

PRIVACYIDEA = "privacyidea==3.14"
GUNICORN = "gunicorn==27.0.1"
CONSTRAINTS = Path(__file__).with_name("constraints.txt")  # the versions seen to work together
PROFILE = Path(__file__).resolve().parents[1] / "privacyidea.toml"
INSTALL_TIMEOUT_SECONDS = 900.0
COMMAND_TIMEOUT_SECONDS = 120.0
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
ADMIN_USER = "admin"
SMTP_IDENTIFIER = "ninsho-sink"
SENDER = "privacyidea@ninsho.test"


class InstallError(RuntimeError):
    """privacyIDEA could not be installed (no registry, a broken release): ``reason`` is pip's
    last line, which is what a skipped test shows."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServerError(RuntimeError):
    """Installed, but the server would not set up or start: never a reason to skip."""


@dataclass(frozen=True)
class Settings:
    """What the set-up configures beyond privacyIDEA's defaults, and why.

    ``email_validtime`` is privacyIDEA's own default, set explicitly: shorter ones (15 and 60 s
    were tried) let codes expire while a check's ten wrong codes queued on a busy machine.
    ``failcounter_clear_minutes`` gives the lockout an end the harness can measure (privacyIDEA's
    default, 0, locks a token until an administrator resets it). Both are
    stated in privacyidea.toml as this set-up's values.
    """

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 0  # the harness's SMTP sink; 0: pick a free port
    port: int = 0  # 0: pick a free port
    workers: int = 4  # gunicorn processes: concurrent checks must meet real concurrency
    email_validtime: int = 120  # seconds: privacyIDEA's own default, set explicitly
    failcounter_clear_minutes: int = 1  # minutes (privacyIDEA's default: 0, never)


@dataclass
class Server:
    """A running privacyIDEA: where it listens, its admin and its folder."""

    base_url: str
    admin_user: str
    admin_password: str = field(repr=False)
    folder: Path
    pid: int
    settings: Settings
    timings: dict[str, float] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)  # None after `down`
    record: Path | None = field(default=None, repr=False)  # the run-directory record, if written

    def portal_config(self) -> Path:
        """A portal config for ``ninsho check`` against this server, judged by privacyidea.toml."""
        path = self.folder / "privacyidea-portal.toml"
        path.write_text(
            "# Written by ninsho_privacyidea.server for one run; secrets stay in the environment.\n"
            "[portal]\n"
            f'base_url = "{self.base_url}"\n'
            'driver = "privacyidea"\n'
            f'profile = "{PROFILE}"\n\n'
            "[admin]\n"
            'token_env = "NINSHO_ADMIN_TOKEN"   # the privacyIDEA admin\'s password\n\n'
            "[mailbox]\n"
            'kind = "smtp-sink"\n'
            f'host = "{self.settings.smtp_host}"\n'
            f"port = {self.settings.smtp_port}\n"
            "timeout_seconds = 30\n\n"
            "[clock]\n"
            'mode = "real"\n',
            encoding="utf-8",
        )
        return path

    def environment(self) -> dict[str, str]:
        return {
            "NINSHO_BASE_URL": self.base_url,
            "NINSHO_MAILBOX_PORT": str(self.settings.smtp_port),
            "NINSHO_ADMIN_TOKEN": self.admin_password,
            "NINSHO_PI_PORTAL": str(self.portal_config()),
        }


def venv_dir() -> Path:
    configured = os.environ.get("NINSHO_PI_VENV")
    return Path(configured) if configured else Path.home() / ".cache" / "ninsho" / "privacyidea-venv"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scratch() -> str | None:
    """Memory-backed /dev/shm when there is one: SQLite's fsyncs on disk make each check
    several times slower, and the folder is thrown away anyway."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _stamp() -> str:
    """What the cached venv was built from: a change of pins rebuilds it."""
    return f"{PRIVACYIDEA} {GUNICORN} {CONSTRAINTS.read_text(encoding='utf-8')}"


def ensure_installed(folder: Path | None = None) -> Path:
    """The venv with privacyIDEA and gunicorn, built once and reused while the pins are unchanged."""
    venv = folder or venv_dir()
    marker = venv / "ninsho-installed.txt"
    if (
        marker.is_file()
        and marker.read_text(encoding="utf-8") == _stamp()
        and (venv / "bin" / "pi-manage").exists()
    ):
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = (
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "-c",
            str(CONSTRAINTS),
            PRIVACYIDEA,
            GUNICORN,
        ],
    )
    for step in steps:
        try:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(venv, ignore_errors=True)
            raise InstallError(
                f"{' '.join(step[-3:])}: no end after {INSTALL_TIMEOUT_SECONDS:.0f} s"
            ) from None
        if done.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            raise InstallError(lines[-1] if lines else f"{step[2]} exited {done.returncode}")
    marker.write_text(_stamp(), encoding="utf-8")
    return venv


def _pi_cfg(folder: Path) -> str:
    """The keys privacyIDEA's production config reads (privacyIDEA docs: installation, pi.cfg)."""
    return (
        f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{folder / 'privacyidea.sqlite'}'\n"
        f"SECRET_KEY = '{secrets.token_hex(24)}'\n"
        f"PI_PEPPER = '{secrets.token_hex(24)}'\n"
        f"PI_ENCFILE = '{folder / 'enckey'}'\n"
        f"PI_AUDIT_KEY_PRIVATE = '{folder / 'private.pem'}'\n"
        f"PI_AUDIT_KEY_PUBLIC = '{folder / 'public.pem'}'\n"
        f"PI_LOGFILE = '{folder / 'privacyidea.log'}'\n"
        "PI_LOGLEVEL = 20\n"
        "PI_BASE_URL = 'http://127.0.0.1'\n"
        # SQLite under several gunicorn workers: wait for a lock rather than fail at once.
        "SQLALCHEMY_ENGINE_OPTIONS = {'connect_args': {'timeout': 30}}\n"
    )


SETUP_SCRIPT = """
import sqlite3
import sys
from privacyidea.cli.pimanage import cli
password = sys.stdin.readline().rstrip("\\n")
for args in (
    ["setup", "create_enckey"],
    ["setup", "create_audit_keys"],
    ["setup", "create_tables"],
    ["admin", "add", sys.argv[1], "-p", password],
):
    cli.main(args, prog_name="pi-manage", standalone_mode=False)
# Write-ahead logging (kept in the file): readers no longer wait for a writer, which several
# gunicorn workers on one SQLite file otherwise do, in turns, for seconds.
sqlite3.connect(sys.argv[2]).execute("PRAGMA journal_mode=WAL").fetchall()
"""


def _set_up(venv: Path, env: dict[str, str], admin_user: str, password: str, database: Path) -> None:
    """``pi-manage setup create_enckey | create_audit_keys | create_tables`` and ``pi-manage admin
    add``, in one Python process: each pi-manage start imports privacyIDEA anew (8 s here). The
    password goes through standard input, never a command line."""
    try:
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", SETUP_SCRIPT, admin_user, str(database)],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ServerError(f"pi-manage setup: no end after {COMMAND_TIMEOUT_SECONDS:.0f} s") from None
    if done.returncode != 0:
        raise ServerError(f"pi-manage setup exited {done.returncode}: {done.stderr[-800:]}")


# --- the run-directory record -----------------------------------------------------------------
# The format of the Ninsho repository's tests/servers.py (format 1), written here because this
# package cannot import the repository's tests: a JSON file per process group, named after it.
# A pytest session of the repository sweeps the records whose owner has gone: it kills the group
# if its leader is still the process recorded (PID, start time and boot id), removes the file.
RUN_DIR_ENV = "NINSHO_TEST_SERVERS_DIR"
RECORD_FORMAT = 1


def _proc_start(pid: int) -> int | None:
    """Start time in clock ticks since boot (/proc/PID/stat field 22): a PID's identity."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2 :].split()[19])


def _record(process: subprocess.Popen[bytes], command: list[str]) -> Path | None:
    """Best effort, Linux only: a record is a safety net for a killed run, never a reason not to
    start (no /proc, a run directory that is not this user's: none is written)."""
    folder = Path(os.environ.get(RUN_DIR_ENV) or f"/tmp/ninsho-test-servers-{os.getuid()}")
    with contextlib.suppress(OSError, ValueError, IndexError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
        if not folder.is_dir() or folder.is_symlink() or info.st_uid != os.getuid():
            return None
        body = {
            "format": RECORD_FORMAT,
            "pgid": process.pid,
            "leader_start": _proc_start(process.pid) or -1,
            "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
            "owner_pid": os.getpid(),
            "owner_start": _proc_start(os.getpid()) or -1,
            "command": command,
            "label": "privacyIDEA (gunicorn) for ninsho_privacyidea.server",
            "started_at": time.time(),
        }
        path = folder / f"{process.pid}.json"
        partial = folder / f".{process.pid}.json.partial"
        partial.write_text(json.dumps(body, indent=1), encoding="utf-8")
        os.replace(partial, path)  # a sweep never reads half a record
        return path
    return None


def _forget(server: Server) -> None:
    if server.record is not None:
        server.record.unlink(missing_ok=True)
        server.record = None


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Until /healthz/ answers, then one token check per worker: a worker's first request loads
    privacyIDEA's config and policies (most of a second), which a timed probe must not pay."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"gunicorn exited {process.returncode}: {log.read_text(errors='replace')[-800:]}"
            )
        try:
            if httpx.get(f"{base_url}/healthz/", timeout=2.0).status_code < 500:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(
                        pool.map(
                            lambda _: httpx.post(
                                f"{base_url}/validate/check",
                                data={"serial": "warm-up", "pass": "0"},
                                timeout=30.0,
                            ),
                            range(2 * workers),
                        )
                    )
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ServerError(
        f"privacyIDEA did not answer within {START_TIMEOUT_SECONDS:.0f} s: {log.read_text(errors='replace')[-800:]}"
    )


def admin_session(client: httpx.Client, user: str, password: str) -> dict[str, str]:
    """POST /auth: privacyIDEA's admin token, sent as the bare ``Authorization`` header."""
    answer = client.post("/auth", data={"username": user, "password": password})
    if answer.status_code != 200:
        raise ServerError(f"POST /auth: {answer.status_code} {answer.text[:300]}")
    return {"Authorization": str(answer.json()["result"]["value"]["token"])}


def _configure(server: Server) -> None:
    """The SMTP server (the harness's sink) and the two short times of :class:`Settings`."""
    s = server.settings
    with httpx.Client(base_url=server.base_url, timeout=15.0) as client:
        headers = admin_session(client, server.admin_user, server.admin_password)
        calls = (
            (
                f"/smtpserver/{SMTP_IDENTIFIER}",
                {"server": s.smtp_host, "port": s.smtp_port, "tls": "0", "sender": SENDER},
            ),
            (
                "/system/setConfig",
                {
                    "email.identifier": SMTP_IDENTIFIER,
                    "email.validtime": str(s.email_validtime),
                    "failcounter_clear_timeout": str(s.failcounter_clear_minutes),
                },
            ),
        )
        for path, body in calls:
            answer = client.post(path, json=body, headers=headers)
            if answer.status_code != 200 or not answer.json().get("result", {}).get("status"):
                raise ServerError(f"POST {path}: {answer.status_code} {answer.text[:300]}")


def start(settings: Settings | None = None) -> Server:
    """Install (or reuse), set up in a new temporary folder, start and configure privacyIDEA."""
    chosen = settings or Settings()
    if chosen.port == 0 or chosen.smtp_port == 0:
        chosen = Settings(
            **{
                **asdict(chosen),
                "port": chosen.port or free_port(),
                "smtp_port": chosen.smtp_port or free_port(),
            }
        )
    began = time.monotonic()
    venv = ensure_installed()
    installed = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="ninsho-pi-", dir=_scratch()))
    try:
        return _start_in(folder, venv, chosen, {"install": installed - began, "began": began})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _start_in(folder: Path, venv: Path, settings: Settings, timings: dict[str, float]) -> Server:
    (folder / "pi.cfg").write_text(_pi_cfg(folder), encoding="utf-8")
    env = {**os.environ, "PRIVACYIDEA_CONFIGFILE": str(folder / "pi.cfg"), "HOME": str(folder)}
    password = secrets.token_urlsafe(18)
    _set_up(venv, env, ADMIN_USER, password, folder / "privacyidea.sqlite")
    base_url = f"http://127.0.0.1:{settings.port}"
    log = folder / "gunicorn.log"
    command = [
        str(venv / "bin" / "gunicorn"),
        "--no-control-socket",
        "-w",
        str(settings.workers),
        "-b",
        f"127.0.0.1:{settings.port}",
        "--timeout",
        "60",
        'privacyidea.app:create_app(config_name="production", silent=True)',
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers form one process group, stopped together
        )
    server = Server(base_url, ADMIN_USER, password, folder, process.pid, settings, timings, process)
    server.record = _record(process, command)
    try:
        _wait_until_up(base_url, process, log, settings.workers)
        _configure(server)
    except BaseException:
        stop(server)
        raise
    timings["start"] = time.monotonic() - timings.pop("began") - timings["install"]
    return server


def stop(server: Server) -> None:
    """SIGTERM to gunicorn's process group (the master and its workers), SIGKILL if it lingers,
    then the folder goes."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and _alive(server):
            time.sleep(0.2)
        if _alive(server):
            os.killpg(server.pid, signal.SIGKILL)
            if server.process is not None:
                server.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except ProcessLookupError:
        pass
    _forget(server)
    shutil.rmtree(server.folder, ignore_errors=True)


def _alive(server: Server) -> bool:
    if server.process is not None:  # our child: poll() reaps it, or it would stay a zombie
        return server.process.poll() is None
    try:
        os.kill(server.pid, 0)  # started by `up` in another process
    except ProcessLookupError:
        return False
    return True


@contextmanager
def running(settings: Settings | None = None) -> Iterator[Server]:
    """``with running() as server:`` privacyIDEA for the block, stopped and removed after it."""
    server = start(settings)
    try:
        yield server
    finally:
        stop(server)


def _state(server: Server) -> dict[str, object]:
    return {
        "base_url": server.base_url,
        "pid": server.pid,
        "folder": str(server.folder),
        "settings": asdict(server.settings),
        "admin_user": server.admin_user,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ninsho_privacyidea.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--smtp-port", type=int, default=0, help="the harness's SMTP sink port (default: a free one)"
    )
    parser.add_argument("--port", type=int, default=0, help="privacyIDEA's port (default: a free one)")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("install", help="build the cached venv, print how long it took")
    run_parser = sub.add_parser("run", help="start, run the command after --, stop")
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("up", help="start and leave running; prints the state file and the environment")
    down = sub.add_parser("down", help="stop a server that `up` started")
    down.add_argument("state", type=Path)
    args = parser.parse_args(argv)
    settings = Settings(port=args.port, smtp_port=args.smtp_port)
    if args.action == "install":
        began = time.monotonic()
        print(ensure_installed(), f"{time.monotonic() - began:.1f} s")
        return 0
    if args.action == "down":
        state = json.loads(args.state.read_text(encoding="utf-8"))
        stop(
            Server(
                state["base_url"],
                state["admin_user"],
                "",
                Path(state["folder"]),
                int(state["pid"]),
                Settings(**state["settings"]),
            )
        )
        args.state.unlink(missing_ok=True)
        return 0
    server = start(settings)
    print(
        f"privacyIDEA at {server.base_url} (install {server.timings['install']:.1f} s, start {server.timings['start']:.1f} s)",
        file=sys.stderr,
    )
    if args.action == "up":
        _forget(server)  # outlives this process on purpose: the state file and `down` take over
        state_file = server.folder.with_name(server.folder.name + ".json")
        state_file.write_text(json.dumps(_state(server)), encoding="utf-8")
        print(f"# state: {state_file}  (stop with: python -m ninsho_privacyidea.server down {state_file})")
        for name, value in server.environment().items():
            print(f"export {name}={value}")
        return 0
    try:
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command after --")
        return subprocess.run(command, env={**os.environ, **server.environment()}, check=False).returncode
    finally:
        stop(server)


if __name__ == "__main__":
    sys.exit(main())
