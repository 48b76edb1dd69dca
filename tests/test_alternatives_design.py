"""The ablation alternatives of the design, generation and mixing stages, run as normal runs:
no label review, labels from the description or at random, one background layer, hard joins,
no bed carry, no ducking, no loudness normalisation. Each is a ``Context`` setting; every run
here is the whole pipeline on a generated video with the offline planner and the procedural
synthesizer, compared with a run on the defaults."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from lvas.graph.context import Context
from lvas.graph.runner import run_pipeline
from lvas.retrieval_index import load_knowledge_base
from lvas.retrieval_index.label_sources import family_of_text, layer_labels, random_label
from lvas.tools.audio.mixing import MixTrack, mix_to_wav
from lvas.tools.evaluation.seams import seams
from lvas.tools.generation.base import GenerationRequest
from lvas.tools.generation.procedural import render_to_wav
from lvas.tools.generation.procedural_backend import ProceduralGenerator
from lvas.tools.generation.windowing import plan_windows, render_windowed
from tests.test_windowing import FakeGenerator
from tests.videos import make_cut_video

SCENES = [2.0, 2.0, 2.0, 2.0]  # a cut every 2 s; scenes 0-1 share a bed, 2 and 3 differ
SEED = 3

Run = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cut_video(tmp_path_factory.mktemp("alt-video") / "cuts.mp4", SCENES,
                          size=(160, 120), fps=10)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, video: Path, label_cache_dir: Path) -> Run:
    """A run of the pipeline on ``video`` with some settings changed; ``nodes`` collects the
    order in which nodes finished."""
    root = tmp_path_factory.mktemp("alt-runs")

    def go(name: str, *, plan_only: bool = False, nodes: list[str] | None = None,
           **settings: Any) -> dict[str, Any]:
        settings.setdefault("seed", SEED)
        ctx = Context(run_dir=str(root / name), index_dir=str(label_cache_dir),
                      chat_backend="offline", generator_backend="procedural", **settings)
        inputs: dict[str, Any] = {"video": str(video), "output": str(root / f"{name}.mp4")}
        if plan_only:
            inputs.update(plan_only=True, plan_output=str(root / f"{name}.plan.json"))
        progress = None if nodes is None else (lambda node, update, t: nodes.append(node))
        final = run_pipeline(inputs, ctx, progress=progress)
        return {**final, "run_dir": str(root / name)}

    return go


@pytest.fixture(scope="module")
def default(run: Run) -> dict[str, Any]:
    return run("default")


def _sounds(final: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for d in final["designs"].values() for s in d["sounds"]]


def _plan(final: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(final["run_dir"]) / "plan.json").read_text(encoding="utf-8"))


def _in_run(final: dict[str, Any], relative: str) -> Path:
    return Path(final["run_dir"]) / relative


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


# --- generate-retrieve-optimize --------------------------------------------------------------


def test_without_label_review_the_first_retrieval_is_final(run: Run, default: dict[str, Any]):
    nodes: list[str] = []
    final = run("no-review", plan_only=True, nodes=nodes, review_labels=False)
    assert default["label_reviews"]  # the loop runs by default ...
    assert not final.get("label_reviews") and _plan(final)["label_reviews"] == []  # ... not here
    assert final["label_final"] and final["label_round"] == 1
    assert nodes.count("synthesizer") == 1 and nodes.count("design_review") == 1
    assert nodes.index("write_plan") == nodes.index("design_review") + 1
    choices = final["label_choices"]
    assert choices.keys() == {s["id"] for s in _sounds(final)}
    assert all(c["round"] == 0 and c["label"] and c["candidates"] for c in choices.values())


# --- label retrieval replaced ------------------------------------------------------------------


def test_description_is_the_prompt_of_every_clip(run: Run, monkeypatch: pytest.MonkeyPatch):
    rendered: list[GenerationRequest] = []
    original = ProceduralGenerator.render

    def recording(self: ProceduralGenerator, request: GenerationRequest, out: Path) -> Path:
        rendered.append(request)
        return original(self, request, out)

    monkeypatch.setattr(ProceduralGenerator, "render", recording)
    final = run("description", label_source="description")
    sounds = {s["id"]: s for s in _sounds(final)}
    assert not final.get("label_reviews")  # nothing was retrieved, so nothing to review
    for sound_id, choice in final["label_choices"].items():
        sound = sounds[sound_id]
        assert choice["label"] == sound["description"] and choice["source"] == "description"
        assert choice["family"] == family_of_text(sound["description"], sound["layer"])
        assert choice["candidates"] == []
    # every clip was rendered from its own words (a long bed is rendered in several windows)
    assert rendered
    assert {r.text for r in rendered} == {sounds[key]["description"] for key in final["clips"]}
    by_text = {s["description"]: s for s in sounds.values()}
    for request in rendered:
        assert request.text in by_text  # the Designer's words, not a label
        assert request.family == family_of_text(request.text, request.layer)
    for clip in final["clips"].values():
        audio, _ = sf.read(_in_run(final, clip["path"]))
        assert _rms_db(audio) > -50.0  # rendered, not silent
    mix, _ = sf.read(_in_run(final, final["artifacts"]["soundtrack"]))
    assert _rms_db(mix) > -40.0


def test_a_description_plan_renders_again_from_its_plan_file(run: Run, tmp_path: Path):
    planned = run("description-plan", plan_only=True, label_source="description")
    plan_file = Path(planned["artifacts"]["plan_output"])
    plan = json.loads(plan_file.read_text())
    sound = next(s for d in plan["designs"].values() for s in d["sounds"])
    sound["description"] = "a dog barking twice"  # edited by a person
    plan_file.write_text(json.dumps(plan))
    ctx = Context(run_dir=str(tmp_path / "render"), chat_backend="offline",
                  generator_backend="procedural", index_dir=planned["run_dir"] + "-unused")
    final = run_pipeline({"plan": str(plan_file), "output": str(tmp_path / "render.mp4")}, ctx)
    choice = final["label_choices"][sound["id"]]
    assert choice["label"] == "a dog barking twice" and choice["source"] == "description"
    assert choice["family"] == family_of_text("a dog barking twice", sound["layer"])
    assert Path(final["artifacts"]["output"]).is_file()


def test_free_text_finds_its_family_by_the_first_sound_it_names():
    assert family_of_text("rain patters on the window", "background") == "rain"
    assert family_of_text("a dog barking in the rain", "foreground") == "animal"
    assert family_of_text("a wind chime tinkling", "foreground") == "bell"  # a longer phrase
    assert family_of_text("the low hum of an air conditioner", "background") == "hum"
    assert family_of_text("footsteps crunching on snow", "foreground") == "footsteps"
    # nothing the rules know: the layer's neutral recipe
    assert family_of_text("something unseen", "background") == "room_tone"
    assert family_of_text("something unseen", "foreground") == "impact"


def test_random_labels_suit_the_layer_and_follow_the_seed(run: Run):
    first = run("random-a", plan_only=True, label_source="random", seed=11)
    again = run("random-b", plan_only=True, label_source="random", seed=11)
    other = run("random-c", plan_only=True, label_source="random", seed=12)
    records = {r.label: r for r in load_knowledge_base()}
    suits = {"background": {"background", "both"}, "foreground": {"foreground", "both"}}
    for sound in _sounds(first):
        choice = first["label_choices"][sound["id"]]
        record = records[choice["label"]]
        assert record.layer in suits[sound["layer"]]
        assert not record.speech and not record.music
        assert choice["family"] == record.family and choice["candidates"] == []
    labels = {k: c["label"] for k, c in first["label_choices"].items()}
    assert labels == {k: c["label"] for k, c in again["label_choices"].items()}
    assert labels != {k: c["label"] for k, c in other["label_choices"].items()}
    assert not first.get("label_reviews")


def test_random_label_draws_cover_the_layer():
    beds = {random_label("background", seed, "scene-000-bed0").label for seed in range(200)}
    assert len(beds) > 50  # a draw over the whole vocabulary of the layer, not a few favourites
    assert beds <= {r.label for r in layer_labels("background")}


# --- one background layer ----------------------------------------------------------------------


def test_background_design_has_one_bed_per_scene_and_no_events(run: Run,
                                                              default: dict[str, Any]):
    assert any(s["layer"] == "foreground" for s in _sounds(default))
    final = run("background", design_layers="background")
    for scene in final["scenes"]:
        sounds = final["designs"][scene["id"]]["sounds"]
        assert [s["layer"] for s in sounds] == ["background"]
    assert {c["layer"] for c in final["clips"].values()} == {"background"}
    assert set(final["artifacts"]["stems"]) == {"background"}


# --- hard joins ----------------------------------------------------------------------------------


def test_seams_rise_when_crossfades_are_removed(run: Run):
    """The same video with and without crossfades, measured at its cuts. The beds here are
    noise textures of about the same level: a butt join shows as a sudden change of spectrum
    (the crossfade mixes the two beds' spectra around the cut), not as a step in level or a
    click, which depend on which beds meet (a tone's click: see the window test below)."""
    # each scene its own bed, drawn from the labels at random, so that different beds meet at
    # every cut whatever the planner reads in the test picture
    apart = {"carry_beds": False, "label_source": "random"}
    hard = run("hard-joins", crossfade_seconds=0.0, window_overlap_seconds=0.0, **apart)
    faded = run("faded-joins", **apart)
    cuts = [scene["start"] for scene in hard["scenes"][1:]]
    starts = {scene["id"]: scene["start"] for scene in hard["scenes"]}
    for clip in hard["clips"].values():  # beds are butt-joined at the cut: no padding
        assert clip["start"] == pytest.approx(starts[clip["sound_id"].rsplit("-", 1)[0]])
    soft = seams(_in_run(faded, faded["artifacts"]["soundtrack"]), cuts)
    butt = seams(_in_run(hard, hard["artifacts"]["soundtrack"]), cuts)
    assert butt.boundary_mean["spectral_change_db"] > 1.5 * soft.boundary_mean["spectral_change_db"]
    assert butt.ratio["spectral_change_db"] > 1.5 * soft.ratio["spectral_change_db"]


def test_windows_butt_joined_without_overlap_click(tmp_path: Path):
    """Window joins of a long sound: with the overlap the crossfade hides each join; without it
    a tone's phase jumps there, a click that the seams metric finds."""
    sr = 8000
    request = GenerationRequest(text="hum", duration=30.0, seed=5, family="hum")
    ratios = {}
    for overlap in (1.0, 0.0):
        generator = FakeGenerator(sample_rate=sr, window_seconds=8.0, content="sine")
        out = render_windowed(generator, request, tmp_path / f"o{overlap}.wav", window=8.0,
                              overlap=overlap)
        assert sf.info(out).frames == 30 * sr
        joins = [w.own_end for w in plan_windows(30.0, 8.0, overlap)[:-1]]
        ratios[overlap] = seams(out, joins).ratio["click"]
    assert ratios[0.0] > 3.0 and ratios[0.0] > 2 * ratios[1.0]


# --- bed carry and ducking -----------------------------------------------------------------------


def test_without_bed_carry_every_bed_is_its_own_clip(run: Run, default: dict[str, Any]):
    beds = {s["id"] for s in _sounds(default) if s["layer"] == "background"}
    carried = {c["sound_id"] for c in default["clips"].values() if c["layer"] == "background"}
    assert carried < beds  # by default a bed that goes on past the cut is one sound
    final = run("no-carry", carry_beds=False)
    assert {c["sound_id"] for c in final["clips"].values()
            if c["layer"] == "background"} == beds


def test_without_ducking_beds_keep_their_level_under_events(run: Run, default: dict[str, Any]):
    final = run("no-ducking", duck_beds=False)
    hop = 2400  # 50 ms at 48 kHz

    def frames_db(path: Path) -> np.ndarray:
        x, _ = sf.read(path, dtype="float64")
        n = len(x) // hop
        return 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop, -1) ** 2, axis=(1, 2)) + 1e-20)

    def stem(run_state: dict[str, Any], layer: str) -> np.ndarray:
        return frames_db(_in_run(run_state, run_state["artifacts"]["stems"][layer]))

    # The same beds in both runs, mastered by another constant: what is left of their ratio
    # over time is the duck, which only the default run applies under the events.
    duck = stem(default, "background") - stem(final, "background")
    events = stem(final, "foreground")
    loud, quiet = events > np.percentile(events, 90), events < events.max() - 40
    assert loud.any() and quiet.any()
    assert np.median(duck[quiet]) - np.median(duck[loud]) > 1.0


# --- loudness normalisation ----------------------------------------------------------------------


def test_without_normalisation_the_mix_keeps_its_level_under_the_ceiling(run: Run):
    final = run("no-normalisation", normalize_loudness=False, loudness_target=-16.0)
    art = final["artifacts"]
    mix, sr = sf.read(_in_run(final, art["soundtrack"]), dtype="float64")
    measured = pyloudnorm.Meter(sr).integrated_loudness(mix)
    assert abs(measured - art["loudness_lufs"]) < 0.5
    assert abs(art["loudness_lufs"] - (-16.0)) > 3.0  # not brought to the target
    assert art["peak_db"] <= -1.5 + 1e-6
    report = _in_run(final, final["artifacts"]["report"]).read_text(encoding="utf-8")
    assert "not normalised" in report


def test_mix_without_normalisation_ignores_the_target_and_is_still_limited(tmp_path: Path):
    bed = render_to_wav(tmp_path / "rain.wav", "rain", 6.0, 48000, seed=1)
    hits = render_to_wav(tmp_path / "hits.wav", "impact", 6.0, 48000, seed=2,
                         layer="foreground", onsets=[0.5, 2.0, 4.0])
    tracks = [MixTrack(str(bed), 0.0, gain_db=12.0),
              MixTrack(str(hits), 0.0, gain_db=12.0, layer="foreground")]
    reports = [mix_to_wav(tracks, 6.0, tmp_path / f"mix{target}.wav", loudness_target=target,
                          peak_ceiling_db=-1.0, normalize=False) for target in (-30.0, -14.0)]
    assert sf.read(reports[0].path)[0].tobytes() == sf.read(reports[1].path)[0].tobytes()
    for report in reports:
        assert report.gain_applied_db == 0.0 and not report.normalized
        assert report.peak_db <= -1.0 + 1e-6  # the +12 dB tracks were limited
    normalised = mix_to_wav(tracks, 6.0, tmp_path / "norm.wav", loudness_target=-30.0,
                            peak_ceiling_db=-1.0)
    assert normalised.normalized and abs(normalised.integrated_lufs - (-30.0)) < 0.5
    assert reports[0].integrated_lufs > -30.0 + 3.0
