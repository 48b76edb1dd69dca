"""Generation: render one designed sound (or narration line) into an audio clip.

Fanned out per sound with ``Send``. Long sounds go through the windowing layer for backends with
a model window, every render is checked (silent, clipped, NaN, wrong length) and re-rendered
with a new seed when bad, and clips are named by everything that shapes them so reruns reuse
them.
"""

from __future__ import annotations

import json
import math
from functools import cache, partial
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import ClipTask
from lvas.nodes.common import timed
from lvas.tools.audio.audio_io import wav_info
from lvas.tools.common.paths import content_hash, file_sha256, relative_to_run, write_json
from lvas.tools.generation import AudioGenerator, GenerationRequest, get_generator
from lvas.tools.generation.options import (
    all_generator_options,
    generator_backend,
    generator_options,
    narration_backend,
    sound_options,
)
from lvas.tools.generation.verify import ClapScorer, render_verified
from lvas.tools.generation.windowing import render_windowed


def _generator_for(layer: str, ctx: Context) -> AudioGenerator | None:
    """The backend for this layer; None when narration is not voiced in this run."""
    if layer == "speech":
        name = narration_backend(ctx.narration, all_generator_options(ctx))
        if name is None:
            return None
    else:
        name = generator_backend(ctx)  # ``auto`` resolved with the run's settings
    return get_generator(name, sample_rate=ctx.sample_rate, **generator_options(ctx, name))


def _finite(value: float) -> float | None:
    return round(float(value), 3) if math.isfinite(value) else None


@cache
def _clap_scorer(model: str) -> ClapScorer:
    """One CLAP scorer per model and process (available only when the run names a model)."""
    return ClapScorer(model)


@timed("generate_clip")
def generate_clip(state: ClipTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """Render a clip named by the hash of everything that shapes it, so reruns reuse it.

    ``state`` is the fan-out payload of one sound (LangGraph's node protocol names it so)."""
    ctx = context_of(runtime)
    task = state
    sound, choice = task["sound"], task["choice"]
    layer = sound["layer"]
    generator = _generator_for(layer, ctx)
    if generator is None:
        return {}
    start = float(sound["start"])
    duration = max(float(sound["end"]) - start, 0.05)
    if layer == "background":
        # Beds run past the scene on both sides so neighbouring beds can crossfade.
        pad = ctx.crossfade_seconds / 2.0
        start_padded = max(0.0, start - pad)
        duration += (start - start_padded) + pad
        start = start_padded
    text = sound["description"] if layer == "speech" else (
        choice.get("label") or sound["description"])
    request = GenerationRequest(
        text=text,
        family=choice.get("family") or "room_tone",
        duration=round(duration, 4),
        seed=int(content_hash(ctx.seed, sound["id"], length=8), 16),
        layer=layer,
        negative_text=ctx.negative_prompt,
        onsets=tuple(round(t - start, 4) for t in sound.get("onsets", [])),
        video_path=task.get("video") or None,
        video_span=(start, start + duration),
        voice=str(choice.get("voice") or ""),
    )
    caps = generator.capabilities
    name = content_hash(generator.name, generator.version, caps.sample_rate,
                        sound_options(ctx, generator.name), ctx.window_seconds,
                        ctx.window_overlap_seconds, request.key())
    out = Path(task["run_dir"]) / "clips" / f"{request.family}-{name}.wav"
    sidecar = out.with_suffix(".json")
    warnings: list[str] = []
    if not out.exists() or not sidecar.exists():
        render = partial(render_windowed, window=ctx.window_seconds,
                         overlap=ctx.window_overlap_seconds)
        clap = _clap_scorer(ctx.clap_model)
        result = render_verified(generator, request, out, attempts=ctx.generation_attempts,
                                 render=render, clap=clap if clap.available else None)
        if result.problems:
            warnings.append(
                f"{sound['id']} ({request.text}): {', '.join(result.problems)} in "
                f"{result.attempts} render(s) with {generator.name}; "
                + ("kept the last one." if not result.check.ok else "a new seed fixed it.")
            )
        write_json(sidecar, {"attempts": result.attempts, "seeds": list(result.seeds),
                             "problems": list(result.problems), "clap_score": result.clap_score,
                             "rms_db": _finite(result.check.rms_db),
                             "peak": _finite(result.check.peak)})
    verification = json.loads(sidecar.read_text(encoding="utf-8"))
    info = wav_info(out)
    clip = {
        "sound_id": sound["id"],
        "path": relative_to_run(task["run_dir"], out),
        "sha256": file_sha256(out),
        "start": round(start, 4),
        "duration": round(duration, 4),
        "sample_rate": info.sample_rate,
        "layer": layer,
        "family": request.family,
        "gain_db": float(sound["volume_db"]),
        "backend": generator.name,
        "attempts": int(verification.get("attempts", 1)),
    }
    if verification.get("clap_score") is not None:
        clip["clap_score"] = round(float(verification["clap_score"]), 4)
    update: dict[str, Any] = {"clips": {sound["id"]: clip}}
    if warnings:
        update["warnings"] = warnings
    return update
