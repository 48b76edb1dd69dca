"""The scoring core of ``lvas eval``: items from folders and manifests, soundtracks decoded from
media files, inputs from run directories, per-metric status, and the set row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.evaluation.frechet import log_mel_frechet
from lvas.tools.evaluation.items import (
    EvalItem,
    collect_items,
    pair_references,
    read_manifest,
    read_video_list,
)
from lvas.tools.evaluation.media import decode_soundtrack, probe_media, soundtrack_file
from lvas.tools.evaluation.metric import Metric, MetricInputs
from lvas.tools.evaluation.registry import get_metric
from lvas.tools.evaluation.scoring import OK, score_dubbed_video, score_items
from tests.videos import make_cut_video

SR = 16000


def _track(path: Path, seconds: float = 8.0, seed: int = 0, clicks=(1.0, 3.2, 5.0, 6.6)
           ) -> Path:
    rng = np.random.default_rng(seed)
    audio = 0.05 * rng.standard_normal(int(seconds * SR))
    for t in clicks:
        audio[int(t * SR):int(t * SR) + 400] += 0.5
    sf.write(path, audio, SR, subtype="FLOAT")
    return path


def _run_dir(beside: Path, seconds: float = 8.0, clicks=(1.0, 3.2, 5.0, 6.6),
             prompt: str = "", summary: dict | None = None) -> Path:
    """A run directory as ``lvas dub`` leaves it: plan.json with the storyboard's motion
    envelope (25 Hz) and scenes, and optionally summary.json."""
    run = beside.with_name(beside.stem + ".lvas")
    (run / "analysis").mkdir(parents=True)
    motion = np.full(int(seconds * 25), 0.01, dtype=np.float32)
    for t in clicks:
        motion[int(t * 25):int(t * 25) + 6] += 1.0
    np.save(run / "analysis" / "motion.npy", motion)
    half = seconds / 2
    plan = {"video": str(beside), "prompt": prompt,
            "video_info": {"duration": seconds},
            "storyboard": {"duration": seconds, "motion_envelope": "analysis/motion.npy",
                           "envelope_rate": 25.0},
            "scenes": [{"id": "s0", "start": 0.0, "end": half},
                       {"id": "s1", "start": half, "end": seconds}],
            "designs": {"s0": {"scene_id": "s0", "sounds": [
                {"id": "a", "description": "rain on a tin roof"},
                {"id": "b", "description": "distant thunder"}]}}}
    (run / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return run


# --- items ------------------------------------------------------------------------------------

def test_csv_manifest_reads_columns_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    manifest = tmp_path / "sub" / "set.csv"
    manifest.write_text("\ufeffVideo,reference,category,text,extra\n"
                        "a.wav,refs/a.wav,rain,rain on a roof,x\n"
                        ",,,,\n"
                        f"{tmp_path / 'b.wav'},,,,\n", encoding="utf-8")
    items = read_manifest(manifest)
    assert [i.video for i in items] == [tmp_path / "sub" / "a.wav", tmp_path / "b.wav"]
    assert items[0].reference == tmp_path / "sub" / "refs" / "a.wav"
    assert (items[0].category, items[0].text) == ("rain", "rain on a roof")
    assert items[1].reference is None and items[1].category is None


def test_jsonl_manifest_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "set.jsonl"
    good.write_text('{"video": "x.mp4", "reference": "x.wav"}\n\n{"video": "y/x.mp4"}\n',
                    encoding="utf-8")
    items = read_manifest(good)
    assert [i.id for i in items] == ["x.mp4", "x.mp4#2"]  # ids stay unique
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"video": "x.mp4"}\n{video: y}\n', encoding="utf-8")
    with pytest.raises(LVASInputError, match="line 2"):
        read_manifest(bad)
    no_video = tmp_path / "no_video.csv"
    no_video.write_text("file,reference\na.mp4,b.wav\n", encoding="utf-8")
    with pytest.raises(LVASInputError, match="'video' column"):
        read_manifest(no_video)
    empty_cell = tmp_path / "empty_cell.jsonl"
    empty_cell.write_text('{"reference": "b.wav"}\n', encoding="utf-8")
    with pytest.raises(LVASInputError, match="line 1: the video is missing"):
        read_manifest(empty_cell)
    with pytest.raises(LVASInputError, match="does not exist"):
        read_manifest(tmp_path / "absent.csv")


def test_folder_items_and_references_paired_by_stem(tmp_path: Path) -> None:
    scored, refs = tmp_path / "scored", tmp_path / "refs"
    scored.mkdir()
    refs.mkdir()
    for name in ("clip.dubbed.wav", "other.wav", ".hidden.wav", "notes.txt"):
        (scored / name).write_bytes(b"")
    for name in ("clip.mp4", "clip.wav", "unrelated.wav"):
        (refs / name).write_bytes(b"")
    items = read_video_list(scored)
    assert [i.id for i in items] == ["clip.dubbed.wav", "other.wav"]
    paired = pair_references(items, refs)
    assert paired[0].reference == refs / "clip.wav"  # the audio file wins over the video
    assert paired[1].reference is None
    with pytest.raises(LVASInputError, match="one file"):
        pair_references(items, refs / "clip.wav")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LVASInputError, match="no video or audio files"):
        read_video_list(empty)


# --- media ------------------------------------------------------------------------------------

def test_a_videos_soundtrack_is_decoded_at_its_own_rate(tmp_path: Path) -> None:
    video = make_cut_video(tmp_path / "v.mp4", [1.0, 1.0], with_audio=True)
    info = probe_media(video)
    assert info.has_audio and info.has_picture and (info.sample_rate, info.channels) == (44100, 2)
    wav = soundtrack_file(info, tmp_path, "decoded")
    assert wav.parent == tmp_path
    data, rate = sf.read(wav)
    assert rate == 44100 and data.shape[1] == 2
    assert abs(len(data) / rate - 2.0) < 0.05
    spectrum = np.abs(np.fft.rfft(data[:, 0]))
    assert abs(np.argmax(spectrum) * rate / len(data) - 440.0) < 2.0
    plain = _track(tmp_path / "plain.wav")
    assert soundtrack_file(probe_media(plain), tmp_path, "unused") == plain  # read as it is


def test_the_default_audio_stream_is_the_soundtrack(tmp_path: Path) -> None:
    path = tmp_path / "two.mka"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:r=16000:d=1", "-f", "lavfi", "-i",
                "sine=f=1000:r=16000:d=1", "-map", "0:a", "-map", "1:a", "-c:a", "flac",
                "-disposition:a:0", "0", "-disposition:a:1", "default", str(path)])
    info = probe_media(path)
    assert info.audio_stream == 1
    data, rate = sf.read(decode_soundtrack(info, tmp_path / "out.wav"))
    assert abs(np.argmax(np.abs(np.fft.rfft(data))) * rate / len(data) - 1000.0) < 2.0


def test_files_without_audio_or_not_media_are_input_errors(tmp_path: Path) -> None:
    silent = make_cut_video(tmp_path / "silent.mp4", [1.0])
    info = probe_media(silent)
    assert not info.has_audio
    with pytest.raises(LVASInputError, match="no audio stream"):
        soundtrack_file(info, tmp_path, "x")
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 10)
    with pytest.raises(LVASInputError, match="not a video or audio file"):
        probe_media(text)
    with pytest.raises(LVASInputError, match="does not exist"):
        probe_media(tmp_path / "absent.wav")


# --- scoring ----------------------------------------------------------------------------------

def test_weight_free_metrics_with_run_dirs_references_and_the_set_row(tmp_path: Path) -> None:
    a = _track(tmp_path / "a.wav", seed=1)
    b = _track(tmp_path / "b.wav", seed=2)
    ref_a = _track(tmp_path / "ref_a.wav", seed=3)
    ref_b = _track(tmp_path / "ref_b.wav", seed=4, clicks=(2.0,))
    _run_dir(a, summary={"seconds": 4.0, "gpu_seconds": 0.0})
    items = [EvalItem("a.wav", a, ref_a), EvalItem("b.wav", b, ref_b)]
    metrics = [get_metric(n) for n in ("sync", "seams", "fd-logmel", "loudness", "cost")]
    said: list[str] = []
    result = score_items(items, [m for m in metrics if m], progress=said.append)
    first, second = result.items
    assert all(s == OK for s in first.status.values()), first.status
    assert first.run_dir == a.with_name("a.lvas")
    assert abs(first.values["sync_lag_s"]) < 0.05  # clicks where the motion envelope moves
    assert first.values["wall_seconds_per_min"] == pytest.approx(4.0 / (8.0 / 60.0))
    # b has no run directory and is audio only: no picture for the motion envelope
    assert second.status["sync"].startswith("not applicable:")
    assert second.status["cost"].startswith("needs run records:")
    assert second.status["loudness"] == OK and second.status["fd-logmel"] == OK
    assert second.values["sync_lag_s"] is None
    # the set row: FD pooled over every item's frames; the rest the mean over items with a value
    pooled = log_mel_frechet([a, b], [ref_a, ref_b])
    assert result.aggregate["fd_logmel"].value == pytest.approx(pooled)
    assert "pooled over 2 of 2" in result.aggregate["fd_logmel"].aggregation
    mean = np.mean([first.values["integrated_lufs"], second.values["integrated_lufs"]])
    assert result.aggregate["integrated_lufs"].value == pytest.approx(mean)
    assert result.aggregate["sync_lag_s"].aggregation == "mean over 1 of 2 items"
    assert any("a.wav: sync ok" in line for line in said)


def test_a_failing_metric_or_item_does_not_stop_the_others(tmp_path: Path) -> None:
    a = _track(tmp_path / "a.wav")
    gone = tmp_path / "gone.wav"
    calls: list[MetricInputs] = []

    def broken(_inp: MetricInputs) -> dict[str, float | None]:
        raise RuntimeError("the model ran out of memory")

    def never(inp: MetricInputs) -> dict[str, float | None]:
        calls.append(inp)
        return {"x": 1.0}

    metrics = [Metric("broken", "-", "always fails", broken, keys=("b",)),
               Metric("weights", "-", "needs weights", never, keys=("x",),
                      availability=lambda: "needs weights: put model.pt in LVAS_EVAL_WEIGHTS",
                      family="model"),
               get_metric("dropouts")]
    result = score_items([EvalItem("a.wav", a), EvalItem("gone.wav", gone)],
                         [m for m in metrics if m])
    good, bad = result.items
    assert good.status["broken"] == "error: RuntimeError: the model ran out of memory"
    assert good.status["weights"] == "needs weights: put model.pt in LVAS_EVAL_WEIGHTS"
    assert good.status["dropouts"] == OK and good.values["dropout_share"] == 0.0
    assert not calls  # a metric that cannot run is reported, never run
    assert all(s.startswith("error: LVASInputError:") and "does not exist" in s
               for s in bad.status.values() if s.startswith("error"))
    assert bad.status["dropouts"].startswith("error:")
    assert result.set_status["weights"].startswith("needs weights:")
    assert result.aggregate["x"].value is None
    assert result.aggregate["dropout_share"].aggregation == "mean over 1 of 2 items"


def test_model_metric_inputs_come_from_the_run_directory(tmp_path: Path) -> None:
    """A metric that needs the picture, text and motion gets them from the run's plan; its
    set statistic is pooled over the items it scored."""
    video = make_cut_video(tmp_path / "clip.mp4", [1.0, 1.0])  # the run's input (silent)
    track = _track(tmp_path / "clip.dubbed.wav", seconds=2.0, clicks=(0.5,))
    run = _run_dir(track, seconds=2.0, clicks=(0.5,))
    plan = json.loads((run / "plan.json").read_text())
    plan["video"] = str(video)
    (run / "plan.json").write_text(json.dumps(plan))
    seen: list[MetricInputs] = []

    def compute(inp: MetricInputs) -> dict[str, float | None]:
        seen.append(inp)
        return {"score": 0.5}

    def pooled(items) -> dict[str, float | None]:
        return {"score": float(len(items))}

    metric = Metric("fake-model", "-", "reads picture, text, motion", compute,
                    needs_picture=True, needs_text=True, needs_video=True, keys=("score",),
                    compute_set=pooled, family="model")
    result = score_items([EvalItem("clip.dubbed.wav", track)], [metric])
    assert result.items[0].status == {"fake-model": OK}
    inp = seen[0]
    assert inp.video == video and inp.text == "rain on a tin roof; distant thunder"
    assert inp.motion is not None and len(inp.motion) == 50
    assert list(inp.scenes) == [(0.0, 1.0), (1.0, 2.0)] and inp.run_dir == run
    assert result.aggregate["score"].value == 1.0
    # a manifest's own text wins over the plan's
    result = score_items([EvalItem("c", track, text="a dog barks")], [metric])
    assert seen[-1].text == "a dog barks"


def test_a_video_without_run_directory_gets_the_storyboarders_scenes(tmp_path: Path) -> None:
    video = make_cut_video(tmp_path / "v.mp4", [1.5, 1.5], with_audio=True)
    cache = tmp_path / "cache"
    result = score_items([EvalItem("v.mp4", video)], [get_metric("seams"), get_metric("sync")],
                         cache_dir=cache)
    score = result.items[0]
    assert score.status == {"seams": OK, "sync": OK}, score.status
    assert score.run_dir is None
    assert any("Storyboarder's pass over v.mp4" in n for n in score.notes)
    assert list((cache / "scenes").iterdir())  # kept for the next evaluation


def test_score_dubbed_video_for_the_ablation_runner(tmp_path: Path) -> None:
    silent_input = make_cut_video(tmp_path / "in.mp4", [1.0, 1.0])
    track = _track(tmp_path / "out.wav", seconds=2.0, clicks=(0.5,))
    _run_dir(track, seconds=2.0, clicks=(0.5,), summary={"seconds": 1.0})
    score = score_dubbed_video(track, ["FD", "coherence", "FID", "loudness", "cost"],
                               reference=silent_input)
    assert score.status["fd-logmel"] == "needs reference: in.mp4 has no audio track"
    assert score.status["seams"] == OK and score.status["sync"] == OK
    assert score.status["cost"] == OK and score.status["loudness"] == OK
    assert score.status["FID"].startswith("not applicable:")
    assert score.values["fd_logmel"] is None and score.values["integrated_lufs"] is not None
    with pytest.raises(LVASInputError, match="Unknown metric"):
        score_dubbed_video(track, ["loudnes"])


def test_collect_items_from_one_file_with_a_reference(tmp_path: Path) -> None:
    a = _track(tmp_path / "a.wav")
    ref = _track(tmp_path / "r.wav", seed=5)
    [item] = collect_items(a, ref)
    assert (item.id, item.video, item.reference) == ("a.wav", a, ref)
    with pytest.raises(LVASInputError, match="does not exist"):
        collect_items(tmp_path / "missing.mp4")


def test_a_shared_reference_counts_once_in_the_pooled_fd(tmp_path: Path) -> None:
    """Two items against the same video's audio: it is decoded for each, and pooled once."""
    original = make_cut_video(tmp_path / "original.mp4", [1.0, 1.0], with_audio=True)
    a = _track(tmp_path / "a.wav", seconds=2.0, seed=1, clicks=())
    b = _track(tmp_path / "b.wav", seconds=2.0, seed=2, clicks=())
    result = score_items([EvalItem("a", a, original), EvalItem("b", b, original)],
                         [get_metric("fd-logmel")])
    decoded = decode_soundtrack(probe_media(original), tmp_path / "reference.wav")
    assert result.aggregate["fd_logmel"].value == pytest.approx(
        log_mel_frechet([a, b], [decoded]))
    assert result.items[0].values["fd_logmel"] == pytest.approx(
        log_mel_frechet([a], [decoded]))


@pytest.mark.parametrize("offset", [0.3, -0.2])
def test_a_soundtrack_offset_in_the_container_is_decoded_as_played(tmp_path: Path,
                                                                   offset: float) -> None:
    rate = 48000
    clicks = np.zeros(4 * rate, dtype=np.float32)
    for t in (0.5, 1.3, 1.9, 2.8, 3.4):
        clicks[int(t * rate):int(t * rate) + 480] = 0.8
    sf.write(tmp_path / "clicks.wav", np.stack([clicks, clicks], axis=1), rate)
    video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0])
    base = tmp_path / "base.mkv"
    run_ffmpeg(["-y", "-i", str(video), "-i", str(tmp_path / "clicks.wav"), "-map", "0:v",
                "-map", "1:a", "-c:v", "copy", "-c:a", "flac", str(base)])
    shifted = tmp_path / "shifted.mkv"  # the same streams, the audio's timestamps moved
    run_ffmpeg(["-y", "-i", str(base), "-itsoffset", str(offset), "-i", str(base), "-map",
                "0:v", "-map", "1:a", "-c", "copy", str(shifted)])
    played = [sf.read(decode_soundtrack(probe_media(p), tmp_path / f"{p.stem}.wav"))[0][:, 0]
              for p in (base, shifted)]
    onsets = [np.flatnonzero(np.diff((np.abs(x) > 0.4).astype(int)) == 1) / rate
              for x in played]
    assert len(onsets[0]) == 5
    expected = [t + offset for t in onsets[0] if t + offset >= 0]
    assert onsets[1] == pytest.approx(expected, abs=2e-3)
