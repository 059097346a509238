"""The CLI starts without what only some commands use: `iterbridge --help` took 0.7 s and 100 MB while it loaded
pyarrow, the sandbox's server and the targets' drivers; those are imported by the commands that need them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["pyarrow", "numpy", "duckdb", "sqlalchemy", "psycopg", "uvicorn", "starlette", "iterbridge.sandbox.app"]


def loaded_by(code: str) -> set[str]:
    """The HEAVY modules loaded once `code` ran in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_cli_loads_none_of_them() -> None:
    assert loaded_by("import iterbridge.cli") == set()


@pytest.mark.parametrize(
    ("code", "needed"),
    [
        ("from iterbridge.sandbox import Sandbox", {"uvicorn", "starlette", "iterbridge.sandbox.app"}),
        ("from iterbridge.replicate import replicate", {"pyarrow", "numpy"}),
        ("from iterbridge.sandbox import create_app", {"starlette", "iterbridge.sandbox.app"}),
    ],
)
def test_a_name_imported_brings_what_it_needs(code: str, needed: set[str]) -> None:
    """The names the packages' lazy __getattr__ give are the real ones, with their modules."""
    assert needed <= loaded_by(code)
