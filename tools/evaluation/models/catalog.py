"""The model metrics' registry entries: names and aliases researchers use, inputs, units, how
each is aggregated, and whether it can run here.

Importing this module imports neither torch nor any model package; a metric's model is loaded
(once per process) the first time it computes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lvas.tools.evaluation.metric import Metric, MetricInputs, Numbers
from lvas.tools.evaluation.models import clap, desync, imagebind, panns, passt, scores, vggish

# The model behind each metric, looked up when a metric computes (tests swap in models with
# random weights here).
EXTRACTORS: dict[str, Callable[[], Any]] = {
    "vggish": vggish.extractor, "panns": panns.extractor, "passt": passt.extractor,
    "clap": clap.extractor, "imagebind": imagebind.extractor, "synchformer": desync.extractor,
}
AVAILABILITY: dict[str, Callable[[], str | None]] = {
    "vggish": vggish.availability, "panns": panns.availability, "passt": passt.availability,
    "clap": clap.availability, "imagebind": imagebind.availability,
    "synchformer": desync.availability,
}
LABEL = {"vggish": "VGGish", "panns": "PANNs", "passt": "PaSST"}


def _model(key: str) -> Any:
    return EXTRACTORS[key]()


def _available(key: str) -> Callable[[], str | None]:
    return lambda: AVAILABILITY[key]()


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _need(inp: MetricInputs, what: str, metric: str) -> None:
    missing = {"reference": not inp.reference, "video": inp.video is None,
               "text": not (inp.text or "").strip()}[what]
    if missing:
        raise ValueError(f"{metric} needs the item's {what}"
                         + (" audio (for example the input video's own track)"
                            if what == "reference" else ""))


# --- FD, KL, IS -------------------------------------------------------------------------------

def _fd(model_key: str, name: str, key: str) -> Metric:
    def compute(inp: MetricInputs) -> Numbers:
        _need(inp, "reference", name)
        return {key: scores.fd(_model(model_key), [inp.soundtrack], inp.reference)}

    def compute_set(items: Sequence[MetricInputs]) -> Numbers:
        refs = [r for it in items for r in it.reference]
        if not refs:
            raise ValueError(f"{name} needs reference audio for the set")
        return {key: scores.fd(_model(model_key), [it.soundtrack for it in items], refs)}

    label = LABEL[model_key]
    return Metric(
        name, "FD (squared distance of embeddings, no unit)",
        f"Fréchet distance of {label} embeddings of 10 s windows, generated vs reference",
        compute, aliases=_ALIASES[name], needs_reference=True, keys=(key,),
        compute_set=compute_set, availability=_available(model_key), family="model",
        aggregation=(f"per item: FD of the item's {_ROWS[model_key]} against its reference "
                     f"audio's; set (the field's number): FD of all items' "
                     f"{_ROWS[model_key]} pooled against all distinct references' pooled"))


def _kl(model_key: str, name: str, key: str) -> Metric:
    def compute(inp: MetricInputs) -> Numbers:
        _need(inp, "reference", name)
        return {key: scores.kl(_model(model_key), [(inp.soundtrack, inp.reference[0])])}

    def compute_set(items: Sequence[MetricInputs]) -> Numbers:
        pairs = [(it.soundtrack, it.reference[0]) for it in items if it.reference]
        if not pairs:
            raise ValueError(f"{name} needs reference audio for the set")
        return {key: scores.kl(_model(model_key), pairs)}

    label = LABEL[model_key]
    return Metric(
        name, "nats",
        f"KL(reference ‖ generated) of {label}'s softmax class distributions, paired 10 s "
        "windows", compute, aliases=_ALIASES[name], needs_reference=True, keys=(key,),
        compute_set=compute_set, availability=_available(model_key), family="model",
        aggregation=("per item: mean over the windows it shares with its (first) reference "
                     "(same start within 0.1 s); set: mean over all items' paired windows"))


def _is(model_key: str, name: str, key: str) -> Metric:
    def numbers(result: Any) -> Numbers:
        if result is None:
            return {key: None, f"{key}_std": None}
        return {key: result.mean, f"{key}_std": result.std}

    def compute(inp: MetricInputs) -> Numbers:
        return numbers(scores.inception(_model(model_key), [inp.soundtrack]))

    def compute_set(items: Sequence[MetricInputs]) -> Numbers:
        return numbers(scores.inception(_model(model_key), [it.soundtrack for it in items]))

    label = LABEL[model_key]
    return Metric(
        name, "score ≥ 1 (no unit); std over splits",
        f"inception score of {label}'s softmax class distributions over 10 s windows",
        compute, aliases=_ALIASES[name], keys=(key, f"{key}_std"), compute_set=compute_set,
        availability=_available(model_key), family="model",
        aggregation=("per item: over the item's windows; set (the field's number): over all "
                     "items' windows pooled; rows shuffled with seed 2020 and split in "
                     "min(10, max(1, windows // 10)) parts (av-benchmark's 10 once there are "
                     "100 windows); mean and standard deviation over the parts"))


# --- ImageBind, DeSync, CLAP --------------------------------------------------------------------

def _ib_values(inp: MetricInputs) -> np.ndarray:
    _need(inp, "video", "imagebind")
    assert inp.video is not None
    return scores.imagebind_cosines(_model("imagebind"), inp.soundtrack, inp.video)


def _desync_values(inp: MetricInputs) -> np.ndarray:
    _need(inp, "video", "desync")
    assert inp.video is not None
    return scores.desync_offsets(_model("synchformer"), inp.soundtrack, inp.video)


def _clap_values(inp: MetricInputs) -> np.ndarray:
    _need(inp, "text", "clap")
    return scores.clap_cosines(_model("clap"), inp.soundtrack, str(inp.text))


def _per_window(name: str, key: str, values: Callable[[MetricInputs], np.ndarray],
                ) -> tuple[Callable[[MetricInputs], Numbers],
                           Callable[[Sequence[MetricInputs]], Numbers]]:
    def compute(inp: MetricInputs) -> Numbers:
        return {key: _mean(values(inp))}

    def compute_set(items: Sequence[MetricInputs]) -> Numbers:
        parts = [values(it) for it in items]
        return {key: _mean(np.concatenate(parts)) if parts else None}

    return compute, compute_set


_ROWS = {"vggish": "0.96 s VGGish examples (10 per 10 s window)", "panns": "10 s windows",
         "passt": "10 s windows"}

_ALIASES: dict[str, tuple[str, ...]] = {  # researchers' spellings (the name's own are implied)
    "fd-vggish": ("FD_VGG", "FAD", "FAD_VGGish", "VGGish FD", "Fréchet audio distance"),
    "fd-panns": ("FD_PANN", "PANNs FD"),
    "fd-passt": ("PaSST FD",),
    "kl-panns": ("KL_PANN", "KL-PANNS-softmax", "KLD_PANNs", "MKL_PANNs"),
    "kl-passt": ("KL-PASST-softmax", "KLD_PaSST", "MKL_PaSST"),
    "is-panns": ("IS_PANN", "ISc_PANNs", "ISC-PANNS-mean", "inception score PANNs"),
    "is-passt": ("ISc_PaSST", "ISC-PASST-mean", "inception score PaSST"),
    "imagebind": ("IB-score", "IB", "ImageBind score", "ImageBind similarity",
                  "audio-visual alignment"),
    "desync": ("av offset", "audio-visual offset", "av desync", "Synchformer",
               "Synchformer offset", "desynchronisation", "desynchronization"),
    "clap": ("CLAP score", "LAION-CLAP", "LAION-CLAP-Score", "text-audio similarity",
             "text-audio alignment"),
}

_ib_compute, _ib_set = _per_window("imagebind", "ib_score", _ib_values)
_desync_compute, _desync_set = _per_window("desync", "desync_s", _desync_values)
_clap_compute, _clap_set = _per_window("clap", "clap_score", _clap_values)

MODEL_METRICS: tuple[Metric, ...] = (
    _fd("vggish", "fd-vggish", "fd_vggish"),
    _fd("panns", "fd-panns", "fd_panns"),
    _fd("passt", "fd-passt", "fd_passt"),
    _kl("panns", "kl-panns", "kl_panns"),
    _kl("passt", "kl-passt", "kl_passt"),
    _is("panns", "is-panns", "is_panns"),
    _is("passt", "is-passt", "is_passt"),
    Metric("imagebind", "cosine (−1…1)",
           "cosine of ImageBind's video and audio embeddings, per 10 s window",
           _ib_compute, aliases=_ALIASES["imagebind"], needs_picture=True, keys=("ib_score",),
           compute_set=_ib_set, availability=_available("imagebind"), family="model",
           aggregation=("per item: mean over its 10 s windows; set: mean over all items' "
                        "windows")),
    Metric("desync", "s (absolute offset, lower is better)",
           "Synchformer's predicted audio–video offset, first and last 4.8 s of each 10 s "
           "window", _desync_compute, aliases=_ALIASES["desync"], needs_picture=True,
           keys=("desync_s",), compute_set=_desync_set, availability=_available("synchformer"),
           family="model",
           aggregation=("per item: mean |offset| over the first and last 4.8 s of each of its "
                        "10 s windows; set: mean over all items' spans")),
    Metric("clap", "cosine (−1…1)",
           "cosine of LAION-CLAP's audio embedding of each 10 s window and the text's",
           _clap_compute, aliases=_ALIASES["clap"], needs_text=True, keys=("clap_score",),
           compute_set=_clap_set, availability=_available("clap"), family="model",
           aggregation="per item: mean over its 10 s windows; set: mean over all items' windows"),
)

# Names that stand for a family of columns: a plan asking for "FD" wants the paper's three
# FD columns (the LVAS-Agent and MMAudio papers report all three; MMAudio's headline is
# FD_PaSST).
FAMILIES: dict[str, tuple[str, ...]] = {
    "fd": ("fd-vggish", "fd-panns", "fd-passt"),
    "kl": ("kl-panns", "kl-passt"),
    "is": ("is-panns", "is-passt"),
}
_FAMILY_ALIASES: dict[str, tuple[str, ...]] = {
    "fd": ("FD", "Fréchet distance", "FD scores"),
    "kl": ("KL", "KLD", "MKL", "KL divergence", "mean KL", "KL distance"),
    "is": ("IS", "ISc", "inception score", "inception scores"),
}


def key(name: str) -> str:
    """How names are compared: accents, case, spaces, dashes and other punctuation ignored
    (as the weight-free registry compares them)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", name)
                     if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9²]+", "", folded.casefold())


def get_model_metric(name: str) -> Metric | None:
    """The model metric called ``name`` or one of its aliases."""
    wanted = key(name)
    for metric in MODEL_METRICS:
        if wanted in {key(metric.name), *(key(a) for a in metric.aliases)}:
            return metric
    return None


def expand_family(name: str) -> tuple[Metric, ...]:
    """The metrics a name stands for: "FD" → FD over VGGish, PANNs and PaSST, "KL" → KL over
    PANNs and PaSST, "IS" → IS over PANNs and PaSST; any single metric's name or alias → that
    metric; an unknown name → ()."""
    wanted = key(name)
    for family, names in FAMILIES.items():
        if wanted in {key(a) for a in _FAMILY_ALIASES[family]}:
            return tuple(m for n in names for m in MODEL_METRICS if m.name == n)
    metric = get_model_metric(name)
    return (metric,) if metric is not None else ()


def family_names() -> dict[str, tuple[str, ...]]:
    """Each family's aliases (for listings and error messages)."""
    return dict(_FAMILY_ALIASES)
