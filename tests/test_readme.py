"""The README's two fresh-machine commands stay true: one sets up and replicates, one sets up and tests, both in
a virtualenv (a distribution Python refuses system-wide installs, PEP 668), and CI runs the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", quick_start)


def test_readme_opens_with_two_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert "iterbridge replicate" in commands[0]
    assert "pytest" in commands[1]


def test_both_commands_install_into_a_virtualenv_not_the_system_python() -> None:
    for command in _readme_commands():
        steps = [step.strip() for step in command.split("&&")]
        assert "\n" not in command  # one command each
        assert steps[0] == "python3 -m venv .venv"
        # Every later step runs from the virtualenv: nothing is installed into (or run by) the system Python.
        assert all(step.startswith(".venv/bin/") for step in steps[1:]), steps


def test_ci_runs_the_readme_test_command() -> None:
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert _readme_commands()[1] in ci_script.splitlines()
    assert "python3-venv" in ci_script  # what `python3 -m venv` needs on Debian, installed when missing
