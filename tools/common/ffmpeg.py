"""Locate and run the ffmpeg command-line tool (argument lists only, never a shell)."""

from __future__ import annotations

import subprocess

from lvas.tools.common.ffmpeg_choice import ffmpeg_choice, forget_ffmpeg_choice

_STDERR_TAIL = 2000


class FFmpegError(RuntimeError):
    """ffmpeg exited with an error; ``stderr`` holds the tail of what it printed."""

    def __init__(self, message: str, stderr: str = "", returncode: int | None = None) -> None:
        super().__init__(f"{message}\n{stderr}".rstrip())
        self.stderr = stderr
        self.returncode = returncode


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``LVAS_FFMPEG``, else a system one on PATH that has what LVAS
    needs, else the one imageio-ffmpeg ships (see :mod:`lvas.tools.common.ffmpeg_choice`).

    Chosen once per process; :func:`reset_ffmpeg_exe` makes the next call choose again.
    """
    return ffmpeg_choice().path


def reset_ffmpeg_exe() -> None:
    """Forget the chosen ffmpeg (tests that change ``PATH`` or ``LVAS_FFMPEG`` call it before
    and after)."""
    forget_ffmpeg_choice()


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
