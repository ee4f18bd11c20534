"""Command line: ``serve``, ``users add`` and ``helpdesk`` (the operator's code for a reset)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import codes
from .actions import HelpdeskError, Portal
from .clock import Clock
from .faults import FAULTS
from .profile import ProfileError, load_profile
from .store import Store

DEFAULT_DB = "pageportal.sqlite"
DEFAULT_PROFILE = Path(__file__).resolve().parents[3] / "spec" / "profiles" / "iimc.toml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.portals.pageportal", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the portal on 127.0.0.1")
    serve.add_argument("--skin", choices=("table", "sjis"), default="table")
    serve.add_argument("--profile", default=str(DEFAULT_PROFILE))
    serve.add_argument("--db", default=DEFAULT_DB)
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--smtp-host", default="127.0.0.1")
    serve.add_argument("--smtp-port", type=int, required=True)
    serve.add_argument("--test-clock", action="store_true", help="enable GET/POST /test-clock (tests only)")
    serve.add_argument(
        "--fault",
        choices=sorted(FAULTS),
        help="serve a deliberately faulty portal, for the harness's own tests: "
        + "; ".join(f"{name}: {what}" for name, what in sorted(FAULTS.items())),
    )
    users = sub.add_parser("users", help="manage accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="create an account")
    add.add_argument("login_id")
    add.add_argument(
        "--password-env", required=True, metavar="VAR", help="environment variable with the password"
    )
    add.add_argument("--db", default=DEFAULT_DB)
    add.add_argument(
        "--hash-cost",
        type=int,
        default=codes.SCRYPT_LOG2_N,
        choices=range(1, 21),
        metavar="LOG2_N",
        help=f"scrypt cost of the stored password, as log2 of N (default {codes.SCRYPT_LOG2_N}; tests use less)",
    )
    helpdesk = sub.add_parser("helpdesk", help="issue the confirmation code of a pending reset (no address)")
    helpdesk.add_argument("login_id")
    helpdesk.add_argument("--db", default=DEFAULT_DB)
    return parser


def _offline_portal(db: str) -> Portal:
    """A portal without mail or web, sharing the server's clock offset and code length."""
    store = Store(db)
    offset = store.meta("clock_offset")
    clock = Clock(True, float(offset)) if offset is not None else Clock()
    profile = load_profile(DEFAULT_PROFILE)
    digits = store.meta("confirmation_digits")
    if digits:
        profile.values["confirmation_code.digits"] = int(digits)
    return Portal(profile, store, clock, None)


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors are one line on stderr and exit status 1."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            import uvicorn

            from .web import build_app

            app = build_app(
                args.profile, args.db, args.skin, args.smtp_host, args.smtp_port, args.test_clock, args.fault
            )
            if args.fault:
                print(
                    f"WARNING: a deliberately faulty portal ({args.fault}); never in production",
                    file=sys.stderr,
                )
            if args.test_clock:
                print(
                    "WARNING: the test clock is enabled (GET/POST /test-clock); never in production",
                    file=sys.stderr,
                )
            uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
            return 0
        if args.command == "users":
            password = os.environ.get(args.password_env)
            if password is None:
                raise ValueError(f"environment variable {args.password_env} is not set")
            if not args.login_id.strip() or any(ord(ch) < 32 for ch in args.login_id):
                raise ValueError("the login ID must be non-empty and free of control characters")
            _offline_portal(args.db).add_user(args.login_id.strip(), password, args.hash_cost)
            print(f"added {args.login_id.strip()}")
            return 0
        print(_offline_portal(args.db).helpdesk_issue(args.login_id))
        return 0
    except (HelpdeskError, ValueError, ProfileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
