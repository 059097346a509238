"""`iterbridge export` and `iterbridge query` over a sandbox serving malformed export lines: every good row is
delivered (Iterable's missing-comma defect repaired), the other bad lines are kept verbatim in the quarantine file
the report names, and the exit code is 5 (a slice skipped) — never "internal error"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import Result

import iterbridge
from iterbridge.api.jsonlines import QUARANTINE_DIR_ENV
from iterbridge.cli import query as query_cli
from iterbridge.objects.events import EVENT_TYPES

from .support import Stats, read_csv

GARBAGE_EVERY = 7
FAULTS = {"missing_comma_every": 2, "garbage_every": GARBAGE_EVERY}


def spoiled_lines(api: httpx2.Client, data_type: str) -> list[bytes]:
    """The lines of an export the sandbox spoils beyond repair (every GARBAGE_EVERYth), as it serves them."""
    served = api.get("/api/export/data.json", params={"dataTypeName": data_type, "range": "All"})
    return served.content.splitlines()[GARBAGE_EVERY - 1 :: GARBAGE_EVERY]


def quarantined(result: Result, directory: Path) -> list[bytes]:
    """The lines of the one quarantine file, which the report names."""
    (path,) = directory.iterdir()
    assert f"malformed export line(s) skipped, kept verbatim in {path}" in result.stderr
    return path.read_bytes().splitlines()


@pytest.mark.parametrize(("obj", "data_types"), [("Users", ["user"]), ("Events", EVENT_TYPES)])
def test_export_delivers_every_good_row_and_quarantines_the_rest(
    cli: Callable[..., Result], api: httpx2.Client, stats: Stats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    obj: str, data_types: list[str],
) -> None:  # fmt: skip
    monkeypatch.setenv(QUARANTINE_DIR_ENV, str(tmp_path / "quarantine"))
    clean = cli("export", obj, "-o", str(tmp_path / "clean.csv"))
    assert clean.exit_code == 0, clean.output
    stats.faults(**FAULTS)
    bad = [line for data_type in data_types for line in spoiled_lines(api, data_type)]
    result = cli("export", obj, "-o", str(tmp_path / "spoiled.csv"))
    assert result.exit_code == 5, result.output
    assert "internal error" not in result.output
    assert Counter(quarantined(result, tmp_path / "quarantine")) == Counter(bad)
    assert len(bad) > 3
    expected, got = read_csv(tmp_path / "clean.csv"), read_csv(tmp_path / "spoiled.csv")
    assert len(got) == len(expected) - len(bad)
    assert not Counter(map(_key, got)) - Counter(map(_key, expected))  # every row written is a clean row
    if obj == "Events":
        assert "export line(s) repaired (Iterable's known defect: the comma missing after transactionalData)" in (
            result.stderr)  # fmt: skip
    assert f"skipped {obj} " in result.stderr


def _key(row: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(row.items()))


def test_query_reports_and_exits_5(
    cli: Callable[..., Result], api: httpx2.Client, stats: Stats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_connection(profile: str | None, region: str | None, base_url: str | None, sandbox: bool) -> Any:
        return iterbridge.connect(profile=profile, region=region, base_url=base_url, rate_limit_factor=None)

    monkeypatch.setattr(query_cli, "open_connection", open_connection)
    monkeypatch.setenv(QUARANTINE_DIR_ENV, str(tmp_path))
    total = len(api.get("/api/export/data.json", params={"dataTypeName": "user", "range": "All"}).content.splitlines())
    stats.faults(**FAULTS)
    bad = spoiled_lines(api, "user")
    result = cli("query", "SELECT count(*) AS n FROM Users", "--format", "csv")
    assert result.exit_code == 5, result.output
    assert result.stdout.splitlines() == ["n", str(total - len(bad))]
    assert len(quarantined(result, tmp_path)) == len(bad) > 2  # lines of the query's narrower export (onlyFields)
