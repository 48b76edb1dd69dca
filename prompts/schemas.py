"""Output schemas of the prompts: what each role must answer, checked before it is used.

The field descriptions travel to the model inside the JSON schema, so they are written for the
model. Bounds are loose enough for a sensible answer and tight enough to catch nonsense; the
planner still clamps times and volumes into the scene.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class TimelineEntry(_Out):
    start: float = Field(ge=0, description="Seconds from the start of the video.")
    end: float = Field(ge=0, description="Seconds from the start of the video.")
    summary: str = Field(min_length=1, max_length=400,
                         description="What is visible in this part of the video.")


class VideoOverview(_Out):
    """Scriptwriter, whole video."""

    summary: str = Field(min_length=1, max_length=1500,
                         description="A few sentences on what the whole video shows.")
    timeline: list[TimelineEntry] = Field(
        default_factory=list, max_length=100,
        description="One entry per scene, in order, with its rough time span.",
    )


class SceneScriptOut(_Out):
    """Scriptwriter, one scene."""

    background: str = Field(
        min_length=1, max_length=300,
        description="The place and weather as they sound, e.g. 'light rain on a city street'; "
        "never a mood.",
    )
    entities: list[str] = Field(
        default_factory=list, max_length=20,
        description="Visible things that make or could make sound.",
    )
    actions: list[str] = Field(
        default_factory=list, max_length=20,
        description="What those things visibly do.",
    )
    caption: str = Field(min_length=1, max_length=600,
                         description="One or two sentences describing the scene.")

    @field_validator("entities", "actions")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        return [item.strip() for item in items if item and item.strip()]


class PairReview(_Out):
    """Storyboarder, one scene against its predecessor and the whole video."""

    action: Literal["keep", "merge", "correct"] = Field(
        description="keep: consistent; merge: continues the previous scene (same place, action "
        "and background sound); correct: the script needs the corrections given.",
    )
    reason: str = Field(min_length=1, max_length=600, description="Why, in one sentence.")
    corrected: SceneScriptOut | None = Field(
        default=None, description="The corrected script; required when action is 'correct'.",
    )

    @model_validator(mode="after")
    def _correction_given(self) -> PairReview:
        if self.action == "correct" and self.corrected is None:
            raise ValueError("action 'correct' needs the 'corrected' script")
        return self


class DesignedSound(_Out):
    layer: Literal["background", "foreground"] = Field(
        description="background: a steady bed; foreground: the main action.",
    )
    description: str = Field(
        min_length=1, max_length=200,
        description="Concrete wording a sound library would use, e.g. 'dog barking'.",
    )
    start: float = Field(ge=0, description="Seconds from the start of the scene.")
    end: float = Field(gt=0, description="Seconds from the start of the scene; after start.")
    volume_db: float = Field(ge=-30, le=0, description="-30 barely audible .. 0 loudest.")
    event_times: list[float] = Field(
        default_factory=list, max_length=64,
        description="For short foreground events: when they happen, seconds from the start of "
        "the scene. Empty for beds.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DesignedSound:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class SceneDesignOut(_Out):
    """Designer, one scene, step by step."""

    sound_sources: str = Field(
        min_length=1, max_length=1000,
        description="Step 1: the sound-making entities and their actions.",
    )
    background: str = Field(
        min_length=1, max_length=600, description="Step 2: the background ambience chosen.",
    )
    priority: str = Field(
        min_length=1, max_length=600,
        description="Step 3: what goes in the foreground and what stays behind.",
    )
    silence: bool = Field(
        default=False, description="True when the scene should stay silent (then no sounds).",
    )
    sounds: list[DesignedSound] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _silence_has_no_sounds(self) -> SceneDesignOut:
        if self.silence and self.sounds:
            raise ValueError("silence is true but sounds were given; choose one")
        return self


class LabelPick(_Out):
    sound_id: str = Field(min_length=1, max_length=100, description="The sound's id as listed.")
    choice: str = Field(
        min_length=1, max_length=200,
        description="The candidate's number, its exact label, or 'none'.",
    )
    reason: str = Field(default="", max_length=400, description="Why, in a few words.")

    @field_validator("choice", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        if isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value) if isinstance(value, int) else value


class LabelSelection(_Out):
    """Synthesizer, the label choices of one scene's sounds."""

    choices: list[LabelPick] = Field(max_length=64, description="One entry per sound id.")


class LabelVerdict(_Out):
    sound_id: str = Field(min_length=1, max_length=100, description="The sound's id as listed.")
    final: bool = Field(description="True when the chosen label produces the intended sound.")
    reason: str = Field(min_length=1, max_length=400, description="Why, in one sentence.")
    new_query: str | None = Field(
        default=None, max_length=200,
        description="When not final: a better, concrete retrieval query. Null when final.",
    )


class LabelReview(_Out):
    """Designer, verdicts on one scene's chosen labels."""

    verdicts: list[LabelVerdict] = Field(max_length=64, description="One entry per sound id.")


SCHEMAS: dict[str, type[BaseModel]] = {
    "scriptwriter_overview": VideoOverview,
    "scriptwriter_scene": SceneScriptOut,
    "storyboarder_review": PairReview,
    "designer_scene": SceneDesignOut,
    "synthesizer_select": LabelSelection,
    "designer_review": LabelReview,
}
