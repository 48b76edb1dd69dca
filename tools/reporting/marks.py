"""The report's timeline as HTML marks: where each sound is heard, one lane per layer in use.

The page draws the timeline with positioned boxes rather than a picture, so its text is real
text (readable at any zoom, with the full label in a tooltip) and a browser can check each
mark's place. Positions are percentages of the time axis, so the timeline lines up with the
spectrogram below it, whose axis spans the same share of the page's width.

A sound is drawn where it sounds: a bed over its rendered clip's placement (else its designed
span; beds carried into one continuous clip across cuts are that one clip), an event as its
hits (the designed onsets inside its span) over a faint box for the span they fall in. Layers
without sounds get no lane. What a long run puts on the page is bounded: at most
:data:`MAX_LANES` rows per layer and one hit per :data:`HIT_BUCKETS`-th of the axis in each row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lvas.tools.reporting.plots import LAYER_COLOURS, LAYERS, as_float, format_clock, time_step

MAX_LANES = 4
"""Rows per layer; a sound that overlaps all of them joins the row free soonest, unlabelled."""
HIT_BUCKETS = 2000
"""Hits of one row closer than 1/HIT_BUCKETS of the axis are drawn as one mark."""
MIN_LABEL_PERCENT = 3.5
"""Narrower boxes carry no label (the tooltip still names them): at the timeline's minimum
width a box this wide holds a few letters of 12 px text."""


def percent(seconds: float, span: float) -> float:
    """``seconds`` as a percentage of the axis, the unit every mark is placed in."""
    return round(100.0 * seconds / span, 4) if span > 0 else 0.0


def ticks(span: float) -> list[dict[str, Any]]:
    """Labelled times along the axis (at most about a dozen, so their text never meets)."""
    if span <= 0:
        return []
    step = time_step(span)
    out = []
    for i in range(int(span / step + 1e-9) + 1):
        t = i * step
        text = format_clock(t) if span >= 120 else f"{t:g}"
        out.append({"left": percent(t, span), "text": text})
    return out


def _lane_of(start: float, end: float, ends: list[float]) -> tuple[int, bool]:
    """The lowest row free at ``start``, a new row, or (all rows taken) the row free soonest,
    flagged as crowded."""
    for lane, busy_until in enumerate(ends):
        if busy_until <= start + 1e-9:
            ends[lane] = end
            return lane, False
    if len(ends) < MAX_LANES:
        ends.append(end)
        return len(ends) - 1, False
    lane = min(range(len(ends)), key=lambda i: ends[i])
    ends[lane] = max(ends[lane], end)
    return lane, True


def _where(sound: Mapping[str, Any], clip: Mapping[str, Any] | None) -> tuple[float, float]:
    """Where the sound plays: its rendered clip's placement, else its designed span."""
    if clip is not None:
        start = as_float(clip.get("start"), as_float(sound.get("start")))
        return start, start + max(as_float(clip.get("duration")), 0.0)
    return as_float(sound.get("start")), as_float(sound.get("end"))


def _hits(sound: Mapping[str, Any], start: float, end: float) -> list[float]:
    """The event's designed hits that fall where it plays."""
    onsets = sound.get("onsets") or []
    times = (as_float(t, math.nan) for t in onsets if t is not None)
    return sorted(t for t in times if math.isfinite(t) and start - 1e-6 <= t <= end + 1e-6)


def _title(sound: Mapping[str, Any], start: float, end: float, hits: int, beds: int) -> str:
    label = str(sound.get("label") or "")
    description = str(sound.get("description") or "")
    head = " — ".join(x for x in (label, description) if x) or str(sound.get("id", ""))
    when = f"{format_clock(start, 2)}–{format_clock(end, 2)}"
    extra = f", {hits} hit{'s' if hits != 1 else ''}" if hits else ""
    extra += f", one sound across {beds} scenes' beds" if beds > 1 else ""
    return f"{head} ({sound.get('layer', '')}, {when}{extra})"


def lanes(sounds: Sequence[Mapping[str, Any]], clips: Sequence[Mapping[str, Any]],
          span: float, carried: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Rows of marks, layer by layer in the usual order; only layers that have sounds.

    ``carried`` maps a designed bed to the sound whose clip carries it on across a cut (as
    rendering joins them); such a bed is drawn as part of that clip, not again on its own.

    Each row is ``{"layer", "name", "colour", "marks", "hits"}``; a mark is a box
    ``{"left", "width", "start", "end", "label", "title", "event", "crowded"}`` (percent and
    seconds), a hit ``{"left", "t"}``.
    """
    clip_of = {str(c.get("sound_id")): c for c in clips}
    carried = {k: v for k, v in (carried or {}).items() if k != v and v in clip_of}
    beds: dict[str, int] = {}
    for into in carried.values():
        beds[into] = beds.get(into, 1) + 1
    layers = [*LAYERS, *sorted({str(s.get("layer", "")) for s in sounds} - set(LAYERS))]
    rows: list[dict[str, Any]] = []
    for layer in layers:
        placed = []
        for sound in sounds:
            if str(sound.get("layer", "")) != layer or str(sound.get("id")) in carried:
                continue
            start, end = _where(sound, clip_of.get(str(sound.get("id"))))
            if end < start:
                start, end = end, start
            placed.append((start, end, sound))
        if not placed:
            continue
        placed.sort(key=lambda p: (p[0], p[1], str(p[2].get("id", ""))))
        ends: list[float] = []
        layer_rows: list[dict[str, Any]] = []
        seen: list[set[int]] = []
        for start, end, sound in placed:
            lane, crowded = _lane_of(start, end, ends)
            if lane == len(layer_rows):
                layer_rows.append({
                    "layer": layer, "name": layer if lane == 0 else f"{layer} {lane + 1}",
                    "colour": LAYER_COLOURS.get(layer, "#777777"), "marks": [], "hits": [],
                })
                seen.append(set())
            hits = _hits(sound, start, end)
            joined = beds.get(str(sound.get("id")), 1)
            width = percent(end - start, span)
            text = str(sound.get("label") or sound.get("description") or sound.get("id") or "")
            layer_rows[lane]["marks"].append({
                "left": percent(start, span), "width": width, "start": round(start, 4),
                "end": round(end, 4), "event": bool(hits), "crowded": crowded,
                "label": "" if crowded or width < MIN_LABEL_PERCENT else text,
                "title": _title(sound, start, end, len(hits), joined),
            })
            for t in hits:
                bucket = round(t / span * HIT_BUCKETS) if span > 0 else 0
                if bucket not in seen[lane]:
                    seen[lane].add(bucket)
                    layer_rows[lane]["hits"].append({"left": percent(t, span),
                                                     "t": round(t, 4)})
        rows.extend(layer_rows)
    return rows


def scene_marks(scenes: Sequence[Mapping[str, Any]], span: float) -> list[dict[str, Any]]:
    """The scene strip: one box per scene, its id as label where it fits, caption in the title."""
    out = []
    for i, scene in enumerate(sorted(scenes, key=lambda s: as_float(s.get("start")))):
        start, end = as_float(scene.get("start")), as_float(scene.get("end"))
        width = percent(max(end - start, 0.0), span)
        sid = str(scene.get("id", ""))
        caption = str(scene.get("caption") or "")
        when = f"{format_clock(start, 2)}–{format_clock(end, 2)}"
        out.append({
            "left": percent(start, span), "width": width, "start": round(start, 4),
            "end": round(end, 4), "odd": i % 2 == 1,
            "label": sid if width >= MIN_LABEL_PERCENT else "",
            "title": f"{sid} ({when})" + (f": {caption}" if caption else ""),
        })
    return out
