"""The yardstick of item 2: a harness run's core work, made again as direct calls on the core.

    python -m benchmarks.raw_core record run.tape [ninsho check options]   # run the harness, taped
    python -m benchmarks.raw_core replay run.tape                           # the same calls, raw

``record`` runs ``ninsho check`` (the options are passed on; ``-k "not test_features"`` keeps the
probes alone) with benchmarks/core_recorder.py loaded, so every embedded portal of the run is
taped. ``replay`` builds each portal again and makes every call with the recorded clock readings
and random bytes, on the in-memory store and the outbox, with no pytest, driver, transcript,
verdicts or reports: what is left is the core's own work, which is what the harness is compared
with. It checks that every replayed answer equals the recorded one (exit 1 if not), so a replay
that does less work than the run cannot pass for a fast one.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import ROOT, ninsho_command
from benchmarks.core_recorder import ENV
from benchmarks.core_tape import Tape, replay

PROCESS_STARTED = time.perf_counter()


def record(tape: Path, check_options: list[str], *, quiet: bool = False) -> int:
    """Run ``ninsho check`` taped; its exit status. ``quiet``: its output only if it fails."""
    env = {**os.environ, ENV: str(tape.resolve()), "PYTHONPATH": str(ROOT)}
    command = [*ninsho_command(), "check", "-q", *check_options, "--", "-p", "benchmarks.core_recorder"]
    # Outside the repository, as a user runs it: the repository's own pytest settings stay out.
    done = subprocess.run(command, env=env, cwd=tape.resolve().parent, capture_output=quiet, check=False)
    if quiet and done.returncode != 0:
        print(done.stdout.decode(errors="replace")[-3000:], done.stderr.decode(errors="replace")[-3000:])
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="run ninsho check with the core taped")
    rec.add_argument("tape", type=Path)
    rec.add_argument("check_options", nargs=argparse.REMAINDER, help="passed to ninsho check")
    rep = commands.add_parser("replay", help="make the taped calls again, raw, timed")
    rep.add_argument("tape", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        return record(args.tape, args.check_options)
    tapes: list[Tape] = pickle.loads(args.tape.read_bytes())  # our own file, written by record
    result = replay(tapes)
    print(
        f"raw core: {result.portals} portals, {result.calls} calls in {result.seconds:.3f} s "
        f"(process so far {time.perf_counter() - PROCESS_STARTED:.3f} s); "
        f"{result.identical} answers identical, {result.grouped} concurrent ones compared as groups"
    )
    for difference in result.differences[:20]:
        print("  DIFFERS: " + difference)
    return 1 if result.differences else 0


if __name__ == "__main__":
    sys.exit(main())
