"""docs/architecture.md shows the graph that runs: its diagrams are LangGraph's own drawing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _updater():
    spec = importlib.util.spec_from_file_location("update_diagrams",
                                                  ROOT / "docs" / "update_diagrams.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_diagrams_match_the_compiled_graphs() -> None:
    updater = _updater()
    text = updater.DOC.read_text(encoding="utf-8")
    assert text == updater.render(text), "run: python docs/update_diagrams.py"
    assert updater.GRAPHS
    for name in updater.GRAPHS:
        assert f"<!-- graph:{name} -->" in text


def test_every_node_of_the_workflows_is_in_the_diagram_and_the_table() -> None:
    from lvas.graph import graph
    from lvas.graph.ablation_workflow import graph as ablation_graph

    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for compiled, expected in ((graph, {"storyboarder", "synthesizer"}),
                               (ablation_graph, {"run_variant", "score_run"})):
        nodes = [node for node in compiled.get_graph().nodes if not node.startswith("__")]
        assert expected <= set(nodes)
        for node in nodes:
            assert f"\t{node}({node})" in text
            assert f"| `{node}` |" in text


def test_every_subpackage_is_in_the_package_map() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted((ROOT / "tools").glob("*/__init__.py"))
    assert packages
    for init in packages:
        assert f"`lvas.tools.{init.parent.name}`" in text
