"""Narration and dialogue lines from subtitle files (SubRip .srt, WebVTT .vtt) or timed text.

Lines are timed text, not audio: they travel in the plan as plain data and are voiced by a
text-to-speech backend only when the run asks for it (narration is off by default).
Timed text is one line per cue, ``START[-END] text`` with times as seconds or [hh:]mm:ss[.fff],
for people who do not want to write subtitles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.limits import MAX_NARRATION_BYTES, MAX_NARRATION_CHARS, MAX_NARRATION_LINES
from lvas.tools.common.types import NarrationLine, Sound

DEFAULT_LINE_SECONDS = 3.0
_TIME = r"(?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?|\d+(?:\.\d+)?"
_CUE_TIMES = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})")
_TIMED_TEXT = re.compile(rf"^\s*\[?({_TIME})\]?(?:\s*-\s*\[?({_TIME})\]?)?\s+(\S.*)$")
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")


@dataclass(frozen=True)
class TimedLine:
    """One line to be spoken from ``start`` to ``end`` seconds of the video, as read from the
    file; ``to_dict`` gives the :class:`NarrationLine` that state and the plan hold."""

    id: str
    start: float
    end: float
    text: str
    voice: str = ""

    def to_dict(self) -> NarrationLine:
        return NarrationLine(id=self.id, start=self.start, end=self.end, text=self.text,
                             voice=self.voice)


def parse_time(text: str) -> float:
    """Seconds from '12.5', '01:02', '01:02.5', '00:01:02,500' (SubRip's comma included)."""
    parts = text.strip().replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _cues(text: str) -> list[tuple[float, float, str, int]]:
    """(start, end, text, line number) of every SRT/VTT cue."""
    cues: list[tuple[float, float, str, int]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _CUE_TIMES.match(lines[i])
        if not match:
            i += 1
            continue
        number = i + 1
        start, end = parse_time(match.group(1)), parse_time(match.group(2))
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip():
            body.append(_TAGS.sub("", lines[i]).strip())
            i += 1
        cues.append((start, end, " ".join(b for b in body if b), number))
    return cues


def _timed_text(text: str, source: str) -> list[tuple[float, float | None, str, int]]:
    cues: list[tuple[float, float | None, str, int]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _TIMED_TEXT.match(raw)
        if not match:
            raise LVASInputError(
                f"{source}, line {number}: expected 'START text' or 'START-END text' (times "
                f"in seconds or mm:ss), got {raw.strip()[:60]!r}. Subtitles (.srt, .vtt) "
                "work too."
            )
        end = parse_time(match.group(2)) if match.group(2) else None
        cues.append((parse_time(match.group(1)), end, match.group(3).strip(), number))
    return cues


def read_narration(path: str | Path, *, duration: float | None = None) -> list[TimedLine]:
    """The lines of a narration file, in time order, checked against the video's length.

    A line without an end lasts until the next line starts (at most a few seconds); a line
    that runs past the end of the video is cut there; one that starts after it is an error.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise LVASInputError(f"Narration file not found: {file}. Give a .srt, .vtt or "
                             "timed-text file.")
    size = file.stat().st_size
    if size > MAX_NARRATION_BYTES:
        raise LVASInputError(f"Narration file {file} is {size:,} bytes; LVAS reads at most "
                             f"{MAX_NARRATION_BYTES:,} (the subtitles of a four-hour film take "
                             "a few hundred kB). Is it really a subtitle file? Give the lines "
                             "of this video only.")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LVASInputError(f"Narration file {file} is not UTF-8 text.") from None
    is_subtitles = file.suffix.lower() in (".srt", ".vtt") or "-->" in text
    raw = _cues(text) if is_subtitles else _timed_text(text, str(file))
    if not raw:
        raise LVASInputError(f"Narration file {file} holds no timed lines.")
    raw = sorted(raw, key=lambda cue: cue[0])
    lines: list[TimedLine] = []
    for n, (start, end, words, number) in enumerate(raw):
        if not words:
            continue
        if end is None:
            following = raw[n + 1][0] if n + 1 < len(raw) else start + DEFAULT_LINE_SECONDS
            end = min(following, start + DEFAULT_LINE_SECONDS)
        if end <= start:
            raise LVASInputError(f"{file}, line {number}: the cue ends ({end:.3f} s) before it "
                                 f"starts ({start:.3f} s).")
        if duration is not None:
            if start >= duration:
                raise LVASInputError(f"{file}, line {number}: the cue starts at {start:.3f} s, "
                                     f"after the end of the video ({duration:.3f} s).")
            end = min(end, duration)
        lines.append(TimedLine(id=f"line{len(lines) + 1:03d}", start=round(start, 4),
                                   end=round(end, 4), text=words))
    if not lines:
        raise LVASInputError(f"Narration file {file} holds no text to speak.")
    check_narration_size(lines, f"Narration file {file}")
    return lines


def check_narration_size(lines: Sequence[TimedLine | NarrationLine], source: str) -> None:
    """Refuse more lines or characters than a run voices (:data:`MAX_NARRATION_LINES`,
    :data:`MAX_NARRATION_CHARS`); ``source`` names the file in the message."""
    if len(lines) > MAX_NARRATION_LINES:
        raise LVASInputError(f"{source} has {len(lines):,} lines; LVAS voices at most "
                             f"{MAX_NARRATION_LINES:,} in one run. Split the video and its "
                             "narration into parts.")
    chars = sum(len(line.text if isinstance(line, TimedLine) else line["text"])
                for line in lines)
    if chars > MAX_NARRATION_CHARS:
        raise LVASInputError(f"{source} holds {chars:,} characters of text; LVAS voices at "
                             f"most {MAX_NARRATION_CHARS:,} (four hours of speech) in one run. "
                             "Shorten the lines, or split the video and its narration.")


def line_as_sound(line: NarrationLine) -> Sound:
    """A narration line in the shape of a designed sound (layer "speech"), so generation,
    mixing and the report handle it like any other cue."""
    return {"id": f"narration-{line['id']}", "scene_id": "", "layer": "speech",
            "description": line["text"], "query": "", "start": line["start"],
            "end": line["end"], "volume_db": 0.0, "onsets": [], "excluded_labels": []}
