"""MMAudio for real: weights fetched by MMAudio's own downloader, rendered on a CUDA GPU.

Off by default; run on a GPU machine with the ``mmaudio`` extra installed:
``pytest -m gpu tests/test_gpu_mmaudio.py``. The first run downloads several GB of weights
into ``$LVAS_MMAUDIO_WEIGHTS`` (default ``~/.cache/lvas/mmaudio``) and the Hugging Face cache;
``LVAS_MMAUDIO_TEST_VARIANT`` picks the variant (default: the paper's ``large_44k_v2``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.graph.context import Context
from lvas.tools.generation import mmaudio_backend as mb
from lvas.tools.generation.base import GenerationRequest
from lvas.tools.generation.options import generator_options

STANDIN = Path(__file__).parent / "mmaudio_standin"


def _real_mmaudio() -> bool:
    spec = importlib.util.find_spec("mmaudio")
    if spec is None or spec.origin is None:
        return False
    return STANDIN.resolve() not in Path(spec.origin).resolve().parents


def _cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return torch.cuda.is_available()


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(not _real_mmaudio(), reason="needs MMAudio (pip install -e '.[mmaudio]')"),
]


def _check(path: Path, duration: float, rate: int) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float32")
    assert sr == rate
    assert audio.shape == (round(duration * rate),)
    assert np.all(np.isfinite(audio))
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert rms > 1e-3, f"{path.name} is silent (rms {rms:.2e})"
    assert np.abs(audio).max() < 4.0
    return audio


def test_mmaudio_renders_text_and_video_on_the_gpu(cut_video: Path, tmp_path: Path) -> None:
    mb.clear_model_cache()
    variant = os.environ.get("LVAS_MMAUDIO_TEST_VARIANT", mb.DEFAULT_VARIANT)
    # The weights folder comes from the run's context (LVAS_MMAUDIO_WEIGHTS fills its default).
    options = generator_options(Context(), "mmaudio")
    gen = mb.MMAudioGenerator(variant=variant, device="cuda",
                              weights_dir=options.get("weights_dir"))
    rate = gen.capabilities.sample_rate
    assert rate == mb.SAMPLE_RATES[variant]

    text = GenerationRequest(text="heavy rain on a tin roof", duration=4.0, seed=1)
    _check(gen.render(text, tmp_path / "rain.wav"), 4.0, rate)

    video = GenerationRequest(text="a car passes on a wet street", duration=6.0, seed=2,
                              video_path=str(cut_video), video_span=(2.0, 8.0))
    _check(gen.render(video, tmp_path / "car.wav"), 6.0, rate)

    # A batch of two (one generate call) with an odd length; the same network is reused.
    pair = [text.with_seed(3), GenerationRequest(text="birds singing", duration=2.7, seed=4)]
    paths = gen.render_batch(pair, [tmp_path / "a.wav", tmp_path / "b.wav"])
    a = _check(paths[0], 4.0, rate)
    b = _check(paths[1], 2.7, rate)
    assert not np.allclose(a[: len(b)], b)
    assert len(mb._MODELS) == 1
    mb.clear_model_cache()
