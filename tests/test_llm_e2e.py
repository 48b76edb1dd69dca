"""End to end with a model: ``lvas plan`` and ``lvas render`` against an OpenAI-compatible
server (a local stub speaking the real protocol to the real langchain-openai client)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lvas.graph.cli import main
from tests.audio_checks import decode_audio, video_duration, video_packets_digest
from tests.openai_stub import (
    OpenAIStub,
    Reply,
    error_reply,
    image_urls,
    json_reply,
    rate_limited,
    retry_after_headers,
    text_reply,
)
from tests.videos import make_cut_video

SOUND_ID = re.compile(r"scene-\d{3}(?:\.\d+)?-(?:bed|fx)\d+")


def _schema_name(body: dict) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["name"]
    if body.get("tools"):
        return body["tools"][0]["function"]["name"]
    return ""


def _text(body: dict) -> str:
    parts = []
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts += [p.get("text", "") for p in content or [] if p.get("type") == "text"]
    return "\n".join(parts)


def model_answers(body: dict, *, broken: set[str] = frozenset()) -> Reply:
    """What a cooperative model says to each of LVAS's prompts."""
    name = _schema_name(body)
    if name in broken:
        return text_reply("Sure! Here is the design: {not json")
    ids = sorted(set(SOUND_ID.findall(_text(body))))
    answers = {
        "VideoOverview": {"summary": "MODEL OVERVIEW: a walk from a meadow to a lake.",
                          "timeline": []},
        "SceneScriptOut": {"background": "a meadow with wind in the grass",
                           "entities": ["grass"], "actions": ["grass sways"],
                           "caption": "MODEL CAPTION: grass sways in the wind."},
        "PairReview": {"action": "keep", "reason": "a different place", "corrected": None},
        "SceneDesignOut": {"sound_sources": "grass", "background": "wind over a meadow",
                           "priority": "the wind stays in the background", "silence": False,
                           "sounds": [{"layer": "background",
                                       "description": "MODEL SOUND: wind blowing over grass",
                                       "start": 0.0, "end": 1.0, "volume_db": -8.0,
                                       "event_times": []}]},
        "LabelSelection": {"choices": [{"sound_id": i, "choice": "1", "reason": "fits"}
                                       for i in ids]},
        "LabelReview": {"verdicts": [{"sound_id": i, "final": True, "reason": "fits",
                                      "new_query": None} for i in ids]},
    }
    if name not in answers:  # a prompt this test does not know: fail now, without retries
        return Reply(status=500, error=name, headers={"x-should-retry": "false"})
    return json_reply(answers[name])


@pytest.fixture
def model_env(monkeypatch, label_cache_dir):
    def use(stub: OpenAIStub) -> None:
        monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
        monkeypatch.setenv("LVAS_LLM_MODEL", "stub-model")
        monkeypatch.setenv("LVAS_LLM_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("LVAS_LLM_TIMEOUT", "5")
    return use


def test_plan_comes_from_the_model_and_renders(tmp_path, model_env):
    video = make_cut_video(tmp_path / "walk.mp4", [2.5, 2.5, 3.0])
    plan_path = tmp_path / "walk.plan.json"
    command = ["plan", str(video), "-o", str(plan_path), "-q", "--prompt",
               "e2e plan from the model"]
    with OpenAIStub(responder=model_answers) as stub:
        model_env(stub)
        # The first call is rate-limited, then meets a server error: the client retries both.
        stub.script(rate_limited(retry_after_ms=1),
                    error_reply(503, "overloaded", headers=retry_after_headers(ms=1)))
        assert main(command) == 0
        bodies = list(stub.requests)
        assert stub.pending == 0 and bodies[0] == bodies[1] == bodies[2]
        # The same plan again: every call is answered from the cache, none reaches the server.
        again = tmp_path / "again.plan.json"
        assert main([*command[:3], str(again), *command[4:]]) == 0
        assert len(stub.requests) == len(bodies)
    plan = json.loads(plan_path.read_text())
    assert plan["overview"].startswith("MODEL OVERVIEW")
    assert all(s["caption"].startswith("MODEL CAPTION") for s in plan["scripts"].values())
    assert all(s["author"] == "chat:stub-model" for s in plan["scripts"].values())
    sounds = [s for d in plan["designs"].values() for s in d["sounds"]]
    assert sounds and all(s["description"].startswith("MODEL SOUND") for s in sounds)
    assert set(plan["label_choices"]) == {s["id"] for s in sounds}
    # keyframes reached the model as images; the output limit went both ways
    assert any(image_urls(b) for b in bodies if _schema_name(b) == "SceneScriptOut")
    assert all("max_tokens" in b and "max_completion_tokens" in b for b in bodies)
    usage = json.loads((tmp_path / "walk.plan.lvas" / "llm_usage.json").read_text())
    roles = usage["summary"]["roles"]
    assert {"scriptwriter", "storyboarder", "designer", "synthesizer"} <= set(roles)
    assert usage["summary"]["total"]["tokens_in"] > 0
    assert all(c["ok"] and not c["cached"] for c in usage["calls"])
    cached = json.loads((tmp_path / "again.plan.lvas" / "llm_usage.json").read_text())
    assert cached["summary"]["total"] == {**cached["summary"]["total"], "tokens_in": 0,
                                          "tokens_out": 0,
                                          "cached": usage["summary"]["total"]["calls"]}
    assert json.loads(again.read_text())["designs"] == plan["designs"]

    out = tmp_path / "walk.dubbed.mp4"
    assert main(["render", str(plan_path), "-o", str(out), "-q"]) == 0
    assert video_packets_digest(out) == video_packets_digest(video)
    samples, rate = decode_audio(out)
    assert abs(len(samples) / rate - video_duration(video)) <= 0.05


def test_a_failing_model_falls_back_to_the_offline_planner_and_says_so(tmp_path, model_env,
                                                                      capsys):
    video = make_cut_video(tmp_path / "fb.mp4", [2.5, 2.5])
    plan_path = tmp_path / "fb.plan.json"
    with OpenAIStub(responder=lambda b: model_answers(b, broken={"SceneDesignOut"})) as stub:
        model_env(stub)
        assert main(["plan", str(video), "-o", str(plan_path), "--json",
                     "--prompt", "e2e fallback run"]) == 0
        design_calls = [b for b in stub.requests if _schema_name(b) == "SceneDesignOut"]
    summary = json.loads(capsys.readouterr().out)
    plan = json.loads(plan_path.read_text())
    # scripts from the model, designs from the fallback, and the run says so
    assert all(s["caption"].startswith("MODEL CAPTION") for s in plan["scripts"].values())
    sounds = [s for d in plan["designs"].values() for s in d["sounds"]]
    assert sounds and not any(s["description"].startswith("MODEL SOUND") for s in sounds)
    assert any("offline planner used" in w for w in summary["warnings"])
    # one repair attempt per design call: the second request carries the validation error
    assert len(design_calls) >= 2 * len(plan["scenes"])


def test_offline_backend_never_calls_the_model(tmp_path, model_env):
    video = make_cut_video(tmp_path / "off.mp4", [2.5, 2.5])
    with OpenAIStub(responder=model_answers) as stub:
        model_env(stub)
        assert main(["plan", str(video), "-o", str(tmp_path / "off.json"), "-q",
                     "--chat-backend", "offline"]) == 0
        assert stub.requests == []
    assert Path(tmp_path / "off.json").exists()
