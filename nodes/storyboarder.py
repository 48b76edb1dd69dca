"""Storyboarder: shots, keyframes and scenes from one pass over the video.

``Context.segmentation`` chooses how the video is cut into scenes (LVAS's semantic scenes, fixed
chunks, one scene, or raw shots; see ``lvas.tools.video.scenes``). With ``Context.vision_input``
off, the scenes it hands on carry no colour or light (``LOOK_KEYS``): no planner downstream
(Scriptwriter, review, Designer) can then read the picture, only the scenes' spans and motion.

Its full decode is the first step to see where the picture really ends. When that is clearly
before the duration the probe read from the header (a cut-off file), the run's ``video_info``
takes the picture's end: the plan, the mix and the mux all go by it from here on.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import measures_keyframes, timed
from lvas.tools.common.paths import relative_to_run
from lvas.tools.common.types import NarrationLine, Scene, Shot, Storyboard
from lvas.tools.generation.early_start import start_backend_early
from lvas.tools.video.early_stills import EarlyStills
from lvas.tools.video.probe import picture_ends_early, picture_info
from lvas.tools.video.scenes import without_looks
from lvas.tools.video.storyboard import StoryboardSettings, build_storyboard, storyboard_key

EARLY_STILLS_SECONDS = 60.0
"""Videos shorter than this decode in a few seconds: a helper measuring their keyframes early
would cost more to start (about half a second of CPU) than it could take off the Scriptwriter."""


def storyboard_settings(ctx: Context) -> StoryboardSettings:
    """The run's shot detection and scene settings, its segmentation included."""
    return ctx.storyboard_settings()


@timed("storyboarder")
def storyboarder(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Detect cuts and dissolves, pick keyframes, measure each shot, and form scenes."""
    ctx = context_of(runtime)
    settings = storyboard_settings(ctx)
    run_dir = state["run_dir"]
    folder = Path(run_dir) / "analysis" / storyboard_key(state["video"], settings)
    seconds = float(state.get("video_info", {}).get("duration") or 0.0)
    if not state.get("plan_only"):  # the beds alone will cover the video's length
        start_backend_early(ctx, seconds)
    # The Scriptwriter's keyframes are measured in the decode's idle time (``early_stills``).
    early: AbstractContextManager[object] = (
        EarlyStills(folder) if measures_keyframes(ctx) and seconds >= EARLY_STILLS_SECONDS
        else nullcontext())
    with early:
        board = build_storyboard(state["video"], folder, settings)

    def rel(path: str) -> str:
        return relative_to_run(run_dir, path)

    shots: list[Shot] = [
        {**shot, "keyframe": rel(shot["keyframe"]),
         "keyframes": [rel(k) for k in shot["keyframes"]], "sharpest": rel(shot["sharpest"])}
        for shot in board["shots"]
    ]
    scenes: list[Scene] = [{**scene, "keyframes": [rel(k) for k in scene.get("keyframes", [])]}
                           for scene in board["scenes"]]
    if not ctx.vision_input:
        scenes = [without_looks(scene) for scene in scenes]
    storyboard: Storyboard = {
        "duration": board["duration"],
        "fps": board["fps"],
        "cuts": board["cuts"],
        "shots": shots,
        "motion_envelope": rel(board["motion_envelope"]),
        "envelope_rate": board["envelope_rate"],
    }
    update: LVASState = {"storyboard": storyboard, "scenes": scenes,
                         "warnings": list(board["warnings"])}
    info = state.get("video_info")
    if info and picture_ends_early(board["duration"], float(info["duration"]), board["fps"]):
        update["video_info"] = picture_info(info, board["duration"])
        if state.get("narration_lines"):
            lines, note = narration_within(state["narration_lines"], board["duration"])
            update["narration_lines"] = lines
            update["warnings"] = [*update["warnings"], *note]
    return update


def narration_within(lines: list[NarrationLine],
                     end: float) -> tuple[list[NarrationLine], list[str]]:
    """Narration lines cut to a picture that ends at ``end``: lines that start after it are
    dropped (said in the returned warning), the last one kept ends with the picture."""
    kept: list[NarrationLine] = [{**line, "end": min(float(line["end"]), end)} for line in lines
                                 if float(line["start"]) < end]
    dropped = len(lines) - len(kept)
    note = ([f"{dropped} narration line(s) start after the picture ends ({end:.2f} s) and "
             "were left out"] if dropped else [])
    return kept, note
