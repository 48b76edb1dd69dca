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
