"""Item 9: ``ninsho check -n 2`` (pytest-xdist) against ``-n 0``, on this machine's two cores.

Two runs, each compared with its own ``-n 0`` in the same run, alternated, medians:

- **embedded**: the main job (``ninsho check``, virtual time, from an empty folder), the whole
  process's wall time and its CPU (user + system, workers included: wait4 counts the children a
  process waited for); in two environments, as ``embedded_overhead.py`` does, because this
  machine sets PYTHONDONTWRITEBYTECODE=1 and every process (the controller and each worker)
  compiles every module again: as found, and with bytecode cached under a temporary
  PYTHONPYCACHEPREFIX (one warm-up run of each side first);
- **real time**: the lifetime checks of ``realtime_floor.py`` against ``ninsho serve --profile
  fast-test`` over HTTP (JSON driver, admin-API accounts, the harness's SMTP sink), where the
  run's floor is its longest wait: the concurrent checks' wall time and the whole process's. On
  two workers, each pre-runs its share concurrently, and the controller's sink files the mail for
  both (conformance/distributed.py).

- **test clock** (``--test-clock``): the whole suite against ``ninsho serve --test-clock`` over
  HTTP (iimc, JSON driver, admin-API accounts), each worker in a test-clock lane of its own
  (spec/protocol.md §17): wall time, the harness's CPU (the process and its workers) and the
  portal's (its process tree, /proc), for goal 3 of "Faster where users wait": wall ≤ 1.3 × the
  portal's CPU, and the harness's CPU ≤ 0.5 × the portal's.

The speed-up is ``-n 0`` ÷ ``-n 2`` (above 1: the workers help). Two workers each import the
harness and collect every check (the feature files parsed twice), and the controller relays
every report: that CPU is the price, paid back only where the checks' own work is larger.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    Server,
    cpu_seconds,
    free_port,
    ninsho_command,
    ninsho_server,
    print_machine,
    run_to_end,
)
from benchmarks.realtime_floor import PORTAL_TOML, SELECTION, SUMMARY_LINE

GOAL = 1.0  # -n 2 no slower than -n 0; a speed-up above it is the point
TIMEOUT_SECONDS = 600


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the process and its workers, exit status, output)."""
    done = run_to_end(cmd, cwd, env, cwd / f"out-{time.monotonic_ns()}.txt")
    return done.wall, done.usage.ru_utime + done.usage.ru_stime, done.status, done.output


def embedded(repeat: int, env: dict[str, str], warm_up: bool) -> dict[str, list[tuple[float, float]]]:
    figures: dict[str, list[tuple[float, float]]] = {"0": [], "2": []}
    for turn in range(repeat + int(warm_up)):
        for workers in ("0", "2"):
            with tempfile.TemporaryDirectory(prefix="ninsho-xdist-") as tmp:
                wall, cpu, status, out = timed(
                    [*ninsho_command(), "check", "-q", "-n", workers], Path(tmp), env
                )
                if status != 0:
                    raise SystemExit(f"ninsho check -n {workers} exited {status}:\n{out[-3000:]}")
                if not (warm_up and turn == 0):
                    figures[workers].append((wall, cpu))
    return figures


@contextlib.contextmanager
def served(profile: str, toml: str, *, test_clock: bool) -> Iterator[tuple[Server, Path, dict[str, str]]]:
    """One ``ninsho serve`` for all of a mode's runs, its portal config and the runs' environment."""
    smtp_port = free_port()
    with (
        ninsho_server(profile=profile, smtp_port=smtp_port, test_clock=test_clock) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        portal = Path(tmp) / "portal.toml"
        portal.write_text(toml.format(base_url=server.base_url, smtp_port=smtp_port))
        yield server, portal, dict(os.environ, NINSHO_ADMIN_TOKEN=server.admin_token)


def real_time(repeat: int) -> dict[str, list[tuple[float, float]]]:
    """(concurrent wall, process wall) per run, against one server for all runs."""
    figures: dict[str, list[tuple[float, float]]] = {"0": [], "2": []}
    with served("fast-test", PORTAL_TOML, test_clock=False) as (_, portal, env):
        for _ in range(repeat):
            for workers in ("0", "2"):
                cmd = [*ninsho_command(), "check", str(portal), "-m", SELECTION, "-k", "not test_features"]
                run = [*cmd, "-n", workers, "--report-dir", "reports"]
                wall, _, status, out = timed(run, portal.parent, env)
                summary = SUMMARY_LINE.search(out)
                if status != 0 or summary is None:
                    raise SystemExit(f"ninsho check -n {workers} exited {status}:\n{out[-3000:]}")
                figures[workers].append((float(summary.group(4)), wall))
                if workers == "2":
                    print("   ", next((line for line in out.splitlines() if " workers: " in line), ""))
    return figures


# quiet_seconds 0.2, as the project's tests give it: ninsho serve relays a mail before it answers,
# so an absent mail shows at once (the default 2 s would be most of the run's wall time).
TEST_CLOCK_TOML = (
    PORTAL_TOML.replace('profile = "fast-test"', 'profile = "iimc"')
    .replace('mode = "real"', 'mode = "test-clock"')
    .replace("timeout_seconds = 10\n", "timeout_seconds = 10\nquiet_seconds = 0.2\n")
)


def test_clock(repeat: int) -> dict[str, list[tuple[float, float, float]]]:
    """(wall, harness CPU, portal CPU) per whole-suite run, against one server for all runs."""
    figures: dict[str, list[tuple[float, float, float]]] = {"0": [], "2": []}
    with served("iimc", TEST_CLOCK_TOML, test_clock=True) as (server, portal, env):
        for _ in range(repeat):
            for workers in ("0", "2"):
                before = cpu_seconds(server.pid)
                cmd = [
                    *ninsho_command(),
                    "check",
                    str(portal),
                    "-n",
                    workers,
                    "-q",
                    "--report-dir",
                    "reports",
                ]
                wall, cpu, status, out = timed(cmd, portal.parent, env)
                if status != 0:
                    raise SystemExit(f"ninsho check -n {workers} exited {status}:\n{out[-3000:]}")
                figures[workers].append((wall, cpu, cpu_seconds(server.pid) - before))
    return figures


def median(values: list[tuple[float, ...]], index: int) -> float:
    return statistics.median(v[index] for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side, alternated (default 3)")
    parser.add_argument("--skip-real-time", action="store_true", help="only the embedded main job")
    parser.add_argument("--skip-embedded", action="store_true", help="leave out the embedded main job")
    parser.add_argument("--test-clock", action="store_true", help="also the whole suite on a test clock")
    args = parser.parse_args(argv)
    print_machine()
    print(f"load average before: {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory(prefix="ninsho-pycache-") as pycache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = pycache
        environments = {"as found": (dict(os.environ), False), "bytecode cached": (cached, True)}
        for name, (env, warm_up) in environments.items() if not args.skip_embedded else ():
            runs = embedded(args.repeat, env, warm_up)
            one, two = (median(runs[n], 0) for n in ("0", "2"))
            cpu_one, cpu_two = (median(runs[n], 1) for n in ("0", "2"))
            print(
                f"\nembedded main job, {name}, the ninsho check process (medians of {args.repeat}, alternated):"
            )
            print(
                f"  -n 0: {one:.2f} s wall, {cpu_one:.2f} s CPU   (each: {[round(w, 2) for w, _ in runs['0']]})"
            )
            print(
                f"  -n 2: {two:.2f} s wall, {cpu_two:.2f} s CPU   (each: {[round(w, 2) for w, _ in runs['2']]})"
            )
            print(f"  speed-up -n 0 ÷ -n 2 = {one / two:.2f} (goal ≥ {GOAL}); CPU ×{cpu_two / cpu_one:.2f}")

    if not args.skip_real_time:
        print("\nreal time, lifetime checks against ninsho serve --profile fast-test:")
        rt = real_time(max(1, args.repeat - 1))
        for n in ("0", "2"):
            print(
                f"  -n {n}: the concurrent checks {median(rt[n], 0):.1f} s, the process {median(rt[n], 1):.1f} s"
                f"   (each: {[round(c, 1) for c, _ in rt[n]]})"
            )
        print(f"  speed-up of the process -n 0 ÷ -n 2 = {median(rt['0'], 1) / median(rt['2'], 1):.2f}")
    if args.test_clock:
        print("\ntest clock, the whole suite against ninsho serve --test-clock (iimc, json, admin API):")
        tc = test_clock(max(1, args.repeat - 1))
        for n in ("0", "2"):
            wall, harness, portal = (median(tc[n], i) for i in range(3))
            print(
                f"  -n {n}: {wall:.1f} s wall, harness CPU {harness:.1f} s, portal CPU {portal:.1f} s;"
                f" wall ÷ portal CPU = {wall / portal:.2f} (goal ≤ 1.3), harness ÷ portal CPU ="
                f" {harness / portal:.2f} (goal ≤ 0.5)   (walls: {[round(w, 1) for w, _, _ in tc[n]]})"
            )
        print(f"  speed-up -n 0 ÷ -n 2 = {median(tc['0'], 0) / median(tc['2'], 0):.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
