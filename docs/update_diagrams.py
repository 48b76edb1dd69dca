"""Rewrite the Mermaid diagrams in docs/architecture.md from the compiled graphs.

The diagrams are drawn by LangGraph itself (``get_graph().draw_mermaid()``), so they show the
graph that runs, not one drawn by hand; ``tests/test_architecture_doc.py`` fails when they are
out of date. Run ``python docs/update_diagrams.py`` after changing the graph's wiring.
"""

from __future__ import annotations

import re
import sys
from importlib import import_module
from pathlib import Path

DOC = Path(__file__).with_name("architecture.md")
GRAPHS = {
    "lvas": "lvas.graph.workflow",
    "index": "lvas.retrieval_index.graph",
    "ablate": "lvas.graph.ablation_workflow",
}
_BLOCK = re.compile(r"(<!-- graph:(\w+) -->\n```mermaid\n)(.*?)(```\n<!-- /graph:\2 -->)", re.S)


def mermaid(name: str) -> str:
    """The Mermaid text of one served graph, as LangGraph draws it."""
    graph = import_module(GRAPHS[name]).graph
    return graph.get_graph().draw_mermaid().rstrip() + "\n"


def render(text: str) -> str:
    """The document with every marked diagram block replaced by the current drawing."""
    return _BLOCK.sub(lambda m: m.group(1) + mermaid(m.group(2)) + m.group(4), text)


def main() -> int:
    text = DOC.read_text(encoding="utf-8")
    updated = render(text)
    if updated != text:
        DOC.write_text(updated, encoding="utf-8")
        print(f"updated {DOC}")
    else:
        print(f"{DOC} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
