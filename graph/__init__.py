"""LVAS graph: state, runtime context, and the compiled workflow.

``from graph import graph, compile_graph, Context`` gives the exported graph (no
checkpointer, as LangGraph's server expects) and a factory for one with a checkpointer.
"""

from graph.builder import builder, compile_graph, graph
from graph.context import Context
from graph.state import InputState, LVASState, OutputState

__all__ = ["Context", "InputState", "LVASState", "OutputState", "builder", "compile_graph", "graph"]
