"""``ninsho``: serve the reference portal, manage its users, act as the helpdesk.

Passwords never come from argv (they would show in ``ps`` and shell history): from an
environment variable named with ``--password-env``, or from standard input. Bad arguments exit
with status 2 and a one-line reason; a refusal by the portal prints its bilingual message and
exits 1. Never a traceback for either.

``ninsho check`` belongs to the conformance harness; :mod:`ninsho.cli` dispatches it, so this
module never imports the layer above it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ninsho.reference.core.errors import NinshoError
from ninsho.reference.faults import FAULTS
from ninsho.reference.web.config import (
    DEFAULT_HASH_COST,
    Runtime,
    ServerConfig,
    build_runtime,
    resolve_pepper,
)
from ninsho.spec.errors import SpecError
from ninsho.spec.registry import load_profile

DEFAULT_DB = "ninsho.sqlite"
Command = Callable[[argparse.Namespace], int]
# `serve --workers N`: each worker process rebuilds its portal from the same arguments.
SERVE_ARGV_VARIABLE = "NINSHO_SERVE_ARGV"


class UsageError(Exception):
    """A bad argument found after parsing: reported like argparse's own, exit status 2."""


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, not {port}")
    return port


def _relay(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"give the SMTP relay as HOST:PORT, not {text!r}")
    return host.strip("[]"), _port(port)


def _bounded(what: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``, or a one-line reason."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{what} must be between {low} and {high}")
        return number

    return parse


_cost = _bounded("the hash cost (log2 of scrypt's n)", 1, 20)
_workers = _bounded("the number of workers", 1, 64)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=os.environ.get("NINSHO_DB", DEFAULT_DB), help="SQLite database file")
    parser.add_argument("--profile", default="iimc", help="a bundled profile name or a profile file")
    parser.add_argument(
        "--hash-cost", type=_cost, default=DEFAULT_HASH_COST, help="log2 of scrypt's n for new passwords"
    )


def _config(
    args: argparse.Namespace,
    *,
    smtp: tuple[str, int] | None = None,
    admin_token: str | None = None,
    test_clock: bool = False,
    secure_cookies: bool = False,
    fault: str | None = None,
    test_clock_file: Path | None = None,
) -> ServerConfig:
    db = Path(args.db)
    if not db.parent.is_dir():
        raise UsageError(f"--db: the folder {str(db.parent)!r} does not exist")
    return ServerConfig(
        profile=load_profile(args.profile),
        db_path=db,
        pepper=resolve_pepper(db),
        hash_cost=args.hash_cost,
        smtp=smtp,
        admin_token=admin_token,
        test_clock=test_clock,
        secure_cookies=secure_cookies,
        fault=fault,
        # `serve` knows where it listens; the reset link of link mode points there.
        public_url=f"http://{args.host}:{args.port}" if hasattr(args, "port") else ServerConfig.public_url,
        test_clock_file=test_clock_file,
    )


def _operator(args: argparse.Namespace) -> Runtime:
    return build_runtime(_config(args), serving=False)


# --- commands ------------------------------------------------------------------------------
def _serve_config(args: argparse.Namespace) -> ServerConfig:
    return _config(
        args,
        smtp=args.smtp,
        admin_token=os.environ.get(args.admin_token_env) or None,
        test_clock=args.test_clock,
        secure_cookies=args.secure_cookies,
        fault=args.fault,
        test_clock_file=test_clock_file(Path(args.db)) if args.test_clock and args.workers > 1 else None,
    )


def test_clock_file(db: Path) -> Path:
    """Where the workers of one server share the test clock's offset."""
    return db.with_name(db.name + ".test-clock")


def worker_app() -> Any:
    """One worker of ``serve --workers N``: uvicorn imports this in each process it starts."""
    from ninsho.reference.web.app import create_app

    args = build_parser().parse_args(json.loads(os.environ[SERVE_ARGV_VARIABLE]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(_serve_config(args))


def cmd_serve(args: argparse.Namespace) -> int:
    """One process, or ``--workers N`` processes on the one database: SQLite's BEGIN IMMEDIATE
    serialises their transactions (reference/stores/sqlite.py), and the test clock's offset is
    kept in a file beside the database, so that every worker tells the same time."""
    import uvicorn  # only the server needs the web stack

    from ninsho.reference.web.app import create_app

    if args.workers > 1 and args.smtp is None:
        raise UsageError("--workers needs --smtp: the demo outbox lives in one process's memory")
    config = _serve_config(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.test_clock:
        print(
            "WARNING: the test clock is ENABLED: /api/v1/test-clock can move this portal's time. "
            "Never do this in production. [TEST_CLOCK_DISABLED_BY_DEFAULT]",
            file=sys.stderr,
            flush=True,
        )
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "date_header": False,
        "server_header": False,
    }
    if args.workers == 1:
        uvicorn.run(create_app(config), **options)
        return 0
    if config.test_clock_file is not None:
        # A new server starts at offset 0, in every lane.
        config.test_clock_file.write_text("{}", encoding="ascii")
    os.environ[SERVE_ARGV_VARIABLE] = json.dumps(args.argv)
    uvicorn.run("ninsho.reference.cli:worker_app", factory=True, workers=args.workers, **options)
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise UsageError(f"--password-env: the environment variable {args.password_env} is not set")
        return value
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Password: ")
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def cmd_users_add(args: argparse.Namespace) -> int:
    password = _password(args)
    runtime = _operator(args)
    try:
        runtime.portal.add_user(args.login_id, password)
    finally:
        runtime.close()
    print(f"added {args.login_id}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    runtime = _operator(args)
    try:
        for login_id in runtime.portal.users():
            print(login_id)
    finally:
        runtime.close()
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    runtime = _operator(args)
    try:
        runtime.portal.remove_user(args.login_id)
    finally:
        runtime.close()
    print(f"removed {args.login_id}")
    return 0


def cmd_helpdesk_issue_code(args: argparse.Namespace) -> int:
    """The ICT Support Center, after verifying the caller by phone [HELPDESK_ISSUES_CODE]."""
    runtime = _operator(args)
    try:
        code = runtime.portal.helpdesk_issue_code(args.login_id)
        profile = runtime.config.profile
    finally:
        runtime.close()
    print(f"確認コード / Confirmation code for {args.login_id}: {code}")
    print(
        "本人確認を行ってから読み上げてください / Read it out only after verifying the caller's identity. "
        f"Helpdesk hours / 受付時間: {profile.helpdesk_hours}; TEL {profile.helpdesk_phone}"
    )
    return 0


def cmd_helpdesk_confirm(args: argparse.Namespace) -> int:
    """The ICT Support Center of the 2021 portal (reset.mode = "link"), after verifying the
    caller by phone: the pending reset is done, and the caller's open screen goes on to the QR
    code (faq-totp-reset-2021.en.txt "ICT Support Center" 2) [RESET_LINK_HELPDESK_CONFIRM]."""
    runtime = _operator(args)
    try:
        runtime.portal.helpdesk_confirm_reset(args.login_id)
    finally:
        runtime.close()
    print(
        f"初期化しました / Initialized: {args.login_id}. "
        "利用者の画面はQRコードの画面に進みます / The caller's open screen goes on to the QR code."
    )
    return 0


# --- the parser ----------------------------------------------------------------------------
def build_parser(also: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The reference's commands; ``also`` lists commands that :mod:`ninsho.cli` runs itself,
    so that ``ninsho --help`` shows them without this module importing the harness."""
    parser = argparse.ArgumentParser(
        prog="ninsho", description="The Ninsho reference portal and its operators."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the portal over HTTP (JSON API and pages)")
    _common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument(
        "--workers", type=_workers, default=1, help="worker processes on the one database (default 1)"
    )
    serve.add_argument(
        "--smtp", type=_relay, default=None, metavar="HOST:PORT", help="SMTP relay (default: embedded outbox)"
    )
    serve.add_argument(
        "--test-clock", action="store_true", help="enable /api/v1/test-clock (never in production)"
    )
    serve.add_argument(
        "--admin-token-env",
        default="NINSHO_ADMIN_TOKEN",
        metavar="VAR",
        help="env var holding the admin API token",
    )
    serve.add_argument(
        "--secure-cookies", action="store_true", help="mark cookies Secure (serve behind https)"
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.add_argument(
        "--fault",
        choices=sorted(FAULTS),
        help="serve a deliberately faulty portal, to prove a conformance harness (never in production)",
    )
    serve.set_defaults(run=cmd_serve)

    users = commands.add_parser("users", help="manage accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = users.add_parser("add", help="add an account (password from --password-env or stdin)")
    _common(add)
    add.add_argument("login_id", metavar="LOGIN_ID")
    add.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    add.set_defaults(run=cmd_users_add)
    listing = users.add_parser("list", help="list the accounts")
    _common(listing)
    listing.set_defaults(run=cmd_users_list)
    remove = users.add_parser("remove", help="remove an account")
    _common(remove)
    remove.add_argument("login_id", metavar="LOGIN_ID")
    remove.set_defaults(run=cmd_users_remove)

    helpdesk = commands.add_parser("helpdesk", help="the ICT Support Center's actions").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    issue = helpdesk.add_parser(
        "issue-code", help="issue the confirmation code for a pending reset with no address"
    )
    _common(issue)
    issue.add_argument("login_id", metavar="LOGIN_ID")
    issue.set_defaults(run=cmd_helpdesk_issue_code)
    confirm = helpdesk.add_parser(
        "confirm", help='reset.mode = "link": confirm the pending reset of a caller with no address'
    )
    _common(confirm)
    confirm.add_argument("login_id", metavar="LOGIN_ID")
    confirm.set_defaults(run=cmd_helpdesk_confirm)

    for name, summary in (also or {}).items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None, also: Mapping[str, str] | None = None) -> int:
    parser = build_parser(also)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)  # exits 2 with a message on bad arguments
    args.argv = argv  # serve --workers hands them on to its worker processes
    command: Command = args.run
    try:
        return command(args)
    except UsageError as exc:
        parser.exit(2, f"ninsho: error: {exc}\n")
    except SpecError as exc:  # a bad --profile: one line, exit 2 like any bad argument
        parser.exit(2, f"ninsho: error: {exc}\n")
    except NinshoError as exc:
        print(f"ninsho: {exc.message_ja}\nninsho: {exc.message_en}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as exc:  # e.g. --db names a file that is not a database
        print(f"ninsho: {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
