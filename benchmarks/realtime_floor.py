"""Item 1: the harness in real-time mode against `ninsho serve`, compared with its floor.

Runs ``ninsho check portal.toml -m "<lifetime checks>"`` with ``[clock] mode = "real"`` against a
local ``ninsho serve --profile fast-test`` over HTTP, the harness acting as the SMTP sink.

Figures, all from the same run:
- the wall time of the concurrent checks (the harness's own "the concurrent checks took W s"),
  and of the whole ``ninsho check`` process (start-up, collection and reports included);
- every real-time wait, grouped by the check that asked for it (the terminal's
  "waiting X s of real time: <check>" lines);
- the floor: the longest chain of waits one check needs. Waits inside one check run one after
  the other, so no scheduler can beat their sum for that check; across checks they overlap;
- the naive cost: the sum of all waits, what a sequential harness pays.

Only the bundled checks run (``-k "not test_features"``): the features that carry the same
markers (in the main job since commit feb9629) take other fixtures, so real-time mode runs them
one after the other after the concurrent checks, each waiting its own lifetime (see
``--with-features``).

TOTP checks are not selected: their waits are alignments to the 30-second TOTP step (an
authenticator's fixed period, not a profile lifetime), so they would make the floor "up to a
few periods" and measure the calendar, not the harness.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import free_port, ninsho_command, ninsho_server, print_machine, run_to_end

SELECTION = "EMAIL_OTP_LIFETIME or RESET_CODE_LIFETIME or LOCKOUT_DURATION or TRUST_BROWSER_EXPIRY"
# conformance/waits.py's line: "waiting 11 s of real time for the <purpose> (<check>)"; the check
# is left out where the purpose names it already.
WAIT_LINE = re.compile(r"^waiting ([0-9.]+) s of real time for the (.+?)(?: \(([^()]+)\))?$", re.MULTILINE)
SUMMARY_LINE = re.compile(
    r"real-time waits: (\d+), longest ([0-9.]+) s, sum ([0-9.]+) s; the concurrent checks took ([0-9.]+) s"
)
GOAL = 1.10
TIMEOUT_SECONDS = 300

PORTAL_TOML = """\
[portal]
base_url = "{base_url}"
driver = "json"
profile = "fast-test"
[accounts]
provision = "admin-api"
[admin]
token_env = "NINSHO_ADMIN_TOKEN"
[mailbox]
kind = "smtp-sink"
host = "127.0.0.1"
port = {smtp_port}
timeout_seconds = 10
[clock]
mode = "real"
"""


def run_harness(
    base_url: str, smtp_port: int, admin_token: str, selection: str, workdir: Path, *, features: bool = False
) -> dict[str, object]:
    """One `ninsho check` in real time; returns its figures (and its peak RSS, from wait4)."""
    portal = workdir / "portal.toml"
    portal.write_text(PORTAL_TOML.format(base_url=base_url, smtp_port=smtp_port))
    cmd = [
        *ninsho_command(),  # the console script, as a user runs it
        "check",
        str(portal),
        "-m",
        selection,
        "--report-dir",
        str(workdir / "reports"),
        *([] if features else ["-k", "not test_features"]),
    ]
    env = dict(os.environ, NINSHO_ADMIN_TOKEN=admin_token)
    done = run_to_end(cmd, workdir, env, workdir / "harness.out")
    text, usage, process_wall = done.output, done.usage, done.wall
    chains: dict[str, list[float]] = defaultdict(list)
    for seconds, purpose, check in WAIT_LINE.findall(text):
        chains[check or purpose].append(float(seconds))
    summary = SUMMARY_LINE.search(text)
    if summary is None:
        print(text[-4000:])
        raise SystemExit("the harness printed no real-time summary line")
    return {
        "exit": done.status,
        "process_wall": process_wall,
        "concurrent_wall": float(summary.group(4)),
        "chains": dict(chains),
        "waits": int(summary.group(1)),
        "longest": float(summary.group(2)),
        "sum": float(summary.group(3)),
        "peak_rss_kib": usage.ru_maxrss,
        "tail": "\n".join(
            line for line in text.splitlines() if "PASS" in line or "FAIL" in line or "ERROR" in line
        )[-3000:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-m", dest="selection", default=SELECTION, help="which checks (default: the lifetime checks)"
    )
    parser.add_argument("--verbose", action="store_true", help="print the verdict lines too")
    parser.add_argument(
        "--hash-costs",
        default="14,8",
        help="server --hash-cost values, one run each (14: the production default; 8: how much is scrypt)",
    )
    parser.add_argument(
        "--with-features",
        action="store_true",
        help="also the features with these markers (run after, one by one)",
    )
    args = parser.parse_args(argv)
    print_machine()
    status = 0
    for cost in (int(c) for c in args.hash_costs.split(",")):
        status |= one_run(args.selection, cost, verbose=args.verbose, features=args.with_features)
    return status


def one_run(selection: str, hash_cost: int, *, verbose: bool, features: bool = False) -> int:
    print(f"\n== server --hash-cost {hash_cost} (scrypt n = 2**{hash_cost}, r = 8, p = 1) ==")
    smtp_port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="ninsho-bench-rt-") as tmp,
        ninsho_server(profile="fast-test", smtp_port=smtp_port, hash_cost=hash_cost) as server,
    ):
        r = run_harness(
            server.base_url, smtp_port, server.admin_token, selection, Path(tmp), features=features
        )
    chains: dict[str, list[float]] = r["chains"]  # type: ignore[assignment]
    print(f"selection: -m {selection!r}; harness exit status {r['exit']}")
    print("waits per check (a chain: one after the other inside the check):")
    for nodeid, waits in sorted(chains.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {sum(waits):6.1f} s = {' + '.join(f'{w:.1f}' for w in waits):<22} {nodeid.split('::')[-1]}")
    floor = max((sum(w) for w in chains.values()), default=0.0)
    total = float(r["sum"])  # type: ignore[arg-type]
    wall, process_wall = float(r["concurrent_wall"]), float(r["process_wall"])  # type: ignore[arg-type]
    print(f"waits: {r['waits']}, longest single wait {r['longest']:.1f} s, sum of all waits {total:.1f} s")
    print(f"floor (longest chain of one check): {floor:.1f} s")
    print(
        f"concurrent checks wall: {wall:.1f} s -> {wall / floor:.3f} x floor, "
        f"{wall / total:.3f} x sum (goal <= {GOAL} x floor)"
    )
    print(
        f"whole `ninsho check` process: {process_wall:.1f} s -> {process_wall / floor:.3f} x floor, "
        f"{process_wall / total:.3f} x sum"
    )
    print(f"harness peak RSS (over HTTP): {int(r['peak_rss_kib']) / 1024:.1f} MiB")  # type: ignore[call-overload]
    if verbose:
        print(r["tail"])
    return 0 if r["exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
