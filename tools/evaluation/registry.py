"""The metric registry: every metric that runs, by name and alias, with its unit and inputs.

``lvas eval`` and ablation plans look metrics up here by the words researchers use ("sync",
"av-sync", "FAD-free", "FD_PaSST", "IB-score", "coherence", ...). Only metrics that really run
are registered: the weight-free ones below (``METRICS``) and the model-based ones of
:mod:`lvas.tools.evaluation.models` (``MODEL_METRICS``), which say through ``availability``
when this machine lacks their weights or packages. Each ``compute`` returns its headline
numbers as a flat mapping (``None`` where undefined); the metric's own module holds the full
report. :func:`resolve_metric_names` turns the names a person wrote into metrics, the names of
other fields' metrics (FID, WER, LSE, ...) into reasons they do not apply, and anything else
into the nearest known names.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import file_sha256
from lvas.tools.evaluation.cost import run_cost
from lvas.tools.evaluation.dropouts import dropouts
from lvas.tools.evaluation.frechet import log_mel_frechet
from lvas.tools.evaluation.loudness_range import measure_loudness
from lvas.tools.evaluation.metric import Metric, MetricInputs, Numbers
from lvas.tools.evaluation.models import MODEL_METRICS  # no torch at import time
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


def _fd_set(items: Sequence[MetricInputs]) -> Numbers:
    """Every item's frames pooled against every distinct reference's (a reference shared by
    several items counts once, by content), as FD is reported for a set."""
    if not items or not all(inp.reference for inp in items):
        raise ValueError("the log-mel Fréchet distance needs reference audio for every item")
    references: dict[str, Path] = {}
    for inp in items:
        for ref in inp.reference:
            references.setdefault(file_sha256(ref), ref)
    return {"fd_logmel": log_mel_frechet([inp.soundtrack for inp in items],
                                         list(references.values()))}


def _loudness(inp: MetricInputs) -> Numbers:
    r = measure_loudness(inp.soundtrack)
    return {"integrated_lufs": _finite(r.integrated_lufs), "lra_lu": r.range_lu,
            "true_peak_dbtp": _finite(r.true_peak_dbtp)}


def _cost(inp: MetricInputs) -> Numbers:
    if inp.run_dir is None:
        raise ValueError("the cost metric needs the run directory")
    # no summary given: run_cost reads the run's own summary.json when there is one
    r = run_cost(inp.run_dir, dict(inp.summary) if inp.summary is not None else None)
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
           needs_reference=True, keys=("fd_logmel",), compute_set=_fd_set,
           aggregation="per item: its frames against its reference's; set: every item's "
                       "frames pooled against every distinct reference's frames"),
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


ALL_METRICS: tuple[Metric, ...] = METRICS + MODEL_METRICS
"""Every registered metric: the weight-free ones, then the model-based ones."""


def _key(name: str) -> str:
    """A name as compared: accents, case, spaces, dashes and underscores ignored."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", name)
                     if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9²]+", "", folded.casefold())


def get_metric(name: str) -> Metric | None:
    """The metric called ``name`` or one of its aliases (case, spaces and dashes ignored)."""
    wanted = _key(name)
    for metric in ALL_METRICS:
        if wanted in {_key(metric.name), *(_key(a) for a in metric.aliases)}:
            return metric
    return None


FAMILIES: dict[str, tuple[str, ...]] = {
    "fd": ("FD", "Fréchet distance", "Frechet distances", "FD scores", "FD family"),
    "kl": ("KL", "KL divergence", "KLD", "MKL", "mean KL", "KL distance",
           "Kullback-Leibler divergence", "Kullback-Leibler"),
    "is": ("IS", "ISc", "Inception score", "Inception scores"),
}
"""Names that stand for every metric of a family: FD is every Fréchet distance (over VGGish,
PANNs and PaSST, and the weight-free log-mel one, which runs where the models' weights are
missing); KL and IS are every classifier's. A family member's name starts with the family's
word (``fd-passt``). "FAD" is not a family: it names the VGGish FD (Kilgour et al.), as the
model metric's own alias says."""

_BACKBONES = {"vgg": "vggish", "vggish": "vggish", "pann": "panns", "panns": "panns",
              "passt": "passt", "logmel": "logmel", "mel": "logmel"}
"""Backbone words of the paper's column names (FD_VGG, KL_PANNs, IS_PaSST) as metric names
spell them."""

COMPOSITES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "coherence": (
        ("seams", "sync"),
        ("coherence", "temporal coherence", "audio coherence", "long-video coherence",
         "coherence across scenes", "cross-scene coherence", "consistency",
         "temporal consistency", "scene consistency", "continuity"),
        "a long soundtrack holds together when its joins between scenes are smooth (seams) "
        "and it stays in time with the picture (sync); the semantic fit to the picture is "
        "IB-score, asked for by name",
    ),
}
"""Words for a quality that no single metric measures, and the metrics that measure it."""

_NOT_APPLICABLE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("FID", "Fréchet inception distance", "KID", "kernel inception distance"),
     "scores generated images over Inception-v3 features; LVAS makes sound, the picture is "
     "copied unchanged (for audio use FD)"),
    (("FVD", "Fréchet video distance"),
     "scores generated video over I3D features; LVAS leaves the video stream untouched"),
    (("PSNR", "SSIM", "MS-SSIM", "LPIPS"),
     "picture fidelity against a reference frame; the video stream is copied unchanged"),
    (("CLIP score", "CLIPScore", "CLIP-S"),
     "image–text similarity; LVAS makes no images (for text–audio use CLAP)"),
    (("WER", "CER", "word error rate", "character error rate"),
     "speech-recognition errors against a reference transcript; a video-to-audio soundtrack "
     "is effects and ambience with no transcript to recognise"),
    (("LSE-C", "LSE-D", "LSE", "lip sync error", "SyncNet confidence", "SyncNet distance"),
     "lip-sync of generated talking faces (SyncNet); LVAS voices no faces on screen (for "
     "audio–picture timing use DeSync or sync)"),
    (("PESQ", "POLQA", "STOI", "ESTOI", "ViSQOL", "SI-SDR", "SDR", "SI-SNR", "MCD",
      "mel cepstral distortion"),
     "compares a signal with a sample-aligned clean copy of itself; a generated soundtrack "
     "has no such copy (for distance to reference audio use FD or fd-logmel)"),
    (("MOS", "CMOS", "SMOS", "MUSHRA", "mean opinion score", "human evaluation",
      "user study", "listening test", "subjective evaluation"),
     "an opinion score needs listeners; no formula computes it from the files"),
    (("BLEU", "CIDEr", "METEOR", "ROUGE", "SPICE", "SPIDEr", "BERTScore"),
     "scores generated text against reference captions; LVAS produces sound, not captions"),
)


def _table(groups: Iterable[tuple[tuple[str, ...], str]]) -> dict[str, tuple[str, str]]:
    return {_key(name): (names[0], reason) for names, reason in groups for name in names}


NOT_APPLICABLE: dict[str, tuple[str, str]] = _table(_NOT_APPLICABLE)
"""Metric names of other fields, by compared key: (the usual spelling, why it does not apply
to video-to-audio)."""


class MetricResolution(NamedTuple):
    """What :func:`resolve_metric_names` made of the names: the metrics to run (in the order
    asked, each once), the names that do not apply with the reason, and the unknown names with
    the nearest known ones."""

    found: list[Metric]
    not_applicable: dict[str, str]
    unknown: dict[str, list[str]]


def _family(word: str) -> str | None:
    k = _key(word)
    for family, names in FAMILIES.items():
        if k in {_key(n) for n in names}:
            return family
    return None


def _in_family(metric: Metric, family: str) -> bool:
    first = re.split(r"[^a-z0-9]+", metric.name.casefold(), maxsplit=1)[0]
    return first == family


def _family_backbone(name: str) -> list[Metric]:
    """``FD_VGG``, ``KL PANNs``, ``IS-PaSST``, ``FD (PaSST)``: a family word then a backbone."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.casefold()) if w]
    if len(words) < 2:
        return []
    family = _family(words[0]) or _family(" ".join(words[:2]))
    backbone = _BACKBONES.get(words[-1])
    if family is None or backbone is None:
        return []
    return [m for m in ALL_METRICS if _in_family(m, family) and backbone in _key(m.name)]


def metrics_for_name(name: str) -> list[Metric]:
    """The metrics a name stands for: a family, a composite, or one metric; [] if none."""
    family = _family(name)
    if family is not None:
        return [m for m in ALL_METRICS if _in_family(m, family)]
    k = _key(name)
    for members, aliases, _why in COMPOSITES.values():
        if k in {_key(a) for a in aliases}:
            return [m for m in (get_metric(n) for n in members) if m is not None]
    metric = get_metric(name)
    if metric is not None:
        return [metric]
    return _family_backbone(name)


def known_names() -> dict[str, str]:
    """Every name the resolver knows, by compared key: the canonical name it leads to."""
    names: dict[str, str] = {}
    for metric in ALL_METRICS:
        for n in (metric.name, *metric.aliases):
            names.setdefault(_key(n), metric.name)
    for words in FAMILIES.values():
        for n in words:
            names.setdefault(_key(n), words[0])
    for composite, (_members, aliases, _why) in COMPOSITES.items():
        for n in aliases:
            names.setdefault(_key(n), composite)
    return names


def nearest_names(name: str, n: int = 5) -> list[str]:
    """The canonical names of the known names closest in spelling to ``name``."""
    known = known_names()
    k = _key(name)
    close = difflib.get_close_matches(k, list(known), n=3 * n, cutoff=0.5)
    close += [key for key in known if k and len(k) >= 3 and (k in key or key in k)]
    out: list[str] = []
    for key in close:
        if known[key] not in out:
            out.append(known[key])
    return out[:n]


def resolve_metric_names(names: Iterable[str]) -> MetricResolution:
    """Map names researchers write to metrics: families (FD/FAD, KL, IS), the paper's column
    names (FD_VGG, KL_PANNs, IB-score, DeSync, ...), composites ("coherence": seams + sync),
    each metric's name and aliases. Names of metrics for other tasks (FID, WER, LSE, ...) are
    not applicable, with the reason; anything else is unknown, with the nearest known names."""
    found: list[Metric] = []
    not_applicable: dict[str, str] = {}
    unknown: dict[str, list[str]] = {}
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        metrics = metrics_for_name(name)
        if metrics:
            found += [m for m in metrics if all(m is not f for f in found)]
        elif _family(name) is not None or _key(name) in {_key(c) for c in COMPOSITES}:
            unknown[name] = []  # a family none of whose members is registered here
        elif _key(name) in NOT_APPLICABLE:
            not_applicable[name] = NOT_APPLICABLE[_key(name)][1]
        else:
            unknown[name] = nearest_names(name)
    return MetricResolution(found, not_applicable, unknown)


def resolve_known_metric_names(names: Iterable[str], *, where: str = "") -> MetricResolution:
    """``resolve_metric_names``, refusing (exit 2) any name that is neither a metric nor
    known not to apply, with the nearest known names; ``where`` says whose names they are."""
    resolved = resolve_metric_names(names)
    if resolved.unknown:
        raise LVASInputError(
            f"Unknown metric(s){where}: " + "; ".join(
                f"{name!r} (nearest: {', '.join(near) or 'none'})"
                for name, near in resolved.unknown.items())
            + ". `lvas eval --list` lists every metric.")
    return resolved


def metric_inputs(metric: Metric) -> list[str]:
    """What a metric reads besides the soundtrack, in words."""
    inputs = ["soundtrack"]
    if metric.needs_reference:
        inputs.append("reference audio")
    if metric.needs_video:
        inputs.append("motion envelope and scenes (the run's, or from the picture)")
    if metric.needs_picture:
        inputs.append("the picture (video frames)")
    if metric.needs_text:
        inputs.append("text (prompt or plan)")
    if metric.needs_run:
        inputs.append("the run directory's records")
    return inputs


def metric_listing() -> list[dict[str, Any]]:
    """Every registered metric as ``lvas eval --list`` shows it, with whether it runs here."""
    listing = []
    for metric in ALL_METRICS:
        reason = metric.availability()
        listing.append({
            "name": metric.name, "family": metric.family, "unit": metric.unit,
            "description": metric.description, "keys": list(metric.keys),
            "inputs": metric_inputs(metric), "aggregation": metric.aggregation,
            "pooled": metric.compute_set is not None, "aliases": list(metric.aliases),
            "runs_here": reason is None, "status": reason or "ok",
        })
    return listing
