"""``ninsho check [PORTAL.toml]``: the harness in one command, for people and CI.

It is pytest underneath (``pytest --pyargs ninsho.conformance.checks --ninsho-portal PORTAL.toml``), with the
reports written to ``--report-dir`` by default (ninsho.html, ninsho.md, ninsho.json, junit.xml)
and the exit status of the plugin, which ``--help`` lists with the environment variables and
the config keys. Anything after ``--`` goes to pytest as it is.

It loads only the plugins a conformance run needs (ninsho's and pytest-bdd), not every pytest
plugin installed beside it: in a test environment that is hypothesis, anyio, pytest-benchmark
and the like, whose import alone took longer than the embedded run's checks (benchmarks/README.md,
item 2). ``--all-plugins`` restores pytest's auto-loading; ``-- -p NAME`` adds one plugin.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ninsho.conformance import config as portal_config
from ninsho.conformance.drivers.embedded import FAULT_NAMES
from ninsho.conformance.messages import did_you_mean
from ninsho.spec.registry import profile_names

HARNESS_INI = Path(__file__).with_name("pytest.ini")  # the run's own pytest settings (none)
# The entry point names (pytest11) of the plugins a run needs; pytest loads them by these names.
NEEDED_PLUGINS = ("ninsho-harness", "pytest-bdd")
# Built-in plugins a conformance run does without: unraisableexception's clean-up runs five full
# garbage collections at exit (0.3 s), to report exceptions raised in __del__ methods.
UNNEEDED_PLUGINS = ("no:unraisableexception",)


EXIT_STATUSES = (
    ("0", "conformant: no FAIL and no ERROR (baselined failures do not count)"),
    ("1", "a FAIL, or a pass the baseline says should fail"),
    ("2", "a bad command line"),
    (
        "4",
        "the run did not start: a bad config, baseline, -m selection or credential,\n"
        "     or a report folder that cannot be written",
    ),
    ("5", "no check was selected (pytest's own status: -k matched nothing)"),
    (
        "6",
        "an ERROR (the harness or the infrastructure failed),\n     or a portal the pre-flight could not reach",
    ),
    ("7", "SKIPPED or INCONCLUSIVE under --strict"),
)
HTML_DRIVER_DOC = "docs/html-driver.md"


def epilog() -> str:
    """The part of ``--help`` a CI author needs: exit statuses, variables, keys, passthrough."""
    env = portal_config.ENVIRONMENT
    width = max(map(len, [*env, *portal_config.secret_variables()]))
    lines = ["exit status:"]
    lines += [f"  {code}  {words}" for code, words in EXIT_STATUSES]
    lines += ["", "environment variables (over the config file; the options above are over these):"]
    lines += [f"  {name:<{width}}  [{key.split('.')[0]}] {key.split('.')[1]}" for name, key in env.items()]
    lines += ["", "secrets, never in the file: it names the variables that hold them (the defaults):"]
    lines += [
        f"  {name:<{width}}  named by [{key.split('.')[0]}] {key.split('.')[1]}"
        for name, key in portal_config.secret_variables().items()
    ]
    lines += ["", 'config file keys (PORTAL.toml; README.md "The portal config", docs/staging.md):']
    for section, keys in portal_config.keys().items():
        listed = f"the html driver's keys: {HTML_DRIVER_DOC}" if section == "html" else ", ".join(keys)
        lines.append(f"  [{section}] {listed}")
    lines += [
        "",
        "reports (in --report-dir): ninsho.html for people, ninsho.md for a CI job summary,",
        '  ninsho.json for scripts, junit.xml for CI test pages (suite "ninsho")',
        "",
        "pytest: everything after -- goes to pytest as it is, e.g.",
        "  ninsho check portal.toml -- --tb=short -x    (--tb brings back the tracebacks of failed checks)",
        "  ninsho check -- -p NAME                       (load one more pytest plugin)",
    ]
    return "\n".join(lines)


def _one_of(names: Sequence[str], what: str) -> Callable[[str], str]:
    """An argparse type: one of ``names``, or an error that names the nearest."""

    def check(value: str) -> str:
        if value not in names:
            raise argparse.ArgumentTypeError(
                f"no {what} {value!r}{did_you_mean(value, names)} (known: {', '.join(names)})"
            )
        return value

    return check


def _workers(value: str) -> str:
    """An argparse type for ``-n``: a number of workers, or ``auto`` (pytest-xdist's own)."""
    if value == "auto" or (value.isdigit() and value.isascii()):
        return value
    raise argparse.ArgumentTypeError(f"-n takes a number of worker processes or 'auto', not {value!r}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ninsho check",
        description="Check an OTP portal against the Ninsho spec and a profile; no portal: the embedded reference.",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("portal", nargs="?", type=Path, help="the portal config (TOML); its keys are listed below")
    p.add_argument("--url", metavar="URL", help="the portal's base URL (overrides the file)")
    p.add_argument(
        "--driver", metavar="NAME", help="inprocess, json, html, or a vendor driver's entry point name"
    )
    p.add_argument(
        "--profile",
        metavar="NAME|FILE",
        help=f"judge by this profile: {', '.join(profile_names())}, or a file",
    )
    p.add_argument(
        "--clock",
        type=_one_of(portal_config.CLOCKS, "clock"),
        metavar="MODE",
        help=f"how time passes on the portal: {', '.join(portal_config.CLOCKS)}",
    )
    p.add_argument(
        "--fault",
        type=_one_of(FAULT_NAMES, "fault"),
        metavar="NAME",
        help=f"the embedded reference with a deliberate fault: {', '.join(FAULT_NAMES)}",
    )
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="where the reports go (default: reports): ninsho.html, ninsho.md, ninsho.json, junit.xml",
    )
    p.add_argument(
        "--baseline", type=Path, metavar="FILE", help="expected failures (TOML), each with its reason"
    )
    p.add_argument("--strict", action="store_true", help="SKIPPED and INCONCLUSIVE fail the run")
    p.add_argument(
        "--site-map",
        type=Path,
        metavar="FILE",
        help=f"the html driver's site map, over [html] site_map ({HTML_DRIVER_DOC})",
    )
    p.add_argument(
        "-m",
        dest="markers",
        metavar="EXPR",
        help="select by requirement ID, level or area, e.g. 'TOTP_WINDOW or MUST', 'area_totp';"
        " an ID that is not registered is an error",
    )
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="select checks by name")
    p.add_argument("--list", action="store_true", help="list the checks by requirement; run nothing")
    p.add_argument(
        "--dry-run", action="store_true", help="show what would run against which portal; run nothing"
    )
    p.add_argument(
        "-n",
        dest="workers",
        type=_workers,
        metavar="N",
        help="run the checks in N processes (pytest-xdist), or 'auto': one per core; 0: in this process",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="less output")
    p.add_argument(
        "--all-plugins",
        action="store_true",
        help="load every installed pytest plugin, as plain pytest does (default: ninsho's and pytest-bdd)",
    )
    return p


def pytest_args(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    # A run checks a portal with the harness's own checks and settings: the conftest.py files of
    # the folder it starts in (a QA repository's, this repository's tests/) are not part of it
    # (--noconftest), nor is that folder's pytest configuration (-c): its addopts named options of
    # plugins a run does not load, and its filterwarnings = error or required_plugins stopped a
    # run on the harness's libraries. Paths stay relative to the folder (--rootdir).
    argv = ["-c", str(HARNESS_INI), f"--rootdir={Path.cwd()}"]
    argv += ["--pyargs", "ninsho.conformance.checks", "-p", "no:cacheprovider", "-ra", "--noconftest"]
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
        "--ninsho-site-map": args.site_map.resolve() if args.site_map is not None else None,
    }
    # OPTION=VALUE: pytest reads its command line once before it knows the plugin's options,
    # and took a separate value that names an existing file (a report of the last run) for a
    # path to test, which moved its root directory away from the ini file.
    argv += [f"{option}={value}" for option, value in options.items() if value is not None]
    for option, value in (("-m", args.markers), ("-k", args.keyword)):
        if value is not None:
            argv += [option, str(value)]
    if args.list:
        argv.append("--ninsho-list")
    elif args.dry_run:
        argv.append("--ninsho-dry-run")
    else:
        reports = args.report_dir
        argv += [
            f"--ninsho-json={reports / 'ninsho.json'}",
            f"--ninsho-html={reports / 'ninsho.html'}",
            f"--ninsho-md={reports / 'ninsho.md'}",
            f"--junitxml={reports / 'junit.xml'}",
            "-o",
            "junit_suite_name=ninsho",
        ]
    if args.strict:
        argv.append("--ninsho-strict")
    # -n: pytest-xdist, loaded only then (-n 0, or none: the single process, as ever); a list or
    # a dry run runs no check, so it takes no workers.
    if args.workers not in (None, "0") and not (args.list or args.dry_run):
        if not args.all_plugins:
            argv += ["-p", "xdist"]
        argv += ["-n", args.workers]
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
    if args.site_map is not None and not args.site_map.is_file():  # --ninsho-site-map, over [html] site_map
        parser().error(f"the site map {str(args.site_map)!r} does not exist")
    return int(pytest.main(pytest_args(args, extra)))


if __name__ == "__main__":
    raise SystemExit(main())
