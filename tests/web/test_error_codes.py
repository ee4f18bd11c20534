"""The wire codes (the binding's ``error``) are data, named by each class, and the binding lists them.

A code derived from a class name changed on the wire whenever a class was renamed; now every
class names its own ``wire_code``, and spec/openapi.yaml lists the codes in the ``error``
property's ``x-error-codes``. These tests keep the two in step.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import ninsho.reference
from ninsho.conformance.refusals import NAMES, kind_of
from ninsho.reference.core.errors import NinshoError, SessionExpired

from .support import OpenApi


def _all_subclasses(root: type[NinshoError]) -> list[type[NinshoError]]:
    found: list[type[NinshoError]] = []
    for sub in root.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def reference_error_classes() -> list[type[NinshoError]]:
    """Every error class of the reference, whichever module defines it (the web edge has its own)."""
    for module in pkgutil.walk_packages(ninsho.reference.__path__, "ninsho.reference."):
        importlib.import_module(module.name)
    classes = {c for c in _all_subclasses(NinshoError) if c.__module__.startswith("ninsho.reference.")}
    return sorted(classes, key=lambda c: c.__qualname__)


ERROR_CLASSES = reference_error_classes()


def documented_codes(openapi: OpenApi) -> list[str]:
    codes: list[str] = openapi.doc["components"]["schemas"]["Error"]["properties"]["error"]["x-error-codes"]
    return codes


@pytest.mark.parametrize("kind", ERROR_CLASSES, ids=lambda c: c.__qualname__)
def test_every_error_class_names_its_own_wire_code(kind: type[NinshoError]) -> None:
    assert "wire_code" in vars(kind), f"{kind.__qualname__} inherits its wire code"
    assert isinstance(kind.wire_code, str) and kind.wire_code


def test_a_class_without_its_own_wire_code_is_refused() -> None:
    with pytest.raises(TypeError, match="wire_code"):
        type("Unnamed", (NinshoError,), {})


def test_wire_codes_are_unique_per_class() -> None:
    """No two kinds of refusal share a name: a client tells them apart by ``error`` alone."""
    by_code: dict[str, list[str]] = {}
    for kind in ERROR_CLASSES:
        by_code.setdefault(kind.wire_code, []).append(kind.__qualname__)
    shared = {code: names for code, names in by_code.items() if len(names) > 1}
    assert not shared, shared


def test_the_binding_lists_exactly_the_wire_codes(openapi: OpenApi) -> None:
    documented = documented_codes(openapi)
    assert len(documented) == len(set(documented)), "x-error-codes lists a code twice"
    used = {kind.wire_code for kind in ERROR_CLASSES}
    assert set(documented) == used, (
        f"undocumented: {sorted(used - set(documented))}, not used: {sorted(set(documented) - used)}"
    )


def test_documented_codes_fit_the_error_pattern(openapi: OpenApi) -> None:
    schema = openapi.doc["components"]["schemas"]["Error"]
    message = {"ja": "エラー", "en": "error"}
    for code in documented_codes(openapi):
        body = {"error": code, "requirement": "INPUT_ERRORS_PRECISE", "field": None, "message": message}
        openapi._validate(schema, body)


REFUSAL_CLASSES = [c for c in ERROR_CLASSES if c.wire_code in NAMES]


def test_every_refusal_of_the_reference_is_a_kind_of_the_binding() -> None:
    """Only the portal's own failures (a 500, a relay down) are not refusals with a kind."""
    assert {c.wire_code for c in ERROR_CLASSES} - NAMES == {"internal_error", "mail_not_sent"}


@pytest.mark.parametrize("kind", REFUSAL_CLASSES, ids=lambda c: c.__qualname__)
def test_the_harness_tells_each_reference_refusal_by_its_own_name(kind: type[NinshoError]) -> None:
    """Normative names [BINDING_ERROR_NAMES]: the reference's status and requirement lead the
    harness to the very kind its name says (protocol.md §16.3), so it departs from nothing. The
    requirement a code refusal carries varies by code; the run itself holds each one it sees
    against its name (transcript.RecordingDriver), and the in-process suite PASSes."""
    assert kind_of(kind.status_hint, kind.wire_code, kind.requirement) == kind.wire_code


def test_the_json_body_carries_the_wire_code() -> None:
    error = SessionExpired("Your session has ended.")
    assert error.as_dict()["error"] == error.code == SessionExpired.wire_code == "session_expired"
