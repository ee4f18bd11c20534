"""The pytest plugin's entry point (``pytest11: ninsho-harness``): the options, and a gate.

Installed into a QA team's test environment, the plugin is loaded by every pytest run there,
most of which are not conformance runs. So this module only declares the options, all named
``--ninsho-…``, and wakes the harness (:mod:`ninsho.conformance.hooks`: markers, fixtures,
verdicts, reports) in a session that uses it:

* a ``--ninsho-…`` option is given (``ninsho check`` always gives some); or
* the session collects the bundled checks (``pytest --pyargs ninsho.conformance.checks``); or
* a conftest asks for it: ``pytest_plugins = ["ninsho.conformance.hooks"]``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HOOKS = "ninsho.conformance.hooks"
PACKAGE_DIR = Path(__file__).resolve().parent


# Every option of the harness: (name, argparse keywords). The gate reads the same list.
OPTIONS: tuple[tuple[str, dict[str, object]], ...] = (
    ("--ninsho-portal", {"metavar": "FILE", "help": "portal config (TOML); none: the embedded reference"}),
    ("--ninsho-url", {"metavar": "URL", "help": "override [portal] base_url"}),
    ("--ninsho-driver", {"metavar": "NAME", "help": "override [portal] driver"}),
    ("--ninsho-profile", {"metavar": "NAME|FILE", "help": "override [portal] profile"}),
    ("--ninsho-clock", {"metavar": "MODE", "help": "override [clock] mode: virtual, test-clock, real"}),
    (
        "--ninsho-site-map",
        {"metavar": "FILE", "help": "override [html] site_map (the html driver's site map)"},
    ),
    (
        "--ninsho-fault",
        {"metavar": "NAME", "help": "the embedded reference with one deliberate fault (ninsho check --help)"},
    ),
    ("--ninsho-strict", {"action": "store_true", "help": "SKIPPED and INCONCLUSIVE fail the run"}),
    ("--ninsho-baseline", {"metavar": "FILE", "help": "expected failures (TOML), each with a reason"}),
    ("--ninsho-json", {"metavar": "FILE", "help": "write the JSON report here"}),
    ("--ninsho-html", {"metavar": "FILE", "help": "write the human (HTML) report here"}),
    ("--ninsho-md", {"metavar": "FILE", "help": "write a Markdown summary here (a CI job summary)"}),
    ("--ninsho-list", {"action": "store_true", "help": "list the checks by requirement, run nothing"}),
    ("--ninsho-dry-run", {"action": "store_true", "help": "show what a run would do, run nothing"}),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ninsho", "Ninsho conformance harness")
    for name, keywords in OPTIONS:
        group.addoption(name, **keywords)


def uses_ninsho(config: pytest.Config) -> bool:
    """Whether this session is a conformance run (see the module's docstring)."""
    if any(config.getoption(name.removeprefix("--").replace("-", "_")) for name, _ in OPTIONS):
        return True
    return any(_names_the_harness(arg) for arg in config.args)


def _names_the_harness(arg: str) -> bool:
    target = arg.split("::")[0]
    if target.startswith("ninsho.conformance"):  # --pyargs
        return True
    path = Path(target).resolve()
    return path == PACKAGE_DIR or PACKAGE_DIR in path.parents


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if uses_ninsho(config) and not config.pluginmanager.has_plugin(HOOKS):
        config.pluginmanager.import_plugin(HOOKS)
