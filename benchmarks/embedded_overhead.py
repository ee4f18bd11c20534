"""Item 2: the embedded run (``ninsho check``, virtual time) against the same core work made raw.

The yardstick is a tape of the run itself (benchmarks/core_tape.py): every call the run made on
reference.core.Portal, with the clock readings and random bytes the core took, replayed on a
fresh core with no pytest, driver, transcript, verdicts or reports, and checked answer for
answer. Two selections, each taped once: the main job (probes and the bilingual features) and
the probes alone (``-k "not test_features"``). Then, interleaved, ``--repeat`` times each, medians:

- ``ninsho check`` as a user runs it (the console script, from an empty folder): the whole
  process's wall time, and pytest's own session time ("274 passed in X s");
- ``python -m benchmarks.raw_core replay``: the process's wall time, and the replay's own time;
- a pytest process of as many trivial items, with the plugins ``ninsho check`` loads: what
  pytest itself costs for that many items, whoever runs them.

The goal (issue "Faster where users wait", item 5): the ``ninsho check`` process within
2 × the trivial pytest process + the replay's calls, so that ninsho's own cost stays within
pytest's and the core's. The older ratio, session ÷ calls, is printed beside it.

Two environments, because this machine sets PYTHONDONTWRITEBYTECODE=1 (no ``__pycache__``, so
every run compiles every module again): as found, and with bytecode cached under a temporary
PYTHONPYCACHEPREFIX (outside the tree; one warm-up run first). Then cProfile's top entries for
one ``ninsho check``. Peak RSS of each process comes from wait4 (item 5).
"""

from __future__ import annotations

import argparse
import cProfile  # noqa: F401 - documents that the profile below is cProfile's
import io
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import PYTHON, ROOT, ninsho_command, print_machine
from benchmarks.raw_core import record

GOAL = 2.0  # × the trivial pytest process, plus the core's own calls
TRIVIAL = "import pytest\n\n\n@pytest.mark.parametrize('n', range({items}))\ndef test_item(n):\n    pass\n"
SESSION = re.compile(r"(\d+) passed.* in ([0-9.]+)s")
RAW = re.compile(r"raw core: (\d+) portals, (\d+) calls in ([0-9.]+) s")
SELECTIONS = {"main job": [], "probes alone": ["-k", "not test_features"]}


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


def check_command(reports: Path, selection: list[str]) -> list[str]:
    return [*ninsho_command(), "check", "-q", "--report-dir", str(reports), *selection]


def trivial_command(reports: Path, items: int) -> list[str]:
    """pytest on ``items`` trivial items, with ``ninsho check``'s plugins and flags (conformance/cli.py)."""
    from ninsho.conformance.cli import NEEDED_PLUGINS, UNNEEDED_PLUGINS

    folder = reports / f"trivial-{items}"
    folder.mkdir(exist_ok=True)
    (folder / "test_trivial.py").write_text(TRIVIAL.format(items=items), encoding="utf-8")
    plugins = [word for plugin in (*NEEDED_PLUGINS, *UNNEEDED_PLUGINS) for word in ("-p", plugin)]
    flags = ["-q", "-p", "no:cacheprovider", "--noconftest", "--disable-plugin-autoload", *plugins]
    return [PYTHON, "-m", "pytest", str(folder), *flags]


def record_tapes(reports: Path) -> dict[str, Path]:
    tapes = {}
    for name, selection in SELECTIONS.items():
        tape = reports / f"{name.replace(' ', '-')}.tape"
        if record(tape, ["--report-dir", str(reports), *selection], quiet=True) != 0:
            raise SystemExit(f"the taped run of the {name} did not pass")
        tapes[name] = tape
    return tapes


def one_environment(
    label: str, env: dict[str, str], repeat: int, reports: Path, tapes: dict[str, Path]
) -> None:
    rows: dict[tuple[str, str], list[float]] = {}
    counts: dict[str, str] = {}
    for _ in range(repeat):
        for name, selection in SELECTIONS.items():
            wall, rss, out = timed(check_command(reports, selection), env, reports)
            found = SESSION.search(out)
            if found is None:
                raise SystemExit(f"ninsho check ({name}) did not pass:\n{out[-3000:]}")
            for key, value in (("wall", wall), ("session", float(found.group(2))), ("rss", rss / 1024)):
                rows.setdefault((name, "check_" + key), []).append(value)
            wall, rss, out = timed(
                [PYTHON, "-m", "benchmarks.raw_core", "replay", str(tapes[name])], env, reports
            )
            replayed = RAW.search(out)
            if replayed is None or "DIFFERS" in out:
                raise SystemExit(f"the replay of the {name} failed:\n{out[-3000:]}")
            for key, value in (("wall", wall), ("calls", float(replayed.group(3))), ("rss", rss / 1024)):
                rows.setdefault((name, "raw_" + key), []).append(value)
            counts[name] = (
                f"{found.group(1)} items; {replayed.group(1)} portals, {replayed.group(2)} core calls"
            )
            wall, rss, out = timed(trivial_command(reports, int(found.group(1))), env, reports)
            if SESSION.search(out) is None:
                raise SystemExit(f"the trivial pytest run failed:\n{out[-3000:]}")
            rows.setdefault((name, "trivial_wall"), []).append(wall)
    m = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n== {label} (median of {repeat}) ==")
    for name in SELECTIONS:
        session, calls = m[(name, "check_session")], m[(name, "raw_calls")]
        print(f"  {name} ({counts[name]}):")
        print(
            f"    ninsho check   process {m[(name, 'check_wall')]:.2f} s, pytest session {session:.2f} s, "
            f"peak RSS {m[(name, 'check_rss')]:.0f} MiB"
        )
        print(
            f"    raw core       process {m[(name, 'raw_wall')]:.2f} s, the calls {calls:.3f} s, "
            f"peak RSS {m[(name, 'raw_rss')]:.0f} MiB"
        )
        trivial, check = m[(name, "trivial_wall")], m[(name, "check_wall")]
        print(f"    pytest, trivial  process {trivial:.2f} s for as many items, the same plugins")
        print(
            f"    goal           {check:.2f} s <= {GOAL:g} x {trivial:.2f} s + {calls:.3f} s = "
            f"{GOAL * trivial + calls:.2f} s: {check / (GOAL * trivial + calls):.2f} of it"
        )
        print(
            f"    older ratios   session / calls {session / calls:.1f} x; "
            f"whole processes {m[(name, 'check_wall')] / m[(name, 'raw_wall')]:.1f} x"
        )


def profile(env: dict[str, str], reports: Path, top: int, selection: list[str]) -> None:
    """cProfile of one ``ninsho check``: the top entries by own time and by cumulative time."""
    out = reports / "check.prof"
    ninsho = check_command(reports, selection)
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
    parser.add_argument("--only-profile", action="store_true", help="skip the timed runs")
    args = parser.parse_args(argv)
    print_machine()
    print(
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')} in this environment"
    )
    with tempfile.TemporaryDirectory(prefix="ninsho-bench-emb-") as tmp:
        reports = Path(tmp)
        tapes = record_tapes(reports)
        as_found = dict(os.environ)
        if not args.only_profile:
            one_environment("environment as found", as_found, args.repeat, reports, tapes)
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(reports / "pycache")
        timed(check_command(reports, []), cached, reports)  # warm-up: fills the bytecode cache
        timed([PYTHON, "-m", "benchmarks.raw_core", "replay", str(tapes["main job"])], cached, reports)
        if not args.only_profile:
            one_environment(
                "bytecode cached (PYTHONPYCACHEPREFIX, warm)", cached, args.repeat, reports, tapes
            )
        if not args.no_profile:
            profile(cached, reports, args.top, SELECTIONS["main job"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
