"""The C extension (iterbridge._eventscan) under AddressSanitizer and UndefinedBehaviorSanitizer: built again with
both, it runs the tests that drive every one of its functions (the scanners' hypothesis tests over generated and
malformed export lines, the CSV, COPY, SQLite and dict-row writers), and any read or write out of bounds, use
after free, overflow or other undefined behaviour fails the run. A line from Iterable is untrusted input to C:
the equality tests say what it computes, this says it does so without touching memory it does not own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "iterbridge" / "_eventscan.c"
# The tests that call the extension's functions (each skips itself where the extension is missing: here it is not).
DRIVERS = ("tests/connector/test_event_scanner.py", "tests/connector/test_user_scanner.py")
REQUIRED = bool(os.environ.get("ITERBRIDGE_TEST_REQUIRE_SCANNER"))


def runtime(compiler: str, name: str) -> str | None:
    """The sanitizer's runtime library the compiler links with (it must be loaded first: python is not built with
    it), or None where the compiler has none."""
    found = subprocess.run([compiler, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return found if os.path.isabs(found) and os.path.exists(found) else None


def test_the_c_extension_under_sanitizers(tmp_path: Path) -> None:
    compiler = shutil.which("gcc")
    libraries = [runtime(compiler, name) for name in ("libasan.so", "libubsan.so")] if compiler else []
    if not compiler or None in libraries:
        if REQUIRED:  # .ci/run sets it: there a missing compiler or sanitizer is a failure
            pytest.fail(f"gcc with AddressSanitizer and UBSan is needed here (gcc: {compiler}, runtimes: {libraries})")
        pytest.skip("no gcc with AddressSanitizer and UBSan on this machine")
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src", copy, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    built = copy / "iterbridge" / f"_eventscan{sysconfig.get_config_var('EXT_SUFFIX')}"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-g", "-std=c11", "-fno-omit-frame-pointer",
         "-fsanitize=address,undefined", "-fno-sanitize-recover=all", f"-I{sysconfig.get_paths()['include']}",
         str(SOURCE), "-ldl", "-o", str(built)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    environment = {
        **os.environ,
        "LD_PRELOAD": " ".join(str(library) for library in libraries),
        "ASAN_OPTIONS": "detect_leaks=0",  # Python's own allocations outlive the run by design
        "UBSAN_OPTIONS": "print_stacktrace=1",
        "PYTHONPATH": os.pathsep.join([str(copy), str(ROOT / "tests")]),
        "ITERBRIDGE_TEST_REQUIRE_SCANNER": "1",
    }
    loaded = subprocess.run(
        [sys.executable, "-c", "import iterbridge._eventscan as c; print(c.__file__)"],
        env=environment, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert loaded.stdout.strip() == str(built), loaded.stderr[-2000:]  # the sanitized build, not the installed one
    # -s: a sanitizer writes its report to stderr as it ends the process, where a captured test's output is lost
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-x", "-p", "no:cacheprovider", *DRIVERS],
        env=environment, capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    output = run.stdout + run.stderr
    reports = [line for line in output.splitlines() if "runtime error" in line or "Sanitizer" in line]
    assert not reports, "\n".join(reports[:20])
    assert run.returncode == 0, output[-4000:]
    assert " passed" in output.splitlines()[-1], output[-2000:]
