"""Probe: check the input video and fix where this run writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context, context_of
from graph.state import LVASState
from nodes.common import timed
from tools.errors import LVASInputError
from tools.media import probe_video
from tools.muxing import default_output_path
from tools.paths import check_output_path


@timed("probe")
def probe(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Fail fast on a bad video or output before any expensive work starts."""
    ctx = context_of(runtime)
    video = (state.get("video") or "").strip()
    if not video:
        raise LVASInputError("No input video given; pass the path of a video file.")
    info = probe_video(video)
    output = state.get("output") or str(default_output_path(video, info))
    out = check_output_path(output, video=video, overwrite=ctx.overwrite)
    run_dir = Path(ctx.run_dir).expanduser() if ctx.run_dir else out.with_name(out.stem + ".lvas")
    run_dir.mkdir(parents=True, exist_ok=True)
    return {
        "video_info": info.to_dict(),
        "output_path": str(out.resolve()),
        "run_dir": str(run_dir.resolve()),
        "review_round": 0,
        "label_round": 0,
    }
