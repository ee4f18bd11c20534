"""The manuals' flows, as the bilingual features of features/en and features/ja, in the main job.

The features are shipped in the wheel (package ``ninsho.features``), so an installed harness
runs the same scenarios as a checkout. Their steps (``ninsho.conformance.steps``, loaded by the plugin)
``driver``, ``operator``, ``mailbox``, ``portal_clock`` and ``profile``, which the plugin gives
from the portal under test.
"""

from __future__ import annotations

from importlib.resources import files

from pytest_bdd import scenarios

FEATURES = files("ninsho.features")

for language in ("en", "ja"):
    scenarios(str(FEATURES / language))
