"""The metric registry: every metric that runs, by name and alias, with its unit and inputs.

``lvas eval`` and ablation plans look metrics up here by the words researchers use ("sync",
"av-sync", "FAD-free", ...). Only metrics that really run are registered; each one's
``compute`` returns its headline numbers as a flat mapping (``None`` where undefined) and
the metric's own module holds the full report.
"""

from __future__ import annotations

import math
import re

from lvas.tools.evaluation.cost import run_cost
from lvas.tools.evaluation.dropouts import dropouts
from lvas.tools.evaluation.frechet import log_mel_frechet
from lvas.tools.evaluation.loudness_range import measure_loudness
from lvas.tools.evaluation.metric import Metric, MetricInputs, Numbers
from lvas.tools.evaluation.seams import seams
from lvas.tools.evaluation.sync import sync_metric


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _sync(inp: MetricInputs) -> Numbers:
    if inp.motion is None:
        raise ValueError("the sync metric needs the video's motion envelope")
    r = sync_metric(inp.soundtrack, inp.motion, inp.scenes).overall
    return {"sync_lag_s": r.lag_seconds, "sync_onset_f1": r.onset_f1}


def _seams(inp: MetricInputs) -> Numbers:
    if not inp.scenes:
        raise ValueError("the seams metric needs the video's scenes")
    boundaries = sorted({s for s, _ in inp.scenes if s > 0})
    r = seams(inp.soundtrack, boundaries)
    return {f"seam_{k}_ratio": v for k, v in r.ratio.items()}


def _dropouts(inp: MetricInputs) -> Numbers:
    r = dropouts(inp.soundtrack)
    return {"dropout_share": r.share, "dropout_longest_s": r.longest_seconds}


def _fd(inp: MetricInputs) -> Numbers:
    if not inp.reference:
        raise ValueError("the log-mel Fréchet distance needs reference audio")
    return {"fd_logmel": log_mel_frechet([inp.soundtrack], inp.reference)}


def _loudness(inp: MetricInputs) -> Numbers:
    r = measure_loudness(inp.soundtrack)
    return {"integrated_lufs": _finite(r.integrated_lufs), "lra_lu": r.range_lu,
            "true_peak_dbtp": _finite(r.true_peak_dbtp)}


def _cost(inp: MetricInputs) -> Numbers:
    if inp.run_dir is None:
        raise ValueError("the cost metric needs the run directory")
    r = run_cost(inp.run_dir, dict(inp.summary or {}))
    return {f"{k}_per_min": v for k, v in r.per_minute.items()}


METRICS: tuple[Metric, ...] = (
    Metric("sync", "s (lag, + = audio late); F1 0-1",
           "best lag of audio onsets against motion onsets within ±1 s; onset F1 at ±100 ms",
           _sync, ("av-sync", "onset sync", "audio-visual sync", "motion sync",
                   "onset f1", "lag"),
           needs_video=True, keys=("sync_lag_s", "sync_onset_f1")),
    Metric("seams", "ratio (boundary mean / in-scene mean)",
           "level jump (dB), spectral change (dB) and clicks at scene boundaries vs inside",
           _seams, ("seam", "transitions", "transition smoothness", "seamless transitions",
                    "boundary smoothness", "crossfade quality"),
           needs_video=True, keys=("seam_level_jump_db_ratio", "seam_spectral_change_db_ratio",
                                   "seam_click_ratio")),
    Metric("dropouts", "share 0-1; s",
           "share of 100 ms windows more than 30 dB under the median level; longest stretch",
           _dropouts, ("dropout", "silence gaps", "gaps", "dead air"),
           keys=("dropout_share", "dropout_longest_s")),
    Metric("fd-logmel", "nats² (64 log-mel bands)",
           "Fréchet distance of 64-band log-mel frame statistics, generated vs reference",
           _fd, ("fad-free", "fd without weights", "weight-free fd", "log-mel fd", "mel fd"),
           needs_reference=True, keys=("fd_logmel",)),
    Metric("loudness", "LUFS; LU; dBTP",
           "integrated loudness (BS.1770), loudness range (EBU Tech 3342), true peak",
           _loudness, ("lufs", "integrated loudness", "lra", "loudness range", "true peak"),
           keys=("integrated_lufs", "lra_lu", "true_peak_dbtp")),
    Metric("cost", "per minute of video: s, calls, tokens, GPU-s",
           "wall time, model calls, tokens and GPU-seconds per minute, from the run's records",
           _cost, ("wall time", "runtime", "tokens", "model calls", "gpu-seconds", "compute"),
           needs_run=True, keys=("wall_seconds_per_min", "model_calls_per_min",
                                 "tokens_per_min", "gpu_seconds_per_min")),
)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9²]+", "", name.casefold())


def get_metric(name: str) -> Metric | None:
    """The metric called ``name`` or one of its aliases (case, spaces and dashes ignored)."""
    wanted = _key(name)
    for metric in METRICS:
        if wanted in {_key(metric.name), *(_key(a) for a in metric.aliases)}:
            return metric
    return None
