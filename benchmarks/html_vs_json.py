"""Issue "Page-only portals", speed: the html driver against the json driver on one portal.

The whole suite against one ``ninsho serve`` (test clock, iimc, admin-API accounts, the harness's
SMTP sink), through ``driver = "json"`` and ``driver = "html"``, alternated, ``--rounds`` times
each, every run a ``ninsho check`` process as a CI job starts it. The figure is the median html
wall ÷ the median json wall; the goal is ≤ 1.25. Both runs must end without a FAIL or an ERROR
(the html run has its NOT_APPLICABLE rows, tests/harness/test_http_harness.py), or the figure
would compare unequal work.

``--profile FILE`` also runs the html suite once under cProfile (the harness process: the
driver, its page parsing and the checks; the portal is another process) and prints the top of
it by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import PYTHON, ninsho_command, print_machine
from tests.harness.test_http_harness import ADMIN_TOKEN, TOKEN_ENV, harness_server, portal_toml
from tests.web.support import ServerProcess, cli_env

GOAL = 1.25
TIMEOUT_SECONDS = 900
DRIVERS = ("json", "html")


@dataclass
class Timed:
    wall: float
    counts: dict[str, int]  # check verdict → how many
    bad: list[str]  # the requirements that FAILed or ERRORed: a run with any is not comparable
    cpu: float = 0.0  # the harness process's CPU seconds (user + system)


def timed_run(config: Path, workdir: Path, *, profile: Path | None = None) -> Timed:
    """One ``ninsho check`` of ``config``: its wall time and its verdicts counted. A run that
    wrote no report stops the benchmark; one with a FAIL or an ERROR is timed, and said so."""
    command = [*ninsho_command(), "check", str(config), "-q", "--report-dir", str(workdir)]
    if profile is not None:  # the same command, its process under cProfile
        command = [PYTHON, "-m", "cProfile", "-o", str(profile), "-m", "ninsho", *command[1:]]
    started, used = time.monotonic(), _children_cpu()
    done = subprocess.run(
        command, cwd=workdir, env=cli_env(**{TOKEN_ENV: ADMIN_TOKEN}), capture_output=True, text=True,
        timeout=TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    wall, cpu = time.monotonic() - started, _children_cpu() - used
    report = workdir / "ninsho.json"
    rows = json.loads(report.read_text("utf-8"))["requirements"] if report.is_file() else []
    if not rows:
        raise SystemExit(f"no report (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    counts: dict[str, int] = {}
    for row in rows:
        for check in row["checks"]:
            counts[check["verdict"]] = counts.get(check["verdict"], 0) + 1
    bad = [f"{row['id']} {row['verdict']}" for row in rows if row["verdict"] in ("FAIL", "ERROR")]
    return Timed(wall, counts, bad, cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """A live process's CPU seconds so far (user + system, /proc/PID/stat), 0 when it is gone:
    the portal's share of a run, beside the harness's."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests_served(log: str) -> int:
    """The requests in the portal's access log so far (``harness_server`` logs at info)."""
    return log.count(' HTTP/1.1" ')


_REQUEST = re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD) ([^ ?"]*)[^"]* HTTP/1\.1" (\d{3})')


def request_kinds(log: str, top: int = 12) -> str:
    """The commonest requests of a stretch of the access log, as ``METHOD path → status``: what
    each driver asks of the portal per action (the html driver's pages against the API)."""
    kinds = Counter(f"{m} {path} → {status}" for m, path, status in _REQUEST.findall(log))
    return ", ".join(f"{kind} {n}" for kind, n in kinds.most_common(top))


def print_profile(path: Path, lines: int = 25) -> None:
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).strip_dirs().sort_stats(order).print_stats(lines)
        print(f"--- html run under cProfile, by {order} ---")
        print(out.getvalue().split("\n", 6)[-1].rstrip())  # past the header lines


def _server_cpu(server: ServerProcess) -> float:
    return process_cpu(server.process.pid) if server.process is not None else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each driver, alternated (default 2)")
    parser.add_argument("--profile", type=Path, metavar="FILE", help="also profile one html run into FILE")
    args = parser.parse_args(argv)
    print_machine()
    walls: dict[str, list[float]] = {driver: [] for driver in DRIVERS}
    not_comparable: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="ninsho-html-bench-") as tmp:
        root = Path(tmp)
        server = harness_server(root / "server").start()
        try:
            configs = {d: portal_toml(root / f"{d}.toml", server, d) for d in DRIVERS}
            for n in range(args.rounds):
                for driver in DRIVERS:
                    workdir = root / f"{driver}-{n}"
                    workdir.mkdir()
                    before, served = len(server.log()), _server_cpu(server)
                    timed = timed_run(configs[driver], workdir)
                    served = _server_cpu(server) - served
                    stretch = server.log()[before:]
                    timed.counts["requests"] = requests_served(stretch)
                    walls[driver].append(timed.wall)
                    not_comparable.update(timed.bad)
                    bad = f"  NOT COMPARABLE: {', '.join(timed.bad)}" if timed.bad else ""
                    print(
                        f"{driver} run {n + 1}: {timed.wall:.1f} s (CPU: harness {timed.cpu:.1f} s,"
                        f" portal {served:.1f} s)  checks: {timed.counts}{bad}",
                        flush=True,
                    )
                    if n == 0:
                        print(f"  {driver} requests: {request_kinds(stretch)}", flush=True)
            if args.profile is not None:
                workdir = root / "html-profiled"
                workdir.mkdir()
                timed = timed_run(configs["html"], workdir, profile=args.profile.resolve())
                print(f"html run under cProfile: {timed.wall:.1f} s")
        finally:
            server.stop()
    if args.profile is not None:
        print_profile(args.profile)
    html, json_wall = statistics.median(walls["html"]), statistics.median(walls["json"])
    verdict = "met" if html / json_wall <= GOAL else "missed"
    if not_comparable:  # a check that ended early did less work in one run than in the other
        verdict = f"not comparable: {', '.join(sorted(not_comparable))}"
    print(f"html ÷ json, whole suite, medians: {html:.1f} s ÷ {json_wall:.1f} s = {html / json_wall:.2f}"
          f" (goal ≤ {GOAL}: {verdict})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
