"""Prompts load by name, fill their templates, and their schemas accept and refuse sensibly."""

from __future__ import annotations

import re

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError

from lvas.prompts import PROMPT_NAMES, Prompt, load_prompt
from lvas.prompts.schemas import (
    DesignedSound,
    LabelPick,
    LabelReview,
    LabelSelection,
    PairReview,
    SceneDesignOut,
    SceneScriptOut,
    VideoOverview,
)

EXPECTED = {
    "scriptwriter_overview": {"duration", "scene_count", "scenes", "prompt"},
    "scriptwriter_scene": {"overview", "scene_id", "start", "end", "duration", "image_count",
                           "prompt"},
    "storyboarder_review": {"overview", "prompt", "previous", "current"},
    "designer_scene": {"scene_id", "start", "end", "duration", "background", "entities",
                       "actions", "caption", "onsets", "prompt"},
    "synthesizer_select": {"prompt", "sounds"},
    "designer_review": {"prompt", "choices"},
}


def test_every_role_has_a_prompt() -> None:
    assert set(PROMPT_NAMES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_prompt_loads_and_fills(name: str) -> None:
    prompt = load_prompt(name)
    assert isinstance(prompt, Prompt) and prompt.name == name
    assert len(prompt.system) > 200 and "## " not in prompt.system
    assert prompt.placeholders == EXPECTED[name]
    values = {key: f"<{key}-value>" for key in EXPECTED[name]}
    messages = prompt.messages(**values)
    assert isinstance(messages[0], SystemMessage) and messages[0].content == prompt.system
    assert isinstance(messages[1], HumanMessage)
    for key in EXPECTED[name]:
        assert f"<{key}-value>" in messages[1].content
    assert not re.search(r"\{\w*\}", messages[1].content), "a placeholder was left unfilled"
    assert "{" not in prompt.system, "system text is sent as is and must not look like a template"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_schema_is_a_valid_json_schema(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_prompt(name).schema
    assert issubclass(schema, BaseModel)
    document = schema.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["type"] == "object" and document["properties"]


def test_values_with_braces_are_inserted_verbatim() -> None:
    prompt = load_prompt("synthesizer_select")
    text = prompt.format_user(prompt="{not a field}", sounds='{"json": 1}')
    assert "{not a field}" in text and '{"json": 1}' in text


def test_missing_value_and_unknown_prompt_are_clear_errors() -> None:
    with pytest.raises(KeyError, match="sounds"):
        load_prompt("synthesizer_select").messages(prompt="x")
    with pytest.raises(KeyError) as caught:
        load_prompt("poet")
    message = str(caught.value)
    assert "poet" in message and all(name in message for name in EXPECTED)


def test_load_prompt_is_cached() -> None:
    assert load_prompt("designer_scene") is load_prompt("designer_scene")


def test_prompts_state_the_method_rules() -> None:
    assert "only what" in load_prompt("scriptwriter_scene").system.lower()
    assert "mood" in load_prompt("scriptwriter_scene").system.lower()
    designer = load_prompt("designer_scene").system.lower()
    assert "silence" in designer and "foreground" in designer and "volume_db" in designer
    assert "none" in load_prompt("synthesizer_select").system.lower()
    assert "merge" in load_prompt("storyboarder_review").system.lower()
    assert "new_query" in load_prompt("designer_review").system


def _sound(**changes: object) -> dict:
    base = {"layer": "foreground", "description": "dog barking", "start": 0.0, "end": 2.0,
            "volume_db": -6.0, "event_times": [0.5]}
    return {**base, **changes}


def test_sound_schema_bounds() -> None:
    assert DesignedSound.model_validate(_sound()).volume_db == -6.0
    for bad in (_sound(layer="middle"), _sound(volume_db=-31), _sound(volume_db=3),
                _sound(start=2.0, end=1.0), _sound(description=""), _sound(start=-1)):
        with pytest.raises(ValidationError):
            DesignedSound.model_validate(bad)


def test_design_schema_silence_and_limits() -> None:
    steps = {"sound_sources": "a dog", "background": "a park", "priority": "dog in front"}
    assert SceneDesignOut.model_validate({**steps, "silence": True}).sounds == []
    with pytest.raises(ValidationError, match="silence"):
        SceneDesignOut.model_validate({**steps, "silence": True, "sounds": [_sound()]})
    with pytest.raises(ValidationError):
        SceneDesignOut.model_validate({**steps, "sounds": [_sound()] * 9})
    with pytest.raises(ValidationError):
        SceneDesignOut.model_validate({"sounds": []})


def test_review_schema_needs_a_correction_for_correct() -> None:
    with pytest.raises(ValidationError, match="corrected"):
        PairReview.model_validate({"action": "correct", "reason": "wrong place"})
    with pytest.raises(ValidationError):
        PairReview.model_validate({"action": "split", "reason": "x"})
    fixed = {"background": "rain on a street", "caption": "A wet street."}
    review = PairReview.model_validate({"action": "correct", "reason": "r", "corrected": fixed})
    assert review.corrected is not None and review.corrected.entities == []


def test_script_and_overview_schemas() -> None:
    script = SceneScriptOut.model_validate(
        {"background": " wind ", "entities": ["tree", " "], "actions": [], "caption": "Trees."})
    assert script.background == "wind" and script.entities == ["tree"]
    with pytest.raises(ValidationError):
        SceneScriptOut.model_validate({"background": "", "caption": "x"})
    with pytest.raises(ValidationError):
        VideoOverview.model_validate({"summary": "x", "timeline": [{"start": -1, "end": 1,
                                                                    "summary": "y"}]})


def test_label_schemas() -> None:
    assert LabelPick.model_validate({"sound_id": "s0-fx1", "choice": 2}).choice == "2"
    assert LabelPick.model_validate({"sound_id": "s0-fx1", "choice": 2.0}).choice == "2"
    with pytest.raises(ValidationError):
        LabelPick.model_validate({"sound_id": "s0-fx1", "choice": ""})
    with pytest.raises(ValidationError):
        LabelSelection.model_validate({})
    review = LabelReview.model_validate(
        {"verdicts": [{"sound_id": "a", "final": False, "reason": "voice", "new_query": "rain"}]})
    assert review.verdicts[0].new_query == "rain"
    with pytest.raises(ValidationError):
        LabelReview.model_validate({"verdicts": [{"sound_id": "a", "final": "maybe",
                                                  "reason": "x"}]})
