"""Every Japanese feature of features/ja (``# language: ja``), run against the embedded reference."""

from __future__ import annotations

from pytest_bdd import scenarios

from .paths import FEATURES

scenarios(str(FEATURES / "ja"))
