"""Put a soundtrack next to the untouched picture: the video stream is copied bit for bit.

The container of the input is kept when it can hold the input's video codec; H.264/HEVC
from transport streams stay in MPEG-TS (keeping their Annex B bytes);
anything else (MPEG program streams, FLV, WMV...) goes to Matroska, which holds nearly
anything. The audio is encoded for the container: AAC for MP4/MOV, Opus for WebM/MKV and
MP3 for AVI. The input's own audio is dropped unless asked to be kept, as a second track
after the soundtrack (copied when the container takes its codec, else encoded like the
soundtrack), so players start with the new soundtrack and editors still have the original.
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import soundfile as sf

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.ffmpeg import FFmpegError, ffmpeg_exe, run_ffmpeg
from lvas.tools.common.paths import atomic_path, check_output_path
from lvas.tools.video.probe import VideoInfo, probe_video

# Output extension -> (ffmpeg muxer, video codecs that can be stream-copied into it).
_CONTAINERS: dict[str, tuple[str, frozenset[str] | None]] = {
    ".mp4": ("mp4", frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "mpeg2video", "mjpeg"})),
    ".m4v": ("mp4", frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "mpeg2video", "mjpeg"})),
    ".mov": (
        "mov",
        frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "mpeg2video", "mjpeg", "prores",
                   "dnxhd", "png", "qtrle"}),
    ),
    ".mkv": ("matroska", None),  # None: any codec
    ".ts": ("mpegts", frozenset({"h264", "hevc", "mpeg2video", "mpeg1video"})),
    ".webm": ("webm", frozenset({"vp8", "vp9", "av1"})),
    ".avi": ("avi", frozenset({"mpeg4", "msmpeg4v2", "msmpeg4v3", "mjpeg", "h264", "mpeg1video",
                               "mpeg2video"})),
}

# Muxer -> (audio encoder, bit rate, output rate or None to keep the source's).
_AUDIO_CODECS: dict[str, tuple[str, str, str | None]] = {
    "mp4": ("aac", "192k", None),
    "mov": ("aac", "192k", None),
    "matroska": ("libopus", "160k", "48000"),
    "webm": ("libopus", "160k", "48000"),
    "avi": ("libmp3lame", "192k", None),
    "mpegts": ("aac", "192k", None),
}

# Encoder -> its private options. FFmpeg's own AAC encoder defaults to its "twoloop" coder,
# which costs about twice the CPU of "fast" (10 minutes of 48 kHz stereo at 192k: 11-13 s
# against 5-7 s); at this rate the two measure alike (benchmarks/README.md, "the AAC coder").
# By name: FFmpeg 5.1 numbers it 2, FFmpeg 7 and later 1.
_ENCODER_OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "aac": (("aac_coder", "fast"),),
}

# Muxer -> audio codecs an original track may be copied in as it is (None: any).
_COPYABLE_AUDIO: dict[str, frozenset[str] | None] = {
    "mp4": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}),
    "mov": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le"}),
    "matroska": None,
    "webm": frozenset({"opus", "vorbis"}),
    "avi": frozenset({"mp3", "ac3", "pcm_s16le"}),
    "mpegts": frozenset({"aac", "mp3", "ac3", "eac3", "mp2"}),
}


def _audio_args(muxer: str, index: int, *, copy: bool = False) -> list[str]:
    """Codec options for output audio stream ``index``: the container's codec, or a copy."""
    if copy:
        return [f"-c:a:{index}", "copy"]
    codec, bitrate, rate = _AUDIO_CODECS[muxer]
    args = [f"-c:a:{index}", codec, f"-b:a:{index}", bitrate]
    for option, value in _ENCODER_OPTIONS.get(codec, ()):
        args += [f"-{option}:a:{index}", value]
    return args + ([f"-ar:a:{index}", rate] if rate else [])

# Transport streams carry H.264/HEVC in Annex B framing: Matroska and MP4 would rewrite it into
# length-prefixed NAL units, so these stay in MPEG-TS, which keeps the bytes as they are. (Raw
# elementary streams go to Matroska: the TS muxer would add access-unit delimiters to them.)
_ANNEX_B_FORMATS = {"mpegts"}
_ANNEX_B_CODECS = {"h264", "hevc"}

# Input formats whose packets carry no (or unreliable) timestamps.
_NO_TIMESTAMP_FORMATS = {
    "h264", "hevc", "mpegvideo", "m4v", "vc1", "cavsvideo",  # elementary streams
    "mpeg", "mpegts", "avi", "flv", "asf",  # some packets lack a pts
}


def _can_hold(ext: str, codec: str) -> bool:
    entry = _CONTAINERS.get(ext)
    return entry is not None and (entry[1] is None or codec in entry[1])


def output_extension(info: VideoInfo) -> str:
    """The input's extension when its container can take the copied video, else ``.mkv``."""
    ext = Path(info.path).suffix.lower()
    if _can_hold(ext, info.video_codec):
        return ext
    formats = set(info.container.split(","))
    if info.video_codec in _ANNEX_B_CODECS and formats & _ANNEX_B_FORMATS:
        return ".ts"
    return ".mkv"


def default_output_path(video_path: str | os.PathLike[str], info: VideoInfo) -> Path:
    """``<stem>.dubbed<ext>`` next to the input, never a file that already exists."""
    src = Path(video_path)
    ext = output_extension(info)
    candidate = src.with_name(f"{src.stem}.dubbed{ext}")
    n = 2
    while candidate.exists():
        candidate = src.with_name(f"{src.stem}.dubbed-{n}{ext}")
        n += 1
    return candidate


def check_output_container(out: Path, info: VideoInfo) -> None:
    """Refuse an output whose container is unknown or cannot hold the copied video."""
    ext = out.suffix.lower()
    if ext not in _CONTAINERS:
        raise LVASInputError(
            f"{out}: cannot write a '{out.suffix or '(no extension)'}' file. "
            f"Use one of: {', '.join(sorted(_CONTAINERS))}."
        )
    if not _can_hold(ext, info.video_codec):
        raise LVASInputError(
            f"{out}: {info.video_codec} video cannot be copied into a {ext} file without "
            f"re-encoding; choose {output_extension(info)} or .mkv for the output."
        )


def mux_soundtrack(
    video_path: str | os.PathLike[str],
    wav_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    keep_original_audio: bool = False,
    gain_db: float = 0.0,
    before_publish: Callable[[Path], None] | None = None,
    duration: float | None = None,
    encoded_tap: Callable[[IO[bytes], int, int], None] | None = None,
) -> Path:
    """Write ``out_path``: the first video stream of ``video_path`` copied, plus ``wav_path``.

    The soundtrack is padded or trimmed to ``duration``, the picture's length as the run
    measured it (a cut-off file's picture ends before its header says), else to the duration
    the video states; rotation (display matrix)
    and global metadata are kept. With ``keep_original_audio`` the input's first audio track
    follows as a second, non-default track; ``gain_db`` trims the soundtrack on its way into
    the encoder. The file appears only when complete (temp name + rename);
    ``before_publish`` is called with the finished temporary file just before the rename, so a
    caller can record what it is about to publish (a resumed run then knows the file as its
    own).

    ``encoded_tap`` is called with a pipe carrying the encoded soundtrack (Matroska), its
    sample rate and channels, while ffmpeg is still writing the file: one encode feeds both
    (FFmpeg's tee muxer), so a measurement of what was delivered runs beside the encode rather
    than after it, and the file is byte for byte the one written without a tap.
    """
    video, wav, out = Path(video_path), Path(wav_path), Path(out_path)
    check_output_path(out, video=video, overwrite=overwrite)
    if not wav.is_file():
        raise LVASInputError(f"{wav}: soundtrack file not found.")
    info = probe_video(video)
    check_output_container(out, info)
    muxer = _CONTAINERS[out.suffix.lower()][0]
    length = info.duration if duration is None else float(duration)
    if not (length > 0 and math.isfinite(length)):
        raise ValueError(f"the soundtrack's duration must be positive seconds, not {duration!r}")
    padded = f"{length:.6f}"
    input_flags = ["-fflags", "+genpts"] if info.container in _NO_TIMESTAMP_FORMATS else []
    if info.container in {"h264", "hevc", "mpegvideo", "m4v"} and info.fps > 0:
        input_flags += ["-r", f"{info.fps:.6f}"]
    args = [
        "-y",
        *input_flags,
        "-i", str(video),
        "-i", str(wav),
        "-map", "0:V:0",  # capital V: real video, not cover art
        "-map", "1:a:0",
        "-map_metadata", "0",
        "-c:v", "copy",
        *_audio_args(muxer, 0),
        "-filter:a:0",
        (f"volume={gain_db:.3f}dB," if gain_db else "")
        + f"apad=whole_dur={padded},atrim=duration={padded}",
        "-metadata:s:a:0", "title=LVAS soundtrack",
        "-metadata:s:a:0", "handler_name=LVAS soundtrack",  # what MP4/MOV players show
        "-disposition:a:0", "default",
    ]
    if keep_original_audio and info.has_audio:
        allowed = _COPYABLE_AUDIO[muxer]
        copy = allowed is None or (info.audio_codec or "") in allowed
        args += ["-map", "0:a:0", *_audio_args(muxer, 1, copy=copy),
                 "-metadata:s:a:1", "title=Original audio",
                 "-metadata:s:a:1", "handler_name=Original audio", "-disposition:a:1", "0"]
    muxer_options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}
    with atomic_path(out) as tmp:
        if encoded_tap is None:
            run_ffmpeg([*args, "-f", muxer,
                        *[a for k, v in muxer_options.items() for a in (f"-{k}", v)], str(tmp)])
        else:
            try:
                info_wav = sf.info(str(wav))
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise LVASInputError(f"{wav}: not a readable soundtrack ({exc}).") from None
            rate = int(_AUDIO_CODECS[muxer][2] or info_wav.samplerate)
            _mux_with_tap(args, muxer, muxer_options, tmp, encoded_tap, rate,
                          int(info_wav.channels))
        if before_publish is not None:
            before_publish(tmp)
    return out


def _mux_with_tap(args: list[str], muxer: str, options: dict[str, str], tmp: Path,
                  tap: Callable[[IO[bytes], int, int], None], rate: int, channels: int) -> None:
    """Run the mux with a second output, the soundtrack alone in Matroska on stdout, which
    ``tap`` reads while ffmpeg writes ``tmp``."""
    slave = ":".join([f"f={muxer}", *(f"{k}={v}" for k, v in options.items())])
    tee = f"[{slave}]{_tee_escaped(os.path.abspath(tmp))}|[f=matroska:select=\\'a:0\\']pipe:1"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args, "-f", "tee",
           tee]
    with tempfile.TemporaryFile() as errors:  # a file: a full stderr pipe would stall ffmpeg
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        failed: BaseException | None = None
        try:
            tap(proc.stdout, rate, channels)
        except BaseException as exc:  # the mux is stopped with it, whatever went wrong
            failed = exc
            proc.kill()
        finally:
            proc.stdout.close()
            returncode = proc.wait()
        # The mux's own failure first: a tap reading a stream that broke off fails with it.
        if returncode > 0 or (returncode != 0 and failed is None):
            errors.seek(0)
            raise FFmpegError(f"ffmpeg failed with exit code {returncode}",
                              errors.read().decode("utf-8", "replace")[-4000:],
                              returncode) from failed
        if failed is not None:
            raise failed
        if not tmp.is_file():  # FFmpeg 5's tee goes on without a slave it could not open
            errors.seek(0)
            raise FFmpegError("ffmpeg wrote no output file",
                              errors.read().decode("utf-8", "replace")[-4000:], returncode)


def _tee_escaped(path: str) -> str:
    """A file name as the tee muxer reads it: its separator, quotes, escapes, brackets and
    blanks escaped (its slaves are split and unquoted like FFmpeg's option strings)."""
    return "".join("\\" + c if c in "\\'|[] \t\n" else c for c in path)
