"""The plugin's stash keys, in a module of their own so that fixtures and hooks can share them
without importing each other (pytest must import plugin modules itself to rewrite asserts)."""

from __future__ import annotations

from typing import Any

import pytest

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.realtime import WaitLedger
from ninsho.conformance.target import Target
from ninsho.conformance.verdicts import CheckResult

CONFIG_KEY = pytest.StashKey[PortalConfig]()
CONNECTION_KEY = pytest.StashKey[Any]()  # the deployed portal's Connection, opened once per run
TARGET_KEY = pytest.StashKey[Target]()  # a check's target when it is not the `portal` argument
# What the process that writes the reports gathers; under pytest-xdist the controller gathers
# them from its workers (conformance/distributed.py), so they live here and not in hooks.py.
RESULTS_KEY = pytest.StashKey[list[CheckResult]]()  # every check's verdicts, from the test reports
OTHER_FAILURES_KEY = pytest.StashKey[int]()  # failed tests that are not Ninsho checks
SUITE_KEY = pytest.StashKey[set[str]]()  # the requirements of every check collected
LEDGER_KEY = pytest.StashKey[WaitLedger]()  # the real-time waits
WALL_KEY = pytest.StashKey[float]()  # the wall time of the concurrent real-time checks
