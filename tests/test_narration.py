"""Narration files: subtitles and timed text become checked, timed lines."""

from __future__ import annotations

import pytest

from lvas.tools.common.errors import LVASInputError
from lvas.tools.planning.narration import parse_time, read_narration

SRT = """1
00:00:01,000 --> 00:00:02,500
<i>The storm</i> rolls in.

2
00:00:04,000 --> 00:00:09,000
Nobody leaves
the harbour tonight.
"""

VTT = """WEBVTT

00:01.000 --> 00:02.000
First line.

intro-2
00:03.500 --> 00:05.000 align:start
- Second, a dialogue dash.
"""


@pytest.mark.parametrize(("text", "seconds"), [
    ("12.5", 12.5), ("01:02", 62.0), ("1:02.5", 62.5), ("00:01:02,500", 62.5),
    ("1:00:00", 3600.0),
])
def test_parse_time_forms(text, seconds):
    assert parse_time(text) == pytest.approx(seconds)


def test_srt_lines_are_timed_cleaned_and_joined(tmp_path):
    path = tmp_path / "lines.srt"
    path.write_text(SRT, encoding="utf-8")
    lines = read_narration(path, duration=8.0)
    assert [(line.start, line.end) for line in lines] == [(1.0, 2.5), (4.0, 8.0)]
    assert lines[0].text == "The storm rolls in."  # markup removed
    assert lines[1].text == "Nobody leaves the harbour tonight."  # cut at the video's end
    assert [line.id for line in lines] == ["line001", "line002"]


def test_webvtt_with_cue_ids_and_settings(tmp_path):
    path = tmp_path / "lines.vtt"
    path.write_text(VTT, encoding="utf-8")
    lines = read_narration(path)
    assert [(line.start, line.end, line.text) for line in lines] == [
        (1.0, 2.0, "First line."), (3.5, 5.0, "- Second, a dialogue dash.")]


def test_timed_text_ends_at_the_next_line_or_after_a_few_seconds(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("# my narration\n0:02 Hello there.\n3.0-4.5 A short one.\n"
                    "[0:10] The last line.\n", encoding="utf-8")
    lines = read_narration(path, duration=20.0)
    assert [(line.start, line.end) for line in lines] == [(2.0, 3.0), (3.0, 4.5), (10.0, 13.0)]


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ("hello without a time\n", ".txt", "line 1"),
    ("", ".srt", "no timed lines"),
    ("1\n00:00:05,000 --> 00:00:04,000\nBackwards.\n", ".srt", "ends"),
    ("1\n00:00:50,000 --> 00:00:52,000\nToo late.\n", ".srt", "after the end of the video"),
])
def test_bad_narration_files_say_what_is_wrong(tmp_path, content, suffix, message):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LVASInputError, match=message):
        read_narration(path, duration=10.0)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(LVASInputError, match="not found"):
        read_narration(tmp_path / "none.srt")
    binary = tmp_path / "b.srt"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(LVASInputError, match="UTF-8"):
        read_narration(binary)
