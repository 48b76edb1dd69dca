"""Run the compiled workflow with progress reporting: the engine behind ``lvas dub``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lvas.graph.builder import RECURSION_LIMIT, compile_graph
from lvas.graph.context import Context

ProgressFn = Callable[[str, dict[str, Any], float], None]

NODE_TITLES = {
    "probe": "probe",
    "storyboarder": "Storyboarder",
    "scriptwriter": "Scriptwriter (whole video)",
    "write_scene_script": "Scriptwriter (scene)",
    "review": "Storyboarder review",
    "designer": "Designer",
    "synthesizer": "Synthesizer (labels)",
    "design_review": "Designer review",
    "write_plan": "plan",
    "load_plan": "plan (loaded)",
    "generate_clip": "generate",
    "mixer": "mixer",
}


_METADATA = "__metadata__"
"""Not a node: LangGraph's note beside the updates it replays from a resumed thread's saved
steps (``{"cached": True}``)."""


def run_pipeline(
    inputs: dict[str, Any] | None,
    context: Context,
    *,
    progress: ProgressFn | None = None,
    graph: Any = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stream the graph to completion; returns the final state (all channels).

    ``inputs`` None resumes the checkpointed thread named in ``config``."""
    graph = graph or compile_graph()
    run_config = {"recursion_limit": RECURSION_LIMIT, **(config or {})}
    started = time.perf_counter()
    began = time.time()
    final: dict[str, Any] = {}
    try:
        for mode, chunk in graph.stream(
            inputs, config=run_config, context=context, stream_mode=["updates", "values"]
        ):
            if mode == "values":
                final = chunk
            elif progress is not None:
                for node, update in chunk.items():
                    if node != _METADATA:
                        progress(node, update or {}, time.perf_counter() - started)
    except BaseException:
        _remove_if_made_empty(final.get("run_dir"), since=began)
        raise
    _sweep_work_in_progress(final)
    return final


def _sweep_work_in_progress(final: dict[str, Any]) -> None:
    """The run has finished, so no writer of its own is at work any more: what an earlier,
    killed attempt of it left half-written (a take, a mix stage, a report, an analysis file, a
    partial output) goes, wherever in the run folder it lies."""
    from lvas.tools.common.paths import remove_partials, remove_partials_under

    if final.get("run_dir"):
        remove_partials_under(final["run_dir"])
    if final.get("output_path"):
        output = Path(final["output_path"])
        remove_partials(output.parent, output.stem)


def _remove_if_made_empty(run_dir: str | None, *, since: float) -> None:
    """A run refused after the probe made its folder (an edited plan with an unknown label,
    say) leaves no empty folder behind; a folder that holds anything, or that existed before
    the run, is left alone."""
    if not run_dir:
        return
    folder = Path(run_dir)
    try:
        if folder.is_dir() and folder.stat().st_ctime >= since - 1.0 and \
                not any(folder.iterdir()):
            folder.rmdir()
    except OSError:
        pass


def describe_update(node: str, update: dict[str, Any], counts: Counter) -> str:
    """One human line per finished node, with what it produced."""
    counts[node] += 1
    title = NODE_TITLES.get(node, node)
    seconds = (update.get("timings") or {}).get(node)
    detail = ""
    if node == "probe" and "video_info" in update:
        info = update["video_info"]
        detail = (f"{info.get('duration', 0):.1f} s {info.get('width')}x{info.get('height')} "
                  f"{info.get('video_codec')} in {info.get('container')}")
    elif node == "storyboarder":
        detail = (f"{len(update.get('storyboard', {}).get('cuts', []))} cut(s), "
                  f"{len(update.get('scenes', []))} scene(s)")
    elif node == "review":
        actions = Counter(n["action"] for n in update.get("review_notes", []))
        detail = ", ".join(f"{k} {v}" for k, v in sorted(actions.items())) or "nothing to review"
    elif node == "scriptwriter":
        overview = " ".join(str(update.get("overview", "")).split())
        detail = f"\"{overview[:70]}{'...' if len(overview) > 70 else ''}\""
    elif node == "synthesizer":
        choices = update.get("label_choices", {})
        labelled = sum(1 for c in choices.values() if c.get("label"))
        detail = f"{labelled} label(s) chosen for {len(choices)} sound(s)"
    elif node == "load_plan":
        sounds = sum(len(d["sounds"]) for d in update.get("designs", {}).values())
        detail = f"{len(update.get('scenes', []))} scene(s), {sounds} sound(s) from the plan"
    elif node == "designer":
        sounds = sum(len(d["sounds"]) for d in update.get("designs", {}).values())
        detail = f"{sounds} sound(s)"
    elif node == "design_review":
        reviews = update.get("label_reviews", [])
        rejected = sum(1 for r in reviews if not r["final"])
        detail = f"round {update.get('label_round')}: {rejected} label(s) sent back"
    elif node == "write_scene_script":
        detail = f"#{counts[node]}"
    elif node == "generate_clip":
        clip = next(iter(update.get("clips", {}).values()), None)
        detail = f"#{counts[node]}" + (
            f" {clip['sound_id']} ({clip['family']}, {clip['duration']:.1f} s, {clip['backend']})"
            if clip else " (not voiced)")
    elif node == "write_plan":
        art = update.get("artifacts", {})
        detail = art.get("plan_output") or art.get("plan", "")
    elif node == "mixer":
        art = update.get("artifacts", {})
        detail = f"{art.get('loudness_lufs')} LUFS -> {art.get('output')}"
    elif node == "report":
        art = update.get("artifacts", {})
        detail = f"{art.get('report', '')}, {art.get('timeline', '')}"
    timing = f" ({seconds:.2f} s)" if seconds is not None else ""
    return f"  {title}: {detail}{timing}".rstrip()


MODEL_BACKENDS = ("mmaudio", "stable-audio", "audioldm2", "vits")
"""Backends that run a neural model (on the GPU where there is one); the procedural
synthesizer and espeak never use a GPU."""


def gpu_seconds(final: dict[str, Any], context: Context) -> float:
    """GPU time of a finished run: the generation step's wall time when a model backend ran on
    a CUDA device, else 0 (nothing ran on a GPU). An upper bound: it includes the model's
    host-side work within the step."""
    from lvas.tools.common.gpu import cuda_available

    backends = {clip.get("backend", "") for clip in (final.get("clips") or {}).values()}
    on_gpu = (context.device or "cuda").startswith("cuda") and cuda_available()
    if not on_gpu or not backends.intersection(MODEL_BACKENDS):
        return 0.0
    return float((final.get("timings") or {}).get("generate_clip", 0.0))


def write_run_summary(run_dir: str | Path, summary: dict[str, Any]) -> Path:
    """Keep the run's summary (wall time, timings, model usage, GPU-seconds) beside its
    artifacts, so ``lvas eval`` can report its cost later."""
    from lvas.tools.common.paths import write_json

    return write_json(Path(run_dir) / "summary.json", summary)
