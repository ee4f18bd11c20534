"""The plugin's stash keys, in a module of their own so that fixtures and hooks can share them
without importing each other (pytest must import plugin modules itself to rewrite asserts)."""

from __future__ import annotations

from typing import Any

import pytest

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.target import Target

CONFIG_KEY = pytest.StashKey[PortalConfig]()
CONNECTION_KEY = pytest.StashKey[Any]()  # the deployed portal's Connection, opened once per run
TARGET_KEY = pytest.StashKey[Target]()  # a check's target when it is not the `portal` argument
