"""Probe a video file with PyAV: what it holds, how long it lasts, and whether it decodes.

Every problem a user can fix becomes an :class:`LVASInputError` that says what is wrong and
what to do, so the pipeline fails before any expensive work starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import av

from lvas.tools.common.errors import LVASInputError

# Packets demuxed to sample timestamps for the variable-frame-rate check.
_VFR_SAMPLE_PACKETS = 300
# Packets we try before calling a video undecodable.
_MAX_PACKETS_BEFORE_FIRST_FRAME = 600
# How far the picture may end before the stated duration without comment: two frames (the
# last frame's length is a guess on variable-rate video) plus muxers' rounding and audio
# priming, which can make a complete file's container outlast its picture a little.
_END_SLACK_FRAMES = 2
_END_SLACK_SECONDS = 0.1


@dataclass(frozen=True)
class VideoInfo:
    """What the pipeline needs to know about an input video (JSON-friendly).

    ``width``/``height`` are the displayed size: sample aspect ratio applied and swapped for a
    90/270 degree ``rotation``. ``rotation`` is counter-clockwise degrees in [0, 360), as in
    FFmpeg's display matrix (``-display_rotation``). ``duration_source`` says where the duration
    came from: "container", "stream" or "packets" (demuxed, for files without a duration).
    The duration is what the file states: a truncated file's picture may end well before it,
    which only a full decode sees (see :func:`picture_ends_early` and :func:`picture_info`).
    """

    path: str
    container: str
    duration: float
    fps: float
    width: int
    height: int
    rotation: int
    video_codec: str
    has_audio: bool
    audio_codec: str | None
    vfr: bool
    size_bytes: int
    duration_source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bad(path: Path, what: str, todo: str) -> LVASInputError:
    return LVASInputError(f"{path}: {what}. {todo}")


def _check_file(path: Path) -> int:
    """Fail early, with a clear message, on paths that cannot be a video at all."""
    if not path.exists():
        raise _bad(path, "no such file", "Check the path and the spelling.")
    if path.is_dir():
        raise _bad(path, "is a directory, not a video file", "Pass the path of a video file.")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise _bad(
            path, f"cannot be read ({exc.strerror or exc})", "Check the file's permissions."
        ) from exc
    size = path.stat().st_size
    if size == 0:
        raise _bad(path, "is an empty file (0 bytes)", "Pass a complete video file.")
    return size


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The first real video stream (cover art / attached pictures do not count)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _rate(stream: av.video.stream.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0:
            return float(rate)
    return 0.0


def _is_vfr(pts: list[int]) -> bool:
    """Variable frame rate if a real share of frame intervals differ from the typical one.

    A single odd interval (a dropped frame, an AVI gap) is not enough.
    """
    if len(pts) < 3:
        return False
    ordered = sorted(set(pts))
    deltas = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    deltas.sort()
    median = deltas[len(deltas) // 2]
    tolerance = max(1.5, 0.1 * median)
    odd = sum(1 for d in deltas if abs(d - median) > tolerance)
    return odd >= 2 and odd > 0.02 * len(deltas)


@dataclass
class _Scan:
    first_frame: av.VideoFrame | None = None
    packets: int = 0
    decode_errors: int = 0
    pts: list[int] = field(default_factory=list)  # sampled for the variable-frame-rate check
    end: Fraction | None = None  # max(pts + duration) in seconds, over scanned packets
    start: Fraction | None = None
    duration_sum: Fraction = Fraction(0)


def _scan(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, full: bool
) -> _Scan:
    """Demux video packets: decode until the first frame, sample pts, and (if ``full``)
    run to the end to measure the duration of files whose container does not state it."""
    scan = _Scan()
    tb = stream.time_base or Fraction(1, 90000)
    codec = stream.codec_context
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        scan.packets += 1
        if packet.pts is not None and len(scan.pts) < _VFR_SAMPLE_PACKETS:
            scan.pts.append(packet.pts)
        if packet.duration:
            scan.duration_sum += packet.duration * tb
        if packet.pts is not None:
            start = packet.pts * tb
            end = (packet.pts + (packet.duration or 0)) * tb
            scan.start = start if scan.start is None else min(scan.start, start)
            scan.end = end if scan.end is None else max(scan.end, end)
        if scan.first_frame is None:
            try:
                frames = codec.decode(packet)
            except av.error.FFmpegError:
                scan.decode_errors += 1
                frames = []
            if frames:
                scan.first_frame = frames[0]
            elif scan.packets >= _MAX_PACKETS_BEFORE_FIRST_FRAME:
                break
        elif not full and scan.packets >= _VFR_SAMPLE_PACKETS:
            break
    if scan.first_frame is None:
        try:  # frames held back by the decoder (short clips, B-frames)
            frames = codec.decode(None)
            scan.first_frame = frames[0] if frames else None
        except av.error.FFmpegError:
            scan.decode_errors += 1
    return scan


def _rotation(stream: av.video.stream.VideoStream, frame: av.VideoFrame) -> int:
    """Counter-clockwise degrees from the display matrix, else the legacy ``rotate`` tag."""
    degrees = 0
    try:
        degrees = int(round(frame.rotation))
    except (AttributeError, TypeError, ValueError):
        degrees = 0
    if not degrees:
        tag = stream.metadata.get("rotate")
        if tag:
            try:  # the tag is clockwise
                degrees = -int(round(float(tag)))
            except ValueError:
                degrees = 0
    return degrees % 360


def _display_size(stream: av.video.stream.VideoStream, rotation: int) -> tuple[int, int]:
    width, height = stream.codec_context.width, stream.codec_context.height
    sar = stream.sample_aspect_ratio
    if sar and float(sar) > 0 and sar != 1:
        width = int(round(width * float(sar)))
    if rotation in (90, 270):
        width, height = height, width
    return width, height


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe ``path``; raise LVASInputError if it is not a usable video."""
    p = Path(path)
    size = _check_file(p)
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, EOFError) as exc:
        raise _bad(
            p,
            f"is not a media file FFmpeg can read, or it is truncated or corrupt ({exc})",
            "Check that the file plays in a video player; re-export or re-download it.",
        ) from exc
    with container:
        stream = _video_stream(container)
        audio = list(container.streams.audio)
        if stream is None:
            if audio:
                raise _bad(
                    p,
                    "holds audio only, no video stream",
                    "LVAS adds sound to a video; pass a video file.",
                )
            raise _bad(p, "has no video stream", "Pass a video file.")
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 90000)
        duration, source = 0.0, ""
        if container.duration and container.duration > 0:
            duration, source = container.duration / av.time_base, "container"
        elif stream.duration and stream.duration > 0:
            duration, source = float(stream.duration * tb), "stream"
        scan = _scan(container, stream, full=not source)
        if scan.packets == 0:
            raise _bad(
                p,
                "has a video stream without any frames (its duration is zero)",
                "Pass a video that contains at least one frame.",
            )
        if scan.first_frame is None:
            raise _bad(
                p,
                f"has a video stream but none of its frames could be decoded "
                f"({scan.packets} packets read, {scan.decode_errors} decode errors): "
                "the file is corrupt or truncated",
                "Re-export or re-download the video.",
            )
        fps = _rate(stream)
        if not source:
            source = "packets"
            if scan.end is not None and scan.start is not None and scan.end > scan.start:
                duration = float(scan.end - scan.start)
            elif scan.duration_sum > 0:
                duration = float(scan.duration_sum)
            elif fps > 0:
                duration = scan.packets / fps
        if not duration or duration <= 0:
            raise _bad(
                p, "has a duration of zero", "Pass a video that contains at least one frame."
            )
        if fps <= 0:
            fps = scan.packets / duration if duration else 0.0
        rotation = _rotation(stream, scan.first_frame)
        width, height = _display_size(stream, rotation)
        return VideoInfo(
            path=str(p.resolve()),
            container=container.format.name,
            duration=float(duration),
            fps=float(fps),
            width=width,
            height=height,
            rotation=rotation,
            video_codec=stream.codec_context.codec.canonical_name,
            has_audio=bool(audio),
            audio_codec=audio[0].codec_context.codec.canonical_name if audio else None,
            vfr=_is_vfr(scan.pts),
            size_bytes=size,
            duration_source=source,
        )


def end_tolerance(fps: float) -> float:
    """Seconds the picture may end before the stated duration in a complete file."""
    return _END_SLACK_FRAMES / (fps if fps > 0 else 25.0) + _END_SLACK_SECONDS


def picture_ends_early(picture_end: float, duration: float, fps: float) -> bool:
    """Whether the picture (the end of its last frame) stops clearly before ``duration``: a
    truncated file, or a container whose other streams run on past the picture."""
    return picture_end < duration - end_tolerance(fps)


def short_picture_warning(
    path: str | os.PathLike[str],
    duration: float,
    picture_end: float,
    *,
    stream_duration: float | None,
    fps: float,
) -> str:
    """What a run says when the picture ends early and everything follows the picture.

    The video stream's own stated duration tells the two causes apart: when it agrees with
    the picture, the container's extra length is another stream's (the audio runs on);
    otherwise the video's data stops short of its own header (the file is cut off).
    """
    name = Path(path).name
    if stream_duration is not None and not picture_ends_early(picture_end, stream_duration, fps):
        return (
            f"{name}: the file lasts {duration:.2f} s but its picture ends at "
            f"{picture_end:.2f} s (its audio runs on past the picture); the soundtrack ends "
            "with the last frame"
        )
    return (
        f"{name}: the header says {duration:.1f} s but the picture ends at "
        f"{picture_end:.2f} s (the file looks truncated); the soundtrack ends with the last "
        "decoded frame"
    )


def picture_info(video_info: Mapping[str, Any], picture_end: float) -> dict[str, Any]:
    """``video_info`` (a :class:`VideoInfo` as a dict) whose duration is the picture's end, the
    stated one kept as ``header_duration``: what every step after the decode goes by."""
    header = video_info.get("header_duration", video_info["duration"])
    return {
        **video_info,
        "duration": float(picture_end),
        "duration_source": "picture",
        "header_duration": float(header),
    }


class PacketSpan(NamedTuple):
    """Where a video stream's packets end (seconds from its start), and its stated duration."""

    end: float
    stream_duration: float | None


def video_packet_span(path: str | os.PathLike[str]) -> PacketSpan:
    """Demux (without decoding) every packet of the first video stream: where its data really
    ends, at the cost of reading the file, not of decoding it."""
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = _video_stream(container)
        if stream is None:
            raise _bad(Path(path), "has no video stream", "Pass a video file.")
        scan = _scan(container, stream, full=True)
        stated = stated_duration(stream)
        fps = _rate(stream) or 25.0
    if scan.end is None or scan.start is None:  # no timestamps: count frames
        return PacketSpan(scan.packets / fps, stated)
    return PacketSpan(float(scan.end - scan.start), stated)


def stated_duration(stream: av.video.stream.VideoStream) -> float | None:
    """The video stream's own duration from the header, if it states one."""
    tb = stream.time_base or Fraction(1, 90000)
    return float(stream.duration * tb) if stream.duration and stream.duration > 0 else None
