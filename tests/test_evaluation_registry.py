"""The metric registry finds metrics by name and alias, and every registered metric runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.evaluation.registry import METRICS, MetricInputs, _key, get_metric


def test_names_and_aliases_are_unique_and_found() -> None:
    keys = [_key(n) for m in METRICS for n in (m.name, *m.aliases)]
    assert len(keys) == len(set(keys))
    assert get_metric("AV-Sync") is get_metric("onset sync") is get_metric("sync")
    assert get_metric("FAD-free") is get_metric("fd-logmel")
    assert get_metric("Loudness Range") is get_metric("LUFS")
    assert get_metric("FID") is None


def test_every_registered_metric_computes_its_keys(tmp_path: Path) -> None:
    sr = 16000
    rng = np.random.default_rng(0)
    audio = 0.05 * rng.standard_normal(12 * sr)
    motion = np.full(12 * 25, 0.01, dtype=np.float32)
    for t in (1.0, 3.2, 5.0, 7.4, 9.1):
        audio[int(t * sr):int(t * sr) + 400] += 0.5
        motion[int(t * 25):int(t * 25) + 6] += 1.0
    track = tmp_path / "soundtrack.wav"
    sf.write(track, audio, sr, subtype="FLOAT")
    run = tmp_path / "out.lvas"
    run.mkdir()
    (run / "plan.json").write_text(json.dumps({"video_info": {"duration": 12.0}}),
                                   encoding="utf-8")
    inputs = MetricInputs(soundtrack=track, reference=[track], motion=motion,
                          scenes=[(0.0, 6.0), (6.0, 12.0)], run_dir=run,
                          summary={"seconds": 6.0})
    for metric in METRICS:
        values = metric.compute(inputs)
        assert set(values) == set(metric.keys), metric.name
    assert get_metric("fd-logmel").compute(inputs)["fd_logmel"] == pytest.approx(0.0, abs=1e-6)
    bare = MetricInputs(soundtrack=track)
    for metric in METRICS:
        if metric.needs_reference or metric.needs_video or metric.needs_run:
            with pytest.raises(ValueError):
                metric.compute(bare)


# --- the names researchers write ---------------------------------------------------------------

def _names(metrics) -> list[str]:
    return [m.name for m in metrics]


def test_every_name_and_alias_leads_to_one_metric_across_families() -> None:
    from lvas.tools.evaluation.registry import ALL_METRICS, COMPOSITES, FAMILIES, NOT_APPLICABLE

    metric_keys = [_key(n) for m in ALL_METRICS for n in (m.name, *m.aliases)]
    assert len(metric_keys) == len(set(metric_keys))
    words = {_key(w) for ws in FAMILIES.values() for w in ws}
    words |= {_key(a) for _, aliases, _ in COMPOSITES.values() for a in aliases}
    # a family, a composite or an inapplicable name never shadows a metric's own name
    assert not words & set(metric_keys)
    assert not set(NOT_APPLICABLE) & (words | set(metric_keys))


def test_families_composites_and_duplicates() -> None:
    from lvas.tools.evaluation.registry import MODEL_METRICS, resolve_metric_names

    fd = resolve_metric_names(["FD"]).found
    assert _names(fd)[0] == "fd-logmel"  # runs without weights
    assert set(_names(fd)) == {"fd-logmel"} | {m.name for m in MODEL_METRICS
                                               if m.name.startswith("fd-")}
    assert resolve_metric_names(["Fréchet distance"]).found == fd
    assert _names(resolve_metric_names(["coherence"]).found) == ["seams", "sync"]
    resolved = resolve_metric_names(["sync", " Temporal Coherence ", "AV-sync", "", "lufs"])
    assert _names(resolved.found) == ["sync", "seams", "loudness"]
    assert not resolved.not_applicable and not resolved.unknown
    found, not_applicable, unknown = resolve_metric_names(["dropouts"])  # unpacks as a triple
    assert _names(found) == ["dropouts"] and not not_applicable and not unknown


def test_the_papers_columns_resolve_when_the_model_metrics_are_registered() -> None:
    from lvas.tools.evaluation.registry import MODEL_METRICS, resolve_metric_names

    registered = {m.name for m in MODEL_METRICS}
    expected = {"FD_VGG": "fd-vggish", "FD_PANN": "fd-panns", "FD_PaSST": "fd-passt",
                "KL_PANNs": "kl-panns", "KL_PaSST": "kl-passt", "IS_PANNs": "is-panns",
                "IS_PaSST": "is-passt", "IB-score": "imagebind", "DeSync": "desync",
                "CLAP": "clap", "FAD": "fd-vggish"}
    for column, name in expected.items():
        resolved = resolve_metric_names([column])
        if name in registered:
            assert _names(resolved.found) == [name], column
        else:
            assert column in resolved.unknown, column
    kl = resolve_metric_names(["KL"])
    assert set(_names(kl.found)) == {n for n in registered if n.startswith("kl-")}


def test_other_fields_metrics_are_not_applicable_with_a_reason() -> None:
    from lvas.tools.evaluation.registry import resolve_metric_names

    names = ["FID", "FVD", "WER", "CER", "LSE-C", "LSE-D", "PESQ", "STOI", "MOS", "BLEU",
             "CIDEr", "Fréchet Inception Distance", "clip score"]
    resolved = resolve_metric_names([*names, "sync"])
    assert set(resolved.not_applicable) == set(names)
    assert all(len(why) > 20 and "\n" not in why for why in resolved.not_applicable.values())
    assert "image" in resolved.not_applicable["FID"]
    assert "lip" in resolved.not_applicable["LSE-C"].lower()
    assert _names(resolved.found) == ["sync"] and not resolved.unknown


def test_unknown_names_get_the_nearest_known_ones() -> None:
    from lvas.tools.evaluation.registry import resolve_metric_names

    resolved = resolve_metric_names(["loudnes", "seamz", "dropout rate", "xyzzy"])
    assert not resolved.found and not resolved.not_applicable
    assert resolved.unknown["loudnes"][0] == "loudness"
    assert resolved.unknown["seamz"][0] == "seams"
    assert "dropouts" in resolved.unknown["dropout rate"]
    assert resolved.unknown["xyzzy"] == []


def test_listing_says_what_runs_here() -> None:
    from lvas.tools.evaluation.registry import ALL_METRICS, metric_listing

    listing = metric_listing()
    assert [m["name"] for m in listing] == [m.name for m in ALL_METRICS]
    for entry, metric in zip(listing, ALL_METRICS, strict=True):
        reason = metric.availability()
        assert entry["runs_here"] == (reason is None)
        assert entry["status"] == (reason or "ok")
        assert entry["inputs"][0] == "soundtrack" and entry["unit"] and entry["aggregation"]
    weight_free = [m for m in listing if m["family"] == "weight-free"]
    assert weight_free and all(m["runs_here"] for m in weight_free)
