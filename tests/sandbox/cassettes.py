"""Recorded exchanges with the real Iterable API (VCR cassettes): loading, routing, and shape comparison.

The cassettes in ``../shared/iterable-reference/cassettes/`` were recorded against api.iterable.com between
2017 and 2022. This module reads them, tells which sandbox route each recorded request hits, and compares a
sandbox response with the recorded one by *shape*, because the values (ids, dates, names) are the recorder's
project's and never the sandbox's.

Comparison rules
----------------
* **Status code** equal.
* **Content type** equal, as the whole header value: ``application/json; charset=utf-8`` and
  ``application/json`` are different answers (newer endpoints omit the charset).
* **JSON bodies** are compared as shapes, recursively:

  - a scalar's kind: ``str``, ``int``, ``float``, ``bool``, ``null``. Integers and floats are *different*
    kinds: no recording mixes them at the same place, so nothing justifies treating them alike;
  - objects: every key of the recording must exist in the sandbox's answer with a compatible shape. Keys the
    sandbox adds are reported as *extras* and must be documented (by the Swagger spec's properties for that
    place, or by the API's documented behaviour) — the fidelity test checks that;
  - lists: the shapes of all elements are merged, so a list of objects is compared by the UNION of its
    elements' keys (records legitimately omit optional fields). An empty recorded list matches any list; a
    recorded list with elements needs a sandbox list with elements;
  - a recorded ``null`` where the spec has an object (the envelope's ``params``) matches null or an object
    (``PathRules.nullable_objects``);
  - the envelope's ``code`` is compared by value: it is the error class clients branch on, not data;
  - per-endpoint path rules (``PathRules``) say where an object's keys are data rather than shape (a custom
    event's ``dataFields``: only the kind is compared), where keys are data but values are shape (getFields'
    name → type map: all values compared as one shape), and where a value is one of documented variants (an
    in-app message's padding). Each rule carries its reason.

* **Known normalisations** (``NORMALISATIONS`` below, shown by the coverage summary):

  - Play's validation messages changed between 2017 and 2022 (``"msg": "error.path.missing"`` vs
    ``"msg": ["error.path.missing"]``): inside a ``BadJsonBody`` envelope's ``params`` a string and a list
    of strings are the same shape;
  - a ``BadJsonBody`` ``msg`` echoes the request's headers and body: only its prefix
    ``[/api/...] body:`` is compared (by value);
  - the 2017 ``Iterable_JsonExporter`` recordings are damaged: a field was removed by hand and a comma lost
    (``..."{\\"data\\":[]}""contentId"...``). Exactly that damage is repaired when the recording is read.

* **Non-JSON bodies** are compared by status and content type plus a structural check (the fidelity test's
  ``STRUCTURE`` table, with the checks below), applied to the recording and to the sandbox's answer:
  text/plain member lists hold one email per line; CSV has a header line (``id,`` first for
  campaigns/metrics) and rows as wide as it; JSONL export lines each parse as a JSON object; a 404 HTML page
  is Play's "Action not found"; any other plain-text message is compared as text.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml
from starlette.routing import compile_path

from iterbridge.sandbox.app import all_endpoints

REFERENCE_DIR = Path(__file__).parents[3] / "shared" / "iterable-reference"
CASSETTE_DIR = REFERENCE_DIR / "cassettes"
SPEC_PATH = REFERENCE_DIR / "api-docs.json"

MISSING_REFERENCE = (
    f"The Iterable reference material is missing: expected {CASSETTE_DIR} and {SPEC_PATH} "
    "(../shared/iterable-reference next to the repository). The fidelity suite compares the sandbox with "
    "those recordings and cannot run without them."
)

UNROUTED = "(unrouted path: Play's 404 page)"

# Shown in the coverage summary: every place where a recording is read or compared other than literally.
NORMALISATIONS: dict[str, str] = {
    "Play validation msg: string ≡ list of strings": "Play's JSON validation errors changed between 2017 "
    '("msg": "error.path.missing") and 2022 ("msg": ["error.path.missing"]); both are the same error',
    "BadJsonBody msg: prefix only": "the msg echoes the request's headers and body; only "
    "its `[/api/...] body:` prefix is compared",
    "Iterable_JsonExporter bodies repaired": "the 2017 recordings lost a comma where a field was removed by "
    'hand (`"{\\"data\\":[]}""contentId"`); exactly that damage is repaired when reading them',
}

_DAMAGED_EXPORT = b'"{\\"data\\":[]}""contentId"'
_REPAIRED_EXPORT = b'"{\\"data\\":[]}","contentId"'


# ---- the reference material -------------------------------------------------------------------------------


def reference_present() -> bool:
    return CASSETTE_DIR.is_dir() and SPEC_PATH.is_file()


# libyaml's safe loader when PyYAML was built with it (ten times faster on 357 files), else the Python one.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """PyYAML's safe loader plus VCR's `!binary` (base64) scalars, without touching the global loader."""


def _binary(loader: yaml.SafeLoader, node: yaml.Node) -> bytes:
    assert isinstance(node, yaml.ScalarNode)
    return base64.b64decode(loader.construct_scalar(node))


_Loader.add_constructor("!binary", _binary)


@dataclass(frozen=True)
class Interaction:
    """One recorded request and the real API's answer."""

    cassette: str  # the cassette's path under cassettes/, without .yml
    number: int  # 1-based position in the cassette
    method: str
    uri: str
    request_body: bytes
    status: int
    content_type: str | None
    body: bytes
    recorded_at: datetime

    @property
    def id(self) -> str:
        return f"{self.cassette}#{self.number}"

    @property
    def folder(self) -> str:
        """The example the cassette belongs to, e.g. Iterable_Lists/subscribe/when_successful."""
        return self.cassette.rsplit("/", 1)[0]

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.uri).path)

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.uri).query, keep_blank_values=True)

    @property
    def json(self) -> Any:
        """The recorded body as JSON (ValueError when it is not JSON)."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Cassette:
    name: str
    interactions: tuple[Interaction, ...]


def _text(value: Any) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else str(value).encode()


def _header(headers: dict[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name.lower() and values:
            return str(values[0])
    return None


def _read(path: Path) -> Cassette:
    name = path.relative_to(CASSETTE_DIR).with_suffix("").as_posix()
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    interactions = []
    for position, exchange in enumerate(document["http_interactions"], start=1):
        request, response = exchange["request"], exchange["response"]
        body = _text(response["body"].get("string"))
        if name.startswith("Iterable_JsonExporter/"):
            body = body.replace(_DAMAGED_EXPORT, _REPAIRED_EXPORT)
        interactions.append(
            Interaction(
                cassette=name,
                number=position,
                method=str(request["method"]).upper(),
                uri=str(request["uri"]),
                request_body=_text(request["body"].get("string")),
                status=int(response["status"]["code"]),
                content_type=_header(response["headers"], "Content-Type"),
                body=body,
                recorded_at=parsedate_to_datetime(str(exchange["recorded_at"])),
            )
        )
    return Cassette(name, tuple(interactions))


@cache
def load_cassettes() -> tuple[Cassette, ...]:
    """Every cassette, sorted by name; empty when the reference material is missing."""
    if not reference_present():
        return ()
    return tuple(_read(path) for path in sorted(CASSETTE_DIR.rglob("*.yml")))


def all_interactions() -> Iterator[Interaction]:
    for cassette in load_cassettes():
        yield from cassette.interactions


# ---- which sandbox route a recorded request hits ------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    name: str  # "GET /api/lists/{listId}", the sandbox's endpoint name
    method: str
    regex: re.Pattern[str]
    specificity: tuple[int, int, str]


@cache
def _templates() -> tuple[_Template, ...]:
    found = []
    for endpoint in all_endpoints():
        regex, _, _ = compile_path(endpoint.path)
        # The app's order: literal paths before templated ones (/api/users/getFields before /api/users/{email}).
        specificity = (endpoint.path.count("{"), -endpoint.path.count("/"), endpoint.path)
        found.append(_Template(endpoint.name, endpoint.method, regex, specificity))
    return tuple(sorted(found, key=lambda t: t.specificity))


def route_of(method: str, path: str) -> str | None:
    """The sandbox endpoint ("GET /api/lists/{listId}") a request hits, or None when none implements it."""
    for template in _templates():
        if template.method == method and template.regex.match(path):
            return template.name
    return None


def is_action_not_found(interaction: Interaction) -> bool:
    """The real API's answer to a path it does not route: Play's HTML 'Action not found' page."""
    return (
        interaction.status == 404
        and (interaction.content_type or "").startswith("text/html")
        and b"<title>Action not found</title>" in interaction.body
    )


def endpoint_of(interaction: Interaction) -> str | None:
    """The endpoint an interaction exercises in the sandbox: a route, UNROUTED (a path neither the real API
    nor the sandbox routes), or None (an endpoint the sandbox does not implement)."""
    routed = route_of(interaction.method, interaction.path)
    if routed is not None:
        return routed
    if is_action_not_found(interaction):
        return UNROUTED
    return None


def unimplemented_name(interaction: Interaction) -> str:
    return f"{interaction.method} {interaction.path}"


# ---- shapes ------------------------------------------------------------------------------------------------

Path_ = tuple[str, ...]  # a place in a JSON document: keys, with "[]" for list elements
ITEM = "[]"


def show(path: Path_) -> str:
    text = ""
    for part in path:
        text += part if part == ITEM else (f".{part}" if text else part)
    return text or "(body)"


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


@dataclass
class Shape:
    """The merged shape of one or more JSON values at the same place."""

    kinds: set[str] = field(default_factory=set)
    keys: dict[str, Shape] = field(default_factory=dict)  # objects: every key seen, with its merged shape
    items: Shape | None = None  # lists: the merged shape of every element (None: only empty lists seen)

    def add(self, value: Any) -> Shape:
        kind = kind_of(value)
        self.kinds.add(kind)
        if kind == "object":
            for key, inner in value.items():
                self.keys.setdefault(key, Shape()).add(inner)
        elif kind == "list":
            for element in value:
                if self.items is None:
                    self.items = Shape()
                self.items.add(element)
        return self


def shape_of(*values: Any) -> Shape:
    shape = Shape()
    for value in values:
        shape.add(value)
    return shape


def _matches(pattern: Path_, path: Path_) -> bool:
    return len(pattern) == len(path) and all(p in ("*", q) for p, q in zip(pattern, path, strict=True))


@dataclass(frozen=True)
class Variant:
    """One documented form of an object: its keys and their kinds."""

    keys: dict[str, frozenset[str]]

    def accepts(self, shape: Shape) -> bool:
        return (
            shape.kinds == {"object"}
            and set(shape.keys) == set(self.keys)
            and all(shape.keys[key].kinds <= kinds for key, kinds in self.keys.items())
        )

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}: {'|'.join(sorted(v))}" for k, v in self.keys.items()) + "}"


@dataclass
class PathRules:
    """Where a response's shape is read other than literally, each with its reason (documented or recorded)."""

    free_form: dict[Path_, str] = field(default_factory=dict)  # keys are data: only the kind is compared
    one_of: dict[Path_, tuple[tuple[Variant, ...], str]] = field(default_factory=dict)
    nullable_objects: dict[Path_, str] = field(default_factory=dict)  # recorded null ≡ null or object
    str_or_str_list: dict[Path_, str] = field(default_factory=dict)  # str ≡ list of str
    maps: dict[Path_, str] = field(default_factory=dict)  # keys are data: all values compared as one shape

    def find(self, table: dict[Path_, Any], path: Path_) -> Any | None:
        for pattern, value in table.items():
            if _matches(pattern, path):
                return value
        return None


@dataclass
class Comparison:
    problems: list[str] = field(default_factory=list)
    extras: list[tuple[Path_, str]] = field(default_factory=list)  # (where, key) the sandbox adds


def _kinds(shape: Shape, path: Path_, rules: PathRules, *, recorded: bool) -> set[str]:
    kinds = set(shape.kinds)
    if rules.find(rules.str_or_str_list, path) is not None and "list" in kinds:
        kinds = (kinds - {"list"}) | {"str"}
    if recorded and "null" in kinds and rules.find(rules.nullable_objects, path) is not None:
        kinds.add("object")
    return kinds


def compare_shapes(recorded: Shape, actual: Shape, rules: PathRules, path: Path_ = ()) -> Comparison:
    """How the sandbox's shape differs from the recorded one (see the module docstring)."""
    result = Comparison()
    _compare(recorded, actual, rules, path, result)
    return result


def _values(shape: Shape) -> Shape | None:
    """The merged shape of a map's values (None when it has none)."""
    merged: Shape | None = None
    for inner in shape.keys.values():
        merged = _merge(merged or Shape(), inner)
    return merged


def _merge(into: Shape, other: Shape) -> Shape:
    into.kinds |= other.kinds
    for key, inner in other.keys.items():
        into.keys[key] = _merge(into.keys.get(key, Shape()), inner)
    if other.items is not None:
        into.items = _merge(into.items or Shape(), other.items)
    return into


def _compare(recorded: Shape, actual: Shape, rules: PathRules, path: Path_, out: Comparison) -> None:
    where = show(path)
    variants = rules.find(rules.one_of, path)
    if variants is not None:
        choices, _ = variants
        for label, shape in (("recorded", recorded), ("sandbox", actual)):
            if not any(v.accepts(shape) for v in choices):
                forms = " or ".join(str(v) for v in choices)
                out.problems.append(f"{where}: the {label} value is none of the documented forms {forms}")
        return
    allowed = _kinds(recorded, path, rules, recorded=True)
    served = _kinds(actual, path, rules, recorded=False)
    if not served <= allowed:
        out.problems.append(f"{where}: recorded {'|'.join(sorted(allowed))}, sandbox {'|'.join(sorted(served))}")
        return
    if "object" in recorded.kinds and "object" in actual.kinds:
        if rules.find(rules.free_form, path) is not None:
            return
        if rules.find(rules.maps, path) is not None:
            recorded_values, actual_values = _values(recorded), _values(actual)
            if recorded_values is not None:
                if actual_values is None:
                    out.problems.append(f"{where}: the recorded map has entries, the sandbox's is empty")
                else:
                    _compare(recorded_values, actual_values, rules, (*path, "*"), out)
            return
        for key, inner in recorded.keys.items():
            if key not in actual.keys:
                out.problems.append(f"{where}: missing key {key!r}")
            else:
                _compare(inner, actual.keys[key], rules, (*path, key), out)
        out.extras.extend((path, key) for key in actual.keys if key not in recorded.keys)
    if rules.find(rules.str_or_str_list, path) is not None:
        for label, shape in (("recorded", recorded), ("sandbox", actual)):
            if shape.items is not None and not shape.items.kinds <= {"str"}:
                out.problems.append(f"{where}: the {label} list holds {'|'.join(sorted(shape.items.kinds))}")
        return
    if "list" in recorded.kinds and "list" in actual.kinds and recorded.items is not None:
        if actual.items is None:
            out.problems.append(f"{where}: the recorded list has elements, the sandbox's is empty")
        else:
            _compare(recorded.items, actual.items, rules, (*path, ITEM), out)


# ---- non-JSON bodies ---------------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def member_lines_problems(body: str) -> list[str]:
    """lists/getUsers: one email per line, every line ended by a newline."""
    if body and not body.endswith("\n"):
        return ["the member list does not end with a newline"]
    return [
        f"line {n}: {line!r} is not an email" for n, line in enumerate(body.splitlines(), 1) if not _EMAIL.match(line)
    ]


def csv_problems(body: str, first_column: str | None = None) -> list[str]:
    """A header line (starting with `first_column` when given), and rows as wide as the header."""
    rows = list(csv.reader(io.StringIO(body)))
    if not rows or not any(rows[0]):
        return ["no CSV header line"]
    header = rows[0]
    problems = []
    if first_column is not None and header[0] != first_column:
        problems.append(f"the CSV header starts with {header[0]!r}, not {first_column!r}")
    problems += [f"row {n} has {len(row)} cells, the header {len(header)}" for n, row in enumerate(rows[1:], 2)
                 if len(row) != len(header)]  # fmt: skip
    return problems


def jsonl_problems(body: str) -> list[str]:
    """An export stream: every non-blank line is a JSON object."""
    problems = []
    for n, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            problems.append(f"line {n} is not JSON: {line[:80]!r}")
            continue
        if not isinstance(value, dict):
            problems.append(f"line {n} is a JSON {kind_of(value)}, not an object")
    return problems


def action_not_found_problems(body: str) -> list[str]:
    return [] if "<title>Action not found</title>" in body else ["not Play's 'Action not found' page"]
