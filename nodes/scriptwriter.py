"""Scriptwriter: a whole-video description, then one script per scene (fanned out).

With ``Context.vision_input`` off the Scriptwriter works blind: its planner is built without
vision and the scenes reach it without keyframes (and, from the Storyboarder, without colour
and light), so its captions come from the scenes' timing and motion and the prompt alone.

With vision, the offline planner is given each scene's visual evidence
(``lvas.tools.video.evidence``: sky, texture, motion, flicker... from the scene's keyframes and
one short burst of small frames), measured here, per scene, so a merged scene is measured anew.
The overview is written from the same evidence as the scripts (so it names the places they
will), measured once: the overview measures every scene (a few at a time) and each scene's
script reuses its measurement.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState, SceneTask
from lvas.nodes.common import (
    log_update,
    new_log,
    scriptwriter_planner,
    timed,
    with_absolute_keyframes,
)
from lvas.tools.common.types import Scene, SeenScene, Shot
from lvas.tools.video.evidence import Features, scene_evidence
from lvas.tools.video.shot_bursts import scene_burst, scene_flicker, scene_shots

EVIDENCE_KEPT = 4096  # scenes whose evidence is kept for their scripts, most recent first
_measured: OrderedDict[tuple[str, float, float, tuple[str, ...]], Features] = OrderedDict()
_measured_lock = threading.Lock()


def scene_for_scriptwriter(scene: Scene, run_dir: str, ctx: Context) -> Scene:
    """A scene as the Scriptwriter gets it: keyframes it can open, or none without vision."""
    if not ctx.vision_input:
        return {**scene, "keyframes": []}
    return with_absolute_keyframes(scene, run_dir)


@timed("scriptwriter")
def write_overview(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Describe the whole video first, so each scene is written knowing the story."""
    ctx = context_of(runtime)
    log = new_log()
    scenes = [scene_for_scriptwriter(s, state["run_dir"], ctx) for s in state.get("scenes", [])]
    planner = scriptwriter_planner(ctx)
    if ctx.vision_input and planner.name == "offline" and scenes:
        video = state.get("video_info", {}).get("path") or state.get("video") or None
        shots = state.get("storyboard", {}).get("shots", [])
        workers = min(len(scenes), max(1, min(4, os.cpu_count() or 1)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            scenes = list(pool.map(
                lambda scene: with_evidence(scene, video, scene_shots(scene, shots)), scenes))
    overview = planner.describe_video(scenes, state.get("prompt"), log)
    return {"overview": overview, **log_update(log)}


@timed("write_scene_script")
def write_scene_script(state: SceneTask, runtime: Runtime[Context]) -> LVASState:
    """Script of one scene: background, entities, actions and a caption of what is visible.

    ``state`` is the scene's ``Send`` payload (LangGraph's node protocol names it so)."""
    ctx = context_of(runtime)
    log = new_log()
    scene = scene_for_scriptwriter(state["scene"], state["run_dir"], ctx)
    planner = scriptwriter_planner(ctx)
    if ctx.vision_input and planner.name == "offline":
        scene = with_evidence(scene, state.get("video") or None, state.get("shots", []))
    script = planner.describe_scene(scene, state["overview"], state["prompt"], log)
    return {"scripts": {state["scene"]["id"]: script}, **log_update(log)}


def with_evidence(scene: Scene, video: str | None, shots: list[Shot] | None = None) -> SeenScene:
    """The scene with its measured visual evidence, for the offline planner to choose from;
    measured once per video, span and keyframes (the overview's measurement serves the
    scene's script). Motion and flicker come from the burst the decode pass measured inside
    the scene, among ``shots`` (the scene's), when there is one; otherwise from a seek."""
    keyframes = tuple(scene.get("keyframes", []))
    key = (video or "", float(scene["start"]), float(scene["end"]), keyframes)
    with _measured_lock:
        features = _measured.get(key)
    if features is None:
        shots = shots or []
        features = scene_evidence(list(keyframes), video, key[1], key[2],
                                  scene_burst(shots, key[1], key[2]),
                                  scene_flicker(shots, key[1], key[2]))
        with _measured_lock:
            _measured[key] = features
            while len(_measured) > EVIDENCE_KEPT:
                _measured.popitem(last=False)
    features = dict(features)
    seen = cast(SeenScene, dict(scene))
    if features:
        seen["evidence"] = features
    return seen
