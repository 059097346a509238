"""Adding an object is one module in objects/ plus one registry line: an object declared here, at test time, and
registered in the catalog goes through `query` (SELECT, INSERT, EXPLAIN), `export`, `import` and `replicate`
without any other module knowing its name.

The object reads Iterable's metadata API (key-value tables, GET /api/metadata…), which no shipped object
covers: a real endpoint family with keys, a marker paginator and a write (PUT is an upsert by table and key),
so it exercises what an object declares — keys, filters, a write, an upsert, a read cost, a row estimate —
rather than a second name for an endpoint already read.
"""

from __future__ import annotations

import ast
import csv
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner, Result

import iterbridge
from helpers import cli_env
from iterbridge.api.paging import MarkerPaginator, records
from iterbridge.cli import main
from iterbridge.objects import OBJECTS
from iterbridge.objects.base import Column, ObjectDef, Operation, ReadRequest, Row, SqlType, Write, rows_from
from iterbridge.objects.facts import Pushdown, ReadCost
from iterbridge.objects.writing import per_row
from iterbridge.sandbox import Sandbox

SRC = Path(iterbridge.__file__).parent

# ---- the object: what a module in objects/ would hold -------------------------------------------------------


def _read(conn: Any, obj: ObjectDef, request: ReadRequest) -> Iterator[Row]:
    wanted = request.values("TableName")
    if wanted is None:
        wanted = [t["name"] for t in conn.client.json("GET /api/metadata").get("results") or []]
    columns = conn.columns(obj)
    for table in (str(t) for t in wanted):
        pages = MarkerPaginator().pages(conn.client, "GET /api/metadata/{table}", "results", path={"table": table})
        for record in records(pages):
            if request.wants("Value"):  # only the single-key read answers the value
                path = {"table": table, "key": record["key"]}
                record = conn.client.json("GET /api/metadata/{table}/{key}", path=path)
            yield from rows_from(iter([record]), columns)


def _put(conn: Any, row: Row) -> dict[str, Any]:
    value = json.loads(row["Value"]) if isinstance(row["Value"], str) else row["Value"]
    path = {"table": str(row["TableName"]), "key": str(row["Key"])}
    conn.client.request("PUT /api/metadata/{table}/{key}", path=path, json={"value": value})
    return {"TableName": path["table"], "Key": path["key"]}


def _cost(pushdown: Pushdown) -> ReadCost:
    tables = "" if pushdown.by_value("TableName") else " + GET /api/metadata"
    values = " + 1 per key (Value)" if "Value" in pushdown.used else ""
    return ReadCost("GET /api/metadata/{table} (pages of 100 keys)", f"1 per 100 keys{tables}{values}",
                    "GET /api/metadata/{table}")  # fmt: skip


NAME = "KeyValues"
KEY_VALUES = ObjectDef(
    name=NAME,
    description="Key-value tables of the metadata API.",
    columns=(
        Column("TableName", SqlType.TEXT, "table", key=True),
        Column("Key", SqlType.TEXT, "key", key=True),
        Column("Size", SqlType.INTEGER, "size", read_only=True),
        Column("LastModified", SqlType.TIMESTAMP, "lastModified", read_only=True),
        Column("Value", SqlType.JSON, "value"),
    ),
    reader=_read,
    filters=("TableName",),
    writes={
        Operation.INSERT: Write(
            per_row(_put),
            required=(("TableName",), ("Key",), ("Value",)),
            description="PUT /api/metadata/{table}/{key}",
        )
    },
    cursor="LastModified",
    upsert=Operation.INSERT,  # a PUT replaces the value of its key
    row_estimate=100,
    cost=_cost,
)


@pytest.fixture
def registered() -> Iterator[ObjectDef]:
    """The one registry line, for this test only."""
    assert NAME not in OBJECTS
    OBJECTS[NAME] = KEY_VALUES
    try:
        yield KEY_VALUES
    finally:
        del OBJECTS[NAME]


@pytest.fixture
def cli(sandbox: Sandbox, tmp_path: Path) -> Any:
    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(main, list(args), env=cli_env(tmp_path, sandbox), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return invoke


def stored(api: httpx2.Client, table: str) -> dict[str, Any]:
    """A metadata table's keys and values, as the API serves them."""
    keys = [r["key"] for r in api.get(f"/api/metadata/{table}").json()["results"]]
    return {key: api.get(f"/api/metadata/{table}/{key}").json()["value"] for key in keys}


# ---- the jobs, none of which knows the object --------------------------------------------------------------


def test_query_reads_writes_and_explains_a_registered_object(
    registered: ObjectDef, conn: iterbridge.Connection, api: httpx2.Client, cli: Any
) -> None:
    conn.sql(f"""INSERT INTO {NAME} (TableName, Key, Value) VALUES ('flags', 'beta', '{{"on": true}}')""")
    conn.sql(f"""INSERT INTO {NAME} (TableName, Key, Value) VALUES ('flags', 'dark', '{{"on": false}}')""")
    assert stored(api, "flags") == {"beta": {"on": True}, "dark": {"on": False}}

    result = cli("query", f"SELECT TableName, Key, Value FROM {NAME} WHERE TableName = 'flags' ORDER BY Key",
                 "--format", "csv")  # fmt: skip
    assert list(csv.reader(result.stdout.splitlines())) == [
        ["TableName", "Key", "Value"],
        ["flags", "beta", '{"on":true}'],
        ["flags", "dark", '{"on":false}'],
    ]
    plan = cli("query", "--explain", f"SELECT Key FROM {NAME}", "--format", "json")
    (row,) = json.loads(plan.stdout)
    assert row["object"] == NAME
    assert row["endpoint"] == "GET /api/metadata/{table} (pages of 100 keys)"  # the declared cost
    assert row["api calls"] == "1 per 100 keys + GET /api/metadata"


def test_import_and_export_a_registered_object(
    registered: ObjectDef, api: httpx2.Client, cli: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text('TableName,Key,Value\ncolors,sky,"{""hex"": ""#00f""}"\ncolors,sun,"{""hex"": ""#ff0""}"\n')
    cli("import", NAME, str(source), "--operation", "upsert")  # the declared upsert
    cli("import", NAME, str(source), "--operation", "upsert")  # by key: nothing doubled
    assert stored(api, "colors") == {"sky": {"hex": "#00f"}, "sun": {"hex": "#ff0"}}

    out = tmp_path / "out.csv"
    cli("export", NAME, "-o", str(out), "--columns", "TableName,Key,Value", "--where", "TableName = 'colors'")
    with out.open(newline="") as handle:
        assert [(r["Key"], json.loads(r["Value"])) for r in csv.DictReader(handle)] == [
            ("sky", {"hex": "#00f"}),
            ("sun", {"hex": "#ff0"}),
        ]


def test_replicate_a_registered_object_into_sqlite(
    registered: ObjectDef, api: httpx2.Client, cli: Any, tmp_path: Path
) -> None:
    for key, value in (("a", {"n": 1}), ("b", {"n": 2})):
        api.put(f"/api/metadata/limits/{key}", json={"value": value}).raise_for_status()
    target = tmp_path / "copy.db"
    cli("replicate", "--to", f"sqlite:///{target}", "--objects", NAME)
    with sqlite3.connect(target) as db:
        rows = db.execute(f'SELECT "TableName", "Key", "Value" FROM "{NAME}" ORDER BY "Key"').fetchall()
    assert [(t, k, json.loads(v)) for t, k, v in rows] == [("limits", "a", {"n": 1}), ("limits", "b", {"n": 2})]

    api.delete("/api/metadata/limits/a").raise_for_status()
    cli("replicate", "--to", f"sqlite:///{target}", "--objects", NAME)  # the default policy: full, swept
    with sqlite3.connect(target) as db:
        assert db.execute(f'SELECT "Key" FROM "{NAME}"').fetchall() == [("b",)]


# ---- and no module outside the catalog names an object -----------------------------------------------------


def _literals(tree: ast.AST) -> Iterator[ast.Constant]:
    """The string constants of a module, less its docstrings and the CLI's help texts (prose for people)."""
    prose: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            prose.add(id(body[0].value))
        if isinstance(node, ast.keyword) and node.arg == "help":
            prose.update(id(n) for n in ast.walk(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            yield node


def test_no_module_outside_the_catalog_names_an_object() -> None:
    """Facts about an object are declared on it: a job that tests or looks up an object's name would need
    changing for the next object. The sandbox is apart (it simulates Iterable's endpoints, not the catalog)."""
    names = re.compile(r"\b(" + "|".join(map(re.escape, OBJECTS)) + r")\b")
    found = []
    for path in sorted(SRC.rglob("*.py")):
        inside = path.relative_to(SRC).parts[0]
        if inside in ("objects", "sandbox"):
            continue
        for node in _literals(ast.parse(path.read_text(), str(path))):
            if names.search(node.value):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value!r}")
    assert found == []
