"""Type-check the runtime packages with mypy, as the ``lvas`` package they install as.

The folders ``graph/``, ``nodes/``, ``tools/``, ``retrieval_index/`` and ``prompts/`` install
as ``lvas.graph`` and so on through setuptools' package-dir mapping; an editable install
serves that mapping with an import hook, which mypy cannot follow. So this builds a view,
``build/typecheck/lvas/``, of symbolic links to the five folders and runs ``mypy -p lvas``
there with the settings of ``[tool.mypy]`` in pyproject.toml. Paths in the report are the
repository's own (``graph/state.py``, not ``lvas/graph/state.py``).

Usage: ``.venv/bin/python scripts/typecheck.py [more mypy options]``; the exit status is
mypy's (0: clean).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("graph", "nodes", "tools", "retrieval_index", "prompts")
VIEW = ROOT / "build" / "typecheck"  # build/ is ignored by git; the cache stays between runs


def build_view() -> Path:
    """``VIEW/lvas/<folder>`` links to each runtime folder (recreated if one moved)."""
    package = VIEW / "lvas"
    package.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        link = package / name
        if link.is_symlink() and link.resolve() != ROOT / name:
            link.unlink()
        if not link.is_symlink():
            link.symlink_to(ROOT / name, target_is_directory=True)
    return VIEW


def main(argv: list[str]) -> int:
    view = build_view()
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--cache-dir", str(view / ".mypy_cache"), *argv, "-p", "lvas"]
    result = subprocess.run(command, cwd=view, capture_output=True, text=True, check=False)
    in_view = re.compile(r"^lvas[/\\]", re.MULTILINE)
    sys.stdout.write(in_view.sub("", result.stdout))
    sys.stderr.write(in_view.sub("", result.stderr))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
