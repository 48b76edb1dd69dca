"""The exported ablation graph, built at import for ``langgraph.json`` (as ``workflow`` is for
the LVAS graph)."""

from lvas.graph.ablation import compile_ablation_graph

graph = compile_ablation_graph()

__all__ = ["graph"]
