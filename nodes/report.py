"""Report: the HTML page and the editor timeline that explain and hand over a run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import timed
from lvas.tools.common.paths import relative_to_run
from lvas.tools.common.types import Artifacts, LabelChoice, Scene, SceneScript
from lvas.tools.llm.accounting import summarize_usage
from lvas.tools.planning.bed_carry import carry_beds
from lvas.tools.planning.narration import line_as_sound
from lvas.tools.reporting.report import write_report
from lvas.tools.reporting.timeline import write_otio


def _label(choice: LabelChoice | None) -> str:
    return choice.get("label", "") if choice else ""


def _caption(script: SceneScript | None) -> str:
    return script.get("caption", "") if script else ""


def _scene_view(scene: Scene, script: SceneScript | None) -> dict[str, Any]:
    """The scene as the report shows it: its caption and, when the planner recorded it, the
    evidence behind its choices."""
    view: dict[str, Any] = {**scene, "caption": _caption(script)}
    recorded: Mapping[str, object] = script or {}
    evidence = recorded.get("evidence")
    if evidence:
        view["evidence"] = evidence
    return view


def _sounds(state: LVASState) -> list[dict[str, Any]]:
    """Designed sounds with their chosen labels, and narration lines as speech cues."""
    choices = state.get("label_choices", {})
    sounds = [
        {**sound, "label": _label(choices.get(sound["id"]))}
        for design in state.get("designs", {}).values()
        for sound in design["sounds"]
    ]
    sounds += [{**line_as_sound(line), "label": "narration"}
               for line in state.get("narration_lines", [])]
    return sounds


def _carried(state: LVASState, ctx: Context) -> dict[str, str]:
    """Designed bed -> the sound whose clip carries it on across a cut, as rendering joined
    them (the same rule, on the same labelled sounds), so the report draws the one clip."""
    if not ctx.carry_beds:
        return {}
    choices = state.get("label_choices", {})
    sounds = [sound for design in state.get("designs", {}).values() for sound in design["sounds"]
              if _label(choices.get(sound["id"]))]
    _, covers = carry_beds(sounds, {s["id"]: _label(choices.get(s["id"])) for s in sounds})
    return {bed: into for into, beds in covers.items() for bed in beds}


NOT_NORMALISED = "off: not normalised, the mix keeps its own level (true-peak limiter only)"


def _loudness(artifacts: Artifacts, ctx: Context) -> dict[str, Any]:
    """The measured levels, and the target they were brought to (or that there was none)."""
    levels: dict[str, Any] = {
        "integrated_lufs": artifacts.get("loudness_lufs"),
        "true_peak_db": artifacts.get("peak_db"),
        "delivered_lufs": artifacts.get("delivered_lufs"),
        "delivered_peak_db": artifacts.get("delivered_peak_db"),
        "delivery_trim_db": artifacts.get("delivery_trim_db"),
    }
    if ctx.normalize_loudness:
        levels["target_lufs"] = ctx.loudness_target
    else:
        levels["loudness normalisation"] = NOT_NORMALISED
    return levels


@timed("report")
def report(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write ``report.html`` and ``timeline.otio`` into the run directory."""
    ctx = context_of(runtime)
    run_dir = Path(state["run_dir"])
    artifacts = state.get("artifacts", Artifacts()).copy()
    storyboard = state.get("storyboard")
    duration = float((storyboard["duration"] if storyboard else 0.0)
                     or state["video_info"]["duration"])
    scripts = state.get("scripts", {})
    scenes = [_scene_view(scene, scripts.get(scene["id"])) for scene in state.get("scenes", [])]
    clips = list(state.get("clips", {}).values())
    stems = {layer: str(run_dir / path) for layer, path in artifacts.get("stems", {}).items()}
    soundtrack = run_dir / artifacts["soundtrack"] if artifacts.get("soundtrack") else None
    video = state.get("video_info", {}).get("path") or state.get("video", "")
    sounds = _sounds(state)
    timeline = write_otio(
        run_dir / "timeline.otio",
        name=Path(video).stem,
        video=video,
        video_info=state.get("video_info", {}),
        scenes=scenes,
        clips=clips,
        stems=stems,
        soundtrack=soundtrack,
        run_dir=run_dir,
        labels={s["id"]: s["label"] for s in sounds if s.get("label")},
    )
    artifacts["timeline"] = relative_to_run(run_dir, timeline)
    links = {
        "video": artifacts.get("output", ""),
        "soundtrack": artifacts.get("soundtrack", ""),
        "plan": artifacts.get("plan", ""),
        "timeline": artifacts["timeline"],
        **{f"stem: {layer}": path for layer, path in artifacts.get("stems", {}).items()},
    }
    page = write_report(
        run_dir / "report.html",
        title=f"LVAS soundtrack for {Path(video).name}",
        video=video,
        duration=duration,
        scenes=scenes,
        sounds=sounds,
        clips=clips,
        soundtrack=soundtrack,
        warnings=list(state.get("warnings", [])),
        timings=dict(state.get("timings", {})),
        usage_summary=summarize_usage(state.get("llm_usage", []), **ctx.usage_prices()),
        loudness=_loudness(artifacts, ctx),
        artifacts={k: v for k, v in links.items() if v},
        plan_path=artifacts.get("plan"),
        run_dir=run_dir,
        audio={**({"mix": str(soundtrack)} if soundtrack else {}),
               **{f"stem: {layer}": path for layer, path in stems.items()}},
        output_video=artifacts.get("output") or None,
        video_codec=state.get("video_info", {}).get("video_codec"),
        carried=_carried(state, ctx),
    )
    artifacts["report"] = relative_to_run(run_dir, page)
    return {"artifacts": artifacts}
