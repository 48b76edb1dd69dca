"""Mixer: lay the clips on a timeline, master the soundtrack, write stems, mux the video."""

from __future__ import annotations

import json
import math
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import in_run, timed
from lvas.tools.audio.mixing import DuckingSettings, MixTrack, mix_to_wav
from lvas.tools.common.paths import relative_to_run, remove_partials, write_json
from lvas.tools.common.types import Clip
from lvas.tools.delivery.measure import DeliveredLevels, measure_encoded_stream
from lvas.tools.delivery.muxing import mux_soundtrack
from lvas.tools.generation.options import NO_VOICE_HINT
from lvas.tools.reporting.plots import load_matplotlib
from lvas.tools.reporting.spectrogram import soundtrack_spectrogram


@timed("mixer")
def mix(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Mix beds, events and narration into a mastered 48 kHz soundtrack with one stem per
    layer, then deliver the video with its picture copied."""
    ctx = context_of(runtime)
    run_dir = Path(state["run_dir"])
    # Every render has finished: what a killed render left half-written goes now.
    remove_partials(run_dir / "clips")
    duration = float(state["storyboard"]["duration"])
    tracks = [_track(clip, run_dir, ctx) for clip in state.get("clips", {}).values()]
    warnings: list[str] = []
    # The delivery (the mux's AAC encode, a child process, then the measurement) starts as
    # soon as the soundtrack is complete and runs while the stems are written.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvas-delivery") as pool:
        delivery: list[Future[tuple[Path, DeliveredLevels, float]]] = []
        report = mix_to_wav(
            tracks,
            duration,
            run_dir / "soundtrack.wav",
            sample_rate=ctx.sample_rate,
            channels=1 if ctx.channels == "mono" else 2,
            loudness_target=ctx.loudness_target,
            peak_ceiling_db=ctx.true_peak_ceiling,
            ducking=DuckingSettings(enabled=ctx.duck_beds, speech_depth_db=ctx.duck_depth_db),
            stems_dir=run_dir / "stems",
            normalize=ctx.normalize_loudness,
            on_soundtrack=lambda wav: delivery.append(
                pool.submit(_deliver, state, ctx, str(wav), warnings)),
        )
        _prepare_report(report.path)
        output, delivered, trim = delivery[0].result()
    voiced = sum(1 for clip in state.get("clips", {}).values() if clip["layer"] == "speech")
    silent = len(state.get("narration_lines", [])) - voiced
    if silent > 0:
        why = ("narration is off (turn it on with --tts auto or the 'narration' setting)"
               if ctx.narration == "off" else f"no text-to-speech voice is available here: "
               f"{NO_VOICE_HINT}")
        warnings.append(f"{silent} narration line(s) were not voiced: {why}.")
    return {
        **({"warnings": warnings} if warnings else {}),
        "artifacts": {
            **state.get("artifacts", {}),
            "soundtrack": relative_to_run(run_dir, report.path),
            "stems": {layer: relative_to_run(run_dir, path)
                      for layer, path in sorted(report.stems.items())},
            "output": str(output),
            "loudness_lufs": round(float(report.integrated_lufs), 2),
            "peak_db": round(float(report.peak_db), 2),
            "delivered_lufs": _rounded(delivered.integrated_lufs),
            "delivered_peak_db": _rounded(delivered.true_peak_db),
            "delivery_trim_db": round(trim, 2),
        },
    }


def _prepare_report(soundtrack: str) -> None:
    """Measure the soundtrack for the report's spectrogram and load its plotting library while
    the delivery encodes (the encoder and the delivered-audio meters leave most of a core idle
    for seconds); the report node then draws from the remembered measurement. A failure here
    is the report's to show, when it measures again."""
    try:
        soundtrack_spectrogram(soundtrack)
    except (OSError, RuntimeError, ValueError):  # soundfile's errors derive from these
        return
    load_matplotlib()


DELIVERY_PEAK_LIMIT_DB = -1.0  # the encoded soundtrack's true peak must not exceed this
_TRIM_MARGIN_DB = 0.15
_DELIVERY_ROUNDS = 4


def _deliver(state: LVASState, ctx: Context, wav: str,
             warnings: list[str]) -> tuple[Path, DeliveredLevels, float]:
    """Mux, then measure what the encoder delivered; while its true peak is over the limit,
    mux again with the soundtrack trimmed by the excess (a fraction of a dB; the encoder's
    overshoot is not linear, so it may take another round)."""
    trim = 0.0
    record = Path(state["run_dir"]) / DELIVERY_RECORD
    # A run killed between publishing its output and recording its step replaces its own
    # file when resumed; a file anyone else made (or changed since) is still refused.
    overwrite = ctx.overwrite or published_by(record, Path(state["output_path"]))
    # The delivered audio is measured from the mux's second output, as it encodes.
    measured: list[DeliveredLevels] = []
    for _ in range(_DELIVERY_ROUNDS):
        measured.clear()
        output = mux_soundtrack(state["video"], wav, state["output_path"], overwrite=overwrite,
                                keep_original_audio=ctx.keep_original_audio, gain_db=trim,
                                before_publish=lambda tmp: record_publication(
                                    record, Path(state["output_path"]), tmp),
                                duration=float(state["video_info"]["duration"]),
                                encoded_tap=lambda stream, rate, channels: measured.append(
                                    measure_encoded_stream(stream, rate, channels)))
        delivered = measured[-1]
        excess = delivered.true_peak_db - DELIVERY_PEAK_LIMIT_DB
        if not (math.isfinite(excess) and excess > 0):
            break
        trim -= excess + _TRIM_MARGIN_DB
        overwrite = True  # replacing our own output of a moment ago
    # A mux killed earlier (its ffmpeg may have outlived it) left its partial output beside.
    remove_partials(Path(output).parent, Path(output).stem)
    if trim:
        warnings.append(f"the audio encoder pushed the soundtrack's true peak over "
                        f"{DELIVERY_PEAK_LIMIT_DB:g} dBTP; the delivered track was trimmed by "
                        f"{-trim:.2f} dB to {delivered.true_peak_db:.2f} dBTP (soundtrack.wav is "
                        "unchanged).")
    return Path(output), delivered, trim


DELIVERY_RECORD = "delivery.json"


def record_publication(record: Path, output: Path, finished: Path) -> None:
    """Note which file is about to become ``output`` (a rename keeps inode, size and mtime)."""
    stat = finished.stat()
    write_json(record, {"output": str(output.resolve()), "inode": stat.st_ino,
                        "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})


def published_by(record: Path, output: Path) -> bool:
    """Whether ``output`` is the very file this run published (per its delivery record)."""
    try:
        noted = json.loads(record.read_text(encoding="utf-8"))
        stat = output.stat()
    except (OSError, ValueError):
        return False
    return (noted.get("output") == str(output.resolve()) and noted.get("inode") == stat.st_ino
            and noted.get("size") == stat.st_size and noted.get("mtime_ns") == stat.st_mtime_ns)


def _rounded(value: float) -> float | None:
    return round(float(value), 2) if math.isfinite(value) else None


def _track(clip: Clip, run_dir: Path, ctx: Context) -> MixTrack:
    """Beds fade over the crossfade length at both ends; events and narration start and stop
    as rendered."""
    fade = ctx.crossfade_seconds if clip["layer"] == "background" else 0.0
    return MixTrack(
        path=str(in_run(str(run_dir), clip["path"])),
        start=float(clip["start"]),
        gain_db=float(clip["gain_db"]),
        fade_in=fade if clip["start"] > 0 else 0.0,
        fade_out=fade,
        layer=clip["layer"],
    )
