"""Item 3: TOTP verification over HTTP, against the no-op floor and privacyIDEA's /validate/check.

The load generator is Debian's ``wrk`` (C, event loop) with ``wrk_post.lua``: on a 2-core machine the
generator shares the CPUs with the server, and a Python generator (asyncio + httpx) would spend more
CPU per request than the no-op endpoint it measures, flattening every ratio towards 1. wrk runs as
a separate process, on loopback, bounded both in time (``-d``) and in count (the Lua script stops
each thread after its budget), at 1 and 16 connections (``-t 1 -c 1`` and ``-t 2 -c 16``).

What one request measures. POST /api/v1/second-factor/app with a session prepared beforehand
and a *refused* code: a 6-digit code that matches no step near now. A refusal does the whole
verification (the account's state loaded in a transaction, the code compared with every step of
the window, the failure counted and written durably to SQLite, the transaction committed); a
right code would end the session's first-factor stage after one use and be a replay the second
time, so each request would need a fresh login (scrypt), which is not what is measured here.
To stay clear of the lockout (which answers without verifying), each account takes at most
``threshold - 1`` refusals: requests go round-robin over enough prepared accounts, and the count
bound is that budget. privacyIDEA gets the same design: one TOTP token per 9 refusals (its
``max_failcount`` default is 10), ``POST /validate/check serial=S pass=<wrong>``.

The accounts are prepared at ``--hash-cost 4``: the password hash is not on the verification path
(POST /second-factor/app never touches it), and preparing thousands of accounts at the default
cost 14 would take minutes of scrypt. Password hashing is measured separately, at cost 14, as
POST /api/v1/login requests/s (``--login``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    ROOT,
    Server,
    cpu_seconds,
    ninsho_server,
    print_machine,
    process_tree,
    vm_hwm_kib,
)

LUA = Path(__file__).with_name("wrk_post.lua")
RESULT = re.compile(r"^RESULT (\{.*\})$", re.M)
THRESHOLD = 10  # iimc's lockout.threshold: each account takes THRESHOLD - 1 refusals
PI_MAX_FAILCOUNT = 10  # privacyIDEA's default max_failcount per token
CONCURRENCIES = (1, 16)
GOAL_FLOOR, GOAL_PEER = 0.5, 50.0
NOOP_BUDGET = 500_000  # the no-op has no lockout: its count bound only guards the time bound


@dataclass
class Figures:
    name: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    unexpected: int
    errors: int
    server_cpu_ms: float | None = None  # server CPU time per request, when its PID is known

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"  {self.name:<34} c={self.connections:<3} {self.rps:8.0f} req/s  median {self.p50_ms:7.2f} ms  "
            f"p99 {self.p99_ms:7.2f} ms  ({self.requests} requests in {self.seconds:.1f} s; "
            f"unexpected answers {self.unexpected}, socket errors {self.errors})"
            + (f"  server CPU {self.server_cpu_ms:.2f} ms/request" if self.server_cpu_ms is not None else "")
        )


def wrk(
    name: str,
    base_url: str,
    lines: list[str],
    *,
    connections: int,
    seconds: float,
    budget: int,
    expect_status: int,
    expect_text: str,
    workdir: Path,
    cpu_pid: int | None = None,
) -> Figures:
    """One bounded wrk run over ``lines`` (each usable ``budget`` times)."""
    threads = 1 if connections == 1 else 2
    per_thread = len(lines) // threads
    lines = lines[: per_thread * threads]
    limit = per_thread * budget - math.ceil(connections / threads)  # in-flight requests stay in budget
    if limit < 1:
        raise ValueError(f"{name}: too few prepared lines for a bounded run")
    path = workdir / f"{name.replace(' ', '_').replace('/', '_')}-{connections}.tsv"
    path.write_text("\n".join(lines) + "\n")
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:.0f}s", "--timeout", "10s"]
    cmd += [
        "-s",
        str(LUA),
        base_url,
        "--",
        str(path),
        str(expect_status),
        expect_text,
        str(limit),
        str(threads),
    ]
    cpu_before = cpu_seconds(cpu_pid) if cpu_pid is not None else 0.0
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    cpu_used = cpu_seconds(cpu_pid) - cpu_before if cpu_pid is not None else None
    found = RESULT.search(done.stdout)
    if found is None:
        raise RuntimeError(f"wrk printed no result: {done.stdout[-1500:]} {done.stderr[-1500:]}")
    r = json.loads(found.group(1))
    return Figures(
        name,
        connections,
        int(r["requests"]),
        r["duration_us"] / 1e6,
        r["p50_us"] / 1e3,
        r["p99_us"] / 1e3,
        int(r["unexpected"]),
        int(r["socket_errors"]) + int(r["timeouts"]),
        cpu_used * 1000 / max(1, int(r["requests"])) if cpu_used is not None else None,
    )


def _line(method: str, path: str, headers: dict[str, str], body: str = "") -> str:
    return "\t".join([method, path, "|".join(f"{k}: {v}" for k, v in headers.items()), body])


def wrong_code(totp: pyotp.TOTP, spread: int = 40) -> str:
    """A code that no step within ``spread`` steps (20 minutes) of now produces: always refused."""
    step = int(time.time() // totp.interval)
    near = {totp.generate_otp(s) for s in range(step - spread, step + spread + 1)}
    while True:
        candidate = f"{secrets.randbelow(10**totp.digits):0{totp.digits}d}"
        if candidate not in near:
            return candidate


def prepare_ninsho_sessions(server: Server, count: int) -> list[str]:
    """``count`` accounts, each with a registered app and a session waiting for its second
    factor; returns one wrk line per account (the session and a wrong code)."""
    admin = {"Authorization": f"Bearer {server.admin_token}"}

    local = threading.local()
    clients: list[httpx.Client] = []

    def one(_: int) -> str:
        c: httpx.Client | None = getattr(local, "client", None)
        if c is None:  # one client per preparing thread: a new client per account costs an SSL context
            c = local.client = httpx.Client(base_url=server.base_url + "/api/v1/", timeout=30)
            clients.append(c)
        login_id, password = "b" + secrets.token_hex(6), secrets.token_urlsafe(16)
        c.post(
            "admin/users", json={"login_id": login_id, "password": password}, headers=admin
        ).raise_for_status()
        session = c.post("login", json={"login_id": login_id, "password": password}).json()["session"]
        auth = {"Authorization": f"Bearer {session}"}
        totp = pyotp.parse_uri(c.post("settings/app", headers=auth).json()["uri"])
        assert isinstance(totp, pyotp.TOTP)
        c.post("settings/app/register", json={"code": totp.now()}, headers=auth).raise_for_status()
        c.post("logout", headers=auth)
        login = c.post("login", json={"login_id": login_id, "password": password}).json()
        assert login["stage"] == "first_factor", login
        headers = {"Authorization": f"Bearer {login['session']}", "Content-Type": "application/json"}
        return _line("POST", "/api/v1/second-factor/app", headers, json.dumps({"code": wrong_code(totp)}))

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, range(count)))
    finally:
        for c in clients:
            c.close()


def ninsho_figures(
    seconds: float, budget_requests: int, workdir: Path, workers: int, db_dir: Path | None = None
) -> tuple[list[Figures], dict[str, float]]:
    results: list[Figures] = []
    where = " [db in RAM]" if db_dir else ""
    with ninsho_server(profile="iimc", hash_cost=4, db_dir=db_dir, workers=workers) as server:
        noop = [_line("GET", "/api/v1/noop", {})]
        for c in CONCURRENCIES:
            results.append(
                wrk(
                    "ninsho GET /noop (floor)" + where,
                    server.base_url,
                    noop * 2,
                    connections=c,
                    seconds=seconds,
                    budget=NOOP_BUDGET,
                    expect_status=204,
                    expect_text="",
                    workdir=workdir,
                    cpu_pid=server.pid,
                )
            )
        for c in CONCURRENCIES:
            accounts = math.ceil(budget_requests / (THRESHOLD - 1)) + c
            began = time.monotonic()
            lines = prepare_ninsho_sessions(server, accounts)
            print(
                f"  (prepared {accounts} accounts with an app and a session "
                f"in {time.monotonic() - began:.1f} s)"
            )
            results.append(
                wrk(
                    "ninsho POST /second-factor/app" + where,
                    server.base_url,
                    lines,
                    connections=c,
                    seconds=seconds,
                    budget=THRESHOLD - 1,
                    expect_status=401,
                    expect_text='"TOTP_WINDOW"',
                    workdir=workdir,
                    cpu_pid=server.pid,
                )
            )
        # Per process: the goal is per worker (with one worker, the server is that process).
        hwm = max(vm_hwm_kib(pid) or 0 for pid in process_tree(server.pid))
    return results, {"ninsho_server_vmhwm_mib_per_process" + where.replace(" ", "_"): hwm / 1024}


def login_figures(seconds: float, workdir: Path, cost: int = 14) -> list[Figures]:
    """POST /api/v1/login, right password, at the given scrypt cost: the password hash's price."""
    results = []
    with ninsho_server(profile="iimc", hash_cost=cost) as server:
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        lines = []
        for _ in range(16):
            login_id, password = "p" + secrets.token_hex(6), secrets.token_urlsafe(16)
            httpx.post(
                server.base_url + "/api/v1/admin/users",
                json={"login_id": login_id, "password": password},
                headers=admin,
                timeout=30,
            ).raise_for_status()
            body = json.dumps({"login_id": login_id, "password": password})
            lines.append(_line("POST", "/api/v1/login", {"Content-Type": "application/json"}, body))
        for c in CONCURRENCIES:
            results.append(
                wrk(
                    f"ninsho POST /login (scrypt n=2**{cost})",
                    server.base_url,
                    lines,
                    connections=c,
                    seconds=seconds,
                    budget=10**6,
                    expect_status=200,
                    expect_text="",
                    workdir=workdir,
                    cpu_pid=server.pid,
                )
            )
    return results


@contextlib.contextmanager
def privacyidea(workers: int) -> Iterator[object | None]:
    """The colleague's examples/privacyidea_driver server (gunicorn ``-w workers``, production
    config), if present."""
    sys.path.insert(0, str(ROOT / "examples" / "privacyidea_driver"))
    try:
        from ninsho_privacyidea import server as pi  # type: ignore[import-not-found]
    except ImportError as exc:
        print(f"privacyIDEA: not measured (examples/privacyidea_driver not importable: {exc})")
        yield None
        return
    with pi.running(pi.Settings(workers=workers)) as running:
        yield (pi, running)


def prepare_pi_tokens(pi: object, running: object, count: int) -> list[str]:
    with httpx.Client(base_url=running.base_url, timeout=60) as c:  # type: ignore[attr-defined]
        admin = pi.admin_session(c, running.admin_user, running.admin_password)  # type: ignore[attr-defined]

        def one(i: int) -> str:
            secret = secrets.token_bytes(20)
            serial = f"BENCH{i:05d}{secrets.token_hex(3)}"
            r = c.post(
                "/token/init",
                data={"type": "totp", "serial": serial, "genkey": "0", "otpkey": secret.hex()},
                headers=admin,
            )
            r.raise_for_status()
            totp = pyotp.TOTP(base64_secret(secret))
            body = f"serial={serial}&pass={wrong_code(totp)}"
            return _line(
                "POST", "/validate/check", {"Content-Type": "application/x-www-form-urlencoded"}, body
            )

        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(one, range(count)))


def base64_secret(secret: bytes) -> str:
    import base64

    return base64.b32encode(secret).decode()


def pi_figures(
    seconds: float, budget_requests: int, workdir: Path, workers: int
) -> tuple[list[Figures], dict[str, float]]:
    results: list[Figures] = []
    extra: dict[str, float] = {}
    with privacyidea(workers) as found:
        if found is None:
            return results, extra
        pi, running = found  # type: ignore[misc]
        print(f"  (privacyIDEA up at {running.base_url}, gunicorn -w {running.settings.workers})")
        for c in CONCURRENCIES:
            tokens = math.ceil(budget_requests / (PI_MAX_FAILCOUNT - 1)) + c
            began = time.monotonic()
            lines = prepare_pi_tokens(pi, running, tokens)
            print(f"  (enrolled {tokens} privacyIDEA TOTP tokens in {time.monotonic() - began:.1f} s)")
            results.append(
                wrk(
                    "privacyIDEA POST /validate/check",
                    running.base_url,
                    lines,
                    connections=c,
                    seconds=seconds,
                    budget=PI_MAX_FAILCOUNT - 1,
                    expect_status=200,
                    expect_text='"value": false',
                    workdir=workdir,
                    cpu_pid=running.pid,
                )
            )
        extra["privacyidea_vmhwm_mib_sum"] = _tree_hwm(running.pid) / 1024
    return results, extra


def _tree_hwm(pid: int) -> int:
    """VmHWM of a process and its children (gunicorn's master and workers), summed, KiB."""
    return sum(vm_hwm_kib(each) or 0 for each in process_tree(pid))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="each wrk run's time bound")
    parser.add_argument("--budget", type=int, default=12000, help="each ninsho run's request bound")
    parser.add_argument("--pi-budget", type=int, default=900, help="each privacyIDEA run's request bound")
    parser.add_argument("--no-privacyidea", action="store_true")
    parser.add_argument("--no-login", action="store_true")
    parser.add_argument(
        "--ram-db",
        type=Path,
        default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,
        help="also run ninsho with its database here (default /dev/shm: where examples/privacyidea_driver "
        "keeps privacyIDEA's SQLite, so the peer comparison is like for like)",
    )
    parser.add_argument("--no-ram-db", action="store_true")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes, the same for both: `ninsho serve --workers N` and gunicorn -w N "
        "(default: the number of CPUs)",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk")
        return 2
    print_machine()
    print(f"workers: {args.workers} (ninsho serve --workers and privacyIDEA's gunicorn -w alike)")
    with tempfile.TemporaryDirectory(prefix="ninsho-bench-load-") as tmp:
        work = Path(tmp)
        ours, memory = ninsho_figures(args.seconds, args.budget, work, args.workers)
        if args.ram_db is not None and not args.no_ram_db:
            in_ram, ram_memory = ninsho_figures(
                args.seconds, args.budget, work, args.workers, db_dir=args.ram_db
            )
            ours += in_ram
            memory.update(ram_memory)
        peer, pi_memory = (
            ([], {}) if args.no_privacyidea else pi_figures(args.seconds, args.pi_budget, work, args.workers)
        )
        login = [] if args.no_login else login_figures(args.seconds, work)
    print("figures (wrk, loopback; each run bounded in time and count):")
    for f in [*ours, *peer, *login]:
        print(f.line())
    for where in ("", " [db in RAM]"):
        for c in CONCURRENCIES:
            floor = next(
                (f for f in ours if f.connections == c and f.name == "ninsho GET /noop (floor)" + where), None
            )
            totp = next(
                (
                    f
                    for f in ours
                    if f.connections == c and f.name == "ninsho POST /second-factor/app" + where
                ),
                None,
            )
            if floor is None or totp is None:
                continue
            label = f"c={c}{where}"
            print(
                f"{label}: TOTP verification / no-op floor = {totp.rps / floor.rps:.2f} (goal >= {GOAL_FLOOR})"
            )
            pi = next((f for f in peer if f.connections == c), None)
            if pi is not None:
                print(
                    f"{label}: TOTP verification / privacyIDEA = {totp.rps / pi.rps:.1f} x (goal >= {GOAL_PEER})"
                )
            else:
                print(f"{label}: privacyIDEA: not measured")
    for key, value in {**memory, **pi_memory}.items():
        print(f"{key}: {value:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
