"""The parts of LVAS an ablation can remove or replace, and what each change runs.

Every alternative is a set of :class:`~lvas.graph.context.Context` settings, so what an ablation
measures is exactly what a normal run with those settings does (``lvas dub`` from Python or the
server, with the same fields). A component lists the words researchers use for it (aliases)
and one sentence of what it does; ``mapping`` matches plan text against both, by name first and
by meaning (the packaged sentence-embedding model) second.

A parametric alternative (fixed chunks) takes its number from the plan's words ("fixed
5-second chunks") through ``parameter``; without one it keeps ``settings``' default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Alternative:
    """One way to run without (or instead of) a component."""

    name: str
    description: str
    settings: dict[str, Any]
    aliases: tuple[str, ...] = ()
    parameter: str | None = None  # the Context field a number in the plan's words sets
    parameter_range: tuple[float, float] = (0.0, float("inf"))


@dataclass(frozen=True)
class Component:
    """A part of LVAS: what REMOVE does (``remove``, an alternative's name) and what REPLACE
    may choose from."""

    name: str
    description: str
    aliases: tuple[str, ...]
    alternatives: tuple[Alternative, ...]
    remove: str | None = None  # the alternative REMOVE runs; None: only REPLACE applies
    stage: str = ""
    notes: str = ""

    def alternative(self, name: str) -> Alternative:
        return next(a for a in self.alternatives if a.name == name)

    def texts(self) -> tuple[str, ...]:
        """What plan text is compared with: the name, the aliases and the description."""
        return (self.name.replace("-", " "), *self.aliases, self.description)


_FIXED = Alternative(
    "fixed-chunks", "cut the video into fixed-length chunks regardless of content (the "
    "paper's MMAudio baseline uses 10-second chunks)",
    {"segmentation": "fixed", "segment_seconds": 10.0},
    ("fixed 10-second chunks", "fixed-length chunks", "fixed length segments",
     "uniform chunks", "equal-length windows", "fixed windows", "fixed-duration clips",
     "regular intervals", "chunks of N seconds", "sliding fixed windows", "MMAudio-style chunks",
     "naive chunking", "time-based splitting"),
    parameter="segment_seconds", parameter_range=(0.5, 3600.0))

COMPONENTS: tuple[Component, ...] = (
    Component(
        "discussion-correction",
        "the Storyboarder reviews the Scriptwriter's scene descriptions and merges scenes or "
        "corrects captions before sound design",
        ("discussion and correction", "discussion-correction loop", "discussion correction",
         "storyboarder review", "review of scene descriptions", "script review",
         "scene description review", "caption correction", "scene merging by review",
         "storyboarder and scriptwriter discussion", "discussion between storyboarder and "
         "scriptwriter", "collaborative review of scripts", "self-correction of scripts",
         "multi-agent discussion", "feedback loop between storyboarder and scriptwriter"),
        (Alternative("no-review", "the Scriptwriter's first scene descriptions stand; no "
                     "merges or corrections", {"review_scripts": False},
                     ("no discussion", "no review", "single pass scripting",
                      "first descriptions kept", "without correction", "no correction")),
         Alternative("one-round", "one round of review only (merges are not re-scripted)",
                     {"max_review_rounds": 1},
                     ("single review round", "one round", "one discussion round"))),
        remove="no-review", stage="Storyboarder / Scriptwriter"),
    Component(
        "generate-retrieve-optimize",
        "the Designer reviews the Synthesizer's retrieved labels and sends unsuitable ones back "
        "for another retrieval, up to a cap of rounds",
        ("generate retrieve optimize", "generate-retrieve-optimize loop",
         "retrieve and optimize loop", "label optimization loop", "label review",
         "designer review of labels", "iterative label refinement", "label refinement",
         "designer and synthesizer loop", "label re-retrieval", "optimization loop",
         "iterative retrieval", "feedback between designer and synthesizer",
         "retrieve and refine loop"),
        (Alternative("first-retrieval", "the first retrieval is final; the Designer does not "
                     "review labels", {"review_labels": False},
                     ("first retrieval kept", "single retrieval", "no label review",
                      "no optimization", "one-shot retrieval", "without refinement")),),
        remove="first-retrieval", stage="Designer / Synthesizer"),
    Component(
        "label-retrieval",
        "the Synthesizer maps each designed sound onto sound labels retrieved from the Chroma "
        "vector index, which become the generation prompts",
        ("label retrieval", "sound label retrieval", "retrieval", "vector retrieval",
         "Chroma retrieval", "retrieval-augmented labels", "RAG", "label matching",
         "label search", "sound-label index", "vector index of sound labels",
         "mapping sounds to labels", "retrieval of audio labels"),
        (Alternative("raw-description", "the Designer's raw description of each sound is the "
                     "generation prompt (no retrieval)", {"label_source": "description"},
                     ("designer's raw description", "raw description as the prompt",
                      "free-text prompts", "description as prompt", "no retrieval",
                      "direct prompting", "unretrieved descriptions", "designer text")),
         Alternative("random-label", "a random label of the same layer (background or "
                     "foreground), seeded", {"label_source": "random"},
                     ("random label", "random label of the same layer", "random labels",
                      "random retrieval", "randomly chosen label", "random sound label"))),
        remove="raw-description", stage="Synthesizer"),
    Component(
        "scene-segmentation",
        "the Storyboarder detects shots and merges them into semantic scenes, splitting long "
        "scenes at quiet moments",
        ("semantic scene segmentation", "scene segmentation", "shot detection and scene "
         "merging", "scene detection", "storyboarding", "temporal segmentation",
         "video segmentation", "segmentation into scenes", "scene boundaries",
         "semantic segmentation of the video", "shot grouping", "scene splitting"),
        (_FIXED,
         Alternative("one-scene", "the whole video is one scene", {"segmentation": "single"},
                     ("one scene for the whole video", "single scene", "whole video as one "
                      "scene", "no segmentation", "one segment", "global single segment",
                      "entire video at once", "unsegmented video")),
         Alternative("shots-unmerged", "every detected shot is a scene: no merging of short "
                     "shots, no splitting of long ones", {"segmentation": "shots"},
                     ("shots unmerged", "raw shots", "shot boundaries only",
                      "every shot as a scene", "shot-level segmentation", "no scene merging",
                      "per-shot scenes", "shot detection only", "cut detection only"))),
        remove="one-scene", stage="Storyboarder"),
    Component(
        "vision-input",
        "the Scriptwriter sees the keyframes of each scene (images for a vision-language "
        "model, measured colour and light for the offline planner)",
        ("vision input", "Scriptwriter's vision input", "visual input", "keyframes",
         "keyframe images", "image input", "vision model input", "visual grounding",
         "visual captioning", "visual context", "frames given to the scriptwriter"),
        (Alternative("text-only", "captions without keyframes: the Scriptwriter works from "
                     "motion and the prompt alone", {"vision_input": False},
                     ("captions without keyframes", "no images", "text only", "blind captions",
                      "no visual input", "without vision")),),
        remove="text-only", stage="Scriptwriter"),
    Component(
        "multi-layer-design",
        "the Designer plans background beds and foreground events in separate layers for each "
        "scene",
        ("multi-layer design", "multi-layer sound design", "layered sound design",
         "background and foreground layers", "foreground events", "sound layering",
         "layered mix", "multiple sound layers", "foreground sound effects",
         "hierarchical sound design"),
        (Alternative("background-only", "one background layer per scene, no foreground events",
                     {"design_layers": "background"},
                     ("one background layer", "single layer", "background only",
                      "ambience only", "single background bed", "one layer",
                      "no foreground events", "flat design")),),
        remove="background-only", stage="Designer"),
    Component(
        "window-crossfades",
        "long sounds are rendered in overlapping windows joined with equal-power crossfades, "
        "and scenes are crossfaded at their boundaries",
        ("window overlap and crossfades", "window overlap", "crossfades", "crossfading",
         "overlapping windows", "smooth transitions", "transition smoothing",
         "crossfade at scene boundaries", "seamless transitions", "blending between segments",
         "overlap-add", "equal-power crossfade", "stitching with crossfades"),
        (Alternative("hard-joins", "windows and scenes are butt-joined: no overlap and no "
                     "crossfades", {"window_overlap_seconds": 0.0, "crossfade_seconds": 0.0},
                     ("hard joins", "hard cuts", "butt joins", "no crossfade", "no overlap",
                      "plain concatenation", "abrupt transitions", "direct concatenation")),),
        remove="hard-joins", stage="generation / mixer"),
    Component(
        "bed-carry",
        "a background bed that continues with the same label into the next scene is rendered "
        "as one continuous sound across the cut",
        ("bed carry across cuts", "bed carry", "carrying beds across cuts",
         "continuous ambience across cuts", "background continuity", "ambience continuity",
         "bed continuation across scene boundaries", "persistent background beds"),
        (Alternative("no-carry", "every scene's bed is rendered on its own and crossfaded at "
                     "the cut", {"carry_beds": False},
                     ("crossfade beds at every cut", "independent beds per scene",
                      "no carry", "separate beds", "restart ambience at each scene")),),
        remove="no-carry", stage="generation"),
    Component(
        "ducking",
        "the mixer lowers the background beds under narration and strong foreground events",
        ("ducking", "bed ducking", "sidechain ducking", "automatic ducking",
         "lowering beds under narration", "dialogue ducking", "sidechain compression",
         "dynamic level control of beds"),
        (Alternative("no-ducking", "beds keep their level under narration and events",
                     {"duck_beds": False}, ("no ducking", "constant bed level", "no sidechain")),),
        remove="no-ducking", stage="mixer"),
    Component(
        "loudness-normalisation",
        "the mixer brings the soundtrack to the loudness target (EBU R128 -23 LUFS by default) "
        "under a true-peak ceiling",
        ("loudness normalisation", "loudness normalization", "LUFS normalisation",
         "EBU R128 normalisation", "loudness targeting", "level normalisation",
         "gain normalization", "mastering", "loudness control", "output level normalization"),
        (Alternative("unnormalised", "the mix keeps its own level; the true-peak limiter still "
                     "applies", {"normalize_loudness": False},
                     ("no normalisation", "no loudness normalization", "raw mix level",
                      "unnormalized output")),),
        remove="unnormalised", stage="mixer"),
    Component(
        "text-prompt",
        "the user's text prompt (sound direction) guides every role's descriptions and designs",
        ("user's text prompt", "text prompt", "user prompt", "sound direction",
         "prompt conditioning", "user instructions", "text guidance from the user",
         "the user's directions", "prompt"),
        (Alternative("no-prompt", "plan as if no prompt was given", {"use_prompt": False},
                     ("without the prompt", "no prompt", "no user text", "unconditioned",
                      "no sound direction")),),
        remove="no-prompt", stage="all roles"),
    Component(
        "agents",
        "the whole multi-agent method: semantic scenes, discussion-correction, multi-layer "
        "design and the label loop, as against the paper's baseline of MMAudio on fixed "
        "10-second chunks without agents",
        ("multi-agent collaboration", "LVAS-Agent", "the agents", "agent pipeline",
         "multi-agent pipeline", "agentic planning", "the multi-agent framework",
         "all agents", "collaborative agents", "the whole system"),
        (Alternative("chunk-baseline", "the paper's baseline: fixed 10-second chunks, each "
                     "rendered from its own description with one background layer, no "
                     "discussion, no label loop and no retrieval",
                     {"segmentation": "fixed", "segment_seconds": 10.0,
                      "review_scripts": False, "review_labels": False,
                      "design_layers": "background", "label_source": "description"},
                     ("MMAudio baseline", "MMAudio on fixed 10-second chunks",
                      "fixed 10 s chunk baseline without agents", "no agents",
                      "baseline without agents", "chunk-wise generation", "single-model "
                      "baseline", "direct video-to-audio on chunks", "plain MMAudio"),
                     parameter="segment_seconds", parameter_range=(0.5, 3600.0)),),
        remove="chunk-baseline", stage="whole system",
        notes="With MMAudio each chunk is rendered video-to-audio from its own caption; with "
        "the procedural generator, from the caption's description."),
)


def component(name: str) -> Component:
    """The registered component called ``name`` (its registry name)."""
    for entry in COMPONENTS:
        if entry.name == name:
            return entry
    raise KeyError(name)


def registry_listing() -> list[dict[str, Any]]:
    """The registry as plain data, for ``lvas ablate --list`` and the docs."""
    return [
        {
            "component": c.name,
            "stage": c.stage,
            "description": c.description,
            "aliases": list(c.aliases),
            "remove": c.remove,
            "alternatives": [
                {"name": a.name, "description": a.description, "settings": a.settings,
                 "aliases": list(a.aliases), "parameter": a.parameter}
                for a in c.alternatives
            ],
            "notes": c.notes,
        }
        for c in COMPONENTS
    ]
