"""Iterable's Swagger 2.0 spec (api-docs.json): which response schema an endpoint declares, what it documents at
a place in a body, and validation of bodies with jsonschema.

Swagger 2.0 definitions refer to each other as `#/definitions/...`; the whole spec is registered as one
resource (`urn:iterable-api-docs`) so those references resolve. The spec is wrong in known places: callers
pass explicit overrides (JSON pointers into the spec and their replacement), each with its reason.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from cassettes import ITEM, SPEC_PATH, Path_
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.routing import compile_path

SPEC_URI = "urn:iterable-api-docs"
ENVELOPE = "#/definitions/IterableApiResponse"


@cache
def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


@dataclass(frozen=True)
class Override:
    """Replace the value at a JSON pointer of the spec; `reason` states the real API's behaviour or a recording."""

    pointer: str
    value: Any
    reason: str


def _tokens(pointer: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.lstrip("/").split("/")]


def patched(spec: dict[str, Any], overrides: list[Override]) -> dict[str, Any]:
    """A copy of the spec with the overrides applied; an override whose parent does not exist is an error."""
    result = copy.deepcopy(spec)
    for override in overrides:
        *parents, last = _tokens(override.pointer)
        node: Any = result
        for token in parents:
            if token not in node:
                raise KeyError(f"override {override.pointer}: {token!r} is not in the spec")
            node = node[token]
        node[last] = copy.deepcopy(override.value)
    return result


def value_at(spec: dict[str, Any], pointer: str) -> Any:
    node: Any = spec
    for token in _tokens(pointer):
        node = node[token]
    return node


# ---- which operation a request hits ---------------------------------------------------------------------


@cache
def _spec_routes() -> tuple[tuple[str, re.Pattern[str]], ...]:
    templates = sorted(load_spec()["paths"], key=lambda p: (p.count("{"), -p.count("/"), p))
    return tuple((template, compile_path(template)[0]) for template in templates)


def spec_path(path: str) -> str | None:
    """The spec's path template for a concrete request path (literal paths first)."""
    for template, regex in _spec_routes():
        if regex.match(path):
            return template
    return None


def response_schema(spec: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any] | None:
    """The schema the spec declares for an answer; error answers without one are the {msg, code, params} envelope."""
    template = spec_path(path)
    operation = spec["paths"].get(template, {}).get(method.lower()) if template else None
    if operation is None:
        return None
    declared = operation.get("responses", {}).get(str(status), {}).get("schema")
    if declared is None and status >= 400:
        return {"$ref": ENVELOPE}
    return declared if isinstance(declared, dict) else None


# ---- what the spec documents at a place ---------------------------------------------------------------------


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    name = None
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["definitions"][name]
        seen += 1
    return schema, name


def schema_at(spec: dict[str, Any], schema: dict[str, Any], path: Path_) -> tuple[dict[str, Any], str | None] | None:
    """The (resolved) schema at a place in a body, and its definition's name; None where the spec says nothing."""
    current, name = _resolve(spec, schema)
    for part in path:
        if part == ITEM:
            inner = current.get("items")
        else:
            inner = current.get("properties", {}).get(part)
            if inner is None and isinstance(current.get("additionalProperties"), dict):
                inner = current["additionalProperties"]
        if not isinstance(inner, dict):
            return None
        current, inner_name = _resolve(spec, inner)
        name = inner_name or name
    return current, name


FREE_FORM = "free-form"


def documents_key(spec: dict[str, Any], schema: dict[str, Any] | None, path: Path_, key: str) -> str | None:
    """`spec <Definition>` when the spec lists `key` in the object at `path`, FREE_FORM when the spec declares
    that object without properties (any key), None when the spec does not document it."""
    if schema is None:
        return None
    found = schema_at(spec, schema, path)
    if found is None:
        return None
    parent, name = found
    properties = parent.get("properties") or {}
    if key in properties:
        return f"spec {name or 'response schema'}"
    if not properties and parent.get("type", "object") == "object" and parent.get("additionalProperties") is not False:
        return FREE_FORM
    return None


# ---- validation -------------------------------------------------------------------------------------------


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("int32")
    def _int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def _int64(value: object) -> bool:
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if isinstance(value, str):
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    return checker


class SpecValidator:
    """Validates response bodies against the (overridden) spec, with int32/int64/date-time formats checked."""

    def __init__(self, overrides: list[Override]) -> None:
        self.spec = patched(load_spec(), overrides)
        resource = Resource.from_contents(self.spec, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self.checker = _format_checker()

    def schema(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        return response_schema(self.spec, method, path, status)

    def errors(self, schema: dict[str, Any], body: Any) -> list[str]:
        rooted = json.loads(json.dumps(schema).replace('"#/definitions/', f'"{SPEC_URI}#/definitions/'))
        validator = Draft4Validator(rooted, registry=self.registry, format_checker=self.checker)
        found = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        return [
            f"{'.'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message[:300]}" for error in found
        ]
