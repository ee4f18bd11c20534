"""Run every benchmark, one after the other, each in its own process and time limit.

One after the other on purpose: on a 2-core machine two benchmarks at once would measure each
other. Each script starts and stops its own servers; a script that overruns its limit is killed
(its process group), and the run goes on with the next. Output goes to standard output, and
with ``--log FILE`` to a file as well.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import PYTHON, ROOT, print_machine

BENCHMARKS: list[tuple[str, list[str], int]] = [
    ("probe cost (item 4)", ["benchmarks.probe_cost"], 120),
    ("embedded run against raw core (items 2, 5)", ["benchmarks.embedded_overhead"], 600),
    ("real time against the floor (items 1, 5)", ["benchmarks.realtime_floor"], 300),
    ("one refused verification, in-process (item 3)", ["benchmarks.verify_breakdown"], 180),
    ("TOTP verification over HTTP (items 3, 5)", ["benchmarks.totp_load"], 900),
    ("server profile under load (item 3)", ["benchmarks.server_profile"], 240),
    ("html driver against json driver, whole suite (item 7)", ["benchmarks.html_vs_json"], 1200),
    ("a wrong login, known ID against unknown ID (item 8)", ["benchmarks.enumeration_timing"], 300),
    ("ninsho check -n 2 against -n 0 (item 9)", ["benchmarks.xdist_speedup"], 600),
    ("a request after 1,000 logins against after 1 (item 10)", ["benchmarks.session_growth"], 120),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only benchmarks whose module name contains this")
    parser.add_argument("--log", type=Path, help="also write everything to this file")
    args = parser.parse_args(argv)
    log = args.log.open("w", encoding="utf-8") if args.log else None

    def out(text: str) -> None:
        print(text, flush=True)
        if log:
            log.write(text + "\n")
            log.flush()

    print_machine()
    status = 0
    for title, module, limit in BENCHMARKS:
        if args.only and args.only not in module[0]:
            continue
        out(f"\n##### {title}: python -m {' '.join(module)} (limit {limit} s)")
        began = time.monotonic()
        process = subprocess.Popen(
            [PYTHON, "-m", *module], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group: stopped together if it overruns
        )  # fmt: skip
        try:
            text, _ = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            text, _ = process.communicate()
            text += f"\n(killed after {limit} s)"
        out(text.rstrip())
        out(f"(exit {process.returncode}, {time.monotonic() - began:.0f} s)")
        status |= int(process.returncode != 0)
    if log:
        log.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
