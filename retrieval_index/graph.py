"""The index builder as a second, small LangGraph graph (beside the main one in langgraph.json).

Studio and `langgraph dev` can then (re)build the label index without running the pipeline.
"""

from __future__ import annotations

from typing import NotRequired

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from lvas.graph.context import Context, context_of
from lvas.retrieval_index.store import build_index as _build_index


class BuildInput(TypedDict):
    """What a caller may pass: rebuild even when current, and where the cache lives (default:
    the context's ``index_dir``)."""

    force: NotRequired[bool]
    cache_dir: NotRequired[str | None]


class BuildOutput(TypedDict):
    """What the build reports."""

    collection: str
    count: int
    content_hash: str
    rebuilt: bool
    seconds: float
    path: str


class BuildState(BuildInput, BuildOutput, total=False):
    """Input and output together."""


def build_index(state: BuildState, runtime: Runtime[Context]) -> BuildOutput:
    """Build the label collection if it is missing or stale (or when forced)."""
    ctx = context_of(runtime)
    info = _build_index(state.get("cache_dir") or ctx.index_dir or None,
                        force=bool(state.get("force", False)),
                        embedding_model=ctx.embedding_model)
    return BuildOutput(collection=info.collection, count=info.count,
                       content_hash=info.content_hash, rebuilt=info.rebuilt,
                       seconds=info.seconds, path=info.path)


builder = StateGraph(BuildState, context_schema=Context, input_schema=BuildInput,
                     output_schema=BuildOutput)
builder.add_node("build_index", build_index)
builder.add_edge(START, "build_index")
builder.add_edge("build_index", END)

graph = builder.compile()
graph.name = "LVAS label index builder"
