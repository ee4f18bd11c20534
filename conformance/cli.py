"""``ninsho check [PORTAL.toml]``: the harness in one command, for people and CI.

It is pytest underneath (``pytest --pyargs ninsho.conformance.checks --ninsho-portal PORTAL.toml``), with the
reports written to ``--report-dir`` by default and the exit status of the plugin: 0 conformant,
1 a FAIL, 6 an ERROR, 7 SKIPPED or INCONCLUSIVE under ``--strict``; 2 a bad command line.
Anything after ``--`` goes to pytest as it is.

It loads only the plugins a conformance run needs (ninsho's and pytest-bdd), not every pytest
plugin installed beside it: in a test environment that is hypothesis, anyio, pytest-benchmark
and the like, whose import alone took longer than the embedded run's checks (benchmarks/README.md,
item 2). ``--all-plugins`` restores pytest's auto-loading; ``-- -p NAME`` adds one plugin.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from ninsho.conformance import config as portal_config
from ninsho.conformance.drivers.embedded import FAULT_NAMES
from ninsho.spec.registry import profile_names

# The entry point names (pytest11) of the plugins a run needs; pytest loads them by these names.
NEEDED_PLUGINS = ("ninsho-harness", "pytest-bdd")
# Built-in plugins a conformance run does without: unraisableexception's clean-up runs five full
# garbage collections at exit (0.3 s), to report exceptions raised in __del__ methods.
UNNEEDED_PLUGINS = ("no:unraisableexception",)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ninsho check",
        description="Check an OTP portal against the Ninsho spec and a profile; no portal: the embedded reference.",
    )
    p.add_argument("portal", nargs="?", type=Path, help="portal config (TOML); see conformance/config.py")
    p.add_argument("--url", help="the portal's base URL (overrides the file)")
    p.add_argument("--driver", help="inprocess, json, html, or a vendor driver's entry point name")
    p.add_argument("--profile", help=f"judge by this profile: {', '.join(profile_names())}, or a file")
    p.add_argument("--clock", choices=portal_config.CLOCKS, help="how time passes on the portal")
    p.add_argument("--fault", choices=FAULT_NAMES, help="embedded reference with a deliberate fault")
    p.add_argument("--report-dir", type=Path, default=Path("reports"), help="where the reports go")
    p.add_argument("--baseline", type=Path, help="expected failures (TOML), each with its reason")
    p.add_argument("--strict", action="store_true", help="SKIPPED and INCONCLUSIVE fail the run")
    p.add_argument(
        "-m", dest="markers", help="select by requirement ID, level or area, e.g. 'TOTP_WINDOW or MUST'"
    )
    p.add_argument("-k", dest="keyword", help="select checks by name")
    p.add_argument("--list", action="store_true", help="list the checks by requirement; run nothing")
    p.add_argument(
        "--dry-run", action="store_true", help="show what would run against which portal; run nothing"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="less output")
    p.add_argument(
        "--all-plugins",
        action="store_true",
        help="load every installed pytest plugin, as plain pytest does (default: ninsho's and pytest-bdd)",
    )
    return p


def pytest_args(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    # --noconftest: a run checks a portal with the harness's own checks; the conftest.py files of
    # the folder it starts in (a QA repository's, this repository's tests/) are not part of it.
    argv = ["--pyargs", "ninsho.conformance.checks", "-p", "no:cacheprovider", "-ra", "--noconftest"]
    if not args.all_plugins:
        argv.append("--disable-plugin-autoload")
        for plugin in (*NEEDED_PLUGINS, *UNNEEDED_PLUGINS):
            argv += ["-p", plugin]
    options = {
        "--ninsho-portal": args.portal,
        "--ninsho-url": args.url,
        "--ninsho-driver": args.driver,
        "--ninsho-profile": args.profile,
        "--ninsho-clock": args.clock,
        "--ninsho-fault": args.fault,
        "--ninsho-baseline": args.baseline,
        "-m": args.markers,
        "-k": args.keyword,
    }
    for option, value in options.items():
        if value is not None:
            argv += [option, str(value)]
    if args.list:
        argv.append("--ninsho-list")
    elif args.dry_run:
        argv.append("--ninsho-dry-run")
    else:
        reports = args.report_dir
        argv += [
            "--ninsho-json",
            str(reports / "ninsho.json"),
            "--ninsho-html",
            str(reports / "ninsho.html"),
            f"--junitxml={reports / 'junit.xml'}",
        ]
    if args.strict:
        argv.append("--ninsho-strict")
    argv.append("-q" if args.quiet or args.list or args.dry_run else "-v")
    return [*argv, *extra]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = parser().parse_args(argv)
    if args.portal is not None and not args.portal.is_file():
        parser().error(f"the portal config {str(args.portal)!r} does not exist")
    return int(pytest.main(pytest_args(args, extra)))


if __name__ == "__main__":
    raise SystemExit(main())
