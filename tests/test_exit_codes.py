"""The README's table of exit codes, walked: for every code it lists, a real CLI run against the sandbox that
must end with it — and no code in the table without such a run."""

from __future__ import annotations

import functools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

import iterbridge.api.client
import iterbridge.cli.objects
from helpers import Stats, cli_env
from iterbridge.api.client import RetryPolicy
from iterbridge.cli import main
from iterbridge.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]


def readme_exit_codes() -> dict[int, str]:
    """The rows `| code | meaning |` of the README's exit-code table."""
    text = (ROOT / "README.md").read_text()
    table = text.split("| code | meaning |", 1)[1].split("\n\n", 1)[0]
    return {int(code): meaning for code, meaning in re.findall(r"^\| (\d+) \| (.+?) \|$", table, re.MULTILINE)}


@dataclass
class Run:
    """What a case needs: the CLI in-process against the shared sandbox, and the sandbox itself."""

    sandbox: Sandbox
    stats: Stats
    api: httpx2.Client
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch

    def cli(self, *args: str, input: str | None = None, **env: str) -> int:
        result = CliRunner(env={**cli_env(self.tmp_path, self.sandbox), **env}).invoke(main, list(args), input=input)
        assert "Traceback" not in result.output
        assert self.sandbox.api_key not in result.output
        if result.exit_code in (2, 3, 4, 70):  # an error, not a job's outcome (1, 5, 6 print their report)
            assert result.stderr.strip().splitlines()[-1].startswith("error: "), result.stderr
        return result.exit_code

    def stopped_export(self, signum: int) -> int:
        """`iterbridge export Events` in a process of its own, sent `signum` once it is writing rows (it paces
        for Iterable's real limits: one event type every 15 s, so it is still running)."""
        target = self.tmp_path / "events.csv"
        env = {k: v for k, v in {**os.environ, **cli_env(self.tmp_path, self.sandbox)}.items() if v is not None}
        command = [sys.executable, "-m", "iterbridge", "export", "Events", "-o", str(target)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not any(p.name.endswith(".part") and p.stat().st_size > 1000 for p in self.tmp_path.iterdir()):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the export never started writing"
                time.sleep(0.05)
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        assert "Traceback" not in stderr.decode()
        return process.returncode


def _csv(run: Run, text: str) -> str:
    path = run.tmp_path / "input.csv"
    path.write_text(text)
    return str(path)


def _skipped_list(run: Run) -> int:
    first_list = run.api.get("/api/lists").json()["lists"][0]["id"]
    run.stats.faults(error_lists=[first_list])
    target = f"sqlite:///{run.tmp_path / 'copy.db'}"
    return run.cli("replicate", "--rate-limits", "off", "--to", target, "--objects", "ListUsers")


def _sync_record_refused(run: Run) -> int:
    database = run.tmp_path / "items.db"
    with sqlite3.connect(database) as db:
        db.execute('CREATE TABLE "CatalogItems" ("CatalogName" TEXT NOT NULL, "ItemId" TEXT NOT NULL, "Size" BIGINT, '
                   '"LastModified" DATETIME, "Value" JSON, PRIMARY KEY ("CatalogName", "ItemId"))')  # fmt: skip
        db.execute("INSERT INTO CatalogItems VALUES ('products', 'bad-item', 0, NULL, '{\"dotted.name\": 1}')")
    db.close()
    return run.cli("sync", "CatalogItems", "--catalog", "products", "--with", f"sqlite:///{database}")


def _internal_error(run: Run) -> int:
    def broken(name: str) -> None:
        raise RuntimeError("a bug")

    run.monkeypatch.setattr(iterbridge.cli.objects, "get_object", broken)
    return run.cli("describe", "Lists")


def _iterable_not_answering(run: Run) -> int:
    run.stats.faults(error_rate=1.0, error_endpoint="/api/channels")
    return run.cli("check")


@dataclass(frozen=True)
class Case:
    code: int
    name: str
    run: Callable[[Run], int]


CASES = [
    Case(0, "a key check", lambda run: run.cli("check")),
    Case(1, "an import with a row Iterable rejects",
         lambda run: run.cli("import", "Catalogs", _csv(run, "Name\nproducts\n"))),
    Case(2, "a missing import file", lambda run: run.cli("import", "Lists", str(run.tmp_path / "missing.csv"))),
    Case(2, "a query that does not parse", lambda run: run.cli("query", "SELEC 1")),
    Case(2, "the query shell given a statement that does not parse", lambda run: run.cli("query", input="SELEC 1;\n")),
    Case(2, "a base URL that is not http", lambda run: run.cli("check", "--base-url", "ftp://x")),
    Case(2, "a SQL insert missing a required column",
         lambda run: run.cli("query", "INSERT INTO Lists(Description) VALUES ('x')")),
    Case(3, "a catalog insert Iterable refuses",
         lambda run: run.cli("query", "INSERT INTO Catalogs(Name) VALUES ('products')")),
    Case(3, "Iterable failing every try", _iterable_not_answering),
    Case(4, "a refused API key", lambda run: run.cli("check", ITERABLE_API_KEY="not-the-key")),
    Case(5, "a list Iterable cannot serve", _skipped_list),
    Case(6, "a sync record Iterable refuses", _sync_record_refused),
    Case(70, "a bug", _internal_error),
    Case(130, "Ctrl-C during an export", lambda run: run.stopped_export(signal.SIGINT)),
    Case(143, "SIGTERM during an export", lambda run: run.stopped_export(signal.SIGTERM)),
]  # fmt: skip


def test_every_code_of_the_readme_has_a_case_and_every_case_a_code() -> None:
    listed = readme_exit_codes()
    assert {0, 1, 2, 130, 143} <= set(listed)  # the table was found and read
    assert set(listed) == {case.code for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[f"{case.code}-{case.name.replace(' ', '-')}" for case in CASES])
def test_the_case_exits_with_its_code(
    case: Case, sandbox: Sandbox, stats: Stats, api: httpx2.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = functools.partial(RetryPolicy, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0)
    monkeypatch.setattr(iterbridge.api.client, "RetryPolicy", fast)
    monkeypatch.chdir(tmp_path)
    assert case.run(Run(sandbox, stats, api, tmp_path, monkeypatch)) == case.code
