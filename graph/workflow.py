"""The exported workflow: the one module that builds the graph at import.

LangGraph's server (``langgraph.json``), Studio and ``from lvas.graph import graph`` load it
from here; it has no checkpointer, as the server brings its own. Python callers that need one
use :func:`lvas.graph.builder.compile_graph`.
"""

from lvas.graph.builder import build_graph, compile_graph

builder = build_graph()
graph = compile_graph(builder=builder)

__all__ = ["builder", "graph"]
