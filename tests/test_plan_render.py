"""Editable plans: ``lvas plan`` stops before audio, ``lvas render`` renders an edited plan,
and a run can pause after the script for a person's approval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from lvas.graph import Context, compile_graph
from lvas.graph.cli import main
from tests.audio_checks import decode_audio, rms_db, video_duration, video_packets_digest
from tests.videos import make_cut_video


@pytest.fixture(scope="module")
def planned(tmp_path_factory, label_cache_dir):
    with pytest.MonkeyPatch.context() as env:  # the module's runs share the label index
        env.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
        root = tmp_path_factory.mktemp("plan")
        video = make_cut_video(root / "film.mp4", [2.5, 2.5, 2.5])
        plan_path = root / "film.plan.json"
        assert main(["plan", str(video), "-o", str(plan_path), "-q", "--seed", "4"]) == 0
        yield video, plan_path, root


def test_plan_stops_before_audio(planned):
    video, plan_path, root = planned
    plan = json.loads(plan_path.read_text())
    assert Path(plan["video"]) == video.resolve()
    assert plan["designs"] and plan["label_choices"] and plan["scripts"]
    run_dir = root / "film.plan.lvas"
    assert run_dir.is_dir() and not (run_dir / "clips").exists()
    assert not (run_dir / "soundtrack.wav").exists()
    assert (run_dir / "llm_usage.json").exists()


def test_render_an_edited_plan(planned, tmp_path):
    video, plan_path, _ = planned
    plan = json.loads(plan_path.read_text())
    design = next(iter(plan["designs"].values()))
    bed = design["sounds"][0]
    plan["label_choices"][bed["id"]]["label"] = "Thunder"  # a person picks another sound
    bed["volume_db"] = -3.0
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(plan))
    out = tmp_path / "film.rendered.mp4"
    assert main(["render", str(edited), "-o", str(out), "-q", "--work-dir",
                 str(tmp_path / "run")]) == 0
    assert video_packets_digest(out) == video_packets_digest(video)
    samples, rate = decode_audio(out)
    assert abs(len(samples) / rate - video_duration(video)) <= 0.05 and rms_db(samples) > -45
    clips = {p.name.split("-")[0] for p in (tmp_path / "run" / "clips").iterdir()}
    assert "thunder" in clips


def test_render_without_labels_retrieves_them(planned, tmp_path):
    _, plan_path, _ = planned
    plan = json.loads(plan_path.read_text())
    plan["label_choices"] = {}
    for design in plan["designs"].values():
        design["sounds"][0]["description"] = "heavy rain pouring down"
    edited = tmp_path / "nolabels.json"
    edited.write_text(json.dumps(plan))
    assert main(["render", str(edited), "-o", str(tmp_path / "o.mp4"), "-q",
                 "--work-dir", str(tmp_path / "run")]) == 0
    assert any(p.name.startswith("rain-") for p in (tmp_path / "run" / "clips").iterdir())


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda p: p.update(scenes=[]), "scenes"),
        (lambda p: p["scenes"][0].update(end=p["scenes"][0]["end"] - 1.0), "gap"),
        (lambda p: next(iter(p["designs"].values()))["sounds"][0].update(layer="middle"),
         "layer"),
        (lambda p: next(iter(p["designs"].values()))["sounds"][0].update(start=5.0, end=1.0),
         "after start"),
        (lambda p: p.update(lvas_plan_version=99), "version"),
        (lambda p: p["label_choices"].update(ghost={"sound_id": "ghost", "label": "Rain"}),
         "unknown sounds"),
        (lambda p: next(iter(p["label_choices"].values())).update(label="Thundr"),
         "not in the label index"),
        (lambda p: p.update(narration=[{"id": "l1", "start": 1.0, "end": 99.0, "text": "Hi"}]),
         "runs past the video"),
        (lambda p: p.update(narration=[{"id": "l1", "start": 1.0, "end": 2.0, "text": "Hi",
                                        "voice": "-w /tmp/x"}]), "voice"),
        (lambda p: p.update(narration=[{"id": "l1", "start": 1.0, "end": 2.0, "text": ""}]),
         "text"),
    ],
)
def test_invalid_plans_get_clear_errors(planned, tmp_path, capsys, edit, words):
    _, plan_path, _ = planned
    plan = json.loads(plan_path.read_text())
    edit(plan)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(plan))
    code = main(["render", str(bad), "-o", str(tmp_path / "o.mp4"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "lvas: error:" in err and words in err
    assert not (tmp_path / "o.mp4").exists()


def test_render_refuses_non_json_and_missing_plans(tmp_path, capsys):
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert main(["render", str(junk), "-o", str(tmp_path / "o.mp4")]) == 2
    assert main(["render", str(tmp_path / "none.json"), "-o", str(tmp_path / "o.mp4")]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "does not exist" in err


def test_plan_refuses_to_overwrite(planned, capsys):
    video, plan_path, _ = planned
    before = plan_path.read_text()
    assert main(["plan", str(video), "-o", str(plan_path), "-q"]) == 2
    assert "--overwrite" in capsys.readouterr().err and plan_path.read_text() == before


def test_pause_after_script_waits_for_approval_and_uses_edits(tmp_path, label_cache_dir):
    video = make_cut_video(tmp_path / "v.mp4", [2.5, 2.5])
    graph = compile_graph(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}, "recursion_limit": 200}
    ctx = Context(pause_after_script=True, run_dir=str(tmp_path / "run"),
                  index_dir=str(label_cache_dir))
    first = graph.invoke({"video": str(video), "output": str(tmp_path / "o.mp4")}, config,
                         context=ctx)
    (pause,) = first["__interrupt__"]
    scripts = pause.value["scripts"]
    scene_id = next(iter(scripts))
    edits = {"scripts": {scene_id: {"background": "heavy rain pouring down"}}}
    final = graph.invoke(Command(resume=edits), config, context=ctx)
    assert final["scripts"][scene_id]["background"] == "heavy rain pouring down"
    bed = final["designs"][scene_id]["sounds"][0]
    assert bed["description"] == "heavy rain pouring down"
    assert final["label_choices"][bed["id"]]["family"] == "rain"
    assert Path(final["artifacts"]["output"]).exists()
