"""CI runs what the README tells a newcomer to run: both test tiers, from a fresh clone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\*\*Set up and run the tests\*\*.*?```bash\n(.+?)\n```", readme, re.S)
    assert found, "README lost its 'Set up and run the tests' command"
    return found[1].strip()


def test_ci_runs_the_readme_test_command() -> None:
    command = _readme_test_command()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_the_test_command_runs_both_tiers() -> None:
    runs = [part.strip() for part in _readme_test_command().split("&&")
            if "-m pytest" in part]
    assert runs == [".venv/bin/python -m pytest", ".venv/bin/python -m pytest -m slow"]
