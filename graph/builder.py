"""The LVAS workflow: the four roles of LVAS-Agent as nodes, with its two loops as edges.

probe -> storyboarder -> scriptwriter -(Send per scene)-> write_scene_script -> review
review -(merged scenes, under the cap)-> write_scene_script | designer
designer -> synthesizer -> design_review -(not final, under N_max)-> synthesizer
design_review -(final)-> write_plan -(Send per sound)-> generate_clip -> mixer -> report -> END
write_plan -(plan only)-> END;  probe -(given a plan)-> load_plan -(Send per sound)-> generate_clip
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from lvas.graph.context import Context
from lvas.graph.state import ClipTask, InputState, LVASState, OutputState, SceneTask
from lvas.nodes.designer import design_sounds, review_labels
from lvas.nodes.generator import generate_clip
from lvas.nodes.mixer import mix
from lvas.nodes.plan_io import load_plan_node, write_plan_node
from lvas.nodes.probe import probe
from lvas.nodes.report import report
from lvas.nodes.review import review_scripts
from lvas.nodes.routing import (
    fan_out_scenes,
    route_after_label_review,
    route_after_probe,
    route_after_review,
    route_to_generation,
)
from lvas.nodes.scriptwriter import write_overview, write_scene_script
from lvas.nodes.storyboarder import storyboarder
from lvas.nodes.synthesizer import choose_labels

RECURSION_LIMIT = 200


Builder = StateGraph[LVASState, Context, InputState, OutputState]


def build_graph() -> Builder:
    """Wire the roles; every per-scene and per-sound step fans out with ``Send``."""
    builder = StateGraph(
        LVASState, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("probe", probe)
    builder.add_node("storyboarder", storyboarder)
    builder.add_node("scriptwriter", write_overview)
    builder.add_node("write_scene_script", write_scene_script, input_schema=SceneTask)
    builder.add_node("review", review_scripts)
    builder.add_node("designer", design_sounds)
    builder.add_node("synthesizer", choose_labels)
    builder.add_node("design_review", review_labels)
    builder.add_node("write_plan", write_plan_node)
    builder.add_node("load_plan", load_plan_node)
    builder.add_node("generate_clip", generate_clip, input_schema=ClipTask)
    builder.add_node("mixer", mix)
    builder.add_node("report", report)

    builder.add_edge(START, "probe")
    builder.add_conditional_edges("probe", route_after_probe, ["load_plan", "storyboarder"])
    builder.add_edge("storyboarder", "scriptwriter")
    builder.add_conditional_edges("scriptwriter", fan_out_scenes, ["write_scene_script"])
    builder.add_edge("write_scene_script", "review")
    builder.add_conditional_edges(
        "review", route_after_review, ["write_scene_script", "designer"]
    )
    builder.add_edge("designer", "synthesizer")
    builder.add_edge("synthesizer", "design_review")
    builder.add_conditional_edges(
        "design_review", route_after_label_review, ["synthesizer", "write_plan"]
    )
    for node in ("write_plan", "load_plan"):
        builder.add_conditional_edges(node, route_to_generation, ["generate_clip", "mixer", END])
    builder.add_edge("generate_clip", "mixer")
    builder.add_edge("mixer", "report")
    builder.add_edge("report", END)
    return builder


def compile_graph(checkpointer: Any = None, cache: Any = None, *,
                  builder: Builder | None = None,
                  **kwargs: Any) -> CompiledStateGraph[LVASState, Context, InputState, OutputState]:
    """The compiled workflow with an optional checkpointer and cache (for Python and the CLI)."""
    return (builder or build_graph()).compile(
        checkpointer=checkpointer, cache=cache, name="lvas", **kwargs
    ).with_config(recursion_limit=RECURSION_LIMIT)
