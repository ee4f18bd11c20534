"""The served reference keeps the bounds of spec/openapi.yaml's request schemas, both ways.

For every bounded input of every operation (a body field or a path parameter), probes just
inside and just outside each bound are built from the schema itself: its examples, grown to
``maxLength`` and one past it, cut to one short of ``minLength``, and edited one character at a
time (deleted, replaced, inserted) where a pattern draws the alphabet; a number at ``minimum``
and ``maximum`` and one past each. Each probe is classed by the schema (a code's digits narrowed
to the profile), then sent to ``ninsho serve``: within the schema it must not be refused for its
shape (no 400, 413 or 415, no 5xx: it may be refused for what it means, as an unknown ID or a
wrong code is); outside it, it must be refused with 400 ``invalid_input`` (``invalid_address``
for an address) naming the field. Neither side holds a bound of its own: a bound changed in the
schema or in the server alone fails here (issue "Sessions, throttling and mail safety", item 10).

Every shape check of the reference comes before its session and state checks, so one setup
session serves every operation; codes within their schema then get 403 or 401 (no pending
code), which shows they were read as codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ninsho.spec.registry import load_profile

from .request_bounds import SHAPE_REFUSALS, Input, RequestSchemas, within
from .support import ADMIN_TOKEN, ServerProcess

pytestmark = pytest.mark.slow

PROFILE = "iimc"
OWNER, OWNER_PASSWORD = "bounds-owner", "bounds-owner-password-0123456789"
# Grown inputs keep their other constraints with the first of these that does: White_Space first,
# since §13 strips it from an address's ends, the one growth that leaves an address an address.
FILLERS = (" ", "a", "0")
# One-character edits: letters, digits ASCII and full-width, the ID's punctuation, White_Space,
# control, an accented letter, '@', and a digit NFKC keeps (Arabic-Indic zero, refused in a code).
EDITS = ("a", "Z", "0", "９", ".", "-", "_", " ", "\u3000", "\t", "\n", "é", "@", "/", "\u0660")

SCHEMAS = RequestSchemas()
INPUTS = SCHEMAS.inputs()


def grown(seed: str, length: int, filler: str) -> str:
    return seed + filler * (length - len(seed)) if length >= len(seed) else seed[:length]


def edited(seed: str) -> Iterator[str]:
    """``seed`` with one character deleted, replaced or inserted, at its start, middle and end."""
    for at in sorted({0, len(seed) // 2, len(seed)}):
        if at < len(seed):
            yield seed[:at] + seed[at + 1 :]
        for char in EDITS:
            if at < len(seed):
                yield seed[:at] + char + seed[at + 1 :]
            yield seed[:at] + char + seed[at:]


def probes(field: Input, narrowed: dict[str, Any]) -> list[Any]:
    """The values to send, from the schema alone; each is classed by ``narrowed`` afterwards."""
    examples = field.examples()
    seeds = [e for e in examples if within(narrowed, e)]
    assert seeds, f"{field.label}: no example is within the schema under the profile"
    found: list[Any] = list(examples)
    schema = field.schema
    if schema.get("type") == "number":
        low, high = schema["minimum"], schema["maximum"]
        return [*found, high, low, high + 1, low - 1, high + 0.5, low - 0.5]
    seed = seeds[0]
    if "maxLength" in schema:
        length = schema["maxLength"]
        unbounded = {k: v for k, v in narrowed.items() if k != "maxLength"}
        filler = next((f for f in FILLERS if within(unbounded, grown(seed, length + 1, f))), None)
        assert filler is not None, f"{field.label}: no filler keeps {seed!r} within its schema"
        found += [grown(seed, length, filler), grown(seed, length + 1, filler)]
    found += [seed[: max(schema.get("minLength", 1) - 1, 0)]]  # one short of the least, or empty
    if "pattern" in schema:
        found += list(edited(seed))
    if field.location == "path":
        # A path segment is never empty and holds no '/'; nor a line break, which the router's
        # mount (Starlette's ``.*``) does not match: 404 "no such endpoint", before any operation.
        found = [v for v in found if v and not {"/", "\n", "\r"} & set(v)]
    if field.location == "header":
        # A header's value is visible ASCII with spaces inside only (RFC 9110 §5.5): h11 refuses
        # the rest before it is sent.
        found = [v for v in found if v.isascii() and v.isprintable() and v == v.strip()]
    return list(dict.fromkeys(found))  # each once, in order


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("schema-bounds"), profile=PROFILE).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(served: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url + "/api/v1", timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def session(client: httpx.Client) -> str:
    """A setup session: every shape check comes before the session's, so it serves every code."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    created = client.post("/admin/users", json={"login_id": OWNER, "password": OWNER_PASSWORD}, headers=admin)
    assert created.status_code == 201, created.text
    answer = client.post("/login", json={"login_id": OWNER, "password": OWNER_PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["session"])


def send(client: httpx.Client, field: Input, value: Any, session: str) -> httpx.Response:
    headers = {}
    if field.admin:
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    elif not field.public:
        headers["Authorization"] = f"Bearer {session}"
    path = field.path
    content = None
    if field.location == "path":
        path = path.replace("{" + field.name + "}", quote(value, safe=""))
    elif field.location == "header":
        headers[field.name] = value
        if field.others:
            headers["Content-Type"] = "application/json"
            content = json.dumps(field.others).encode()
    else:
        headers["Content-Type"] = "application/json"
        # json.dumps, not httpx's json=: a float past the maximum must go as written.
        content = json.dumps({**field.others, field.name: value}, ensure_ascii=False).encode()
    return client.request(field.method, path, content=content, headers=headers)


def verdict(field: Input, value: Any, inside: bool, response: httpx.Response) -> str | None:
    """Why the answer breaks the binding, or None."""
    shown = f"{field.label} = {value!r} ({len(value) if isinstance(value, str) else 'number'}):"
    if response.status_code >= 500:
        return f"{shown} {response.status_code} {response.text[:200]}"
    if inside:
        if response.status_code in (400, 413, 415):
            return f"{shown} within the schema, refused for its shape: {response.text[:300]}"
        return None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if (
        response.status_code != 400
        or body.get("error") not in SHAPE_REFUSALS
        or body.get("field") != field.name
    ):
        return f"{shown} outside the schema, answered {response.status_code} {response.text[:300]}"
    return None


@pytest.mark.parametrize("field", INPUTS, ids=[field.label for field in INPUTS])
def test_the_served_reference_keeps_each_bound_both_ways(
    field: Input, client: httpx.Client, session: str
) -> None:
    narrowed = field.narrowed(load_profile(PROFILE))
    values = probes(field, narrowed)
    found, inside_count = [], 0
    for value in values:
        inside = within(narrowed, value)
        inside_count += inside
        response = send(client, field, value, session)
        if (broken := verdict(field, value, inside, response)) is not None:
            found.append(broken)
        moved = value if field.location == "body" else field.others.get("advance_seconds")
        if inside and field.path == "/test-clock" and response.status_code == 200 and moved is not None:
            lane = {field.name: value} if field.location == "header" else {}
            back = client.post(
                "/test-clock", json={"advance_seconds": -moved}, headers=lane
            )  # the next from 0
            assert back.status_code == 200, back.text
    assert not found, "\n".join(found)
    # Both sides were probed: a schema that lost its bounds would leave no probe outside.
    assert 0 < inside_count < len(values), f"{field.label}: probes fell on one side only"


def test_every_bounded_input_of_the_binding_is_probed() -> None:
    """The inputs the issue named, by operation: nothing is left unbounded by accident."""
    bounded = {(field.operation, field.name) for field in INPUTS}
    for operation, name in [
        ("login", "login_id"),
        ("login", "password"),
        ("login", "trust_token"),
        ("loginForSetup", "login_id"),
        ("submitAppCode", "code"),
        ("submitEmailCode", "code"),
        ("confirmEmail", "code"),
        ("registerApp", "code"),
        ("confirmReset", "code"),
        ("registerEmail", "address"),
        ("openResetLink", "token"),
        ("adminAddUser", "login_id"),
        ("adminRemoveUser", "login_id"),
        ("testClockAdvance", "advance_seconds"),
    ]:
        assert (operation, name) in bounded, f"{operation}.{name} has no bound in spec/openapi.yaml"
    for field in INPUTS:
        if field.name == "code":
            assert field.digits is not None, f"{field.label}: a code operation without x-code-digits"


def test_the_test_clock_offset_stays_within_its_answer_schema(client: httpx.Client) -> None:
    """Advances add up (§17) only as far as ``TestClock.offset_seconds`` may go: one more second
    is refused as invalid input, and changes nothing."""
    answer = SCHEMAS.resolve(SCHEMAS.doc["components"]["schemas"]["TestClock"])
    high = answer["properties"]["offset_seconds"]["maximum"]
    step = SCHEMAS.resolve(SCHEMAS.doc["components"]["schemas"]["TestClockAdvance"])
    largest = step["properties"]["advance_seconds"]["maximum"]
    start = client.get("/test-clock").json()["offset_seconds"]
    moves = []
    try:
        remaining = high - start
        while remaining > 0:
            move = min(largest, remaining)
            assert client.post("/test-clock", json={"advance_seconds": move}).status_code == 200
            moves.append(move)
            remaining -= move
        refused = client.post("/test-clock", json={"advance_seconds": 1})
        assert refused.status_code == 400, refused.text
        assert (refused.json()["error"], refused.json()["field"]) == ("invalid_input", "advance_seconds")
        assert client.get("/test-clock").json()["offset_seconds"] == high
    finally:
        for move in moves:
            client.post("/test-clock", json={"advance_seconds": -move})
