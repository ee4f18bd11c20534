"""Does a wrong login tell which IDs exist by its time? [FIRST_FACTOR_NO_ENUMERATION]

The case the security review measured: a database whose passwords were hashed at a lower cost
than the server now uses (``--hash-cost`` raised after the accounts were made). A known ID with
a wrong password was answered in 104 ms (median) and an unknown ID in 461 ms, so a stranger
could list the accounts. tests/core/test_core_passwords.py holds the fix as a count of scrypt's
work; this measures it as a client would, over HTTP.

Prints the median of each kind of answer and their ratio, known ÷ unknown; the goal is 1 within
the noise of the machine (0.8 to 1.25). Bounded: 2 × ROUNDS logins, alternated so that drift in
the machine's load falls on both sides alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import PYTHON, ninsho_server, print_machine

STORED_COST, SERVER_COST = 12, 14  # log2 of scrypt's n: the accounts', then the server's
ROUNDS = 15


def make_account(db: Path) -> None:
    """One account made by the operators' CLI at the lower cost, as before the cost was raised."""
    env = dict(os.environ, BENCH_PASSWORD="enumeration-bench-password")
    command = [PYTHON, "-m", "ninsho.reference.cli", "users", "add", "known0001", "--db", str(db)]
    command += ["--hash-cost", str(STORED_COST), "--password-env", "BENCH_PASSWORD"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)


def timed_login(client: httpx.Client, login_id: str) -> float:
    started = time.perf_counter()
    answer = client.post("/api/v1/login", json={"login_id": login_id, "password": "not the password"})
    elapsed = time.perf_counter() - started
    if answer.status_code != 401:
        raise RuntimeError(f"expected a refusal, got {answer.status_code}: {answer.text}")
    return elapsed


def main() -> int:
    print_machine()
    with tempfile.TemporaryDirectory(prefix="ninsho-enum-") as tmp:
        db = Path(tmp) / "portal.sqlite"
        make_account(db)
        with ninsho_server(profile="iimc", hash_cost=SERVER_COST, db=db) as server:
            known: list[float] = []
            unknown: list[float] = []
            with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
                timed_login(client, "warmup0001")
                for n in range(ROUNDS):
                    known.append(timed_login(client, "known0001"))
                    unknown.append(timed_login(client, f"nobody{n:04d}"))
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"stored hashes at cost {STORED_COST}, server at cost {SERVER_COST}, {ROUNDS} logins each:")
    print(f"  known ID, wrong password: median {k * 1000:.0f} ms")
    print(f"  unknown ID:               median {u * 1000:.0f} ms")
    print(f"  known ÷ unknown = {k / u:.2f} (goal: 0.8 to 1.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
