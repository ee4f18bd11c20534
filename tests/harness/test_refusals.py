"""The harness's one vocabulary of refusals (conformance/refusals.py) is the binding's: the names
of spec/openapi.yaml ``x-error-codes`` with the statuses of spec/protocol.md §16.3, and the
html driver's site map classes are among them. A refusal under another name is told by its
status and the requirement it carries, so only BINDING_ERROR_NAMES hears of the name."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest
import yaml

from ninsho.conformance.drivers.html.sitemap import ERRORS
from ninsho.conformance.interfaces import Outcome
from ninsho.conformance.refusals import KINDS, NAMES, UNKNOWN, kind_of, name_departs

NOT_REFUSALS = {"internal_error", "mail_not_sent"}  # the portal's failures, not the user's input's


def spec_text(name: str) -> str:
    return (files("ninsho.spec") / name).read_text("utf-8")


def test_the_kinds_are_the_bindings_names() -> None:
    doc = yaml.safe_load(spec_text("openapi.yaml"))
    listed = doc["components"]["schemas"]["Error"]["properties"]["error"]["x-error-codes"]
    assert set(listed) - NOT_REFUSALS == NAMES


def test_the_kinds_have_the_statuses_of_the_protocol_table() -> None:
    section = spec_text("protocol.md").split("### 16.3 Errors", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| [^|]+ \| `([a-z_]+)` \| ([^|]+) \|", section, re.MULTILINE)
    table = {name: tuple(int(s) for s in re.findall(r"\d{3}", statuses)) for name, statuses in rows}
    assert table == {k.name: k.statuses for k in KINDS}


def test_the_html_site_map_classes_are_kinds() -> None:
    assert set(ERRORS) <= NAMES


@pytest.mark.parametrize(
    ("status", "name", "requirement", "kind"),
    [
        (422, "address_blocked", "EMAIL_BLOCKED_DOMAIN", "blocked_address"),
        (400, "invalid_input", "EMAIL_ADDRESS_SYNTAX", "invalid_address"),
        (400, "bad_request", "TOTP_DIGITS", "invalid_input"),
        (401, "code_refused", "TOTP_WINDOW", "code_rejected"),
        (401, "session_unknown", "SESSION_EXPIRY", "session_expired"),
        (401, "wrong_credentials", "FIRST_FACTOR_PASSWORD", "authentication_failed"),
        (429, "locked", "LOCKOUT_THRESHOLD", "account_locked"),
        (403, "forbidden", "WEB_CSRF", "csrf_rejected"),
        (403, "forbidden", "SECOND_FACTOR_REQUIRED", "not_permitted"),
        (409, "nothing_to_confirm", "EMAIL_REGISTRATION_CONFIRM", "nothing_pending"),
        (418, "teapot", None, UNKNOWN),
    ],
)
def test_a_refusal_under_another_name_is_told_by_its_status_and_requirement(
    status: int, name: str, requirement: str | None, kind: str
) -> None:
    assert kind_of(status, name, requirement) == kind


def test_a_bindings_name_decides_among_the_kinds_of_its_status() -> None:
    assert kind_of(404, "unknown_account", "HELPDESK_ISSUES_CODE") == "unknown_account"
    assert kind_of(409, "conflict", None) == "conflict"
    assert kind_of(400, "malformed_body", "INPUT_ERRORS_PRECISE") == "malformed_body"


def refusal(status: int, name: str | None, requirement: str) -> Outcome:
    data = {"status": status} | ({"error_name": name} if name is not None else {})
    return Outcome(ok=False, error=kind_of(status, name, requirement), requirement=requirement, data=data)


def test_only_a_departing_name_is_a_departure() -> None:
    assert name_departs(refusal(422, "blocked_address", "EMAIL_BLOCKED_DOMAIN")) is None
    assert name_departs(refusal(422, None, "EMAIL_BLOCKED_DOMAIN")) is None  # a page has no names
    why = name_departs(refusal(422, "address_blocked", "EMAIL_BLOCKED_DOMAIN"))
    assert why is not None and "'address_blocked'" in why and "'blocked_address'" in why
    assert name_departs(refusal(400, "invalid_input", "EMAIL_ADDRESS_SYNTAX")) is not None
