"""The bounds on what a run accepts and on how much it makes, in one place.

Every input is bounded so that a mistake (a pasted document as the prompt, the wrong file as
narration, a plan edited by a script gone wrong, a day-long recording) is named at once instead
of turning into hours of rendering and gigabytes of run folder. An input past a limit is
refused before any work (``LVASInputError``, exit 2) with the limit and what to do; a design
that asks for more sounds than a run may make is cut, and the run's warnings say what was left
out. README.md ("Limits") lists them for users.
"""

from __future__ import annotations

import math

from lvas.tools.common.errors import LVASInputError

MAX_PROMPT_CHARS = 4_000
"""Characters of a ``--prompt``. A sound direction is a few phrases; a longer text is almost
certainly a mistake (a pasted document), so it is refused rather than silently cut."""

MAX_PROMPT_PHRASES = 12
"""Phrases of a prompt the offline planner turns into sounds (split at commas, semicolons, new
lines and "then"): the first is every scene's bed, the next ``MAX_PROMPT_PHRASES - 1`` are
events; the rest are left out with a warning that names them."""

MAX_PROMPT_EVENTS_PER_SCENE = 4
"""Prompt events one scene's offline design takes (with the bed, five prompt sounds at most).
With more events than this, scenes take them in turn, so a long video still hears them all."""

MAX_SOUNDS_PER_SCENE = 8
"""Designed sounds in one scene, whoever designed them; the chat Designer's reply schema allows
as many. A design with more is cut (with a warning), a plan with more is refused."""

MAX_SOUNDS_PER_MINUTE = 60
"""Designed sounds per started minute of video, whatever their source. Beyond it the least
important events (a scene's later foreground sounds, busiest scenes first) are left out with a
warning; every scene keeps its first sound (its bed), so no scene goes silent. A plan with more
is refused."""

MAX_VIDEO_SECONDS = 4 * 3600.0
"""Default of ``Context.max_video_seconds`` (four hours): a longer video is refused at the
probe. Raise it with ``--set max_video_seconds=SECONDS`` (0: no limit); the run folder and
the rendering time grow with the length."""

MAX_NARRATION_BYTES = 2_000_000
"""Size of a narration file; the subtitles of a four-hour film take a few hundred kB."""

MAX_NARRATION_LINES = 5_000
"""Timed lines of narration (a file's cues, or a plan's ``narration``): more than the dialogue
of a four-hour film."""

MAX_NARRATION_CHARS = 250_000
"""Characters of all narration lines together: four hours of continuous speech."""

MAX_PLAN_BYTES = 64_000_000
"""Size of a plan file. A plan of a four-hour video with the most sounds a run makes is about
half of it."""

MAX_PLAN_SCENES_PER_MINUTE = 120
"""Scenes of a plan per started minute of its video: one every half second, the Storyboarder's
shortest shot (``min_shot_seconds``)."""


def started_minutes(seconds: float) -> int:
    """Minutes of video counted as a taxi meter counts them: a 10 s video is one minute."""
    return max(1, math.ceil(max(0.0, float(seconds)) / 60.0 - 1e-9))


def sounds_allowed(duration: float) -> int:
    """The most designed sounds a video of ``duration`` seconds may have."""
    return MAX_SOUNDS_PER_MINUTE * started_minutes(duration)


def plan_scenes_allowed(duration: float) -> int:
    """The most scenes a plan of a ``duration``-second video may have."""
    return MAX_PLAN_SCENES_PER_MINUTE * started_minutes(duration)


def check_prompt(prompt: str | None) -> None:
    """Refuse a prompt longer than :data:`MAX_PROMPT_CHARS`, saying what a prompt is for."""
    length = len((prompt or "").strip())
    if length > MAX_PROMPT_CHARS:
        raise LVASInputError(
            f"The prompt is {length:,} characters long; LVAS takes at most "
            f"{MAX_PROMPT_CHARS:,} (a sound direction of a few phrases, e.g. 'rain on a tin "
            "roof, distant thunder'). Shorten it to the sounds that matter most."
        )


def check_video_length(video: str, duration: float, limit: float) -> None:
    """Refuse a video longer than ``limit`` seconds (``Context.max_video_seconds``; 0 or less:
    no limit), naming both lengths and how to raise the limit."""
    if limit <= 0 or duration <= limit:
        return
    raise LVASInputError(
        f"{video} lasts {_length(duration)}; LVAS dubs videos up to {_length(limit)} "
        f"(max_video_seconds={limit:g}). Cut it into parts, or raise the limit with "
        "--set max_video_seconds=SECONDS (0: no limit) if the time and the run folder's disk "
        "space are there."
    )


def check_run_inputs(prompt: str | None, video: str, duration: float, limit: float) -> None:
    """The checks of a run's own inputs once its video is probed (the prompt, the length)."""
    check_prompt(prompt)
    check_video_length(video, duration, limit)


def _length(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h ({seconds:,.0f} s)"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min ({seconds:,.0f} s)"
    return f"{seconds:.1f} s"
