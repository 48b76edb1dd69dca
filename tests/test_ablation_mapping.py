"""Plans map onto LVAS's components by name, alias and meaning; other systems' plans are refused.

The matcher runs the real packaged sentence-embedding model (through the session's label index),
so these tests also pin the thresholds: paraphrases must clear them, other systems' parts not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lvas.graph.context import Context
from lvas.tools.ablation.components import COMPONENTS
from lvas.tools.ablation.mapping import Matcher, map_plan, packaged_embed
from lvas.tools.ablation.plan import Ablation, parse_plan
from lvas.tools.common.errors import LVASInputError
from tests.test_ablation_plan import PLAN as ISSUE_PLAN


@pytest.fixture(scope="module")
def matcher(label_cache_dir: Path) -> Matcher:
    return Matcher(packaged_embed(str(label_cache_dir)))


def test_the_issue_plan_maps_to_the_full_system_and_three_variants(matcher: Matcher) -> None:
    study = map_plan(parse_plan(ISSUE_PLAN), matcher)
    assert [(v.slug, v.settings) for v in study.variants] == [
        ("full", {}),
        ("discussion-correction/no-review", {"review_scripts": False}),
        ("scene-segmentation/fixed-chunks-10s", {"segmentation": "fixed",
                                                 "segment_seconds": 10.0}),
        ("scene-segmentation/one-scene", {"segmentation": "single"}),
    ]
    assert study.metric_names == ["FD", "KL", "DeSync", "coherence", "IB-score"]


@pytest.mark.parametrize(("part", "component"), [
    ("the review step where scene captions are checked and fixed", "discussion-correction"),
    ("storyboarder's critique of scene scripts", "discussion-correction"),
    ("iterative label optimisation", "generate-retrieve-optimize"),
    ("retrieval of sound labels from the vector database", "label-retrieval"),
    ("the scene splitter", "scene-segmentation"),
    ("how the video is divided into scenes", "scene-segmentation"),
    ("keyframe images given to the Scriptwriter", "vision-input"),
    ("layered background/foreground sound design", "multi-layer-design"),
    ("overlap between generation windows and transition crossfades", "window-crossfades"),
    ("continuing ambience beds across cuts", "bed-carry"),
    ("sidechain ducking of ambience", "ducking"),
    ("loudness normalisation to -23 LUFS", "loudness-normalisation"),
    ("user-supplied text prompt", "text-prompt"),
    ("the back-and-forth between Storyboarder and Scriptwriter", "discussion-correction"),
    ("Designer feedback on chosen labels", "generate-retrieve-optimize"),
    ("crossfade blending at segment joins", "window-crossfades"),
    ("continuity of ambient beds across shot changes", "bed-carry"),
    ("mixing-stage ducking", "ducking"),
    ("the whole agent team", "agents"),
])
def test_parts_worded_differently_find_their_component(matcher: Matcher, part: str,
                                                       component: str) -> None:
    study = map_plan([Ablation("x", part, "REMOVE")], matcher)
    assert study.variants[1].component == component, study.variants[1].matched_by


@pytest.mark.parametrize("part", [
    "the reward model used for RLHF", "lip-sync discriminator", "speaker embedding encoder",
    "the U-Net attention layers of the diffusion model", "the optical flow estimator",
    "the vocoder (HiFi-GAN)", "the language model's tokenizer", "classifier-free guidance",
    "the temporal attention in the video generator", "beam search decoding",
    "Chain-of-thought reasoning in the planner", "visual tokenizer",
    "the audio tokenizer (EnCodec)", "the masked audio modeling pretraining",
    "noise augmentation", "the multi-scale discriminator", "cross-modal attention fusion",
])
def test_parts_of_other_systems_are_refused_with_the_registry(matcher: Matcher,
                                                              part: str) -> None:
    with pytest.raises(LVASInputError) as refused:
        map_plan([Ablation("Other system", part, "REMOVE")], matcher)
    message = str(refused.value)
    assert "not a part of LVAS" in message and "nearest:" in message
    for comp in COMPONENTS:
        assert comp.name in message


def test_replacements_map_to_alternatives_and_numbers_set_parameters(matcher: Matcher) -> None:
    plan = [Ablation("seg", "scene segmentation", "REPLACE",
                     ("treat each detected shot as its own scene", "uniform 5 s windows",
                      "chunks of 2 minutes")),
            Ablation("labels", "Chroma-based label retrieval in the Synthesizer", "REPLACE",
                     ("use the Designer's description directly as the prompt",
                      "pick a random label from the same layer"))]
    study = map_plan(plan, matcher)
    assert {v.slug: v.settings for v in study.variants[1:]} == {
        "scene-segmentation/shots-unmerged": {"segmentation": "shots"},
        "scene-segmentation/fixed-chunks-5s": {"segmentation": "fixed", "segment_seconds": 5.0},
        "scene-segmentation/fixed-chunks-120s": {"segmentation": "fixed",
                                                 "segment_seconds": 120.0},
        "label-retrieval/raw-description": {"label_source": "description"},
        "label-retrieval/random-label": {"label_source": "random"},
    }


def test_a_replacement_that_is_no_alternative_is_refused(matcher: Matcher) -> None:
    with pytest.raises(LVASInputError, match="not an alternative of scene-segmentation"):
        map_plan([Ablation("seg", "scene segmentation", "REPLACE",
                           ("a transformer-based reward model",))], matcher)


def test_a_variant_asked_twice_runs_once(matcher: Matcher) -> None:
    study = map_plan([Ablation("a", "ducking", "REMOVE"),
                      Ablation("b", "sidechain ducking", "REPLACE", ("no ducking",))], matcher)
    assert [v.slug for v in study.variants] == ["full", "ducking/no-ducking"]
    assert "run once" in study.notes[0]


def test_every_name_and_alias_maps_to_itself(matcher: Matcher) -> None:
    for comp in COMPONENTS:
        for words in (comp.name, *comp.aliases):
            variant = map_plan([Ablation("x", words, "REMOVE")], matcher).variants[1]
            assert variant.component == comp.name, words
        for alt in comp.alternatives:
            for words in alt.aliases:
                ablation = Ablation("x", comp.name, "REPLACE", (words,))
                variant = map_plan([ablation], matcher).variants[1]
                assert variant.alternative == alt.name, (comp.name, words)


def test_every_alternative_is_a_valid_context() -> None:
    for comp in COMPONENTS:
        assert comp.remove is None or comp.alternative(comp.remove)
        for alt in comp.alternatives:
            ctx = Context(**alt.settings)
            for name, value in alt.settings.items():
                assert getattr(ctx, name) == value


def test_the_docs_list_every_component_and_alternative() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "ablation.md").read_text()
    for comp in COMPONENTS:
        assert f"| `{comp.name}` |" in text
        for alt in comp.alternatives:
            assert f"`{alt.name}`" in text, alt.name
