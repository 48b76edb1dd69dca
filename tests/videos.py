"""Small synthetic test videos made with ffmpeg's lavfi sources.

Every maker takes the output path first, writes one file and returns its path. Segments
differ strongly in colour and texture so that hard cuts fall exactly at the cumulative
segment durations; some segments move (for motion tests) and some are static.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lvas.tools.common.ffmpeg import run_ffmpeg

# (lavfi source template, moving?) — {w}x{h}, {fps} and {d} are filled in per segment.
_SEGMENTS: list[tuple[str, bool]] = [
    ("testsrc2=s={w}x{h}:r={fps}:d={d}", True),
    ("color=c=0x1030c0:s={w}x{h}:r={fps}:d={d}", False),
    (
        "color=c=0x20a040:s={w}x{h}:r={fps}:d={d}[bg];color=c=white:s={bw}x{bh}:r={fps}[box];"
        "[bg][box]overlay=x='mod(t*{speed},{w})':y={h}/3:shortest=1",
        True,
    ),
    ("smptebars=s={w}x{h}:r={fps}:d={d}", False),
    ("color=c=0xe08010:s={w}x{h}:r={fps}:d={d}", False),
    (
        "color=c=0x601018:s={w}x{h}:r={fps}:d={d}[bg];color=c=yellow:s={bh}x{bh}:r={fps}[box];"
        "[bg][box]overlay=x={w}/2:y='mod(t*{speed},{h})':shortest=1",
        True,
    ),
]

MOVING_SEGMENTS = [moving for _, moving in _SEGMENTS]
"""Whether segment i (mod len) of :func:`make_cut_video` contains motion."""

_AUDIO_CODEC = {
    ".mp4": "aac",
    ".m4v": "aac",
    ".mov": "aac",
    ".mkv": "libopus",
    ".webm": "libopus",
    ".avi": "libmp3lame",
    ".mpg": "mp2",
    ".ts": "mp2",
}


def _segment_source(i: int, w: int, h: int, fps: float, d: float) -> str:
    template, _ = _SEGMENTS[i % len(_SEGMENTS)]
    return template.format(w=w, h=h, fps=fps, d=d, speed=2 * w, bw=w // 5, bh=h // 3)


def _codec_args(codec: str) -> list[str]:
    if codec == "libx264":
        return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if codec in ("libvpx", "libvpx-vp9"):
        return ["-c:v", codec, "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k"]
    if codec in ("mpeg4", "mpeg2video", "msmpeg4"):
        return ["-c:v", codec, "-q:v", "4"]
    return ["-c:v", codec]


def _audio_args(path: Path, audio_codec: str | None) -> list[str]:
    codec = audio_codec or _AUDIO_CODEC.get(path.suffix.lower(), "aac")
    args = ["-c:a", codec, "-ac", "2"]
    if codec == "libopus":
        args += ["-ar", "48000"]
    elif codec in ("mp2", "libmp3lame", "aac"):
        args += ["-ar", "44100"]
    return args


def make_cut_video(
    path: str | Path,
    durations: Sequence[float],
    *,
    codec: str = "libx264",
    size: tuple[int, int] = (320, 240),
    fps: float = 25,
    with_audio: bool = False,
    audio_codec: str | None = None,
    extra_output_args: Sequence[str] = (),
) -> Path:
    """Concatenate distinct segments; hard cuts fall at the cumulative ``durations``."""
    path = Path(path)
    w, h = size
    args: list[str] = ["-y"]
    for i, d in enumerate(durations):
        args += ["-f", "lavfi", "-i", _segment_source(i, w, h, fps, d)]
    total = float(sum(durations))
    n = len(durations)
    graph = "".join(f"[{i}:v]setsar=1,format=yuv420p[v{i}];" for i in range(n))
    graph += "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[vout]"
    if with_audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:r=48000:d={total}"]
    args += ["-filter_complex", graph, "-map", "[vout]"]
    if with_audio:
        args += ["-map", f"{n}:a", *_audio_args(path, audio_codec)]
    args += [*_codec_args(codec), "-r", str(fps), "-t", str(total), *extra_output_args, str(path)]
    run_ffmpeg(args)
    return path


def make_crossfade_video(
    path: str | Path,
    durations: Sequence[float],
    *,
    fade: float = 0.4,
    size: tuple[int, int] = (320, 240),
    fps: float = 25,
) -> tuple[Path, list[float]]:
    """Segments joined by cross-fades; returns the path and the mid-point of each fade."""
    path = Path(path)
    w, h = size
    args: list[str] = ["-y"]
    for i, d in enumerate(durations):
        args += ["-f", "lavfi", "-i", _segment_source(i, w, h, fps, d)]
    n = len(durations)
    graph = "".join(f"[{i}:v]setsar=1,format=yuv420p,settb=1/{int(fps)}[v{i}];" for i in range(n))
    prev, mids = "v0", []
    for i in range(1, n):
        # Each fade overlaps the two segments, so the output shrinks by ``fade`` per join.
        offset = sum(durations[:i]) - i * fade
        out = f"x{i}"
        graph += f"[{prev}][v{i}]xfade=transition=fade:duration={fade}:offset={offset}[{out}];"
        mids.append(offset + fade / 2)
        prev = out
    graph = graph.rstrip(";")
    args += ["-filter_complex", graph, "-map", f"[{prev}]", *_codec_args("libx264"), str(path)]
    run_ffmpeg(args)
    return path, mids


def make_audio_only(path: str | Path, seconds: float = 2.0) -> Path:
    """An audio file with no video stream (codec chosen by the extension, e.g. .m4a/.wav)."""
    path = Path(path)
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"sine=f=330:d={seconds}", str(path)])
    return path


def make_text_file(path: str | Path) -> Path:
    """A plain text file with a video extension."""
    path = Path(path)
    path.write_text("this is not a video, just some text\n" * 20)
    return path


def make_truncated(path: str | Path, src: str | Path, fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` of ``src``'s bytes, as an interrupted download would."""
    data = Path(src).read_bytes()
    path = Path(path)
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def make_garbled(
    path: str | Path, src: str | Path, *, keep_head: int = 4096, seed: int = 0
) -> Path:
    """Keep the first ``keep_head`` bytes (headers) and replace the rest with noise."""
    import random

    data = Path(src).read_bytes()
    rng = random.Random(seed)
    noise = bytes(rng.getrandbits(8) for _ in range(max(0, len(data) - keep_head)))
    path = Path(path)
    path.write_bytes(data[:keep_head] + noise)
    return path


def make_damaged_middle(
    path: str | Path, src: str | Path, *, start: float = 0.4, length: float = 0.1, seed: int = 1
) -> Path:
    """Overwrite a slice in the middle of ``src`` with noise (decoder errors, not a bad header)."""
    import random

    data = bytearray(Path(src).read_bytes())
    rng = random.Random(seed)
    a = int(len(data) * start)
    b = min(len(data), a + int(len(data) * length))
    data[a:b] = bytes(rng.getrandbits(8) for _ in range(b - a))
    path = Path(path)
    path.write_bytes(bytes(data))
    return path


def make_vfr_video(
    path: str | Path,
    durations: Sequence[float] = (2.0, 2.0, 2.0),
    rates: Sequence[int] = (15, 50, 24),
    *,
    size: tuple[int, int] = (320, 240),
) -> Path:
    """Segments at different frame rates kept as they are: real variable frame rate.

    Cuts fall at the cumulative durations, exactly as in :func:`make_cut_video`.
    """
    path = Path(path)
    w, h = size
    args: list[str] = ["-y"]
    for i, (d, r) in enumerate(zip(durations, rates, strict=True)):
        args += ["-f", "lavfi", "-i", _segment_source(i, w, h, r, d)]
    n = len(durations)
    graph = "".join(
        f"[{i}:v]setsar=1,format=yuv420p,settb=1/1200[v{i}];" for i in range(n)
    ) + "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[vout]"
    args += [
        "-filter_complex", graph, "-map", "[vout]", *_codec_args("libx264"),
        "-fps_mode", "passthrough", "-video_track_timescale", "1200", str(path),
    ]
    run_ffmpeg(args)
    return path


def make_rotated(path: str | Path, src: str | Path, degrees: int = 90) -> Path:
    """Stream-copy ``src`` and tag it with a display matrix (counter-clockwise ``degrees``)."""
    path = Path(path)
    run_ffmpeg(["-y", "-display_rotation", str(degrees), "-i", str(src), "-c", "copy", str(path)])
    return path


def make_odd_size(
    path: str | Path,
    size: tuple[int, int] = (321, 241),
    seconds: float = 2.0,
    *,
    codec: str = "mpeg4",
) -> Path:
    """Odd width and height: MPEG-4 Part 2 (4:2:0), or H.264 4:4:4 when ``codec="libx264"``."""
    path = Path(path)
    w, h = size
    venc = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"]
    if codec != "libx264":
        venc = ["-c:v", codec, "-q:v", "4"]
    run_ffmpeg([
        "-y", "-f", "lavfi", "-i", f"testsrc=s={w}x{h}:r=25:d={seconds}", *venc, str(path),
    ])
    return path


def make_mpeg_ps(path: str | Path, durations: Sequence[float] = (2.0, 2.0)) -> Path:
    """MPEG-2 program stream (.mpg, like a DVD VOB) with an MP2 audio track."""
    return make_cut_video(
        path, durations, codec="mpeg2video", with_audio=True, audio_codec="mp2",
        extra_output_args=["-f", "vob"],
    )


def make_avi_mpeg4(path: str | Path, durations: Sequence[float] = (2.0, 2.0)) -> Path:
    """AVI with MPEG-4 Part 2 video and MP3 audio."""
    return make_cut_video(path, durations, codec="mpeg4", with_audio=True)


def make_webm(path: str | Path, durations: Sequence[float] = (2.0, 2.0), *, audio: str = "libopus"
              ) -> Path:
    """WebM with VP8 video and an Opus (or Vorbis) audio track."""
    return make_cut_video(path, durations, codec="libvpx", with_audio=True, audio_codec=audio)


def make_raw_h264(path: str | Path, durations: Sequence[float] = (2.0, 2.0)) -> Path:
    """A raw H.264 elementary stream (.h264): no container, no duration, no timestamps."""
    return make_cut_video(path, durations, extra_output_args=["-f", "h264"])


def make_empty_video(path: str | Path) -> Path:
    """A container (use .avi) with a video track that holds no frames at all: zero duration."""
    path = Path(path)
    run_ffmpeg([
        "-y", "-f", "lavfi", "-i", "color=c=black:s=64x48:r=25:d=1",
        "-frames:v", "0", "-c:v", "mpeg4", str(path),
    ])
    return path


def make_truncated_faststart(
    path: str | Path,
    durations: Sequence[float] = (6.0, 6.0, 6.0, 6.0),
    *,
    fraction: float = 0.3,
    with_audio: bool = True,
) -> Path:
    """A faststart MP4 (index at the front) cut to its first ``fraction`` of bytes.

    The header still states the whole duration, and the file opens and plays, but its picture
    (and audio) stop where the bytes do: an interrupted download of a web-ready video.
    """
    path = Path(path)
    whole = path.with_name(f".{path.stem}.whole.mp4")
    make_cut_video(whole, durations, with_audio=with_audio,
                   extra_output_args=["-movflags", "+faststart"])
    try:
        return make_truncated(path, whole, fraction)
    finally:
        whole.unlink()


def make_long_audio(
    path: str | Path,
    picture: float = 4.0,
    audio: float = 6.0,
    *,
    size: tuple[int, int] = (320, 240),
) -> Path:
    """An MP4 whose audio track runs on past its picture (``audio`` > ``picture`` seconds):
    the container's duration is the audio's, the video stream's own is the picture's."""
    path = Path(path)
    w, h = size
    run_ffmpeg([
        "-y", "-f", "lavfi", "-i", f"testsrc2=s={w}x{h}:r=25:d={picture}",
        "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={audio}",
        *_codec_args("libx264"), *_audio_args(path, None), str(path),
    ])
    return path


# Light changes within one shot, as a gain of the picture over time t (an ``eq`` expression).
_LIGHT_CHANGES = {
    "step": "(1+0.8*gte(t,{at}))",  # a lamp switched on
    "dim": "(1-0.45*gte(t,{at}))",  # a cloud, a lamp switched off
    "ramp": "(1-0.45*clip((t-{at})/0.6,0,1))",  # auto-exposure settling over 0.6 s
    "flash": "(1+2.5*between(t,{at},{at}+2.5/{fps}))",  # a camera flash: three frames
}

LIGHT_CHANGES = tuple(_LIGHT_CHANGES)
"""The kinds of :func:`make_light_change_video`."""


def _light_filter(changes: Sequence[tuple[str, float]], fps: float) -> str:
    """An ``eq`` filter applying the (kind, time) light changes of ``changes``.

    Light multiplies R, G and B alike: in YUV that is a gain of luma (contrast g around
    mid-grey plus brightness (g - 1) / 2) and of chroma (saturation g), so colours keep their
    hue and clip where they would saturate, as a camera's do.
    """
    gain = "*".join(_LIGHT_CHANGES[kind].format(at=at, fps=fps) for kind, at in changes) or "1"
    return (f"eq=eval=frame:contrast='{gain}':saturation='{gain}':"
            f"brightness='({gain}-1)/2'")


def make_light_change_video(
    path: str | Path,
    kind: str = "step",
    *,
    seconds: float = 6.0,
    at: float = 3.0,
    subject: str = "testsrc2",
    size: tuple[int, int] = (320, 240),
    fps: float = 25,
) -> Path:
    """One shot whose light changes at ``at`` seconds (see ``LIGHT_CHANGES``): no cut in it.

    ``subject`` is a lavfi source name (``testsrc2`` moves, ``smptebars`` and ``testsrc`` are
    nearly still).
    """
    path = Path(path)
    w, h = size
    graph = (f"{subject}=s={w}x{h}:r={fps}:d={seconds},format=yuv420p,"
             f"{_light_filter([(kind, at)], fps)}")
    run_ffmpeg(["-y", "-f", "lavfi", "-i", graph, *_codec_args("libx264"), str(path)])
    return path


def make_relit_cut_video(
    path: str | Path,
    durations: Sequence[float],
    changes: Sequence[tuple[str, float]],
    *,
    size: tuple[int, int] = (320, 240),
    fps: float = 25,
) -> Path:
    """:func:`make_cut_video`'s segments (hard cuts at the cumulative ``durations``) with
    light changes inside shots: ``changes`` are (kind of ``LIGHT_CHANGES``, time in s)."""
    path = Path(path)
    w, h = size
    args: list[str] = ["-y"]
    for i, d in enumerate(durations):
        args += ["-f", "lavfi", "-i", _segment_source(i, w, h, fps, d)]
    n = len(durations)
    graph = "".join(f"[{i}:v]setsar=1,format=yuv420p[v{i}];" for i in range(n))
    graph += "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0,"
    graph += _light_filter(changes, fps) + "[vout]"
    args += ["-filter_complex", graph, "-map", "[vout]", *_codec_args("libx264"),
             "-r", str(fps), "-t", str(float(sum(durations))), str(path)]
    run_ffmpeg(args)
    return path
