"""Where a refused TOTP verification's server time goes over HTTP: cProfile in every thread.

Part of item 3's diagnosis. The reference app runs in this process under uvicorn (as
``ninsho serve`` runs it: same app factory, SQLite store, h11), with a cProfile profiler in the
event-loop thread and in every worker thread (``threading.setprofile`` starts one per thread,
and they are cleared once the accounts are prepared), while wrk (a separate process) sends
refused codes at 16 connections for a few seconds. The merged
profile's top entries by own time say where the CPU goes (each profiler counts its thread's CPU
time, ``time.thread_time``, so waiting for a lock or for fsync costs nothing); the profiler slows
everything, so read the shares, not the absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import free_port, print_machine
from benchmarks.totp_load import THRESHOLD, prepare_ninsho_sessions, wrk
from ninsho.reference.web.app import create_app
from ninsho.reference.web.config import ServerConfig
from ninsho.spec.registry import load_profile

_profilers: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start_thread_profiler(*_: Any) -> None:
    """Installed with threading.setprofile: the thread's first event starts its own cProfile."""
    sys.setprofile(None)  # this hook only bootstraps; cProfile takes over in this thread
    profiler = cProfile.Profile(time.thread_time)  # CPU time of this thread: waits cost nothing
    with _lock:
        _profilers.append(profiler)
    profiler.enable()


class _Server:
    """``ninsho serve``'s SimpleNamespace stand-in, for prepare_ninsho_sessions."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.admin_token = base_url, token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", type=Path, help="also write the merged pstats here (for pstats/snakeviz)")
    args = parser.parse_args(argv)
    print_machine()
    with tempfile.TemporaryDirectory(prefix="ninsho-bench-prof-") as tmp:
        token, port = secrets.token_urlsafe(24), free_port()
        config = ServerConfig(
            profile=load_profile("iimc"), db_path=Path(tmp) / "p.sqlite", pepper=secrets.token_bytes(32),
            hash_cost=4, admin_token=token,
        )  # fmt: skip
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(config), host="127.0.0.1", port=port, log_level="warning", date_header=False
            )
        )
        threading.setprofile(_start_thread_profiler)  # the loop thread and every worker thread
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        lines = prepare_ninsho_sessions(_Server(base, token), 800)  # type: ignore[arg-type]
        with _lock:
            for profiler in _profilers:  # forget the preparation
                profiler.clear()
        figures = wrk(
            "profiled verify", base, lines, connections=16, seconds=args.seconds, budget=THRESHOLD - 1,
            expect_status=401, expect_text='"TOTP_WINDOW"', workdir=Path(tmp),
        )  # fmt: skip
        threading.setprofile(None)
        server.should_exit = True
        thread.join(timeout=10)
    print(figures.line(), "(under the profiler)")
    with _lock:
        profilers = [p for p in _profilers if p.getstats()]
    if not profilers:
        print("no worker thread was profiled (the pool's threads predate the hook)")
        return 1
    for p in profilers:
        p.disable()
    text = io.StringIO()
    stats = pstats.Stats(profilers[0], stream=text)
    for p in profilers[1:]:
        stats.add(p)
    if args.save:
        stats.dump_stats(args.save)
    stats.strip_dirs().sort_stats("tottime").print_stats(args.top)
    print(f"threads profiled (event loop and workers): {len(profilers)}; top {args.top} by own time:")
    for line in text.getvalue().splitlines():
        if line.strip() and (line.lstrip()[0].isdigit() or "ncalls" in line):
            print("  " + line.strip()[:160])
    return 0


if __name__ == "__main__":
    sys.exit(main())
