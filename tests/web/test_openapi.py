"""spec/openapi.yaml and the app agree: every operation is served, every API route is written
down, every schema is a valid JSON Schema, and every requirement ID is in the registry."""

from __future__ import annotations

import re

import jsonschema
from starlette.routing import Mount, Route

from ninsho.reference.web.app import create_app
from ninsho.reference.web.config import ServerConfig
from ninsho.spec.profile import Profile
from ninsho.spec.registry import requirements

from .support import OpenApi


def served_operations(profile: Profile) -> set[tuple[str, str]]:
    app = create_app(ServerConfig(profile=profile, db_path=None, pepper=b"p" * 32))
    [api] = [r for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1"]
    found = set()
    for route in api.routes:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method.lower(), route.path))
    return found


def test_every_operation_is_served_and_every_route_documented(openapi: OpenApi, profile: Profile) -> None:
    documented = {(method, path) for path, item in openapi.doc["paths"].items() for method in item}
    assert documented == served_operations(profile)


def test_operation_ids_are_unique_and_present(openapi: OpenApi) -> None:
    ids = [op["operationId"] for item in openapi.doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == sum(len(item) for item in openapi.doc["paths"].values())


def test_every_schema_is_valid_json_schema(openapi: OpenApi) -> None:
    schemas = openapi.doc["components"]["schemas"]
    assert schemas
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_ref_resolves(openapi: OpenApi) -> None:
    refs = set(re.findall(r"'\$ref': '([^']+)'", repr(openapi.doc)))
    assert refs
    for ref in refs:
        node = openapi.doc
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, ref
            node = node[part]


def test_requirement_ids_come_from_the_registry(openapi: OpenApi) -> None:
    known = set(requirements())
    used = {
        rid
        for item in openapi.doc["paths"].values()
        for op in item.values()
        for rid in op.get("x-requirements", [])
    }
    assert used and used <= known, sorted(used - known)


def test_every_operation_with_a_body_documents_the_input_refusals(openapi: OpenApi) -> None:
    """Malformed (400), oversized (413) and wrongly typed (415) bodies are part of the binding."""
    for path, item in openapi.doc["paths"].items():
        for method, op in item.items():
            if "requestBody" in op:
                assert {"400", "413", "415"} <= set(op["responses"]), f"{method} {path}"
