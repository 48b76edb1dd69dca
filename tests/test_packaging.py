"""The distribution installs one namespace, ``lvas``, and every module imports on its own.

These guard the layout of issue 11: nothing generic (``tools``, ``graph``, ``nodes``,
``prompts``) at the top of site-packages, every folder of the code listed in pyproject's
package map, and no module that only imports after another has built the graph.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"graph": "lvas.graph", "nodes": "lvas.nodes", "prompts": "lvas.prompts",
           "retrieval_index": "lvas.retrieval_index", "tools": "lvas.tools"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _source_packages() -> set[str]:
    """Dotted names of every folder with an ``__init__.py`` under the mapped folders."""
    names = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            names.add(".".join((package, *parts)))
    return names


def _modules() -> list[str]:
    modules = []
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules.append(".".join((package, *parts)))
    return modules


def test_every_code_folder_is_in_the_package_map() -> None:
    config = _pyproject()["tool"]["setuptools"]
    assert set(config["packages"]) == _source_packages()
    assert config["package-dir"] == {package: folder for folder, package in FOLDERS.items()}


def test_the_wheel_holds_only_the_lvas_namespace(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for name in (*FOLDERS, "pyproject.toml", "README.md"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = (tmp_path / "dist").glob("lvas_agent-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"lvas", next(n for n in top_level if n.endswith(".dist-info"))}
    assert "lvas/__init__.py" not in names  # a namespace package: nothing of its own
    modules = {name[:-3].replace("/", ".").removesuffix(".__init__")
               for name in names if name.endswith(".py")}
    assert modules == set(_modules())
    assert "lvas/retrieval_index/data/audioset_ontology.json" in names
    assert "lvas/prompts/designer_scene.md" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "lvas = lvas.graph.cli:run" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_graph_package_builds_nothing_on_import() -> None:
    code = ("import sys, lvas.graph, lvas.graph.state, lvas.nodes.designer\n"
            "import lvas.graph.builder as m\n"
            "assert type(m).__name__ == 'module', m\n"
            "assert 'lvas.graph.workflow' not in sys.modules\n"
            "from lvas.graph import Context, compile_graph, graph\n"
            "assert 'lvas.graph.workflow' in sys.modules\n"
            "assert type(graph).__name__ == 'CompiledStateGraph'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT.parent)


def test_no_module_imports_the_old_top_level_names() -> None:
    old = "(?:graph|nodes|tools|prompts|retrieval_index)"
    statement = re.compile(rf"""(?:^|["'])\s*(?:from\s+{old}(?:\.\w+)*\s+import\b"""
                           rf"""|import\s+{old}\b)""")
    offenders = []
    for path in [*ROOT.glob("*/**/*.py"), *ROOT.glob("notebooks/*.ipynb")]:
        if ".venv" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if statement.search(line.strip()):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    def attempt(module: str) -> str | None:
        result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT.parent,
                                capture_output=True, text=True)
        return None if result.returncode == 0 else f"{module}: {result.stderr.strip()[-400:]}"

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        failures = [f for f in pool.map(attempt, _modules()) if f]
    assert not failures, "\n\n".join(failures)
