"""Issue "Staging-ready runs", speed: a pool of 12 accounts against unlimited fresh accounts.

The whole suite against one ``ninsho serve`` (test clock, iimc), twice each way and alternated:
``provision = "admin-api"`` (a fresh account for every check, created through the admin API) and
``provision = "pool"`` (12 accounts, each put back through the portal's own reset after every
check, the helpdesk through an ``[operator] command``). The goal: pool ÷ fresh ≤ 1.5.

The portal and the harness share this machine, so the pool's cost shows twice: the harness's
requests and the portal's work for the resets (a login is one scrypt hash).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import ninsho_command, print_machine
from tests.harness.test_http_harness import ADMIN_TOKEN, TOKEN_ENV, add_accounts, harness_server, portal_toml
from tests.harness.test_pool import helpdesk_command
from tests.web.support import cli_env

GOAL = 1.5
POOL = [f"bench{n:04d}" for n in range(1, 13)]
PASSWORD = "bench-pool-password-0123"
ROUNDS = 2
TIMEOUT_SECONDS = 900


def timed_run(config: Path, workdir: Path, url: str) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [*ninsho_command(), "check", str(config), "-q", "--report-dir", str(workdir)],
        cwd=workdir,
        env=cli_env(**{TOKEN_ENV: ADMIN_TOKEN, "NINSHO_TEST_PASSWORD": PASSWORD, "PORTAL": url}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    wall = time.monotonic() - started
    rows = json.loads((workdir / "ninsho.json").read_text("utf-8"))["requirements"]
    failed = [row["id"] for row in rows if row["verdict"] in ("FAIL", "ERROR")]
    if done.returncode != 0 or failed:
        raise SystemExit(f"the run failed ({done.returncode}, {failed}):\n{done.stdout[-2000:]}")
    return wall


def main() -> int:
    print_machine()
    with tempfile.TemporaryDirectory(prefix="ninsho-pool-bench-") as tmp:
        root = Path(tmp)
        server = harness_server(root / "server").start()
        try:
            add_accounts(server, POOL, PASSWORD)
            fresh = portal_toml(root / "fresh.toml", server, "json")
            pool = portal_toml(
                root / "pool.toml", server, "json", provision="pool", pool=POOL, operator=helpdesk_command()
            )
            walls: dict[str, list[float]] = {"fresh": [], "pool": []}
            for n in range(ROUNDS):
                for name, config in (("fresh", fresh), ("pool", pool)):
                    workdir = root / f"{name}-{n}"
                    workdir.mkdir()
                    walls[name].append(timed_run(config, workdir, server.url))
                    print(f"{name} run {n + 1}: {walls[name][-1]:.1f} s", flush=True)
        finally:
            server.stop()
    ratio = statistics.median(walls["pool"]) / statistics.median(walls["fresh"])
    verdict = "met" if ratio <= GOAL else "missed"
    print(f"pool of {len(POOL)} ÷ fresh accounts: {ratio:.2f} (goal ≤ {GOAL}: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
