"""The chat planner through the real StructuredCaller, against a scripted chat model.

Every test checks that what the plan says comes from the model's reply when it answers, and
from the offline planner (with a warning in the log) only when it does not.
"""

from __future__ import annotations

import base64
import itertools
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import openai
import pytest

from lvas.tools.llm.chat import CallLog, ChatSettings, StructuredCaller, forget_endpoints
from lvas.tools.planning.chat import ChatPlanner, Unmappable, pick_candidate
from lvas.tools.planning.offline import OfflinePlanner
from tests.scripted_chat import Reply, ScriptedChat

_ids = itertools.count()


def make_planner(*replies: Any, **settings: Any) -> tuple[ChatPlanner, ScriptedChat]:
    forget_endpoints()
    options = {"max_images": 3, "image_width": 64, **settings}
    config = ChatSettings(model=f"scripted-{next(_ids)}", base_url="http://scripted.test/v1",
                          **options)
    chat = ScriptedChat(replies=list(replies))
    caller = StructuredCaller(config, model=chat)
    return ChatPlanner(config, caller=caller), chat


def keyframes(folder: Path, count: int, width: int = 160) -> list[str]:
    paths = []
    for i in range(count):
        image = np.full((90, width, 3), 40 * i % 255, dtype=np.uint8)
        path = folder / f"kf{i}.jpg"
        cv2.imwrite(str(path), image)
        paths.append(str(path.resolve()))
    return paths


def scene(sid: str, start: float, end: float, frames: list[str],
          motion: float = 0.05) -> dict[str, Any]:
    return {"id": sid, "index": int(sid[1:]), "start": start, "end": end, "shots": [0],
            "keyframes": frames, "brightness": 0.5, "saturation": 0.4, "hue": 120.0,
            "colour": "green", "motion": motion}


SCRIPT = {"scene_id": "s1", "background": "wind in the trees", "entities": ["dog"],
          "actions": ["dog runs"], "caption": "A dog runs through a park.", "author": "chat:x"}


def image_width(url: str) -> int:
    data = base64.b64decode(url.split(",", 1)[1])
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return int(decoded.shape[1])


# -- Scriptwriter ------------------------------------------------------------------------


def test_overview_comes_from_the_model_with_one_keyframe_per_scene(tmp_path: Path) -> None:
    frames = keyframes(tmp_path, 4)
    scenes = [scene("s0", 0.0, 4.0, frames[:2]), scene("s1", 4.0, 9.5, frames[2:])]
    reply = {"summary": "A dog crosses a park, then a lake.",
             "timeline": [{"start": 0, "end": 4, "summary": "dog on grass"},
                          {"start": 4, "end": 9.5, "summary": "lake shore"}]}
    planner, chat = make_planner(reply)
    log = CallLog()
    overview = planner.describe_video(scenes, "birds and wind", log)
    assert overview.startswith("A dog crosses a park, then a lake.")
    assert "4.0-9.5 s: lake shore" in overview
    request = chat.requests[0]
    assert len(request.images) == 2
    assert "scene s1: 4.0-9.5 s (keyframe image 2)" in request.text
    assert "birds and wind" in request.text and "9.5 seconds" in request.text
    assert request.kwargs["response_format"]["type"] == "json_schema"
    assert log.usage[0]["role"] == "scriptwriter" and log.usage[0]["tokens_in"] == 100
    assert log.warnings == []


def test_scene_script_from_model_with_capped_resized_keyframes(tmp_path: Path) -> None:
    frames = keyframes(tmp_path, 6)
    reply = {"background": "waves washing on a pebble beach", "entities": ["gulls", "waves"],
             "actions": ["gulls circle"], "caption": "Gulls circle over a pebble beach."}
    planner, chat = make_planner(reply)
    log = CallLog()
    script = planner.describe_scene(scene("s2", 3.0, 8.0, frames), "A beach.", None, log)
    assert script == {"scene_id": "s2", "background": "waves washing on a pebble beach",
                      "entities": ["gulls", "waves"], "actions": ["gulls circle"],
                      "caption": "Gulls circle over a pebble beach.",
                      "author": f"chat:{planner.settings.model}"}
    images = chat.requests[0].images
    assert len(images) == 3
    assert all(url.startswith("data:image/jpeg;base64,") for url in images)
    assert {image_width(url) for url in images} == {64}
    text = chat.requests[0].text
    assert "Scene s2 runs from 3.0 s to 8.0 s" in text and "A beach." in text
    assert "3 keyframe(s)" in text


def test_missing_keyframe_is_reported_and_the_rest_sent(tmp_path: Path) -> None:
    frames = keyframes(tmp_path, 2) + [str(tmp_path / "gone.jpg")]
    reply = {"background": "rain on a roof", "caption": "Rain."}
    planner, chat = make_planner(reply)
    log = CallLog()
    planner.describe_scene(scene("s0", 0.0, 2.0, frames), "", None, log)
    assert len(chat.requests[0].images) == 2
    assert any("1 keyframe(s) missing" in w for w in log.warnings)


def test_invalid_reply_is_repaired_once(tmp_path: Path) -> None:
    good = {"background": "traffic on a wet road", "caption": "Cars pass in the rain."}
    planner, chat = make_planner("not json at all", good)
    log = CallLog()
    script = planner.describe_scene(scene("s0", 0.0, 2.0, []), "", None, log)
    assert script["background"] == "traffic on a wet road"
    assert len(chat.requests) == 2 and "could not be used" in chat.requests[1].text
    assert not any("offline planner used" in w for w in log.warnings)


def test_invalid_twice_falls_back_to_offline_with_warning(tmp_path: Path) -> None:
    planner, chat = make_planner({"background": ""}, "{still: broken")
    the_scene = scene("s0", 0.0, 2.0, keyframes(tmp_path, 1))
    log = CallLog()
    script = planner.describe_scene(the_scene, "", None, log)
    assert script == OfflinePlanner().describe_scene(the_scene, "", None)
    assert script["author"] == "offline"
    fallback = [w for w in log.warnings if "offline planner used" in w]
    assert fallback == [f"scriptwriter: model failed (invalid reply after one repair attempt: "
                        f"{fallback[0].split('attempt: ')[1].split(')')[0]}); "
                        "offline planner used for scene s0's script"]
    assert log.usage[0]["ok"] is False and log.usage[0]["attempts"] == 2


def test_rate_limit_past_the_clients_retries_and_errors_fall_back() -> None:
    # The openai client has retried a 429 already (tests/test_chat.py) when this reaches LVAS.
    response = httpx.Response(429, request=httpx.Request("POST", "http://scripted.test/v1"))
    limited = openai.RateLimitError("slow down", response=response, body=None)
    reply = {"summary": "A street at night.", "timeline": []}
    planner, chat = make_planner(limited, reply)
    log = CallLog()
    scenes = [scene("s0", 0.0, 3.0, [])]
    assert planner.describe_video(scenes, None, log) == OfflinePlanner().describe_video(scenes,
                                                                                         None)
    assert len(chat.requests) == 1 and chat.replies == [reply]
    assert any(w.startswith("scriptwriter: model failed (rate limited (429)") and
               "offline planner used for the whole-video description" in w
               for w in log.warnings)
    assert log.usage[0]["ok"] is False

    planner, _ = make_planner(RuntimeError("socket closed"))
    log = CallLog()
    scenes = [scene("s0", 0.0, 3.0, [])]
    assert planner.describe_video(scenes, None, log) == OfflinePlanner().describe_video(scenes,
                                                                                         None)
    assert "scriptwriter: model failed (model call failed: RuntimeError: socket closed); " \
           "offline planner used for the whole-video description" in log.warnings


# -- Storyboarder ------------------------------------------------------------------------


def test_review_verdicts_come_from_the_model() -> None:
    prev, cur = scene("s0", 0.0, 4.0, []), scene("s1", 4.0, 8.0, [])
    prev_script = {**SCRIPT, "scene_id": "s0", "caption": "A dog sniffs the grass."}
    corrected = {"background": "light rain on grass", "entities": ["dog"],
                 "actions": ["dog shakes off water"], "caption": "A wet dog in the rain."}
    planner, chat = make_planner(
        {"action": "merge", "reason": "same park, same dog"},
        {"action": "correct", "reason": "it is raining", "corrected": corrected},
        {"action": "keep", "reason": "fine"},
    )
    log = CallLog()
    assert planner.review_pair(prev, prev_script, cur, SCRIPT, "A dog in a park.", None,
                               log) == ("merge", "same park, same dog", None)
    text = chat.requests[0].text
    assert "A dog sniffs the grass." in text and "A dog runs through a park." in text
    assert "A dog in a park." in text
    action, reason, fixed = planner.review_pair(prev, prev_script, cur, SCRIPT, "", None, log)
    assert (action, reason) == ("correct", "it is raining")
    assert fixed == {"scene_id": "s1", **corrected, "author": f"chat:{planner.settings.model}"}
    assert planner.review_pair(None, None, prev, prev_script, "", None, log)[0] == "keep"
    assert "first scene" in chat.requests[2].text
    assert [u["role"] for u in log.usage] == ["storyboarder"] * 3


def test_merge_of_the_first_scene_falls_back() -> None:
    first = scene("s0", 0.0, 4.0, [])
    planner, _ = make_planner({"action": "merge", "reason": "continues"})
    log = CallLog()
    verdict = planner.review_pair(None, None, first, SCRIPT, "", None, log)
    assert verdict == OfflinePlanner().review_pair(None, None, first, SCRIPT, "", None)
    assert log.warnings == ["storyboarder: model failed (asked to merge the first scene); "
                            "offline planner used for the review of scene s0"]


# -- Designer ----------------------------------------------------------------------------

STEPS = {"sound_sources": "a dog running", "background": "wind in trees",
         "priority": "paws in front"}


def test_design_comes_from_the_model_and_is_placed_in_the_scene() -> None:
    the_scene = scene("s1", 10.0, 16.0, [])
    reply = {**STEPS, "sounds": [
        {"layer": "background", "description": "wind in trees", "start": 0, "end": 9,
         "volume_db": -18, "event_times": [1.0]},
        {"layer": "foreground", "description": "dog paws on grass", "start": 1, "end": 5,
         "volume_db": -4, "event_times": [1.5, 2.5, 7.0]},
        {"layer": "foreground", "description": "dog barking", "start": 2, "end": 6,
         "volume_db": -2},
    ]}
    planner, chat = make_planner(reply)
    log = CallLog()
    design = planner.design_scene(the_scene, SCRIPT, "a playful dog", [11.0, 13.2, 15.9], 7, log)
    assert design["scene_id"] == "s1" and design["silence"] is False
    assert "a dog running" in design["reasoning"] and "paws in front" in design["reasoning"]
    bed, paws, bark = design["sounds"]
    assert [s["id"] for s in design["sounds"]] == ["s1-bed0", "s1-fx1", "s1-fx2"]
    assert (bed["start"], bed["end"], bed["onsets"], bed["volume_db"]) == (10.0, 16.0, [], -18.0)
    assert (paws["start"], paws["end"], paws["onsets"]) == (11.0, 15.0, [11.5, 12.5])
    assert bark["onsets"] == [13.2, 15.9] and bark["query"] == "dog barking"
    assert all(s["scene_id"] == "s1" and s["excluded_labels"] == [] for s in design["sounds"])
    text = chat.requests[0].text
    assert "1.00, 3.20, 5.90" in text and "a playful dog" in text and "dog runs" in text
    assert log.usage[0]["role"] == "designer"


def test_video_times_from_the_model_are_understood() -> None:
    the_scene = scene("s3", 20.0, 24.0, [])
    reply = {**STEPS, "sounds": [
        {"layer": "foreground", "description": "door slam", "start": 21, "end": 23,
         "volume_db": -3, "event_times": [22.0]}]}
    planner, _ = make_planner(reply)
    sound = planner.design_scene(the_scene, SCRIPT, None, [], 0, CallLog())["sounds"][0]
    assert (sound["start"], sound["end"], sound["onsets"]) == (21.0, 23.0, [22.0])


def test_the_model_may_choose_silence_for_a_busy_scene() -> None:
    busy = scene("s0", 0.0, 5.0, [], motion=0.2)
    planner, _ = make_planner({**STEPS, "silence": True},
                              {**STEPS, "silence": False, "sounds": []})
    log = CallLog()
    for _ in range(2):
        design = planner.design_scene(busy, SCRIPT, None, [1.0], 0, log)
        assert design["silence"] is True and design["sounds"] == []
    assert log.warnings == []


def test_failed_design_falls_back_to_offline() -> None:
    the_scene = scene("s0", 0.0, 5.0, [])
    bad = {**STEPS, "sounds": [{"layer": "foreground", "description": "x", "start": 0,
                                "end": 1, "volume_db": 12}]}
    planner, _ = make_planner(bad, bad)
    log = CallLog()
    design = planner.design_scene(the_scene, SCRIPT, None, [1.0], 3, log)
    assert design == OfflinePlanner().design_scene(the_scene, SCRIPT, None, [1.0], 3)
    assert log.warnings[-1].startswith("designer: model failed (invalid reply after one repair")
    assert log.warnings[-1].endswith("offline planner used for scene s0's design")


def test_design_through_function_calling() -> None:
    the_scene = scene("s0", 0.0, 4.0, [])
    reply = Reply(tool_args={**STEPS, "sounds": [
        {"layer": "background", "description": "rain on a tin roof", "start": 0, "end": 4,
         "volume_db": -12}]})
    planner, chat = make_planner(reply, method="function_calling")
    design = planner.design_scene(the_scene, SCRIPT, None, [], 0, CallLog())
    assert design["sounds"][0]["description"] == "rain on a tin roof"
    assert chat.requests[0].kwargs["tool_choice"]["function"]["name"] == "SceneDesignOut"


# -- Synthesizer and the Designer's review -----------------------------------------------


def cand(label: str, score: float, **flags: bool) -> dict[str, Any]:
    return {"label": label, "source": "kb", "score": score, "family": "animal",
            "category": "animals", "layer": "foreground", "speech": flags.get("speech", False),
            "music": flags.get("music", False)}


def design_of(*sounds: tuple[str, str, list[str]]) -> dict[str, Any]:
    return {"scene_id": "s0", "reasoning": "", "silence": False, "sounds": [
        {"id": sid, "scene_id": "s0", "layer": "foreground", "description": text, "query": text,
         "start": 0.0, "end": 4.0, "volume_db": -6.0, "onsets": [1.0], "excluded_labels": ex}
        for sid, text, ex in sounds]}


def test_label_selection_follows_the_model() -> None:
    design = design_of(("s0-fx1", "dog barking", ["dog growling"]), ("s0-fx2", "paws", []),
                       ("s0-fx3", "leaves", []), ("s0-fx4", "nothing found", []))
    cands = {
        "s0-fx1": [cand("dog growling", 0.9), cand("dog barking", 0.8),
                   cand("people talking", 0.7, speech=True)],
        "s0-fx2": [cand("footsteps on grass", 0.6), cand("horse trotting", 0.5)],
        "s0-fx3": [cand("leaves rustling", 0.4), cand("wind", 0.3)],
        "s0-fx4": [],
    }
    reply = {"choices": [{"sound_id": "s0-fx1", "choice": "1", "reason": "a dog"},
                         {"sound_id": "s0-fx2", "choice": "none", "reason": "no fit"},
                         {"sound_id": "s0-fx3", "choice": "Wind", "reason": "closest"}]}
    planner, chat = make_planner(reply)
    log = CallLog()
    picked = planner.select_labels(design, cands, None, log)
    assert picked["s0-fx1"] is cands["s0-fx1"][1]  # number 1 among the labels not refused
    assert picked["s0-fx2"] is None
    assert picked["s0-fx3"] is cands["s0-fx3"][1]
    assert picked["s0-fx4"] is None
    text = chat.requests[0].text
    assert "dog growling" not in text and "1. dog barking" in text
    assert "people talking [family animal, speech" in text and "s0-fx4" not in text
    assert log.warnings == [] and log.usage[0]["role"] == "synthesizer"


def test_unknown_or_missing_label_falls_back_for_that_sound() -> None:
    design = design_of(("s0-fx1", "dog barking", []), ("s0-fx2", "paws", []),
                       ("s0-fx3", "rain", []))
    cands = {"s0-fx1": [cand("dog barking", 0.8)],
             "s0-fx2": [cand("people talking", 0.9, speech=True), cand("footsteps", 0.5)],
             "s0-fx3": [cand("rain", 0.7)]}
    reply = {"choices": [{"sound_id": "s0-fx1", "choice": "dog barking"},
                         {"sound_id": "s0-fx2", "choice": "a wolf howling"}]}
    planner, _ = make_planner(reply)
    log = CallLog()
    picked = planner.select_labels(design, cands, None, log)
    assert picked["s0-fx1"] is cands["s0-fx1"][0]
    assert picked["s0-fx2"] is cands["s0-fx2"][1]  # offline: best non-voice candidate
    assert picked["s0-fx3"] is cands["s0-fx3"][0]
    assert log.warnings == [
        "synthesizer: model failed (unknown label 'a wolf howling'); "
        "offline planner used for the label of s0-fx2",
        "synthesizer: model failed (no choice for s0-fx3); "
        "offline planner used for the label of s0-fx3",
    ]


def test_failed_selection_falls_back_for_the_scene() -> None:
    design = design_of(("s0-fx1", "dog barking", []))
    cands = {"s0-fx1": [cand("dog barking", 0.8)]}
    planner, _ = make_planner("nope", "still nope")
    log = CallLog()
    assert planner.select_labels(design, cands, None, log) == {"s0-fx1": cands["s0-fx1"][0]}
    assert log.warnings[-1].endswith("offline planner used for the label choice of scene s0")


@pytest.mark.parametrize(("answer", "index"), [
    ("2", 1), ("#2", 1), ("[2]", 1), ("2. B", 1), ("b", 1), ('"A"', 0), ("None", None),
])
def test_pick_candidate_accepts_numbers_labels_and_none(answer: str, index: int | None) -> None:
    pool = [cand("A", 0.5), cand("B", 0.4)]
    assert pick_candidate(answer, pool) is (None if index is None else pool[index])


@pytest.mark.parametrize("answer", ["3", "0", "2. A", "C"])
def test_pick_candidate_refuses_what_is_not_offered(answer: str) -> None:
    with pytest.raises(Unmappable):
        pick_candidate(answer, [cand("A", 0.5), cand("B", 0.4)])


def test_label_review_verdicts_and_new_queries() -> None:
    design = design_of(("s0-fx1", "dog barking", []), ("s0-fx2", "paws", []),
                       ("s0-fx3", "rain", []))
    choices = {"s0-fx1": cand("people talking", 0.7, speech=True),
               "s0-fx2": cand("footsteps on grass", 0.6),
               "s0-fx3": cand("rain", 0.1)}
    reply = {"verdicts": [
        {"sound_id": "s0-fx1", "final": False, "reason": "a voice, not a dog",
         "new_query": "dog barking loudly outdoors"},
        {"sound_id": "s0-fx2", "final": True, "reason": "fits", "new_query": "ignored"},
    ]}
    planner, chat = make_planner(reply)
    log = CallLog()
    verdicts = planner.review_labels(design, choices, None, log)
    assert verdicts["s0-fx1"] == (False, "a voice, not a dog", "dog barking loudly outdoors")
    assert verdicts["s0-fx2"] == (True, "fits", None)
    assert verdicts["s0-fx3"] == (False, "'rain' fits the description poorly", None)
    assert "offline planner used for the review of s0-fx3" in log.warnings[-1]
    assert 'chosen label: "people talking"' in chat.requests[0].text
    assert "speech: yes" in chat.requests[0].text
    assert log.usage[0]["role"] == "designer"


def test_nothing_to_ask_makes_no_call() -> None:
    planner, chat = make_planner()
    log = CallLog()
    design = design_of(("s0-fx1", "dog", []))
    assert planner.review_labels(design, {}, None, log) == {}
    assert planner.select_labels(design, {"s0-fx1": []}, None, log) == {"s0-fx1": None}
    assert chat.requests == [] and log.usage == []


def test_usage_is_recorded_per_role(tmp_path: Path) -> None:
    the_scene = scene("s0", 0.0, 4.0, keyframes(tmp_path, 1))
    planner, _ = make_planner(
        Reply(text='{"summary": "A park.", "timeline": []}', tokens_in=500, tokens_out=40),
        Reply(text='{"background": "wind", "caption": "A park."}', tokens_in=700, tokens_out=30),
        {"action": "keep", "reason": "ok"},
        {**STEPS, "silence": True},
        {"choices": [{"sound_id": "s0-fx1", "choice": "1"}]},
    )
    log = CallLog()
    planner.describe_video([the_scene], None, log)
    planner.describe_scene(the_scene, "A park.", None, log)
    planner.review_pair(None, None, the_scene, SCRIPT, "", None, log)
    planner.design_scene(the_scene, SCRIPT, None, [], 0, log)
    planner.select_labels(design_of(("s0-fx1", "dog", [])), {"s0-fx1": [cand("dog", 0.5)]},
                          None, log)
    roles = [u["role"] for u in log.usage]
    assert roles == ["scriptwriter", "scriptwriter", "storyboarder", "designer", "synthesizer"]
    assert sum(u["tokens_in"] for u in log.usage if u["role"] == "scriptwriter") == 1200
    assert all(u["model"] == planner.settings.model and u["ok"] for u in log.usage)


def test_get_planner_builds_the_chat_planner() -> None:
    from lvas.tools.planning.registry import get_planner

    settings = ChatSettings(model="some-model", base_url="http://127.0.0.1:9/v1")
    planner = get_planner("openai", chat=settings)
    assert isinstance(planner, ChatPlanner) and planner.name == "chat"
    assert planner.author == "chat:some-model"
