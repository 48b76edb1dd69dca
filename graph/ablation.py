"""The ablation runner as a LangGraph graph, beside the LVAS graph in ``langgraph.json``.

``prepare_study`` maps the plan; every (variant, video) pair is dubbed by ``run_variant``
(fanned out with ``Send``), then scored by ``score_run`` (fanned out again), and
``write_table`` reports. Studio shows the fan-outs and each pair's record as it lands; the CLI
(``lvas ablate``) runs the same graph.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from lvas.graph.ablation_state import AblationInput, AblationOutput, AblationState, PairTask
from lvas.graph.context import Context
from lvas.nodes.ablation import (
    fan_out_runs,
    fan_out_scoring,
    plan_scoring,
    prepare_study,
    run_variant,
    score_run,
    write_table,
)

RECURSION_LIMIT = 50


def build_ablation_graph() -> StateGraph[AblationState, Context, AblationInput, AblationOutput]:
    """The uncompiled ablation graph."""
    builder = StateGraph(AblationState, context_schema=Context, input_schema=AblationInput,
                         output_schema=AblationOutput)
    builder.add_node("prepare_study", prepare_study)
    builder.add_node("run_variant", run_variant, input_schema=PairTask)
    builder.add_node("plan_scoring", plan_scoring)
    builder.add_node("score_run", score_run, input_schema=PairTask)
    builder.add_node("write_table", write_table)
    builder.add_edge(START, "prepare_study")
    builder.add_conditional_edges("prepare_study", fan_out_runs,
                                  ["run_variant", "plan_scoring"])
    builder.add_edge("run_variant", "plan_scoring")
    builder.add_conditional_edges("plan_scoring", fan_out_scoring, ["score_run", "write_table"])
    builder.add_edge("score_run", "write_table")
    builder.add_edge("write_table", END)
    return builder


def compile_ablation_graph(checkpointer: Any = None, **kwargs: Any) -> Any:
    """The compiled ablation graph (for Python and the CLI)."""
    return build_ablation_graph().compile(checkpointer=checkpointer, name="lvas-ablate",
                                          **kwargs).with_config(recursion_limit=RECURSION_LIMIT)
