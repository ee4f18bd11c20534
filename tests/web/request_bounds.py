"""The request schemas of spec/openapi.yaml as an oracle of input shape (issue "Sessions,
throttling and mail safety", item 10: the schemas lacked the bounds the server enforces).

The binding says (its description, spec/protocol.md §16.3): a value within its request schema is
never refused for its shape, and the reference refuses every value outside it as invalid input
naming the field. These helpers read every bounded input of the document, narrow each code's
pattern to the profile's digits (the operation's ``x-code-digits``), and tell whether a value is
within its schema. They know no bound themselves: every number comes from the document and the
profile, so a bound changed on one side only fails tests/web/test_schema_bounds.py.

Patterns are ECMA-262's, as JSON Schema says: ``$`` is the end of the string, where Python's
``re`` also matches before a final newline; :func:`ecma` reads them so.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError

from ninsho.spec.profile import Profile

from .support import REPO

SPEC = REPO / "spec" / "openapi.yaml"
# The binding's refusals of a value's shape (spec/protocol.md §16.3): invalid input, and an
# address that is not one. malformed_body is a wrong type or field, which no probe sends.
SHAPE_REFUSALS = ("invalid_input", "invalid_address")
_QUANTIFIER = re.compile(r"\{(\d+),(\d+)\}")


def ecma(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ECMA-262's ``$``: the very end. Only a final ``$`` is expected."""
    body = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
    assert "$" not in body.replace(r"\$", ""), f"{pattern!r}: a '$' inside a pattern is not read here"
    return re.compile(body)


def _pattern(validator: Any, pattern: str, instance: object, schema: dict[str, Any]) -> Any:
    if validator.is_type(instance, "string") and not ecma(pattern).search(str(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


def _is_text(value: object) -> bool:
    """The binding's strings are Unicode text: a lone surrogate is outside every string schema."""
    return not isinstance(value, str) or not any("\ud800" <= c <= "\udfff" for c in value)


def within(schema: dict[str, Any], value: object) -> bool:
    return _is_text(value) and _Validator(schema).is_valid(value)


@dataclass(frozen=True)
class Input:
    """One bounded input of one operation: a body field, a path parameter or a header."""

    operation: str  # operationId
    method: str
    path: str  # the template, e.g. /admin/users/{login_id}
    name: str
    location: str  # "body", "path" or "header"
    schema: dict[str, Any]  # $refs resolved
    others: dict[str, Any]  # the body's other required fields, each its schema's first example
    digits: str | None  # the profile key of x-code-digits, for a code
    admin: bool
    public: bool  # security: [] (no session needed)

    @property
    def label(self) -> str:
        return f"{self.operation}.{self.name}"

    def narrowed(self, profile: Profile) -> dict[str, Any]:
        """The schema under ``profile``: a code's one ``{m,n}`` digit count becomes the profile's."""
        if self.digits is None:
            return self.schema
        digits = profile.parameters[self.digits]
        assert isinstance(digits, int)
        pattern = self.schema["pattern"]
        [(low, high)] = _QUANTIFIER.findall(pattern)
        assert int(low) <= digits <= int(high), (
            f"{self.label}: {digits} digits outside the pattern's {{{low},{high}}}"
        )
        return {**self.schema, "pattern": _QUANTIFIER.sub(f"{{{digits}}}", pattern)}

    def examples(self) -> list[Any]:
        found = self.schema.get("examples")
        assert found, f"{self.label}: a bounded input needs examples, the seeds of its probes"
        return list(found)


BOUNDS = ("pattern", "minLength", "maxLength", "minimum", "maximum")


class RequestSchemas:
    """The operations of spec/openapi.yaml and their bounded inputs."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = yaml.safe_load(SPEC.read_text("utf-8"))

    def resolve(self, node: Any) -> Any:
        """``node`` with every ``$ref`` inlined (request schemas have no cycles)."""
        if isinstance(node, dict):
            if "$ref" in node:
                target: Any = self.doc
                for part in node["$ref"].removeprefix("#/").split("/"):
                    target = target[part]
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**self.resolve(copy.deepcopy(target)), **self.resolve(rest)}
            return {k: self.resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.resolve(v) for v in node]
        return node

    def body_schema(self, operation: dict[str, Any]) -> dict[str, Any] | None:
        if "requestBody" not in operation:
            return None
        body = self.resolve(operation["requestBody"])
        schema: dict[str, Any] = body["content"]["application/json"]["schema"]
        return schema

    def operation(self, operation_id: str) -> tuple[str, str, dict[str, Any]]:
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if op["operationId"] == operation_id:
                    return method, path, op
        raise KeyError(operation_id)

    def inputs(self) -> list[Input]:
        """Every input with a bound, in the document's order."""
        found = []
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                common = {
                    "operation": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "digits": op.get("x-code-digits"),
                    "admin": path.startswith("/admin/"),
                    "public": op.get("security") == [],
                }
                body = self.body_schema(op)
                for parameter in self.resolve(op.get("parameters", [])):
                    if any(bound in parameter["schema"] for bound in BOUNDS):
                        found.append(
                            Input(
                                name=parameter["name"],
                                location=parameter["in"],
                                schema=parameter["schema"],
                                others=_examples(body, parameter["name"]),
                                **common,
                            )
                        )
                for name, schema in (body or {}).get("properties", {}).items():
                    if any(bound in schema for bound in BOUNDS):
                        found.append(
                            Input(
                                name=name,
                                location="body",
                                schema=schema,
                                others=_examples(body, name),
                                **common,
                            )
                        )
        return found

    def body_within(self, operation_id: str, body: object, profile: Profile) -> bool:
        """Whether a whole body is within its operation's schema, codes narrowed to ``profile``."""
        _, _, op = self.operation(operation_id)
        schema = self.body_schema(op)
        if schema is None:
            return True
        narrowed = copy.deepcopy(schema)
        for field in self.inputs():
            if field.operation == operation_id and field.location == "body":
                narrowed["properties"][field.name] = field.narrowed(profile)
        return within(narrowed, body)

    def case_within(
        self, operation_id: str, body: object, path_parameters: dict[str, Any], profile: Profile
    ) -> bool:
        """Whether a whole request (its body, or None for none, and its path) is within its schemas."""
        for field in self.inputs():
            mine = field.operation == operation_id and field.location == "path"
            if (
                mine
                and field.name in path_parameters
                and not within(field.narrowed(profile), path_parameters[field.name])
            ):
                return False
        return body is None or self.body_within(operation_id, body, profile)


def _examples(body: dict[str, Any] | None, but: str) -> dict[str, Any]:
    """The body's required fields but ``but``, each its schema's first example."""
    if body is None:
        return {}
    return {
        other: body["properties"][other]["examples"][0] for other in body.get("required", []) if other != but
    }
