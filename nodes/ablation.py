"""Nodes of the ablation graph: map the plan, dub each (variant, video) pair, score it, report.

Every pair runs the ordinary LVAS graph with the variant's ``Context`` settings and the study's
seed, so a variant is exactly what a normal run with those settings gives. Unchanged upstream
work is shared: each video's scene analysis and every clip whose render a variant does not
change are linked from earlier pairs (``lvas.tools.ablation.sharing``), and model replies and
the label index come from the cache every run uses. Each finished pair is appended to the
study folder's records at once, so a killed study resumes without redoing finished pairs; one
failing pair is recorded and the study goes on.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from lvas.graph.ablation_state import AblationState, PairTask, StudyVideo
from lvas.graph.context import Context, context_of
from lvas.tools.ablation.records import (
    RESULTS_FILE,
    RUNS_FILE,
    append_line,
    latest_by_pair,
    open_study_folder,
    read_lines,
)
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import content_hash, file_fingerprint, write_json

STUDY_SETTINGS = ("chat_backend", "llm_model", "generator_backend", "generator_model",
                  "generation_steps", "cfg_strength", "narration", "embedding_model",
                  "sample_rate", "channels", "loudness_target")
"""Base settings that change what a study measures: part of its identity in ``study.json``."""


def _fs_name(slug: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", slug)


def _plan_text(state: AblationState) -> tuple[str, str]:
    """The plan's text and where it came from (a preset, a file or the text itself)."""
    from lvas.tools.ablation.presets import preset_plan

    if state.get("preset"):
        return preset_plan(str(state["preset"])), f"preset {state['preset']}"
    plan = str(state.get("plan") or "").strip()
    if not plan:
        raise LVASInputError("Give an ablation plan (a Markdown, YAML or JSON file) or a preset "
                             "(--preset paper-table-1).")
    if "\n" not in plan and len(plan) < 4096:
        path = Path(plan).expanduser()
        if not path.is_file():
            raise LVASInputError(f"Ablation plan {path} does not exist or is not a file.")
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError:
            raise LVASInputError(f"Ablation plan {path} is not UTF-8 text.") from None
    return plan, "the plan text"


def _study_videos(source: str) -> list[StudyVideo]:
    """The study's videos from a folder or a manifest, each with a unique id."""
    from lvas.tools.evaluation.items import read_video_list

    videos: list[StudyVideo] = []
    taken: set[str] = set()
    for entry in read_video_list(source):
        stem = _fs_name(Path(entry.video).stem) or "video"
        vid, n = stem, 2
        while vid in taken:
            vid, n = f"{stem}-{n}", n + 1
        taken.add(vid)
        videos.append(StudyVideo(id=vid, path=str(Path(entry.video).resolve()),
                                 reference=str(entry.reference or ""),
                                 category=str(entry.category or ""),
                                 prompt=str(entry.text or "")))
    return videos


def prepare_study(state: AblationState, runtime: Runtime[Context]) -> AblationState:
    """Parse and map the plan, list the videos and open (or resume) the study folder."""
    from lvas.tools.ablation.mapping import Matcher, map_plan, packaged_embed
    from lvas.tools.ablation.plan import parse_plan
    from lvas.tools.evaluation.registry import resolve_known_metric_names

    ctx = context_of(runtime)
    text, source = _plan_text(state)
    study = map_plan(parse_plan(text, source=source),
                     Matcher(packaged_embed(ctx.index_dir or None, ctx.embedding_model)))
    resolved = resolve_known_metric_names(
        study.metric_names or ["sync", "seams", "dropouts", "loudness"], where=" in the plan")
    videos = _study_videos(state["videos"])
    if not videos:
        raise LVASInputError(f"No videos found in {state['videos']}.")
    seed = int(state.get("seed", ctx.seed))
    folder = Path(state["output_dir"]).expanduser().resolve()
    record = {
        "plan_hash": content_hash(text),
        "variants": [v.to_dict() for v in study.variants],
        "metrics": [m.name for m in resolved.found],
        "not_applicable": resolved.not_applicable,
        "videos": [{**v, "fingerprint": file_fingerprint(v["path"])} for v in videos],
        "seed": seed,
        "settings": {name: getattr(ctx, name) for name in STUDY_SETTINGS},
    }
    resumed = open_study_folder(folder, record, overwrite=bool(state.get("overwrite")))
    plan_copy = folder / "plan.md"
    if not plan_copy.exists():
        plan_copy.write_text(text, encoding="utf-8")
    notes = list(study.notes) + [f"{name}: not applicable ({why})"
                                 for name, why in resolved.not_applicable.items()]
    if resumed:
        notes.append(f"resumed the study in {folder}")
    return {"study": record, "study_videos": videos, "notes": notes,
            "outputs": {"folder": str(folder)}}


def _pairs(state: AblationState) -> list[PairTask]:
    study = state["study"]
    folder = state["outputs"]["folder"]
    return [PairTask(variant=variant, video=video, folder=folder, seed=study["seed"],
                     metric_names=study["metrics"])
            for variant in study["variants"] for video in state["study_videos"]]


def _done_run(folder: str, variant: str, video: str) -> dict[str, Any] | None:
    run = latest_by_pair(read_lines(Path(folder) / RUNS_FILE)).get((variant, video))
    if run and run.get("status") == "ok" and Path(run["output"]).is_file():
        return run
    return None


def fan_out_runs(state: AblationState) -> list[Send] | str:
    """One ``run_variant`` per (variant, video) pair not dubbed yet; then scoring."""
    folder = state["outputs"]["folder"]
    sends = [Send("run_variant", task) for task in _pairs(state)
             if _done_run(folder, task["variant"]["slug"], task["video"]["id"]) is None]
    return sends or "plan_scoring"


def run_variant(state: PairTask, runtime: Runtime[Context]) -> AblationState:
    """Dub one video with one variant's settings (the full LVAS graph, the study's seed)."""
    task = state  # the fan-out payload (LangGraph's node protocol names it state)
    from lvas.graph.runner import gpu_seconds, run_pipeline, write_run_summary
    from lvas.tools.ablation.sharing import collect_run, seed_run
    from lvas.tools.delivery.muxing import output_extension
    from lvas.tools.video.probe import probe_video

    variant, video = task["variant"], task["video"]
    folder = Path(task["folder"]) / "runs" / _fs_name(variant["slug"])
    folder.mkdir(parents=True, exist_ok=True)
    # The container the video stream can be copied into, as ``lvas dub``'s default output.
    output = folder / f"{video['id']}{output_extension(probe_video(video['path']))}"
    run_dir = folder / f"{video['id']}.lvas"
    ctx = dataclasses.replace(context_of(runtime), **variant["settings"], seed=task["seed"],
                              run_dir=str(run_dir), overwrite=True)
    inputs: dict[str, Any] = {"video": video["path"], "output": str(output)}
    if video.get("prompt"):
        inputs["prompt"] = video["prompt"]
    record: dict[str, Any] = {"variant": variant["slug"], "video": video["id"],
                              "output": str(output), "run_dir": str(run_dir),
                              "seed": task["seed"]}
    pool = Path(task["folder"]) / "shared" / video["id"]
    reused = seed_run(pool, run_dir)
    started = time.perf_counter()
    try:
        final = run_pipeline(inputs, ctx)
        collect_run(pool, run_dir)
        summary = {"seconds": round(time.perf_counter() - started, 3),
                   "timings": final.get("timings", {}), "warnings": final.get("warnings", []),
                   "scenes": len(final.get("scenes", [])), "sounds": len(final.get("clips", {})),
                   "gpu_seconds": round(gpu_seconds(final, ctx), 3)}
        write_run_summary(run_dir, summary)
        record.update(status="ok", error=None, seconds=summary["seconds"], reused_files=reused)
    except Exception as exc:  # noqa: BLE001 - one pair failing must not end the study
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      seconds=round(time.perf_counter() - started, 3))
    append_line(Path(task["folder"]) / RUNS_FILE, record)
    return {"runs": [record]}


def plan_scoring(state: AblationState) -> AblationState:
    """The join after the runs: nothing to add; the router sends the pairs to score."""
    return {}


def fan_out_scoring(state: AblationState) -> list[Send] | str:
    """One ``score_run`` per dubbed pair not scored yet; then the table."""
    folder = Path(state["outputs"]["folder"])
    scored = latest_by_pair(read_lines(folder / RESULTS_FILE))
    sends = []
    for task in _pairs(state):
        key = (task["variant"]["slug"], task["video"]["id"])
        if key in scored and scored[key].get("status") == "ok":
            continue
        run = latest_by_pair(read_lines(folder / RUNS_FILE)).get(key)
        if run is None:
            continue
        sends.append(Send("score_run", PairTask(**task, run=run)))
    return sends or "write_table"


def score_run(state: PairTask, runtime: Runtime[Context]) -> AblationState:
    """Score one dubbed pair with the study's metrics; a failed dub becomes a failed row."""
    task = state  # the fan-out payload (LangGraph's node protocol names it state)
    from lvas.tools.evaluation.scoring import score_dubbed_video

    variant, video, run = task["variant"], task["video"], task.get("run") or {}
    row: dict[str, Any] = {
        "variant": variant["slug"], "ablation": variant["ablation"],
        "part": variant["component"], "action": variant["action"],
        "alternative": variant["alternative"], "video": video["id"],
        "video_path": video["path"], "category": video["category"], "seed": task["seed"],
        "status": run.get("status", "failed"), "error": run.get("error"),
        "seconds": run.get("seconds"), "run_dir": run.get("run_dir"),
        "output": run.get("output"), "metric_status": {},
    }
    if row["status"] == "ok":
        try:
            scored = score_dubbed_video(
                Path(run["output"]), task.get("metric_names") or [],
                reference=video["reference"] or video["path"], run_dir=Path(run["run_dir"]),
                text=video["prompt"] or None, cache_dir=Path(task["folder"]) / "features")
            row.update(scored.values)
            row["metric_status"] = scored.status
        except Exception as exc:  # noqa: BLE001 - recorded as this pair's failure
            row.update(status="failed", error=f"scoring: {type(exc).__name__}: {exc}")
    append_line(Path(task["folder"]) / RESULTS_FILE, row)
    return {"rows": [row]}


def write_table(state: AblationState) -> AblationState:
    """The tables and the chart from every scored pair of this study (earlier runs' too)."""
    from lvas.tools.ablation.chart import write_chart
    from lvas.tools.ablation.pooled import pooled_values, write_pooled
    from lvas.tools.ablation.reporting import metric_columns
    from lvas.tools.ablation.table import summarize, write_tables

    folder = Path(state["outputs"]["folder"])
    study = state["study"]
    wanted = {(v["slug"], video["id"]) for v in study["variants"] for video in study["videos"]}
    rows = [r for key, r in latest_by_pair(read_lines(folder / RESULTS_FILE)).items()
            if key in wanted]
    columns = metric_columns(study["metrics"],
                             loudness_target=study["settings"]["loudness_target"])
    summary = summarize(rows, [v["slug"] for v in study["variants"]], columns,
                        seed=study["seed"])
    outputs = {**state["outputs"], **{k: str(v) for k, v in write_tables(summary, folder).items()},
               "chart": str(write_chart(summary, folder / "chart.png")),
               "results": str(folder / RESULTS_FILE)}
    references = {v["id"]: v["reference"] or v["path"] for v in study["videos"]}
    pooled = pooled_values(rows, [v["slug"] for v in study["variants"]], study["metrics"],
                           references, cache_dir=folder / "features")
    pooled_csv = write_pooled(pooled, [v["slug"] for v in study["variants"]], folder)
    if pooled_csv is not None:
        outputs["pooled_csv"] = str(pooled_csv)
    write_json(folder / "outputs.json", outputs)
    return {"outputs": outputs}
