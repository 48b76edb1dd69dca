"""Score items with metrics: per item, per metric, and over the whole set.

Each item's inputs are gathered once, and only those its metrics need: the soundtrack (the
file itself, or its default audio stream decoded to a temporary WAV), the reference's audio,
the motion envelope and scenes (from the run directory beside a dubbed file, the ones the
soundtrack was made for; else from the Storyboarder's pass over the picture, cached), the
picture, the text (the item's own, else the run's prompt or plan) and the run's records.

Every (item, metric) pair gets a status: ``ok``; the metric's own reason it cannot run on
this machine ("needs weights: ...", "needs package: ..."); ``needs reference: ...``;
``needs text: ...``; ``needs run records: ...``; ``not applicable: ...`` (an audio file has no
picture); or ``error: ...``. One failing pair never stops the others. The set row is a pooled
statistic for metrics that define one (FD over every item's windows), else the mean over the
items that have a value; each says which.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lvas.tools.common.errors import LVASInputError
from lvas.tools.evaluation.items import EvalItem
from lvas.tools.evaluation.media import MediaInfo, probe_media, soundtrack_file
from lvas.tools.evaluation.metric import Metric, MetricInputs, Numbers
from lvas.tools.evaluation.run_records import RunRecords, find_run_dir, read_run

OK = "ok"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ItemScore:
    """One item's numbers (every key of every metric asked, None where not computed), each
    metric's status, and where its inputs came from."""

    item: EvalItem
    values: dict[str, float | None]
    status: dict[str, str]
    notes: list[str] = field(default_factory=list)
    run_dir: Path | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.item.id, "video": str(self.item.video),
                "reference": str(self.item.reference) if self.item.reference else None,
                "category": self.item.category, "text": self.item.text,
                "run_dir": str(self.run_dir) if self.run_dir else None,
                "values": self.values, "status": self.status, "notes": self.notes,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class SetValue:
    """One key's value over the set, how it was aggregated, and over how many items."""

    value: float | None
    aggregation: str
    count: int


@dataclass(frozen=True)
class EvalResult:
    """Everything ``lvas eval`` reports: the metrics asked, each item's scores, the set row
    (by key), each metric's set-level status, and the names asked that do not apply."""

    metrics: list[Metric]
    items: list[ItemScore]
    aggregate: dict[str, SetValue]
    set_status: dict[str, str]
    not_applicable: dict[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [k for m in self.metrics for k in m.keys]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": [{"name": m.name, "family": m.family, "unit": m.unit, "keys": list(m.keys),
                         "aggregation": m.aggregation, "status": self.set_status.get(m.name)}
                        for m in self.metrics],
            "items": [s.to_dict() for s in self.items],
            "aggregate": {k: {"value": v.value, "aggregation": v.aggregation, "count": v.count}
                          for k, v in self.aggregate.items()},
            "not_applicable": self.not_applicable,
        }


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class _Gathered:
    """An item's inputs as far as they were found; ``missing`` says why one is absent."""

    info: MediaInfo
    soundtrack: Path
    run: RunRecords | None
    reference: list[Path] = field(default_factory=list)
    motion: np.ndarray | None = None
    scenes: tuple[tuple[float, float], ...] = ()
    picture: Path | None = None
    text: str | None = None
    missing: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def inputs(self, item: EvalItem) -> MetricInputs:
        return MetricInputs(
            soundtrack=self.soundtrack, reference=tuple(self.reference), video=self.picture,
            text=self.text, motion=self.motion, scenes=self.scenes,
            run_dir=self.run.run_dir if self.run else None,
            summary=self.run.summary if self.run else None, category=item.category)


class _Gatherer:
    """Finds each item's inputs; storyboards of pictures without a run go to ``cache_dir``."""

    def __init__(self, work: Path, cache_dir: Path | None, settings: Any) -> None:
        self.work = work
        self.cache_dir = cache_dir
        self.settings = settings

    def gather(self, index: int, item: EvalItem, needs: set[str]) -> _Gathered:
        info = probe_media(item.video)
        if info.audio_stream is None:
            raise LVASInputError(f"{item.video} has no audio stream to score.")
        run_dir = item.run_dir or find_run_dir(item.video)
        run = read_run(run_dir) if run_dir else None
        got = _Gathered(info, soundtrack_file(info, self.work, f"item{index}"), run)
        if run is not None:
            got.notes.append(f"run directory {run.run_dir}")
            got.notes += list(run.notes)
        if "reference" in needs:
            self._reference(index, item, got)
        if "picture" in needs or "video" in needs:
            self._picture(item, got)
        if "video" in needs:
            self._motion(index, got)
        if "text" in needs:
            self._text(item, got)
        if "run" in needs and run is None:
            got.missing["run"] = ("needs run records: no run directory with plan.json beside "
                                  f"{item.video.name} ({item.video.stem}.lvas)")
        return got

    def _reference(self, index: int, item: EvalItem, got: _Gathered) -> None:
        if item.reference is None:
            got.missing["reference"] = ("needs reference: give --reference, or a reference "
                                        "column in the manifest")
            return
        try:
            ref = probe_media(item.reference)
        except LVASInputError as exc:
            got.missing["reference"] = f"needs reference: {exc}"
            return
        if ref.audio_stream is None:
            got.missing["reference"] = (f"needs reference: {item.reference.name} has no audio "
                                        "track")
            return
        got.reference = [soundtrack_file(ref, self.work, f"reference{index}")]
        got.notes.append(f"reference audio from {item.reference}")

    def _picture(self, item: EvalItem, got: _Gathered) -> None:
        if got.info.has_picture:
            got.picture = item.video
        elif got.run and got.run.input_video and got.run.input_video.is_file():
            got.picture = got.run.input_video
            got.notes.append(f"picture from the run's input video {got.picture}")
        else:
            got.missing["picture"] = (f"not applicable: {item.video.name} is audio only and no "
                                      "run directory names its video")

    def _motion(self, index: int, got: _Gathered) -> None:
        run = got.run
        if run is not None and run.motion is not None and run.scenes:
            got.motion, got.scenes = run.motion, run.scenes
            got.notes.append("motion envelope and scenes from the run's plan")
            return
        if got.picture is None:
            got.missing["video"] = (got.missing.get("picture")
                                    or "not applicable: no picture for the motion envelope")
            return
        from lvas.tools.video.storyboard import (
            StoryboardSettings,
            build_storyboard,
            storyboard_key,
        )

        settings = self.settings or StoryboardSettings()
        folder = (self.cache_dir / "scenes" / storyboard_key(got.picture, settings)
                  if self.cache_dir else self.work / f"storyboard{index}")
        board = build_storyboard(got.picture, folder, settings)
        got.motion = np.load(board["motion_envelope"]).astype(np.float32)
        got.scenes = tuple((float(s["start"]), float(s["end"])) for s in board["scenes"])
        if run is not None and run.scenes:
            got.scenes = run.scenes  # the scenes the soundtrack was made for
        got.notes.append(f"motion envelope{'' if run and run.scenes else ' and scenes'} from "
                         f"the Storyboarder's pass over {got.picture.name}")

    def _text(self, item: EvalItem, got: _Gathered) -> None:
        if item.text:
            got.text = item.text
        elif got.run is not None and got.run.text:
            got.text = got.run.text
            got.notes.append(f"text: {got.run.text_source}")
        else:
            got.missing["text"] = ("needs text: give a text column in the manifest (no run "
                                   "directory with a prompt or plan beside the file)")


def _needs(metric: Metric) -> list[str]:
    return [need for need, flag in (("reference", metric.needs_reference),
                                    ("video", metric.needs_video),
                                    ("picture", metric.needs_picture),
                                    ("text", metric.needs_text), ("run", metric.needs_run))
            if flag]


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"error: {type(exc).__name__}: {text}".rstrip(": ")


def _compute(metric: Metric, inputs: MetricInputs) -> tuple[Numbers, str]:
    try:
        numbers = metric.compute(inputs)
    except Exception as exc:  # noqa: BLE001 - one metric failing must not stop the others
        return {}, _error(exc)
    return {k: _finite(v) for k, v in numbers.items()}, OK


def score_items(items: Sequence[EvalItem], metrics: Sequence[Metric], *,
                cache_dir: str | os.PathLike[str] | None = None,
                storyboard_settings: Any = None,
                progress: Progress | None = None) -> EvalResult:
    """Score every item with every metric, then the set.

    ``cache_dir`` keeps the storyboards of pictures scored without a run directory (None: a
    temporary folder); ``storyboard_settings`` are the Storyboarder's settings for those
    (``lvas.tools.video.storyboard.StoryboardSettings``; None: its defaults). Decoded audio
    lives in a temporary folder for the call, kept to the end only when a pooled metric needs
    every item's audio.
    """
    say = progress or (lambda _message: None)
    metrics = list(dict.fromkeys(metrics))
    unavailable = {m.name: m.availability() for m in metrics}
    runnable = [m for m in metrics if unavailable[m.name] is None]
    needs = {need for m in runnable for need in _needs(m)}
    pooled = [m for m in runnable if m.compute_set is not None]
    kept: dict[str, list[MetricInputs]] = {m.name: [] for m in pooled}
    scores: list[ItemScore] = []
    cache = Path(cache_dir).expanduser() if cache_dir is not None else None
    with tempfile.TemporaryDirectory(prefix="lvas-eval-") as tmp:
        gatherer = _Gatherer(Path(tmp), cache, storyboard_settings)
        for index, item in enumerate(items):
            started = time.perf_counter()
            where = f"[{index + 1}/{len(items)}] {item.id}"
            values: dict[str, float | None] = {k: None for m in metrics for k in m.keys}
            status: dict[str, str] = {}
            item_dir = Path(tmp) / f"i{index}"
            item_dir.mkdir()
            gatherer.work = item_dir
            try:
                got: _Gathered | None = gatherer.gather(index, item, needs) if runnable else None
                failure = None
            except Exception as exc:  # noqa: BLE001 - this item fails, the set goes on
                got, failure = None, _error(exc)
            for metric in metrics:
                reason = unavailable[metric.name]
                if reason is None and failure is not None:
                    reason = failure
                if reason is None and got is not None:
                    reason = next((got.missing[n] for n in _needs(metric) if n in got.missing),
                                  None)
                if reason is not None or got is None:
                    status[metric.name] = reason or "error: nothing gathered"
                    continue
                t0 = time.perf_counter()
                inputs = got.inputs(item)
                numbers, status[metric.name] = _compute(metric, inputs)
                values.update(numbers)
                say(f"{where}: {metric.name} {status[metric.name]} "
                    f"({time.perf_counter() - t0:.1f} s)")
                if status[metric.name] == OK and metric.name in kept:
                    kept[metric.name].append(inputs)
            if failure is not None:
                say(f"{where}: {failure}")
            if not any(inp.soundtrack.is_relative_to(item_dir) or
                       any(r.is_relative_to(item_dir) for r in inp.reference)
                       for held in kept.values() for inp in held):
                shutil.rmtree(item_dir, ignore_errors=True)  # decoded audio no longer needed
            scores.append(ItemScore(item, values, status, got.notes if got else [],
                                    got.run.run_dir if got and got.run else None,
                                    time.perf_counter() - started))
        aggregate, set_status = _aggregate(metrics, scores, unavailable, kept, say)
    return EvalResult(metrics, scores, aggregate, set_status)


def _aggregate(metrics: Sequence[Metric], scores: Sequence[ItemScore],
               unavailable: Mapping[str, str | None], kept: Mapping[str, list[MetricInputs]],
               say: Progress) -> tuple[dict[str, SetValue], dict[str, str]]:
    aggregate: dict[str, SetValue] = {}
    set_status: dict[str, str] = {}
    total = len(scores)
    for metric in metrics:
        reason = unavailable[metric.name]
        if reason is not None:
            set_status[metric.name] = reason
            aggregate.update({k: SetValue(None, "not computed", 0) for k in metric.keys})
            continue
        if metric.compute_set is not None:
            pool = kept.get(metric.name, [])
            if not pool:
                set_status[metric.name] = "no item could be scored"
                aggregate.update({k: SetValue(None, "pooled: no item", 0) for k in metric.keys})
                continue
            label = f"pooled over {len(pool)} of {total} items: {metric.aggregation}"
            try:
                numbers = metric.compute_set(pool)
                set_status[metric.name] = OK
            except Exception as exc:  # noqa: BLE001 - reported, the rest of the set stands
                numbers, set_status[metric.name] = {}, _error(exc)
                say(f"set: {metric.name} {set_status[metric.name]}")
            aggregate.update({k: SetValue(_finite(numbers.get(k)), label, len(pool))
                              for k in metric.keys})
            continue
        ok_items = sum(1 for s in scores if s.status.get(metric.name) == OK)
        set_status[metric.name] = OK if ok_items else "no item could be scored"
        for key in metric.keys:
            found = [v for s in scores if (v := s.values.get(key)) is not None]
            aggregate[key] = SetValue(float(np.mean(found)) if found else None,
                                      f"mean over {len(found)} of {total} items", len(found))
    return aggregate, set_status


def score_dubbed_video(output: str | os.PathLike[str], metric_names: Sequence[str], *,
                       reference: str | os.PathLike[str] | None = None,
                       run_dir: str | os.PathLike[str] | None = None,
                       text: str | None = None, category: str | None = None,
                       cache_dir: str | os.PathLike[str] | None = None,
                       storyboard_settings: Any = None) -> ItemScore:
    """One dubbed video's scores with the metrics called ``metric_names`` (names as plans
    write them), for the ablation runner. A reference without audio (a silent input video)
    leaves the metrics that need one at "needs reference"; unknown names raise
    LVASInputError."""
    from lvas.tools.evaluation.registry import resolve_known_metric_names

    resolved = resolve_known_metric_names(metric_names)
    path = Path(output)
    item = EvalItem(path.name, path, Path(reference) if reference else None, category, text,
                    Path(run_dir) if run_dir else None)
    result = score_items([item], resolved.found, cache_dir=cache_dir,
                         storyboard_settings=storyboard_settings)
    score = result.items[0]
    return replace(score, status={**score.status, **{
        name: f"not applicable: {why}" for name, why in resolved.not_applicable.items()}})
