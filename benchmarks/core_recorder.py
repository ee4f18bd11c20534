"""A pytest plugin that tapes the core work of a harness run (see benchmarks/core_tape.py).

``NINSHO_CORE_TAPE=run.tape ninsho check -- -p benchmarks.core_recorder``: every embedded portal
the run builds is built taped, and the tapes are written (pickle) when the run ends. Only for
benchmarks: taping slows the run it records, so the timed runs are made without it.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

import ninsho.conformance.drivers.embedded
from benchmarks.core_tape import Recorder

ENV = "NINSHO_CORE_TAPE"
_RECORDER = pytest.StashKey[tuple[Recorder, Path, pytest.MonkeyPatch]]()


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(ENV)
    if not path:
        raise pytest.UsageError(f"benchmarks.core_recorder needs {ENV}=FILE: where to write the tape")
    recorder, patch = Recorder(), pytest.MonkeyPatch()
    # The harness's door to the reference looks the builder up there for every portal it builds.
    patch.setattr(ninsho.conformance.drivers.embedded, "embedded_portal", recorder.embedded_portal)
    config.stash[_RECORDER] = (recorder, Path(path), patch)


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder, path, patch = config.stash[_RECORDER]
    patch.undo()
    path.write_bytes(pickle.dumps(recorder.tapes))
