"""The workflow has every role of LVAS-Agent as a node and both loops as conditional edges."""

from __future__ import annotations

import json
from dataclasses import fields

from langgraph.checkpoint.memory import InMemorySaver

from lvas.graph import Context, compile_graph, graph

ROLE_NODES = {
    "probe", "storyboarder", "scriptwriter", "write_scene_script", "review", "designer",
    "synthesizer", "design_review", "write_plan", "load_plan", "generate_clip", "mixer", "report",
}


def _edges():
    drawable = graph.get_graph()
    return {(e.source, e.target): e.conditional for e in drawable.edges}


def test_public_imports_work():
    assert graph is not None
    assert callable(compile_graph)
    assert Context().max_label_rounds == 3


def test_graph_has_every_role_as_a_node():
    nodes = set(graph.get_graph().nodes) - {"__start__", "__end__"}
    assert nodes == ROLE_NODES


def test_loops_are_conditional_edges():
    edges = _edges()
    # discussion-correction: review can send merged scenes back to the Scriptwriter
    assert edges[("review", "write_scene_script")] is True
    assert edges[("review", "designer")] is True
    # generate-retrieve-optimize: the Designer's review can send choices back to retrieval
    assert edges[("design_review", "synthesizer")] is True
    assert edges[("design_review", "write_plan")] is True
    # the plan is written before rendering, and a given plan skips planning
    assert edges[("write_plan", "generate_clip")] is True
    assert edges[("write_plan", "__end__")] is True
    assert edges[("probe", "load_plan")] is True
    assert edges[("load_plan", "generate_clip")] is True
    # fan-outs with Send
    assert edges[("scriptwriter", "write_scene_script")] is True
    assert edges[("synthesizer", "design_review")] is False
    assert edges[("generate_clip", "mixer")] is False
    assert edges[("mixer", "report")] is False
    assert edges[("report", "__end__")] is False


def test_exported_graph_has_no_checkpointer_and_factory_adds_one():
    assert graph.checkpointer is None
    saver = InMemorySaver()
    assert compile_graph(checkpointer=saver).checkpointer is saver


def test_context_fields_describe_themselves_for_studio():
    for field in fields(Context):
        assert field.metadata.get("description"), field.name


def test_context_accepts_a_plain_mapping():
    ctx = Context.from_mapping({"seed": 7, "unknown": 1, "max_label_rounds": 2})
    assert (ctx.seed, ctx.max_label_rounds) == (7, 2)


def test_input_and_output_schemas_are_json_schema():
    json.dumps(graph.get_input_jsonschema())
    json.dumps(graph.get_output_jsonschema())
    assert "video" in graph.get_input_jsonschema()["properties"]
