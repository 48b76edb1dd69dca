"""Locate and run the ffmpeg command-line tool (argument lists only, never a shell)."""

from __future__ import annotations

import functools
import shutil
import subprocess

_STDERR_TAIL = 2000


class FFmpegError(RuntimeError):
    """ffmpeg exited with an error; ``stderr`` holds the tail of what it printed."""

    def __init__(self, message: str, stderr: str = "", returncode: int | None = None) -> None:
        super().__init__(f"{message}\n{stderr}".rstrip())
        self.stderr = stderr
        self.returncode = returncode


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: a system one on PATH wins, else the one imageio-ffmpeg ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - imageio-ffmpeg is a hard dependency
        raise FFmpegError("no ffmpeg on PATH and imageio-ffmpeg is not installed") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ffmpeg with ``args`` (no program name) quietly; raise FFmpegError on failure.

    Output is captured as text so callers can read ``-f md5 -`` style results from stdout.
    """
    if isinstance(args, str):  # a shell string would be split wrongly and is unsafe
        raise TypeError("run_ffmpeg takes a list of arguments, not a string")
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *map(str, args)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        # text=True, yet a timeout hands back what was read so far as bytes
        stderr = exc.stderr or b""
        tail = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
        raise FFmpegError(f"ffmpeg timed out after {timeout} s", tail[-_STDERR_TAIL:]) from exc
    if proc.returncode != 0:
        raise FFmpegError(
            f"ffmpeg failed with exit code {proc.returncode}",
            (proc.stderr or "")[-_STDERR_TAIL:],
            proc.returncode,
        )
    return proc
