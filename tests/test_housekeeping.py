"""What a maintainer should find in the repository itself: comments that state facts rather than cite documents
outside it, an architecture document that names real modules and every dependency, no dependency that nothing
imports, no private helper imported from another module, and tests that import helpers, not conftests."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"

# Declared dependencies that no module imports by name, each with what loads it.
LOADED_INDIRECTLY = {
    "psycopg": "SQLAlchemy, for postgresql+psycopg:// URLs (replicate/targets.py)",
    "uvloop": "uvicorn's loop='auto' (sandbox/server.py)",
    "httptools": "uvicorn's http='httptools' (sandbox/server.py)",
    "ruff": "a command, run on the sources",
    "mypy": "a command, run on the package",
    "pytest-timeout": "pytest, through the `timeout` setting",
}
MODULE_NAMES = {"pyyaml": "yaml", "tomli-w": "tomli_w"}


def python_files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def imported_modules(*folders: str) -> set[str]:
    found: set[str] = set()
    for path in python_files(*folders):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def distribution(requirement: str) -> str:
    return re.split(r"[\[=<>;! ]", requirement, maxsplit=1)[0].lower()


def dependencies() -> tuple[list[str], list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return (
        [distribution(r) for r in project["dependencies"]],
        [distribution(r) for r in project["optional-dependencies"]["test"]],
    )


def module_of(name: str) -> str:
    return MODULE_NAMES.get(name, name.replace("-", "_"))


def test_no_comment_cites_a_document_outside_the_repository() -> None:
    citation = re.compile(r"DESIGN|API-NOTES|\btrap \d|§|\(issue \d+, item")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in python_files("src", "tests", "benchmarks")
        if path != Path(__file__)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if citation.search(line) and "RFC " not in line
    ]
    assert not found, "state the fact, or point at docs/ARCHITECTURE.md:\n" + "\n".join(found)


def test_every_runtime_dependency_is_imported_by_the_package() -> None:
    runtime, _ = dependencies()
    imported = imported_modules("src")
    unused = [name for name in runtime if name not in LOADED_INDIRECTLY and module_of(name) not in imported]
    assert not unused, f"declared but never imported by src/: {unused}"


def test_every_test_dependency_is_used_by_the_tests_or_the_benchmarks() -> None:
    _, test = dependencies()
    imported = imported_modules("tests", "benchmarks")
    unused = [name for name in test if name not in LOADED_INDIRECTLY and module_of(name) not in imported]
    assert not unused, f"declared for tests but never imported: {unused}"


def test_dependencies_said_to_be_loaded_indirectly_are_declared() -> None:
    runtime, test = dependencies()
    assert set(LOADED_INDIRECTLY) <= set(runtime) | set(test)


def test_the_architecture_document_names_every_runtime_dependency() -> None:
    runtime, _ = dependencies()
    text = ARCHITECTURE.read_text(encoding="utf-8").lower()
    assert [name for name in runtime if name not in text] == []


def test_the_architecture_document_names_modules_that_exist() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_*]+\.py)`", text))
    assert len(named) > 30
    files = [path.relative_to(ROOT).as_posix() for path in python_files("src", "tests", "benchmarks")]
    missing = [name for name in sorted(named) if not any(fnmatch(f, f"*{name}") for f in files)]
    assert missing == []


def test_the_readme_links_the_architecture_document() -> None:
    assert "(docs/ARCHITECTURE.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def private_imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import {alias.name}"


@pytest.mark.parametrize("folder", ["src", "tests", "benchmarks"])
def test_no_private_name_is_imported_from_another_module(folder: str) -> None:
    found = [line for path in python_files(folder) for line in private_imports(path)]
    assert found == [], "make the helper public where it belongs:\n" + "\n".join(found)


def test_tests_import_helpers_from_a_package_not_from_a_conftest() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in python_files("tests")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "conftest"
    ]
    assert found == [], "import from tests/helpers or the directory's support module:\n" + "\n".join(found)
