"""Generation: render one designed sound into an audio clip (fanned out per sound)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context, context_of
from graph.state import ClipTask
from nodes.common import timed
from tools.generators import GenerationRequest, get_generator
from tools.paths import content_hash, file_sha256, relative_to_run


@timed("generate_clip")
def generate_clip(task: ClipTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """Render a clip named by the hash of everything that shapes it, so reruns reuse it."""
    ctx = context_of(runtime)
    sound, choice = task["sound"], task["choice"]
    generator = get_generator(ctx.generator_backend, sample_rate=ctx.sample_rate)
    start = float(sound["start"])
    duration = max(float(sound["end"]) - start, 0.05)
    layer = sound["layer"]
    if layer == "background":
        # Beds run past the scene on both sides so neighbouring beds can crossfade.
        pad = ctx.crossfade_seconds / 2.0
        start_padded = max(0.0, start - pad)
        duration += (start - start_padded) + pad
        start = start_padded
    request = GenerationRequest(
        text=choice.get("label") or sound["description"],
        family=choice.get("family") or "room_tone",
        duration=round(duration, 4),
        seed=int(content_hash(ctx.seed, sound["id"], length=8), 16),
        layer=layer,
        onsets=tuple(round(t - start, 4) for t in sound.get("onsets", [])),
        video_span=(start, start + duration),
    )
    name = content_hash(generator.name, generator.version, ctx.sample_rate, request.key())
    out = Path(task["run_dir"]) / "clips" / f"{request.family}-{name}.wav"
    if not out.exists():
        generator.render(request, out)
    clip = {
        "sound_id": sound["id"],
        "path": relative_to_run(task["run_dir"], out),
        "sha256": file_sha256(out),
        "start": round(start, 4),
        "duration": round(duration, 4),
        "sample_rate": ctx.sample_rate,
        "layer": layer,
        "family": request.family,
        "gain_db": float(sound["volume_db"]),
        "backend": generator.name,
    }
    return {"clips": {sound["id"]: clip}}
