"""Item 2: the embedded run (``ninsho check``, virtual time) against the same flows as raw core calls.

Both sides run as fresh processes, interleaved, ``--repeat`` times; medians are reported:

- ``ninsho check`` (the main job: the bundled checks against the embedded reference): the whole
  process's wall time, and pytest's own session time ("98 passed in X s");
- ``python -m benchmarks.raw_core``: the same portal operations on reference.core.Portal with the
  in-memory store and the virtual clock, no pytest (benchmarks/raw_core.py): the process's wall
  time, and the flows' own time.

Two environments, because this machine sets PYTHONDONTWRITEBYTECODE=1 (no ``__pycache__``, so
every run compiles every module, and pytest rewrites the asserts of every module of the ninsho
distribution again): as found, and with bytecode cached under a temporary PYTHONPYCACHEPREFIX
(outside the tree; one warm-up run first). Then cProfile's top entries for one ``ninsho check``.
Peak RSS of each process comes from wait4 (item 5).
"""

from __future__ import annotations

import argparse
import cProfile  # noqa: F401 - documents that the profile below is cProfile's
import io
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import PYTHON, ROOT, print_machine

GOAL = 2.0
SESSION = re.compile(r"(\d+) passed.* in ([0-9.]+)s")
RAW = re.compile(r"raw core: (\d+) flows in ([0-9.]+) s")


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    """(wall seconds, peak RSS KiB, output) of one child process."""
    started = time.monotonic()
    env = {**env, "PYTHONPATH": str(ROOT)}  # benchmarks.raw_core from any folder
    process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    out = process.stdout.read()  # to EOF; not communicate(), which would reap the child before wait4
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - started, usage.ru_maxrss, out.decode(errors="replace")


def check_command(reports: Path, *, features: bool) -> list[str]:
    """``ninsho check`` as a user runs it (the console script); without the features: the 98
    checks that benchmarks/raw_core.py replays."""
    beside = Path(sys.executable).with_name("ninsho")  # the console script itself, not a pyenv shim
    ninsho = str(beside) if beside.exists() else (shutil.which("ninsho") or "ninsho")
    only_checks = [] if features else ["-k", "not test_features"]
    return [ninsho, "check", "-q", "--report-dir", str(reports), *only_checks]


def one_environment(label: str, env: dict[str, str], repeat: int, reports: Path) -> dict[str, float]:
    check = check_command(reports, features=False)
    full = check_command(reports, features=True)
    raw = [PYTHON, "-m", "benchmarks.raw_core"]
    keys = ("check_wall", "check_session", "check_rss", "raw_wall", "raw_flows", "raw_rss")
    rows: dict[str, list[float]] = {k: [] for k in (*keys, "full_wall", "full_session", "full_rss")}
    full_count = "?"
    for _ in range(repeat):
        wall, rss, out = timed(full, env, reports)
        found = SESSION.search(out)
        if found is None:
            raise SystemExit(f"ninsho check (the main job) did not pass:\n{out[-3000:]}")
        rows["full_wall"].append(wall)
        rows["full_session"].append(float(found.group(2)))
        rows["full_rss"].append(rss / 1024)
        full_count = found.group(1)
        wall, rss, out = timed(check, env, reports)
        found = SESSION.search(out)
        if found is None:
            raise SystemExit(f"ninsho check did not pass:\n{out[-3000:]}")
        rows["check_wall"].append(wall)
        rows["check_session"].append(float(found.group(2)))
        rows["check_rss"].append(rss / 1024)
        wall, rss, out = timed(raw, env, reports)
        found = RAW.search(out)
        if found is None:
            raise SystemExit(f"raw_core failed:\n{out[-3000:]}")
        rows["raw_wall"].append(wall)
        rows["raw_flows"].append(float(found.group(2)))
        rows["raw_rss"].append(rss / 1024)
    m = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n== {label} (median of {repeat}) ==")
    print(
        f"  ninsho check, the main job ({full_count} items, features included): process {m['full_wall']:.2f} s, "
        f"pytest session {m['full_session']:.2f} s, peak RSS {m['full_rss']:.0f} MiB (no raw counterpart for the features)"
    )
    print(
        f"  ninsho check -k 'not test_features' (the 98 checks): process {m['check_wall']:.2f} s, pytest session {m['check_session']:.2f} s, "
        f"peak RSS {m['check_rss']:.0f} MiB"
    )
    print(
        f"  raw core:     process {m['raw_wall']:.2f} s, flows {m['raw_flows']:.3f} s, "
        f"peak RSS {m['raw_rss']:.0f} MiB"
    )
    print(
        f"  ratio, whole processes: {m['check_wall'] / m['raw_wall']:.1f} x; "
        f"pytest session / raw flows: {m['check_session'] / m['raw_flows']:.1f} x (goal <= {GOAL} x)"
    )
    return m


def profile(env: dict[str, str], reports: Path, top: int, *, features: bool) -> None:
    """cProfile of one ``ninsho check``: the top entries by own time and by cumulative time."""
    out = reports / "check.prof"
    ninsho = check_command(reports, features=features)
    cmd = [PYTHON, "-m", "cProfile", "-o", str(out), *ninsho]
    print(f"\n  cProfile of: ninsho {' '.join(ninsho[1:])}")
    subprocess.run(cmd, cwd=reports, env=env, capture_output=True, check=False)
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        stats = pstats.Stats(str(out), stream=text)
        stats.strip_dirs().sort_stats(key).print_stats(top)
        lines = [line for line in text.getvalue().splitlines() if re.match(r"\s*[0-9/]+\s+[0-9.]+", line)]
        print(f"\n  cProfile, top {top} by {key} (under the profiler, times inflate):")
        for line in lines:
            print("   " + line.strip()[:150])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--profile-features", action="store_true", help="profile the main job (features) too")
    parser.add_argument("--only-profile", action="store_true", help="skip the timed runs")
    args = parser.parse_args(argv)
    print_machine()
    print(
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')} in this environment"
    )
    with tempfile.TemporaryDirectory(prefix="ninsho-bench-emb-") as tmp:
        reports = Path(tmp)
        as_found = dict(os.environ)
        if not args.only_profile:
            one_environment("environment as found", as_found, args.repeat, reports)
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(reports / "pycache")
        timed(check_command(reports, features=True), cached, reports)  # warm-up: fills the bytecode cache
        timed([PYTHON, "-m", "benchmarks.raw_core"], cached, reports)
        if not args.only_profile:
            one_environment("bytecode cached (PYTHONPYCACHEPREFIX, warm)", cached, args.repeat, reports)
        if not args.no_profile:
            profile(cached, reports, args.top, features=False)
            if args.profile_features:
                profile(cached, reports, args.top, features=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
