"""The chat planner: the Scriptwriter, Storyboarder, Designer and Synthesizer as model calls.

Each step sends one of the prompts in ``prompts/`` through StructuredCaller and maps the
validated answer onto the plain dicts of the Planner protocol. The model is trusted for what
it says (descriptions, designs, choices, even silence) but never for the shape of the plan:
times are clamped into the scene, volumes into range, labels must be among the candidates.
When a step cannot get a usable answer it falls back to the offline planner for that step
only and says so in the run's log, so one bad reply never stops a run.

Its "vision" is the keyframe images sent with the Scriptwriter's two prompts (no other role
sees images). ``ChatPlanner(settings, vision=False)`` sends none: the model is told it works
without the picture and is given each scene's measured movement in words instead, and its
offline fallback is blind too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lvas.prompts import load_prompt
from lvas.prompts.schemas import (
    LabelReview,
    LabelSelection,
    PairReview,
    SceneDesignOut,
    SceneScriptOut,
    VideoOverview,
)
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.types import (
    LabelCandidate,
    LabelChoice,
    ReviewAction,
    Scene,
    SceneDesign,
    SceneScript,
    Sound,
)
from lvas.tools.llm.chat import CallLog, ChatFailure, ChatSettings, StructuredCaller
from lvas.tools.planning.offline import OfflinePlanner, motion_class

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lvas.tools.planning.registry import Planner

MIN_VOLUME_DB = -40.0
MIN_SPAN_S = 0.1
NONE_WORDS = frozenset({"none", "null", "no label", "nothing", "n/a", ""})
_NUMBERED = re.compile(r"^[#\[(]?\s*(\d+)\s*[\]).:]?\s*(.*)$")


class Unmappable(ValueError):
    """A valid answer that still cannot become part of the plan (e.g. an unknown label)."""


class ChatPlanner:
    """The Planner protocol over a chat model, with the offline planner as the safety net."""

    name = "chat"

    def __init__(self, settings: ChatSettings, *, caller: StructuredCaller | None = None,
                 fallback: Planner | None = None, vision: bool = True) -> None:
        self.settings = settings
        self.caller = caller if caller is not None else StructuredCaller(settings)
        self.vision = vision
        self.fallback: Planner = (fallback if fallback is not None
                                  else OfflinePlanner(vision=vision))
        self.author = f"chat:{settings.model}"

    # -- Scriptwriter -------------------------------------------------------------------------

    def describe_video(self, scenes: list[Scene], prompt: str | None,
                       log: CallLog | None = None) -> str:
        log = _log(log)
        if not scenes:
            return self.fallback.describe_video(scenes, prompt, log)
        picked = _spread(list(range(len(scenes))), self.settings.max_images)
        images: list[str] = []
        lines: list[str] = []
        for number, scene in enumerate(scenes):
            line = f"- scene {scene['id']}: {_span(scene)}"
            if not self.vision:
                line += f", {_movement(scene)}"
            elif number in picked:
                frame = _middle(_existing(scene.get("keyframes", []), log, "scriptwriter"))
                if frame is not None:
                    images.append(frame)
                    line += f" (keyframe image {len(images)})"
            lines.append(line)
        out = self._ask("scriptwriter", "scriptwriter_overview", log, "the whole-video description",
                        images, note=None if self.vision else BLIND_OVERVIEW,
                        duration=_num(scenes[-1]["end"]), scene_count=len(scenes),
                        scenes="\n".join(lines), prompt=_direction(prompt))
        if not isinstance(out, VideoOverview):
            return self.fallback.describe_video(scenes, prompt, log)
        timeline = [f"{_num(e.start)}-{_num(e.end)} s: {e.summary}" for e in out.timeline]
        return " ".join([out.summary, *timeline]).strip()

    def describe_scene(self, scene: Scene, overview: str, prompt: str | None,
                       log: CallLog | None = None) -> SceneScript:
        log = _log(log)
        images: list[str] = []
        note = None
        if self.vision:
            frames = _existing(scene.get("keyframes", []), log, "scriptwriter")
            images = _spread(frames, self.settings.max_images)
        else:
            note = f"{BLIND_SCENE} Movement measured in this scene: {_movement(scene)}."
        out = self._ask("scriptwriter", "scriptwriter_scene", log, f"scene {scene['id']}'s script",
                        images, note=note, overview=overview or "(none)", scene_id=scene["id"],
                        start=_num(scene["start"]), end=_num(scene["end"]),
                        duration=_num(scene["end"] - scene["start"]), image_count=len(images),
                        prompt=_direction(prompt))
        if not isinstance(out, SceneScriptOut):
            return self.fallback.describe_scene(scene, overview, prompt, log)
        return self._script(scene["id"], out)

    # -- Storyboarder -------------------------------------------------------------------------

    def review_pair(self, previous: Scene | None, previous_script: SceneScript | None,
                    scene: Scene, script: SceneScript, overview: str, prompt: str | None,
                    log: CallLog | None = None) -> tuple[ReviewAction, str, SceneScript | None]:
        log = _log(log)
        has_previous = previous is not None and previous_script is not None
        what = f"the review of scene {scene['id']}"
        earlier = (_script_text(previous, previous_script)
                   if previous is not None and previous_script is not None
                   else "none: this is the first scene, so it cannot be merged")
        out = self._ask("storyboarder", "storyboarder_review", log, what, (),
                        overview=overview or "(none)", prompt=_direction(prompt),
                        previous=earlier, current=_script_text(scene, script))
        if isinstance(out, PairReview):
            if out.action == "merge" and not has_previous:
                self._warn(log, "storyboarder", "asked to merge the first scene", what)
            elif out.action == "correct" and out.corrected is not None:
                corrected = self._script(script.get("scene_id", scene["id"]), out.corrected)
                return "correct", out.reason, corrected
            else:
                return out.action, out.reason, None
        return self.fallback.review_pair(previous, previous_script, scene, script, overview,
                                         prompt, log)

    # -- Designer -----------------------------------------------------------------------------

    def design_scene(self, scene: Scene, script: SceneScript, prompt: str | None,
                     onsets: list[float], seed: int,
                     log: CallLog | None = None) -> SceneDesign:
        log = _log(log)
        start, end = float(scene["start"]), float(scene["end"])
        inside = [t for t in onsets if start <= t < end]
        out = self._ask("designer", "designer_scene", log, f"scene {scene['id']}'s design", (),
                        scene_id=scene["id"], start=_num(start), end=_num(end),
                        duration=_num(end - start),
                        background=script.get("background") or "(not given)",
                        entities=", ".join(script.get("entities", [])) or "(none)",
                        actions=", ".join(script.get("actions", [])) or "(none)",
                        caption=script.get("caption") or "(none)",
                        onsets=", ".join(_num(t - start, 2) for t in inside) or "(none)",
                        prompt=_direction(prompt))
        if not isinstance(out, SceneDesignOut):
            return self.fallback.design_scene(scene, script, prompt, onsets, seed, log)
        return _design(scene, out, inside)

    def review_labels(self, design: SceneDesign, choices: dict[str, LabelChoice],
                      prompt: str | None,
                      log: CallLog | None = None) -> dict[str, tuple[bool, str, str | None]]:
        log = _log(log)
        sounds = [s for s in design["sounds"] if choices.get(s["id"]) is not None]
        if not sounds:
            return {}
        what = f"the label review of scene {design.get('scene_id', '?')}"
        text = "\n".join(_choice_text(s, choices[s["id"]]) for s in sounds)
        out = self._ask("designer", "designer_review", log, what, (), prompt=_direction(prompt),
                        choices=text)
        if not isinstance(out, LabelReview):
            return self.fallback.review_labels(design, choices, prompt, log)
        given = {v.sound_id: v for v in out.verdicts}
        verdicts: dict[str, tuple[bool, str, str | None]] = {}
        missing: list[Sound] = []
        for sound in sounds:
            verdict = given.get(sound["id"])
            if verdict is None:
                missing.append(sound)
                continue
            query = (verdict.new_query or "").strip() or None
            verdicts[sound["id"]] = (verdict.final, verdict.reason,
                                     None if verdict.final else query)
        if missing:
            ids = ", ".join(s["id"] for s in missing)
            self._warn(log, "designer", f"no verdict for {ids}", f"the review of {ids}")
            rest = self.fallback.review_labels({**design, "sounds": missing}, choices, prompt, log)
            verdicts.update(rest)
        return verdicts

    # -- Synthesizer --------------------------------------------------------------------------

    def select_labels(self, design: SceneDesign, candidates: dict[str, list[LabelCandidate]],
                      prompt: str | None,
                      log: CallLog | None = None) -> dict[str, LabelCandidate | None]:
        log = _log(log)
        pools = {s["id"]: _pool(s, candidates.get(s["id"], [])) for s in design["sounds"]}
        result: dict[str, LabelCandidate | None] = {sid: None for sid, p in pools.items() if not p}
        asked = [s for s in design["sounds"] if pools[s["id"]]]
        if not asked:
            return result
        what = f"the label choice of scene {design.get('scene_id', '?')}"
        text = "\n".join(_candidates_text(s, pools[s["id"]]) for s in asked)
        out = self._ask("synthesizer", "synthesizer_select", log, what, (),
                        prompt=_direction(prompt), sounds=text)
        if not isinstance(out, LabelSelection):
            result.update(self.fallback.select_labels(
                {**design, "sounds": asked}, candidates, prompt, log))
            return result
        picks = {p.sound_id: p.choice for p in out.choices}
        for sound in asked:
            sid = sound["id"]
            try:
                if sid not in picks:
                    raise Unmappable(f"no choice for {sid}")
                result[sid] = pick_candidate(picks[sid], pools[sid])
            except Unmappable as exc:
                self._warn(log, "synthesizer", str(exc), f"the label of {sid}")
                result.update(self.fallback.select_labels(
                    {**design, "sounds": [sound]}, candidates, prompt, log))
        return result

    # -- helpers ------------------------------------------------------------------------------

    def _ask(self, role: str, prompt_name: str, log: CallLog, what: str,
             images: Sequence[str], note: str | None = None,
             **values: Any) -> BaseModel | None:
        """The validated answer, or None (with a warning) when the model could not give one.

        ``note`` is a paragraph added to the end of the user message (what the model is given
        instead of the picture when the run has no vision input)."""
        prompt = load_prompt(prompt_name)
        try:
            messages = prompt.messages(images, max_images=self.settings.max_images,
                                       image_width=self.settings.image_width, **values)
        except LVASInputError as exc:  # an unreadable keyframe: ask about the text alone
            log.warn(f"{role}: keyframes not sent ({exc})")
            messages = prompt.messages((), **values)
        if note:
            messages = _with_note(messages, note)
        try:
            return self.caller.call(role, prompt.schema, messages, log)
        except ChatFailure as exc:
            self._warn(log, role, str(getattr(exc, "reason", "") or exc), what)
            return None

    @staticmethod
    def _warn(log: CallLog, role: str, reason: str, what: str) -> None:
        log.warn(f"{role}: model failed ({reason}); offline planner used for {what}")

    def _script(self, scene_id: str, out: SceneScriptOut) -> SceneScript:
        return {
            "scene_id": scene_id,
            "background": out.background,
            "entities": list(out.entities),
            "actions": list(out.actions),
            "caption": out.caption,
            "author": self.author,
        }


def pick_candidate(choice: str, pool: list[LabelCandidate]) -> LabelCandidate | None:
    """The candidate a model's answer names: its number (from 1), its exact label, or none.

    Raises Unmappable for anything else, so an invented label never enters the plan.
    """
    text = choice.strip().strip("\"'`").strip()
    if text.lower() in NONE_WORDS:
        return None
    by_label = {c["label"].strip().lower(): c for c in pool}
    if text.lower() in by_label:
        return by_label[text.lower()]
    numbered = _NUMBERED.match(text)
    if numbered:
        index, rest = int(numbered.group(1)), numbered.group(2).strip().strip("\"'").lower()
        if 1 <= index <= len(pool) and (not rest or rest == pool[index - 1]["label"].lower()):
            return pool[index - 1]
    raise Unmappable(f"unknown label {choice!r}")


def _design(scene: Scene, out: SceneDesignOut, onsets: list[float]) -> SceneDesign:
    """The protocol's design dict; model times are seconds from the scene start."""
    start, end = float(scene["start"]), float(scene["end"])
    reasoning = (f"Entities and actions: {out.sound_sources} Background: {out.background} "
                 f"Priority: {out.priority}")
    if out.silence or not out.sounds:
        return {"scene_id": scene["id"], "reasoning": reasoning, "silence": True, "sounds": []}
    counts = {"background": 0, "foreground": 0}
    sounds: list[Sound] = []
    for item in out.sounds:
        s_start, s_end = _place(item.start, item.end, start, end)
        times = sorted({round(t, 3) for t in (_absolute(v, start, end) for v in item.event_times)
                        if s_start <= t < s_end})
        if item.layer == "foreground" and not times:
            times = [round(t, 3) for t in onsets if s_start <= t < s_end] or [round(s_start, 3)]
        if item.layer == "background":
            sid = f"{scene['id']}-bed{counts['background']}"
            counts["background"] += 1
            times = []
        else:
            counts["foreground"] += 1
            sid = f"{scene['id']}-fx{counts['foreground']}"
        sounds.append({
            "id": sid,
            "scene_id": scene["id"],
            "layer": item.layer,
            "description": item.description,
            "query": item.description,
            "start": round(s_start, 3),
            "end": round(s_end, 3),
            "volume_db": round(min(0.0, max(MIN_VOLUME_DB, item.volume_db)), 2),
            "onsets": times,
            "excluded_labels": [],
        })
    return {"scene_id": scene["id"], "reasoning": reasoning, "silence": False, "sounds": sounds}


def _absolute(value: float, start: float, end: float) -> float:
    """A model time as video time; values past the scene's length that fall inside its
    span in video time were meant as video time (a common slip), the rest are relative."""
    if value > end - start and start <= value <= end:
        return value
    return start + value


def _place(rel_start: float, rel_end: float, start: float, end: float) -> tuple[float, float]:
    """A sound's span clamped into the scene; a span that collapses covers the whole scene."""
    length = end - start
    if start > 0 and rel_start >= length and start <= rel_start < end:
        rel_start, rel_end = rel_start - start, rel_end - start
    a = start + min(max(rel_start, 0.0), length)
    b = start + min(max(rel_end, 0.0), length)
    if b - a < MIN_SPAN_S:
        return start, end
    return a, b


def _pool(sound: Sound, candidates: list[LabelCandidate]) -> list[LabelCandidate]:
    """Candidates the Designer has not refused; all of them if it refused every one."""
    excluded = set(sound.get("excluded_labels", []))
    return [c for c in candidates if c["label"] not in excluded] or list(candidates)


def _candidates_text(sound: Sound, pool: list[LabelCandidate]) -> str:
    lines = [f"sound {sound['id']} ({sound['layer']}): \"{sound['description']}\""]
    for number, cand in enumerate(pool, start=1):
        marks = [f"family {cand.get('family', '?')}"]
        if cand.get("speech"):
            marks.append("speech")
        if cand.get("music"):
            marks.append("music")
        marks.append(f"score {float(cand.get('score', 0.0)):.2f}")
        lines.append(f"  {number}. {cand['label']} [{', '.join(marks)}]")
    return "\n".join(lines)


def _choice_text(sound: Sound, choice: LabelChoice) -> str:
    return (
        f"sound {sound['id']} ({sound['layer']}), designed as \"{sound['description']}\", "
        f"searched as \"{sound.get('query', sound['description'])}\"\n"
        f"  chosen label: \"{choice.get('label', '')}\" (family {choice.get('family', '?')}; "
        f"speech: {'yes' if choice.get('speech') else 'no'}; "
        f"music: {'yes' if choice.get('music') else 'no'}; "
        f"retrieval score {float(choice.get('score', 0.0)):.2f})"
    )


def _script_text(scene: Scene, script: SceneScript) -> str:
    return (
        f"scene {scene['id']}, {_span(scene)}\n"
        f"  background: {script.get('background', '')}\n"
        f"  entities: {', '.join(script.get('entities', [])) or '(none)'}\n"
        f"  actions: {', '.join(script.get('actions', [])) or '(none)'}\n"
        f"  caption: {script.get('caption', '')}"
    )


BLIND_OVERVIEW = (
    "No keyframes are attached: this run works without the picture. Describe the video "
    "from the scenes' timing, the movement measured in each and the sound direction alone, "
    "and do not invent what cannot be known from them."
)
BLIND_SCENE = (
    "No keyframes are attached: this run works without the picture. Write the script from the "
    "scene's timing, its measured movement, the whole-video description and the sound "
    "direction alone; where the place cannot be known, choose a neutral background."
)


def _movement(scene: Scene) -> str:
    """The scene's measured movement in the offline planner's words."""
    return f"{motion_class(float(scene.get('motion', 0.0)))} movement"


def _with_note(messages: list[Any], note: str) -> list[Any]:
    """The messages with ``note`` as the user message's last paragraph."""
    from langchain_core.messages import HumanMessage

    *head, human = messages
    content = human.content
    if isinstance(content, str):
        return [*head, HumanMessage(content=f"{content}\n\n{note}")]
    return [*head, HumanMessage(content=[*content, {"type": "text", "text": note}])]


def _existing(paths: Sequence[str], log: CallLog, role: str) -> list[str]:
    """Keyframes that exist; a missing one is reported rather than failing the call."""
    found = [str(p) for p in paths if Path(p).is_file()]
    if len(found) < len(paths):
        log.warn(f"{role}: {len(paths) - len(found)} keyframe(s) missing; sent without them")
    return found


def _spread(items: list[Any], count: int) -> list[Any]:
    """At most ``count`` items, evenly spread over the list and in order."""
    if count <= 0:
        return []
    if len(items) <= count:
        return list(items)
    step = len(items) / count
    return [items[int(i * step + step / 2)] for i in range(count)]


def _middle(items: list[str]) -> str | None:
    return items[len(items) // 2] if items else None


def _span(scene: Scene) -> str:
    return f"{_num(scene['start'])}-{_num(scene['end'])} s"


def _num(value: float, digits: int = 1) -> str:
    return f"{float(value):.{digits}f}"


def _direction(prompt: str | None) -> str:
    return prompt.strip() if prompt and prompt.strip() else "(none)"


def _log(log: CallLog | None) -> CallLog:
    return log if log is not None else CallLog()
