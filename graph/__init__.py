"""LVAS graph: state, runtime context, the workflow and the command line.

``from lvas.graph import graph, compile_graph, Context`` gives the exported graph (no
checkpointer, as LangGraph's server expects), a factory for one with a checkpointer, and the
run options. The names load on first use, so importing a submodule (``lvas.graph.state``)
never builds the graph.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lvas.graph.builder import build_graph, compile_graph
    from lvas.graph.context import Context
    from lvas.graph.state import InputState, LVASState, OutputState
    from lvas.graph.workflow import graph

_EXPORTS = {
    "graph": "lvas.graph.workflow",
    "build_graph": "lvas.graph.builder",
    "compile_graph": "lvas.graph.builder",
    "Context": "lvas.graph.context",
    "InputState": "lvas.graph.state",
    "LVASState": "lvas.graph.state",
    "OutputState": "lvas.graph.state",
}

__all__ = [
    "Context",
    "InputState",
    "LVASState",
    "OutputState",
    "build_graph",
    "compile_graph",
    "graph",
]


def __getattr__(name: str) -> Any:
    """Import an exported name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lvas.graph' has no attribute {name!r}")
    return getattr(import_module(module), name)
