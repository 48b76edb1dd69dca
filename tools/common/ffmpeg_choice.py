"""Choose the ffmpeg binary LVAS runs: one that has every option, filter, encoder and muxer
LVAS (and its tests) ask for.

A system ffmpeg can be too old: Debian 12's FFmpeg 5.1 lacks ``-display_rotation``. So the
first ``ffmpeg`` on ``PATH`` is used only when its version and its features pass a check;
otherwise the binary that imageio-ffmpeg ships is. ``LVAS_FFMPEG`` (a path or a name on
``PATH``) overrides both: it is used even when it lacks something, with a warning that says
what. Each binary is inspected once per process: ``-version`` first (a release older than the
newest feature LVAS needs is judged by that alone), then ``-filters``, ``-encoders``,
``-formats`` and ``-h full`` side by side (for git builds, whose version names no release, the
features decide). Every choice says why it was made, for ``lvas doctor``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from typing import Literal

from lvas.tools.common.errors import LVASInputError

ENV_VAR = "LVAS_FFMPEG"

NeedKind = Literal["option", "filter", "filter option", "encoder", "muxer", "input"]


@dataclass(frozen=True)
class Need:
    """One thing LVAS asks of ffmpeg; ``since`` is the FFmpeg release that brought it."""

    kind: NeedKind
    name: str  # "apad:whole_dur" for a filter option
    used_by: str
    since: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        if self.kind == "option":
            text = f"-{self.name}"
        elif self.kind == "filter option":
            filt, option = self.name.split(":")
            text = f"the {filt} filter's {option} option"
        else:
            text = f"{self.kind} {self.name}"
        return f"{text} (needs FFmpeg >= {self.since[0]}.{self.since[1]})" if self.since else text


def _needs(kind: NeedKind, names: str, used_by: str) -> list[Need]:
    return [Need(kind, name, used_by) for name in names.split()]


# Everything the code and the tests ask ffmpeg for (grep run_ffmpeg / ffmpeg_exe). The tests
# count: a machine whose ffmpeg cannot make the test videos cannot run the test command.
NEEDS: tuple[Need, ...] = (
    Need("option", "display_rotation", "rotated test videos (tests/videos.py)", (6, 0)),
    Need("option", "fps_mode", "variable-frame-rate test videos (tests/videos.py)", (5, 1)),
    Need("filter option", "apad:whole_dur", "the mux (tools/delivery/muxing.py)", (4, 2)),
    *_needs("filter", "apad atrim volume", "the mux"),
    *_needs("filter", "fps format", "frame sampling (tools/evaluation/models/frames.py)"),
    *_needs(
        "filter",
        "concat overlay xfade setsar settb noise drawbox ebur128 vibrato amix pan",
        "the demo and test videos, loudness checks",
    ),
    *_needs(
        "filter",
        "color testsrc testsrc2 smptebars sine anoisesrc",
        "the demo and test videos (lavfi sources)",
    ),
    *_needs("encoder", "aac libopus libmp3lame", "the mux"),
    *_needs("encoder", "libx264", "the demo and test videos"),
    *_needs(
        "encoder",
        "mp2 mpeg4 mpeg2video libvpx libvorbis flac pcm_s16le pcm_f32le",
        "test videos and sounds",
    ),
    *_needs("muxer", "mp4 mov matroska webm avi mpegts", "the mux"),
    *_needs("muxer", "rawvideo null", "frame sampling and decoding checks"),
    *_needs("muxer", "md5 f32le vob h264", "tests"),
    Need("input", "lavfi", "the demo and test videos"),
)

MIN_RELEASE: tuple[int, int] = max(need.since for need in NEEDS if need.since is not None)

_VERSION = re.compile(r"^ffmpeg version (\S+)", re.MULTILINE)
# "5.1.6-0+deb12u1", "n7.1", "7.0.2-static", "4.4.2-0ubuntu0.22.04.1"; not "N-12345-g...",
# "git-2024-01-02-..." or a date
_RELEASE = re.compile(r"^[nN]?(\d{1,2})\.(\d+)")
_TIMEOUT = 20.0


def parse_release(version: str) -> tuple[int, int] | None:
    """(major, minor) of an ffmpeg version string, or None for git builds and dates
    (``N-12345-gabcdef``, ``git-2024-01-02-...``): the feature check decides for those."""
    found = _RELEASE.match(version.strip())
    return (int(found[1]), int(found[2])) if found else None


@dataclass(frozen=True)
class FFmpegBuild:
    """What one ffmpeg binary is and lacks."""

    path: str
    version: str  # as it prints it ("5.1.6-0+deb12u1"); "" when it did not run
    release: tuple[int, int] | None
    missing: tuple[str, ...] = ()  # labels of the needs it lacks
    error: str = ""  # why it could not be inspected

    @property
    def problems(self) -> list[str]:
        """Why LVAS should not use it (empty: it has what LVAS needs)."""
        if self.error:
            return [self.error]
        if self.missing:
            shown = list(self.missing[:4])
            more = len(self.missing) - len(shown)
            return [f"lacks {', '.join(shown)}" + (f" and {more} more" if more else "")]
        if self.release is not None and self.release < MIN_RELEASE:
            return [f"is older than FFmpeg {MIN_RELEASE[0]}.{MIN_RELEASE[1]}"]
        return []

    @property
    def capable(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"ffmpeg{version} at {self.path}"


@dataclass(frozen=True)
class FFmpegChoice:
    """The ffmpeg LVAS runs, where it came from and why."""

    path: str
    version: str
    origin: Literal["LVAS_FFMPEG", "system", "bundled"]
    reason: str
    missing: tuple[str, ...] = ()  # what the chosen binary lacks (only when nothing better)
    rejected: tuple[str, ...] = ()  # candidates passed over, each with its reason

    @property
    def capable(self) -> bool:
        return not self.missing


# Rows of the lists, by their shape rather than by position: releases differ in their flag
# columns and headers (5.1's -filters has no "---" rule, 7.x added a device column to -formats).
_FILTER_ROW = re.compile(r"^ \S+ +(\w\S*) +[AVN|]*->[AVN|]*\s", re.MULTILINE)
_ENCODER_ROW = re.compile(r"^ [VAS][A-Z.]{5} +(\w\S*)", re.MULTILINE)
_FORMAT_ROW = re.compile(r"^ ([D ])([E ])d? +(\w\S*)", re.MULTILINE)


def _formats(text: str) -> tuple[set[str], set[str]]:
    """Muxers and demuxers (devices included) of ``-formats``: `` DE f32le``, ``  E mp4``,
    `` D d lavfi`` (7.x and later), `` D  lavfi`` (5.1)."""
    muxers: set[str] = set()
    demuxers: set[str] = set()
    for demux, mux, name in _FORMAT_ROW.findall(text):
        names = name.split(",")
        if mux == "E":
            muxers.update(names)
        if demux == "D":
            demuxers.update(names)
    return muxers, demuxers


def _help_options(text: str) -> tuple[set[str], dict[str, set[str]]]:
    """The command-line options and each component's AVOptions in ``ffmpeg -h full``."""
    options: set[str] = set()
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in text.splitlines():
        top = re.match(r"^-([A-Za-z0-9_]+)", line)
        if top:
            options.add(top[1])
            current = None
            continue
        header = re.match(r"^(\S+) AVOptions:\s*$", line)
        if header:
            current = sections.setdefault(header[1], set())
            continue
        item = re.match(r"^\s+-?([A-Za-z0-9_]+)\s+<", line)
        if item and current is not None:
            current.add(item[1])
    return options, sections


def missing_features(filters: str, encoders: str, formats: str, help_full: str) -> tuple[str, ...]:
    """Labels of the :data:`NEEDS` absent from the outputs of ``ffmpeg -filters``,
    ``-encoders``, ``-formats`` and ``-h full``."""
    muxers, inputs = _formats(formats)
    options, sections = _help_options(help_full)
    have = {
        "option": options,
        "filter": set(_FILTER_ROW.findall(filters)),
        "encoder": set(_ENCODER_ROW.findall(encoders)),
        "muxer": muxers,
        "input": inputs,
    }
    missing = []
    for need in NEEDS:
        if need.kind == "filter option":
            filt, option = need.name.split(":")
            found = option in sections.get(filt, set())
        else:
            found = need.name in have[need.kind]
        if not found:
            missing.append(need.label)
    return tuple(missing)


def _run_all(path: str, queries: list[list[str]]) -> list[str]:
    """stdout of ``path`` run with each argument list, side by side (they are independent)."""
    procs = [
        subprocess.Popen(
            [path, "-hide_banner", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for args in queries
    ]
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=_TIMEOUT)
            outputs.append(out.decode("utf-8", "replace") if proc.returncode == 0 else "")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return outputs


@functools.cache
def _inspect(path: str, _identity: tuple[int, int]) -> FFmpegBuild:
    try:
        done = subprocess.run(
            [path, "-version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return FFmpegBuild(path, "", None, error=f"does not run ({exc})")
    banner = done.stdout.decode("utf-8", "replace")
    found = _VERSION.search(banner)
    if done.returncode != 0 or not found:
        return FFmpegBuild(
            path, "", None, error=f"does not answer -version like ffmpeg (exit {done.returncode})"
        )
    version, release = found[1], parse_release(found[1])
    if release is not None and release < MIN_RELEASE:  # its release says enough: no more runs
        too_new = [need.label for need in NEEDS if need.since and need.since > release]
        return FFmpegBuild(path, version, release, tuple(too_new))
    try:
        lists = _run_all(path, [["-filters"], ["-encoders"], ["-formats"], ["-h", "full"]])
    except (OSError, subprocess.SubprocessError) as exc:
        return FFmpegBuild(path, version, release, error=f"does not list its features ({exc})")
    return FFmpegBuild(path, version, release, missing_features(*lists))


def inspect_ffmpeg(path: str) -> FFmpegBuild:
    """Version and missing features of the ffmpeg at ``path``; cached per binary (its real
    path, size and modification time), so each is asked once per process."""
    real = os.path.realpath(path)
    try:
        stat = os.stat(real)
    except OSError as exc:
        return FFmpegBuild(path, "", None, error=f"cannot be read ({exc.strerror})")
    build = _inspect(real, (stat.st_size, stat.st_mtime_ns))
    return build if build.path == path else _with_path(build, path)


def _with_path(build: FFmpegBuild, path: str) -> FFmpegBuild:
    return FFmpegBuild(path, build.version, build.release, build.missing, build.error)


def _bundled_path() -> str | None:
    """imageio-ffmpeg's binary (or IMAGEIO_FFMPEG_EXE, its own override); None when it has
    none for this platform."""
    try:
        import imageio_ffmpeg

        found = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None
    return shutil.which(found) or (found if os.path.isfile(found) else None)


def _from_env(value: str) -> FFmpegChoice:
    expanded = os.path.expanduser(value)
    path = shutil.which(expanded)
    if path is None:
        what = "is not an executable file" if os.path.exists(expanded) else "does not exist"
        raise LVASInputError(
            f"{ENV_VAR}={value!r}: {what} (nor a program on PATH). Point {ENV_VAR} at an "
            f"ffmpeg >= {MIN_RELEASE[0]}.{MIN_RELEASE[1]} binary, or unset it to let LVAS "
            "choose one."
        )
    build = inspect_ffmpeg(path)
    if build.error:
        raise LVASInputError(
            f"{ENV_VAR}={value!r}: {path} {build.error}. Point {ENV_VAR} at a working ffmpeg, "
            "or unset it to let LVAS choose one."
        )
    reason = f"{ENV_VAR} chose {build.describe()}"
    if build.problems:
        reason += (
            f"; it {'; '.join(build.problems)}, so some steps may fail (unset "
            f"{ENV_VAR} to let LVAS choose a capable ffmpeg)"
        )
    return FFmpegChoice(path, build.version, "LVAS_FFMPEG", reason, build.missing)


def choose_ffmpeg() -> FFmpegChoice:
    """The ffmpeg to run now: ``LVAS_FFMPEG``, else a capable system ffmpeg, else the bundled
    one (uncached: reads the environment and ``PATH`` each time)."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return _from_env(override)
    rejected: list[str] = []
    system = shutil.which("ffmpeg")
    if system:
        build = inspect_ffmpeg(system)
        if build.capable:
            return FFmpegChoice(
                system, build.version, "system", f"system {build.describe()} has what LVAS needs"
            )
        rejected.append(f"system {build.describe()} {'; '.join(build.problems)}")
    else:
        rejected.append("no ffmpeg on PATH")
    bundled = _bundled_path()
    if bundled and (not system or os.path.realpath(bundled) != os.path.realpath(system)):
        build = inspect_ffmpeg(bundled)
        reason = f"{rejected[0]}: using the bundled {build.describe()}"
        if build.problems:
            reason += f", although it {'; '.join(build.problems)}"
        return FFmpegChoice(
            bundled,
            build.version,
            "bundled",
            reason,
            build.missing,
            tuple(rejected) if system else (),
        )
    if system:  # nothing better: the system one may still do most of the work
        build = inspect_ffmpeg(system)
        if not build.error:
            return FFmpegChoice(
                system,
                build.version,
                "system",
                f"{rejected[0]}, and imageio-ffmpeg has no ffmpeg for this "
                f"platform: using it anyway; set {ENV_VAR} to a newer one",
                build.missing,
            )
    raise LVASInputError(
        f"No usable ffmpeg: {rejected[0]} and imageio-ffmpeg has none for this platform. "
        f"Install ffmpeg >= {MIN_RELEASE[0]}.{MIN_RELEASE[1]} or set {ENV_VAR} to one."
    )


@functools.cache
def ffmpeg_choice() -> FFmpegChoice:
    """:func:`choose_ffmpeg`, made once per process; warns once when the choice lacks
    something LVAS uses. :func:`forget_ffmpeg_choice` makes it choose again."""
    choice = choose_ffmpeg()
    if not choice.capable:
        warnings.warn(f"LVAS: {choice.reason}", RuntimeWarning, stacklevel=3)
    return choice


def forget_ffmpeg_choice() -> None:
    """Forget the cached choice and inspections, e.g. after a test changed ``PATH`` or
    ``LVAS_FFMPEG``: the next :func:`ffmpeg_choice` looks again."""
    ffmpeg_choice.cache_clear()
    _inspect.cache_clear()
