"""Command line: ``python -m tests.cleanroom serve ...`` on 127.0.0.1, stopped by SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from .binding import RunningServer, make_server
from .clock import Clock, OffsetClock, SystemClock, SystemRandom
from .faults import FAULTS, apply
from .mail import Mailer
from .portal import RESET_BINDINGS, Portal
from .profile import ProfileError, load_profile
from .store import Store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.cleanroom")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the portal")
    serve.add_argument("--profile", required=True, help="profile TOML (extends is followed)")
    serve.add_argument("--db", required=True, help="SQLite database file")
    serve.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: any)")
    serve.add_argument("--smtp-host", required=True)
    serve.add_argument("--smtp-port", type=int, required=True)
    serve.add_argument("--test-clock", action="store_true", help="enable the test-clock extension")
    serve.add_argument(
        "--reset-binding",
        choices=RESET_BINDINGS,
        default="session",
        help="which reset session may Confirm (§9.4 allows both): the one that opened it, or any",
    )
    serve.add_argument(
        "--rotate-tokens",
        action="store_true",
        help="a new session token at every change of stage (§4.1 SHOULD)",
    )
    serve.add_argument(
        "--admin-token-env", metavar="VAR", help="environment variable holding the admin token"
    )
    serve.add_argument(
        "--fault", action="append", choices=sorted(FAULTS), help="a deliberate fault (faults.py)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, build the portal, serve until a signal; exit 2 on a bad profile."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("ninsho.cleanroom")
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(f"profile refused: {exc}", file=sys.stderr)
        return 2
    admin_token = os.environ.get(args.admin_token_env, "") if args.admin_token_env else ""
    if args.admin_token_env and not admin_token:
        log.warning("admin API disabled: %s is unset or empty", args.admin_token_env)
    test_clock = OffsetClock() if args.test_clock else None
    clock: Clock = test_clock or SystemClock()
    if test_clock is not None:
        log.warning("TEST CLOCK ENABLED: time can be moved by any client; never use this in production")
    portal = Portal(
        profile,
        Store(args.db),
        Mailer(args.smtp_host, args.smtp_port),
        clock,
        SystemRandom(),
        admin_token or None,
        args.reset_binding,
        args.rotate_tokens,
    )
    running = RunningServer(make_server(apply(portal, args.fault or []), args.port, test_clock))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    running.start()
    log.info("serving profile %s on http://127.0.0.1:%d/api/v1", profile.name, running.port)
    print(f"listening on 127.0.0.1:{running.port}", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    log.info("stopping")
    running.stop()
    return 0
