"""The planning alternatives an ablation (or any run) can choose, run as a normal run runs them.

Scene segmentation (semantic, fixed chunks, one scene, raw shots), the Scriptwriter without
vision, no discussion-correction, and no prompt: each is a ``Context`` setting, checked here
on a generated video with known cuts, through the graph up to the plan (offline planner; a
local OpenAI-compatible stub where a model's requests matter).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from lvas.graph.context import Context
from lvas.graph.runner import run_pipeline
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import content_hash, file_fingerprint
from lvas.tools.llm.chat import CallLog, ChatSettings, StructuredCaller, forget_endpoints
from lvas.tools.planning.chat import ChatPlanner
from lvas.tools.planning.offline import NEUTRAL, OfflinePlanner
from lvas.tools.video import storyboard as storyboard_module
from lvas.tools.video.scenes import fixed_chunk_bounds, form_scenes, merge_scenes
from lvas.tools.video.storyboard import StoryboardSettings, build_storyboard, storyboard_key
from tests.openai_stub import OpenAIStub, image_urls, message_text
from tests.scripted_chat import ScriptedChat
from tests.test_llm_e2e import model_answers
from tests.videos import make_cut_video

SEGMENTS = [3.0, 1.2, 4.0, 2.5, 6.3]  # the 1.2 s shot is shorter than min_scene_seconds
CUTS = [3.0, 4.2, 8.2, 10.7]
DURATION = 17.0
FRAME = 0.04  # one frame at 25 fps: the cuts' tolerance
PROMPT = "rain on a tin roof, thunder"
_models = itertools.count()


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cut_video(tmp_path_factory.mktemp("alt") / "walk.mp4", SEGMENTS)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run directory for every plan of this module: the variants share one decode pass."""
    return tmp_path_factory.mktemp("alt-run")


def plan(video: Path, run_dir: Path, cache: Path, out: Path, *, prompt: str | None = None,
         **settings: Any) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """Plan ``video`` with the offline planner; (plan file, final state, node updates)."""
    ctx = Context(chat_backend="offline", generator_backend="procedural", index_dir=str(cache),
                  run_dir=str(run_dir), overwrite=True, **settings)
    inputs: dict[str, Any] = {"video": str(video), "plan_only": True, "plan_output": str(out)}
    if prompt is not None:
        inputs["prompt"] = prompt
    updates: list[Any] = []
    final = run_pipeline(inputs, ctx, progress=lambda node, update, _: updates.append(
        (node, update)))
    return json.loads(out.read_text()), final, updates


def storyboarded(updates: list[Any]) -> list[dict[str, Any]]:
    """The scenes as the Storyboarder formed them (before any review)."""
    return next(update["scenes"] for node, update in updates if node == "storyboarder")


def spans(scenes: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(s["start"], s["end"]) for s in scenes]


def schema_name(body: dict[str, Any]) -> str:
    """The answer schema a recorded request asked for (which prompt it was)."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return str(fmt["json_schema"]["name"])
    return str(body["tools"][0]["function"]["name"]) if body.get("tools") else ""


def without_time(plan_file: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan_file.items() if k != "created"}


# -- scene segmentation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "seconds", "bounds"),
    [
        (23.2, 10.0, [0.0, 10.0, 20.0, 23.2]),  # the last chunk shorter
        (30.04, 10.0, [0.0, 10.0, 20.0, 30.04]),  # a few frames left over join the last chunk
        (20.0, 10.0, [0.0, 10.0, 20.0]),  # no empty chunk at the end
        (5.0, 10.0, [0.0, 5.0]),  # a video shorter than a chunk is one chunk
        (1.7, 0.5, [0.0, 0.5, 1.0, 1.7]),  # short chunks: the tail limit is half a chunk
        (1.8, 0.5, [0.0, 0.5, 1.0, 1.5, 1.8]),
    ],
)
def test_fixed_chunk_bounds(duration: float, seconds: float, bounds: list[float]) -> None:
    assert fixed_chunk_bounds(duration, seconds) == pytest.approx(bounds)


def test_unknown_segmentation_and_bad_chunk_length_are_input_errors() -> None:
    with pytest.raises(LVASInputError, match="semantic, fixed, single, shots"):
        form_scenes([], segmentation="scenes", duration=1.0)
    with pytest.raises(LVASInputError, match="segment_seconds"):
        form_scenes([], segmentation="fixed", duration=1.0, segment_seconds=0.0)


def test_merging_fixed_chunks_lists_a_shared_shot_once() -> None:
    shot = {"index": 0, "start": 0.0, "end": 6.0, "keyframe": "k.jpg", "keyframes": ["k.jpg"],
            "brightness": 0.5, "saturation": 0.4, "hue": 100.0, "colour": "green",
            "motion": 0.01}
    first, second = form_scenes([shot], segmentation="fixed", duration=6.0, segment_seconds=3.0)
    merged = merge_scenes(first, second)
    assert merged["shots"] == [0] and merged["keyframes"] == ["k.jpg"]
    assert (merged["start"], merged["end"]) == (0.0, 6.0)


def test_segmentations_share_one_decode_pass_but_never_a_storyboard(video, tmp_path,
                                                                     monkeypatch) -> None:
    decodes: list[str] = []
    real = storyboard_module.analyze_video

    def counted(*args: Any, **kwargs: Any) -> Any:
        decodes.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(storyboard_module, "analyze_video", counted)
    boards = {}
    for mode in ("semantic", "fixed", "single", "shots", "semantic"):
        settings = StoryboardSettings(segmentation=mode)
        folder = tmp_path / storyboard_key(video, settings)
        boards[mode] = build_storyboard(video, folder, settings)
    assert len(decodes) == 1
    assert len({storyboard_key(video, StoryboardSettings(segmentation=m))
                for m in ("semantic", "fixed", "single", "shots")}) == 1
    files = sorted(p.name for p in folder.glob("*.json"))
    assert files == ["analysis.json", "storyboard-fixed.json", "storyboard-shots.json",
                     "storyboard-single.json", "storyboard.json"]
    assert len({len(b["scenes"]) for b in boards.values()}) == 4  # each read its own scenes
    # another chunk length re-forms the scenes from the same decode pass
    again = build_storyboard(video, folder, StoryboardSettings(segmentation="fixed",
                                                               segment_seconds=5.0))
    assert len(decodes) == 1 and spans(again["scenes"])[1] == (5.0, 10.0)


def test_semantic_analysis_folder_keeps_its_name(video) -> None:
    """Run directories and plans made before the segmentation setting stay valid."""
    old_fields = {"detector": "content", "threshold": None, "gradual": True,
                  "min_shot_seconds": 0.5, "min_scene_seconds": 2.0, "max_scene_seconds": 60.0}
    assert storyboard_key(video, StoryboardSettings()) == content_hash(
        2, file_fingerprint(video), old_fields)
    assert set(asdict(StoryboardSettings())) == {*old_fields, "segmentation", "segment_seconds"}


def test_fixed_chunks_are_exact_and_shaped_like_scenes(video, run_dir, label_cache_dir,
                                                       tmp_path) -> None:
    plan_file, _, updates = plan(video, run_dir, label_cache_dir, tmp_path / "fixed.json",
                                 segmentation="fixed", review_scripts=False)
    scenes = storyboarded(updates)
    assert spans(scenes) == [(0.0, 10.0), (10.0, DURATION)]
    assert [s["id"] for s in scenes] == ["scene-000", "scene-001"]
    assert [s["index"] for s in scenes] == [0, 1]
    assert scenes[0]["shots"] == [0, 1, 2, 3] and scenes[1]["shots"] == [3, 4]
    for scene in scenes:
        assert scene["keyframes"] and all((run_dir / k).is_file() for k in scene["keyframes"])
        assert {"brightness", "saturation", "hue", "colour", "motion"} <= set(scene)
    assert spans(plan_file["scenes"]) == spans(scenes)  # no review: the chunks are the plan
    assert set(plan_file["designs"]) == {"scene-000", "scene-001"}
    # a tail of a fifth of a second joins the chunk before it
    _, _, updates = plan(video, run_dir, label_cache_dir, tmp_path / "tail.json",
                         segmentation="fixed", segment_seconds=8.4, review_scripts=False)
    assert spans(storyboarded(updates)) == [(0.0, 8.4), (8.4, DURATION)]


def test_single_scene_covers_the_whole_video(video, run_dir, label_cache_dir, tmp_path) -> None:
    plan_file, _, updates = plan(video, run_dir, label_cache_dir, tmp_path / "single.json",
                                 segmentation="single")
    (scene,) = storyboarded(updates)
    assert (scene["start"], scene["end"]) == (0.0, DURATION)
    assert scene["shots"] == [0, 1, 2, 3, 4] and len(scene["keyframes"]) >= 5
    assert [s["id"] for s in plan_file["scenes"]] == ["scene-000"]
    (design,) = plan_file["designs"].values()
    bed = design["sounds"][0]
    assert bed["layer"] == "background" and (bed["start"], bed["end"]) == (0.0, DURATION)


def test_every_shot_is_a_scene_even_a_short_one(video, run_dir, label_cache_dir,
                                                tmp_path) -> None:
    _, _, semantic = plan(video, run_dir, label_cache_dir, tmp_path / "semantic.json",
                          review_scripts=False)
    _, _, shots = plan(video, run_dir, label_cache_dir, tmp_path / "shots.json",
                       segmentation="shots", review_scripts=False)
    scenes = storyboarded(shots)
    assert [s["shots"] for s in scenes] == [[0], [1], [2], [3], [4]]
    starts = [s["start"] for s in scenes[1:]]
    assert starts == pytest.approx(CUTS, abs=FRAME)
    assert scenes[1]["end"] - scenes[1]["start"] == pytest.approx(1.2, abs=FRAME)
    # LVAS's semantic scenes merge that 1.2 s shot into a neighbour
    assert len(storyboarded(semantic)) == 4
    assert [1] not in [s["shots"] for s in storyboarded(semantic)]


# -- the Scriptwriter's vision input --------------------------------------------------------


def test_without_vision_the_offline_scriptwriter_sees_no_colour_or_light(
        video, run_dir, label_cache_dir, tmp_path) -> None:
    seen, _, seen_updates = plan(video, run_dir, label_cache_dir, tmp_path / "seen.json")
    blind, _, blind_updates = plan(video, run_dir, label_cache_dir, tmp_path / "blind.json",
                                   vision_input=False)
    assert spans(storyboarded(blind_updates)) == spans(storyboarded(seen_updates))
    assert all(not {"brightness", "saturation", "hue", "colour"} & set(s)
               for s in blind["scenes"])
    assert all("motion" in s and s["keyframes"] for s in blind["scenes"])
    scripts = list(blind["scripts"].values())
    assert all(s["caption"].startswith("An unseen place;") for s in scripts)
    assert all(s["background"] == NEUTRAL.background for s in scripts)
    assert {s["background"] for s in seen["scripts"].values()} != {NEUTRAL.background}
    beds = [s for d in blind["designs"].values() for s in d["sounds"]
            if s["layer"] == "background"]
    assert beds and all(s["description"] == NEUTRAL.background for s in beds)
    # motion still speaks: a moving scene gets an event, from the neutral setting
    events = {s["description"] for d in blind["designs"].values() for s in d["sounds"]
              if s["layer"] == "foreground"}
    assert NEUTRAL.event in events <= {NEUTRAL.event, "a quick whoosh of fast movement"}


def test_a_blind_offline_planner_ignores_the_looks_it_is_given() -> None:
    scene = {"id": "scene-000", "index": 0, "start": 0.0, "end": 4.0, "brightness": 0.05,
             "saturation": 0.5, "hue": 120.0, "colour": "black", "motion": 0.0, "shots": [0],
             "keyframes": []}
    assert OfflinePlanner().describe_scene(scene, "", None)["caption"].startswith("A dark")
    script = OfflinePlanner(vision=False).describe_scene(scene, "", None)
    assert script["caption"] == "An unseen place; little or nothing moves."


def test_a_blind_chat_scriptwriter_sends_no_images(tmp_path) -> None:
    import cv2
    import numpy as np

    frame = tmp_path / "k.jpg"
    cv2.imwrite(str(frame), np.full((90, 160, 3), 200, np.uint8))
    scene = {"id": "s0", "index": 0, "start": 0.0, "end": 3.0, "shots": [0],
             "keyframes": [str(frame)], "brightness": 0.8, "saturation": 0.4, "hue": 120.0,
             "colour": "green", "motion": 0.05}
    script = {"background": "b", "entities": [], "actions": [], "caption": "c"}
    overview = {"summary": "s", "timeline": []}
    for vision in (True, False):
        forget_endpoints()
        config = ChatSettings(model=f"scripted-alt-{next(_models)}",
                              base_url="http://scripted.test/v1", max_images=2, image_width=64)
        chat = ScriptedChat(replies=[overview, script])
        planner = ChatPlanner(config, caller=StructuredCaller(config, model=chat), vision=vision)
        planner.describe_video([scene], None, CallLog())
        planner.describe_scene(scene, "", None, CallLog())
        images = [len(r.images) for r in chat.requests]
        if vision:
            assert images == [1, 1]
        else:
            assert images == [0, 0]
            assert all("No keyframes are attached" in r.text for r in chat.requests)
            assert "fast movement" in chat.requests[1].text


def test_without_vision_no_image_reaches_the_model(video, run_dir, label_cache_dir, tmp_path,
                                                   monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    requests: dict[bool, list[dict[str, Any]]] = {}
    for vision in (True, False):
        with OpenAIStub(responder=model_answers) as stub:
            ctx = Context(chat_backend="openai", llm_model=f"stub-alt-{next(_models)}",
                          llm_base_url=stub.base_url, llm_timeout=5.0,
                          index_dir=str(label_cache_dir), run_dir=str(run_dir), overwrite=True,
                          vision_input=vision)
            run_pipeline({"video": str(video), "plan_only": True,
                          "plan_output": str(tmp_path / f"chat-{vision}.json")}, ctx)
            requests[vision] = list(stub.requests)
    for vision, bodies in requests.items():
        scripting = [b for b in bodies if schema_name(b) in ("VideoOverview", "SceneScriptOut")]
        assert len(scripting) >= 2  # the overview and at least one scene were asked
        if vision:
            assert any(image_urls(b) for b in scripting)
        else:
            assert not any(image_urls(b) for b in bodies)
            assert all("No keyframes are attached" in message_text(b) for b in scripting)


# -- discussion-correction ------------------------------------------------------------------


def test_without_review_the_first_descriptions_stand(video, run_dir, label_cache_dir,
                                                     tmp_path) -> None:
    # Fixed 3.5 s chunks cut shots in two: the review merges neighbouring chunks that read
    # alike; with a prompt, it corrects captions that do not carry it.
    reviewed, _, _ = plan(video, run_dir, label_cache_dir, tmp_path / "reviewed.json",
                          segmentation="fixed", segment_seconds=3.5)
    merged = [n["scene_id"] for n in reviewed["review_notes"] if n["action"] == "merge"]
    assert merged and len(reviewed["scenes"]) == 5 - len(merged)
    corrected, _, _ = plan(video, run_dir, label_cache_dir, tmp_path / "corrected.json",
                           prompt=PROMPT, segmentation="fixed", segment_seconds=3.5)
    assert any(n["action"] == "correct" for n in corrected["review_notes"])
    unreviewed, _, updates = plan(video, run_dir, label_cache_dir, tmp_path / "unreviewed.json",
                                  prompt=PROMPT, segmentation="fixed", segment_seconds=3.5,
                                  review_scripts=False)
    assert unreviewed["review_notes"] == []
    assert spans(unreviewed["scenes"]) == spans(storyboarded(updates))
    assert len(unreviewed["scenes"]) == 5
    assert all("heard:" not in s["caption"] for s in unreviewed["scripts"].values())
    nodes = [node for node, _ in updates]
    assert nodes.count("review") == 1 and nodes.count("write_scene_script") == 5
    assert nodes.index("designer") == nodes.index("review") + 1
    assert next(u for n, u in updates if n == "review").keys() <= {"rescript", "timings"}


# -- the user's prompt ----------------------------------------------------------------------


def test_without_the_prompt_the_plan_is_the_plan_of_no_prompt(video, run_dir, label_cache_dir,
                                                              tmp_path) -> None:
    none, _, _ = plan(video, run_dir, label_cache_dir, tmp_path / "none.json")
    ignored, final, _ = plan(video, run_dir, label_cache_dir, tmp_path / "ignored.json",
                             prompt=PROMPT, use_prompt=False)
    used, _, _ = plan(video, run_dir, label_cache_dir, tmp_path / "used.json", prompt=PROMPT)
    assert without_time(ignored) == without_time(none)
    assert without_time(used) != without_time(none)
    assert any("use_prompt is off" in w and PROMPT in w for w in final["warnings"])
