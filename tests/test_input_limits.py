"""Every input has a documented limit (README "Limits", ``lvas.tools.common.limits``): past it a
run is refused before any work with the limit named (exit 2), and a design that asks for more
sounds than a run may make is cut with a warning in the run's warnings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.common.limits import (
    MAX_NARRATION_BYTES,
    MAX_NARRATION_CHARS,
    MAX_NARRATION_LINES,
    MAX_PLAN_BYTES,
    MAX_PROMPT_CHARS,
    MAX_PROMPT_EVENTS_PER_SCENE,
    MAX_PROMPT_PHRASES,
    MAX_SOUNDS_PER_MINUTE,
    MAX_SOUNDS_PER_SCENE,
    check_video_length,
)
from lvas.tools.planning.sound_caps import cap_designs
from tests.openai_stub import OpenAIStub, Reply, json_reply
from tests.videos import make_cut_video

PHRASES = [f"sound number {n} of the list" for n in range(1, 31)]
"""Thirty short phrases: a prompt well under the character limit, far over the phrase caps."""


def _lvas(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LVAS_CACHE_DIR": str(cache_dir)}
    return subprocess.run([sys.executable, "-m", "lvas.graph.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def _refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "lvas: error:" in result.stderr
    for word in words:
        assert word.lower() in result.stderr.lower(), result.stderr


def _sounds(plan: dict) -> dict[str, list[str]]:
    """Each scene's designed sounds, as descriptions in the design's order."""
    return {key: [s["description"] for s in d["sounds"]] for key, d in plan["designs"].items()}


@pytest.fixture(scope="module")
def one_scene(tmp_path_factory) -> Path:
    return make_cut_video(tmp_path_factory.mktemp("limits") / "one.mp4", [3.0])


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """Five hours by its header (three frames 100 minutes apart): 2 kB on disk."""
    path = tmp_path_factory.mktemp("limits") / "five-hours.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x64:r=1/6000:d=18000", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)])
    return path


# -- the prompt ---------------------------------------------------------------------------------


def test_a_100_kb_prompt_is_refused_before_anything_is_written(one_scene, tmp_path):
    prompt = ", ".join(f"rain drop {n}" for n in range(10_000))[:100_000]
    cache = tmp_path / "cache"
    result = _lvas("dub", str(one_scene), "-o", str(tmp_path / "out.mp4"), "--prompt", prompt,
                   cache_dir=cache)
    _refused(result, "100,000 characters", f"{MAX_PROMPT_CHARS:,}", "shorten")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, run folder or cache


def test_the_graph_refuses_a_long_prompt_for_any_caller(one_scene, tmp_path, label_cache_dir):
    """The server and Python callers reach the graph without the CLI: the probe checks too."""
    from lvas.graph.builder import compile_graph
    from lvas.graph.context import Context

    graph = compile_graph()
    ctx = Context(index_dir=str(label_cache_dir), run_dir=str(tmp_path / "run"))
    with pytest.raises(LVASInputError, match="4,000"):
        graph.invoke({"video": str(one_scene), "output": str(tmp_path / "out.mp4"),
                      "prompt": "x" * (MAX_PROMPT_CHARS + 1)}, context=ctx)
    assert not (tmp_path / "run").exists() and not (tmp_path / "out.mp4").exists()


def test_many_prompt_phrases_give_capped_sounds_and_say_which_were_left_out(
        one_scene, tmp_path, label_cache_dir):
    plan_path = tmp_path / "plan.json"
    result = _lvas("plan", str(one_scene), "-o", str(plan_path), "--prompt", ", ".join(PHRASES),
                   cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    sounds = _sounds(json.loads(plan_path.read_text()))
    assert len(sounds) == 1  # one scene: the bed and the first events
    assert list(sounds.values())[0] == PHRASES[:1 + MAX_PROMPT_EVENTS_PER_SCENE]
    left_out = PHRASES[MAX_PROMPT_PHRASES:]
    unused = PHRASES[1 + MAX_PROMPT_EVENTS_PER_SCENE:MAX_PROMPT_PHRASES]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any(f"{len(left_out)} were left out" in w and repr(left_out[0]) in w
               for w in warnings), warnings
    assert any(f"{len(unused)} prompt phrase(s) became no sound" in w
               and all(repr(text) in w for text in unused) for w in warnings), warnings
    summary = json.loads((tmp_path / "plan.lvas" / "summary.json").read_text())
    assert [f"warning: {w}" for w in summary["warnings"]] == warnings


def test_scenes_take_the_prompt_events_in_turn(cut_video, tmp_path, label_cache_dir):
    plan_path = tmp_path / "plan.json"
    prompt = ", ".join(PHRASES[:MAX_PROMPT_PHRASES])
    result = _lvas("plan", str(cut_video), "-o", str(plan_path), "--prompt", prompt, "--json",
                   cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    events = PHRASES[1:MAX_PROMPT_PHRASES]
    sounds = _sounds(json.loads(plan_path.read_text()))
    assert len(sounds) == 4
    heard = set()
    for texts in sounds.values():
        assert texts[0] == PHRASES[0] and len(texts) == 1 + MAX_PROMPT_EVENTS_PER_SCENE
        heard |= set(texts[1:])
    assert heard == set(events)  # four scenes have room for all eleven events
    assert json.loads(result.stdout)["warnings"] == []


def test_a_normal_prompt_designs_what_it_always_did(cut_video, tmp_path, label_cache_dir):
    plan_path = tmp_path / "plan.json"
    phrases = ["heavy rain on a tin roof", "distant thunder", "a dog barks", "a door slams",
               "glass breaks"]  # a bed and as many events as a scene takes
    result = _lvas("plan", str(cut_video), "-o", str(plan_path), "--prompt", ", ".join(phrases),
                   "--json", cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    sounds = _sounds(json.loads(plan_path.read_text()))
    assert len(sounds) == 4 and all(texts == phrases for texts in sounds.values())
    assert json.loads(result.stdout)["warnings"] == []


def test_a_dub_reports_what_the_prompt_lost(one_scene, tmp_path, label_cache_dir):
    out = tmp_path / "out.mp4"
    result = _lvas("dub", str(one_scene), "-o", str(out), "--prompt", ", ".join(PHRASES),
                   cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    assert out.exists()
    clips = [p for p in (tmp_path / "out.lvas" / "clips").iterdir() if p.suffix == ".wav"]
    assert 0 < len(clips) <= 1 + MAX_PROMPT_EVENTS_PER_SCENE
    report = (tmp_path / "out.lvas" / "report.html").read_text()
    assert "were left out" in report and "became no sound" in report


# -- sounds per scene and per minute, whatever designed them ------------------------------------


def _design(scene: str, count: int) -> dict:
    sounds = [{"id": f"{scene}-{'bed' if n == 0 else 'fx'}{n}", "scene_id": scene,
               "layer": "background" if n == 0 else "foreground", "description": f"s{n}",
               "query": f"s{n}", "start": 0.0, "end": 1.0, "volume_db": -6.0, "onsets": [],
               "excluded_labels": []} for n in range(count)]
    return {"scene_id": scene, "reasoning": "r", "silence": False, "sounds": sounds}


def test_cap_designs_keeps_every_scene_its_bed_and_drops_the_busiest_scenes_events():
    scenes = [{"id": f"scene-{n:03d}", "start": float(n), "end": float(n + 1)}
              for n in range(20)]
    designs = {s["id"]: _design(s["id"], 2 if n % 2 else MAX_SOUNDS_PER_SCENE + 4)
               for n, s in enumerate(scenes)}
    capped, warnings = cap_designs(designs, scenes, 20.0)
    counts = [len(capped[s["id"]]["sounds"]) for s in scenes]
    assert sum(counts) == MAX_SOUNDS_PER_MINUTE
    assert all(capped[s["id"]]["sounds"][0]["layer"] == "background" for s in scenes)
    assert counts[1::2] == [2] * 10  # the quiet scenes keep all they had
    assert max(counts) <= MAX_SOUNDS_PER_SCENE
    assert len(warnings) == 2
    assert "10 scene(s) were designed with more than 8 sounds" in warnings[0]
    assert "40 sound(s) left out" in warnings[0]
    assert f"the design has {10 * 8 + 10 * 2} sounds, more than the 60" in warnings[1]
    assert "sound(s) left out by the run's limits" in capped["scene-000"]["reasoning"]
    small = {s["id"]: _design(s["id"], 3) for s in scenes[:4]}
    assert cap_designs(small, scenes[:4], 4.0) == (small, [])


def test_more_scenes_than_the_minute_allows_keep_one_sound_each():
    scenes = [{"id": f"scene-{n:03d}", "start": n / 2, "end": n / 2 + 0.5} for n in range(100)]
    designs = {s["id"]: _design(s["id"], 2) for s in scenes}
    capped, warnings = cap_designs(designs, scenes, 50.0)
    assert [len(d["sounds"]) for d in capped.values()] == [1] * 100
    assert "100 sound(s) left out" in warnings[0]


def test_the_offline_design_is_capped_per_minute(cut_video, tmp_path, label_cache_dir):
    plan_path = tmp_path / "plan.json"
    result = _lvas("plan", str(cut_video), "-o", str(plan_path), "--json", "--set",
                   "segmentation=fixed", "--set", "segment_seconds=0.5", "--prompt",
                   ", ".join(PHRASES[:5]), cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    sounds = _sounds(json.loads(plan_path.read_text()))
    assert len(sounds) == 16 and sum(map(len, sounds.values())) == MAX_SOUNDS_PER_MINUTE
    assert all(texts[0] == PHRASES[0] for texts in sounds.values())
    warnings = json.loads(result.stdout)["warnings"]
    assert any("the design has 80 sounds, more than the 60" in w for w in warnings), warnings


def _busy_model(body: dict) -> Reply:
    """A model that designs eight sounds for every scene and accepts every label."""
    fmt = body.get("response_format") or {}
    name = (fmt.get("json_schema") or {}).get("name") or \
        (body.get("tools") or [{}])[0].get("function", {}).get("name", "")
    text = "\n".join(m["content"] if isinstance(m["content"], str)
                     else " ".join(p.get("text", "") for p in m["content"])
                     for m in body["messages"])
    ids = sorted(set(re.findall(r"scene-\d{3}(?:\.\d+)?-(?:bed|fx)\d+", text)))
    layer = ["background"] + ["foreground"] * (MAX_SOUNDS_PER_SCENE - 1)
    answers = {
        "VideoOverview": {"summary": "a walk", "timeline": []},
        "SceneScriptOut": {"background": "wind", "entities": ["grass"], "actions": ["sways"],
                           "caption": "grass sways"},
        "PairReview": {"action": "keep", "reason": "different", "corrected": None},
        "SceneDesignOut": {"sound_sources": "grass", "background": "wind", "priority": "wind",
                           "silence": False,
                           "sounds": [{"layer": kind, "description": f"MODEL SOUND {n}",
                                       "start": 0.0, "end": 1.0, "volume_db": -8.0,
                                       "event_times": []} for n, kind in enumerate(layer)]},
        "LabelSelection": {"choices": [{"sound_id": i, "choice": "1", "reason": "fits"}
                                       for i in ids]},
        "LabelReview": {"verdicts": [{"sound_id": i, "final": True, "reason": "fits",
                                      "new_query": None} for i in ids]},
    }
    if name not in answers:
        return Reply(status=500, error=name, headers={"x-should-retry": "false"})
    return json_reply(answers[name])


def test_a_model_that_designs_too_much_is_capped_and_says_so(cut_video, tmp_path, monkeypatch,
                                                             label_cache_dir):
    from lvas.graph.cli import main

    plan_path = tmp_path / "plan.json"
    with OpenAIStub(responder=_busy_model) as stub:
        for name, value in (("LVAS_CACHE_DIR", str(label_cache_dir)),
                            ("LVAS_LLM_MODEL", "stub-model"), ("LVAS_LLM_BASE_URL", stub.base_url),
                            ("OPENAI_API_KEY", "test-key"), ("LVAS_LLM_TIMEOUT", "5")):
            monkeypatch.setenv(name, value)
        assert main(["plan", str(cut_video), "-o", str(plan_path), "-q", "--set",
                     "segmentation=fixed", "--set", "segment_seconds=1",
                     "--set", "review_scripts=false"]) == 0
    sounds = _sounds(json.loads(plan_path.read_text()))
    assert len(sounds) == 8 and sum(map(len, sounds.values())) == MAX_SOUNDS_PER_MINUTE
    summary = json.loads((tmp_path / "plan.lvas" / "summary.json").read_text())
    assert any("the design has 64 sounds, more than the 60" in w for w in summary["warnings"])


# -- narration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("lines", "words"), [
    (["0.5-2.5 hello"] * (MAX_NARRATION_LINES + 1),
     [f"{MAX_NARRATION_LINES + 1:,} lines", f"at most {MAX_NARRATION_LINES:,}", "split"]),
    (["0.5-2.5 " + "a" * 200] * (MAX_NARRATION_CHARS // 200 + 1),
     [f"at most {MAX_NARRATION_CHARS:,}", "characters", "split"]),
    (["# " + "x" * 1000] * (MAX_NARRATION_BYTES // 1000 + 1) + ["0.5 hello"],
     [f"at most {MAX_NARRATION_BYTES:,}", "bytes", "subtitle file"]),
], ids=["lines", "characters", "bytes"])
def test_too_much_narration_is_refused(one_scene, tmp_path, label_cache_dir, lines, words):
    narration = tmp_path / "lines.txt"
    narration.write_text("\n".join(lines) + "\n")
    result = _lvas("plan", str(one_scene), "-o", str(tmp_path / "plan.json"), "--narration",
                   str(narration), cache_dir=label_cache_dir)
    _refused(result, *words)
    assert not (tmp_path / "plan.json").exists() and not (tmp_path / "plan.lvas").exists()


# -- plans ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def made_plan(one_scene, tmp_path_factory, label_cache_dir) -> dict:
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    result = _lvas("plan", str(one_scene), "-o", str(path), "--prompt", "rain, thunder",
                   cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(path.read_text())


def _render(plan: dict | str, tmp_path: Path, cache: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "edited.plan.json"
    path.write_text(plan if isinstance(plan, str) else json.dumps(plan))
    return _lvas("render", str(path), "-o", str(tmp_path / "out.mp4"), cache_dir=cache)


def test_a_plan_with_too_many_sounds_in_a_scene_is_refused(made_plan, tmp_path, label_cache_dir):
    plan = json.loads(json.dumps(made_plan))
    key, design = next(iter(plan["designs"].items()))
    bed = design["sounds"][0]
    design["sounds"] = [{**bed, "id": f"{bed['id']}-{n}"} for n in range(MAX_SOUNDS_PER_SCENE + 1)]
    plan["label_choices"] = {}
    result = _render(plan, tmp_path, label_cache_dir)
    _refused(result, f"design {key} has {MAX_SOUNDS_PER_SCENE + 1} sounds",
             f"at most {MAX_SOUNDS_PER_SCENE}", "remove")
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "out.lvas").exists()


def test_a_plan_with_too_many_scenes_is_refused(made_plan, tmp_path, label_cache_dir):
    plan = json.loads(json.dumps(made_plan))
    duration = plan["storyboard"]["duration"]
    count = 121
    plan["scenes"] = [{"id": f"s{n}", "start": duration * n / count,
                       "end": duration * (n + 1) / count} for n in range(count)]
    plan["designs"], plan["label_choices"], plan["scripts"] = {}, {}, {}
    _refused(_render(plan, tmp_path, label_cache_dir), "121 scenes", "120", "merge scenes")


def test_a_huge_plan_file_is_refused_before_it_is_read(made_plan, tmp_path, label_cache_dir):
    text = json.dumps(made_plan)
    padded = text[:-1] + " " * (MAX_PLAN_BYTES + 1 - len(text)) + "}"
    _refused(_render(padded, tmp_path, label_cache_dir), f"{MAX_PLAN_BYTES:,}", "lvas plan")


# -- the video's length --------------------------------------------------------------------------


def test_a_video_longer_than_the_limit_is_refused(long_video, tmp_path, label_cache_dir):
    result = _lvas("plan", str(long_video), "-o", str(tmp_path / "plan.json"),
                   cache_dir=label_cache_dir)
    _refused(result, "5.0 h", "4.0 h", "--set max_video_seconds=")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_video_limit_is_a_run_setting(one_scene, tmp_path, label_cache_dir):
    result = _lvas("plan", str(one_scene), "-o", str(tmp_path / "plan.json"), "--set",
                   "max_video_seconds=2", cache_dir=label_cache_dir)
    _refused(result, "3.0 s", "max_video_seconds=2")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_check_video_length_names_both_lengths():
    check_video_length("v.mp4", 3600.0, 3600.0)
    check_video_length("v.mp4", 10 * 3600.0, 0)  # 0: no limit
    with pytest.raises(LVASInputError, match=r"lasts 1\.5 min \(90 s\).*up to 1\.0 min"):
        check_video_length("v.mp4", 90.0, 60.0)


def test_a_refused_input_never_waits_for_the_label_index(long_video, tmp_path):
    """On a machine's first run the label index takes about a minute to build: the inputs are
    checked first, so a refusal comes at once and leaves no index behind."""
    fresh_cache = tmp_path / "cache"
    result = _lvas("dub", str(long_video), "-o", str(tmp_path / "out.mp4"),
                   cache_dir=fresh_cache)
    _refused(result, "5.0 h")
    assert "label index" not in result.stderr
    assert not fresh_cache.exists() or not any(fresh_cache.rglob("*.sqlite3"))
