"""A short demo video made locally with FFmpeg's test sources: no download needed.

Four scenes with hard cuts (a green place with a moving object, a bright blue view, a dark
night, a saturated orange scene with fast motion) so the offline planner has something to
hear in each.
"""

from __future__ import annotations

from pathlib import Path

from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.common.paths import atomic_path

SCENES = (
    # (background colour, mover colour, mover speed in px/s)
    ("0x2f7f3a", "0xd8c8a0", 160),
    ("0x3f8fe0", "0xffffff", 40),
    ("0x101018", "0x303040", 20),
    ("0xe0501a", "0xffd040", 420),
)


def make_demo_video(path: str | Path, *, scene_seconds: float = 3.0, size: str = "640x360",
                    fps: int = 25) -> Path:
    """Write the demo MP4 (H.264, no audio) atomically and return its path."""
    path = Path(path)
    inputs: list[str] = []
    graph: list[str] = []
    for number, (background, mover, speed) in enumerate(SCENES):
        inputs += ["-f", "lavfi", "-i", f"color=c={background}:s={size}:r={fps}:d={scene_seconds}"]
        inputs += ["-f", "lavfi", "-i", f"color=c={mover}:s=80x80:r={fps}:d={scene_seconds}"]
        bg, fg = 2 * number, 2 * number + 1
        graph.append(
            f"[{bg}:v]noise=alls=10:allf=t[n{number}];"
            f"[n{number}][{fg}:v]overlay=x='mod(t*{speed},560)':y='140+60*sin(t*3)'"
            f":shortest=1[v{number}]"
        )
    joined = "".join(f"[v{n}]" for n in range(len(SCENES)))
    graph.append(f"{joined}concat=n={len(SCENES)}:v=1:a=0[out]")
    with atomic_path(path) as tmp:
        run_ffmpeg([
            "-y", *inputs, "-filter_complex", ";".join(graph), "-map", "[out]",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "23",
            "-movflags", "+faststart", "-f", "mp4", str(tmp),
        ])
    return path
