"""Mixer: lay the clips on a timeline, master the soundtrack, and mux it into the video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context, context_of
from graph.state import LVASState
from nodes.common import in_run, timed
from tools.mixing import MixTrack, mix_to_wav
from tools.muxing import mux_soundtrack
from tools.paths import relative_to_run


@timed("mixer")
def mix(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Mix beds and events, write the soundtrack and the plan, and deliver the video."""
    ctx = context_of(runtime)
    run_dir = Path(state["run_dir"])
    duration = float(state["storyboard"]["duration"])
    tracks = [_track(clip, run_dir, ctx) for clip in state.get("clips", {}).values()]
    report = mix_to_wav(
        tracks,
        duration,
        run_dir / "soundtrack.wav",
        sample_rate=ctx.sample_rate,
        loudness_target=ctx.loudness_target,
    )
    output = mux_soundtrack(
        state["video"], report.path, state["output_path"], overwrite=ctx.overwrite,
        keep_original_audio=ctx.keep_original_audio,
    )
    warnings = []
    if state.get("narration_lines") and ctx.narration == "off":
        warnings.append(f"{len(state['narration_lines'])} narration line(s) were not voiced: "
                        "narration is off (turn it on with --tts auto or the 'narration' "
                        "setting).")
    return {
        **({"warnings": warnings} if warnings else {}),
        "artifacts": {
            **state.get("artifacts", {}),
            "soundtrack": relative_to_run(run_dir, report.path),
            "output": str(output),
            "loudness_lufs": round(float(report.integrated_lufs), 2),
            "peak_db": round(float(report.peak_db), 2),
        }
    }


def _track(clip: dict[str, Any], run_dir: Path, ctx: Context) -> MixTrack:
    """Beds fade over the crossfade length at both ends; events start and stop as rendered."""
    fade = ctx.crossfade_seconds if clip["layer"] == "background" else 0.0
    return MixTrack(
        path=str(in_run(str(run_dir), clip["path"])),
        start=float(clip["start"]),
        gain_db=float(clip["gain_db"]),
        fade_in=fade if clip["start"] > 0 else 0.0,
        fade_out=fade,
        layer=clip["layer"],
    )
