"""Where the feature files are, independent of the directory pytest runs from."""

from __future__ import annotations

from pathlib import Path

FEATURES = Path(__file__).resolve().parents[2] / "features"
LANGUAGES = ("en", "ja")
