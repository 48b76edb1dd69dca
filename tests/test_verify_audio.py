"""Audio checks, retries with new seeds, and CLAP scoring with a tiny offline model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.generation.base import GenerationRequest, GeneratorCapabilities
from lvas.tools.generation.verify import (
    AudioCheck,
    ClapScorer,
    check_audio,
    render_verified,
    retry_seed,
)
from lvas.tools.generation.windowing import derive_seed

SR = 16000


def _write(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    sf.write(path, np.asarray(x, dtype=np.float32), sr, subtype="FLOAT")
    return path


def _noise(seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return level * np.random.default_rng(seed).standard_normal(round(seconds * SR))


# --- check_audio ---------------------------------------------------------------------------------

def test_good_audio_passes(tmp_path):
    check = check_audio(_write(tmp_path / "a.wav", _noise(2.0)), 2.0)
    assert check == AudioCheck(True, (), check.rms_db, check.peak, 2.0, SR)
    assert check.rms_db == pytest.approx(-20.0, abs=0.2)
    assert 0.3 < check.peak < 0.7 and check.usable


def test_silence_is_detected(tmp_path):
    for x in (np.zeros(SR), 1e-4 * _noise(1.0, 1.0)):  # digital silence and -80 dBFS hiss
        check = check_audio(_write(tmp_path / "s.wav", x), 1.0)
        assert check.problems == ("silent",) and not check.ok and check.usable


def test_clipping_is_detected(tmp_path):
    t = np.arange(SR) / SR
    clipped = np.clip(1.5 * np.sin(2 * np.pi * 100 * t), -1.0, 1.0)
    assert check_audio(_write(tmp_path / "c.wav", clipped), 1.0).problems == ("clipped",)
    # A short run (more than CLIP_RUN samples) is enough, even when rare overall.
    x = _noise(1.0)
    x[5000:5010] = 1.0
    assert "clipped" in check_audio(_write(tmp_path / "r.wav", x), 1.0).problems
    # Many isolated full-scale samples (more than 0.1 %) also count.
    x = _noise(1.0)
    x[::500] = -1.0
    assert "clipped" in check_audio(_write(tmp_path / "m.wav", x), 1.0).problems


def test_isolated_full_scale_peaks_are_not_clipping(tmp_path):
    x = _noise(1.0)
    x[100:102] = 0.9995  # a two-sample peak
    x[9000] = -1.0
    check = check_audio(_write(tmp_path / "p.wav", x), 1.0)
    assert check.ok and check.peak == pytest.approx(1.0)


def test_clip_run_across_read_blocks(tmp_path):
    x = _noise(6.0)
    edge = 1 << 16
    x[edge - 3 : edge + 3] = 1.0  # 6 samples, split 3 + 3 by the block boundary
    assert "clipped" in check_audio(_write(tmp_path / "b.wav", x), 6.0).problems


def test_clip_scan_runs_only_where_a_block_reaches_full_scale(tmp_path, monkeypatch):
    """The per-frame clip scan (the costly part of checking an hour-long bed) is skipped for
    blocks whose peak stays under full scale; a clipped run after quiet blocks still counts."""
    import lvas.tools.generation.verify as verify

    scanned: list[int] = []
    real_runs = verify._runs

    def counting_runs(hot, run, longest):
        scanned.append(len(hot))
        return real_runs(hot, run, longest)

    monkeypatch.setattr(verify, "_runs", counting_runs)
    quiet = _noise(30.0, level=0.05)
    assert check_audio(_write(tmp_path / "quiet.wav", quiet), 30.0).ok
    assert scanned == []
    loud = quiet.copy()
    loud[-SR // 2 : -SR // 2 + 10] = 1.0  # a clipped run in the last block only
    check = check_audio(_write(tmp_path / "loud.wav", loud), 30.0)
    assert check.problems == ("clipped",)
    assert len(scanned) == 1


def test_nan_and_inf_are_detected(tmp_path):
    for bad in (np.nan, np.inf):
        x = _noise(1.0)
        x[1234] = bad
        check = check_audio(_write(tmp_path / "n.wav", x), 1.0)
        assert check.problems == ("nan",) and not check.usable
        assert math.isfinite(check.rms_db) and math.isfinite(check.peak)


def test_wrong_length_is_detected(tmp_path):
    path = _write(tmp_path / "l.wav", _noise(2.0))
    assert check_audio(path, 2.04).ok
    assert check_audio(path, 2.2).problems == ("wrong length",)
    assert check_audio(path, 1.9).problems == ("wrong length",)
    assert check_audio(path, 2.2, tolerance=0.25).ok


def test_unreadable_file(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"not audio at all")
    check = check_audio(path, 1.0)
    assert check.problems == ("unreadable",) and not check.usable
    assert check_audio(tmp_path / "missing.wav", 1.0).problems == ("unreadable",)


def test_stereo_and_pcm16(tmp_path):
    x = np.stack([_noise(1.0), np.zeros(SR)], axis=1)
    sf.write(tmp_path / "st.wav", x, SR, subtype="PCM_16")
    check = check_audio(tmp_path / "st.wav", 1.0)
    assert check.ok and check.rms_db == pytest.approx(-23.0, abs=0.3)


# --- render_verified -----------------------------------------------------------------------------

class ScriptedGenerator:
    """A generator whose take for each seed is scripted: 'good', 'silent', 'nan', 'short',
    'clipped' (anything unscripted is good). Records the seeds it was asked for."""

    name = "scripted"
    version = "1"

    def __init__(self, script: dict[int, str] | None = None, default: str = "good",
                 window_seconds: float | None = None) -> None:
        self.capabilities = GeneratorCapabilities(
            video_to_audio=False, text_to_audio=True, sample_rate=SR,
            window_seconds=window_seconds,
        )
        self.script = script or {}
        self.default = default
        self.seeds: list[int] = []
        self.paths: list[Path] = []

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        self.seeds.append(request.seed)
        self.paths.append(Path(out_path))
        kind = self.script.get(request.seed, self.default)
        n = round(request.duration * SR)
        x = _noise(request.duration, seed=request.seed % 1000)
        if kind == "silent":
            x = np.zeros(n)
        elif kind == "nan":
            x[n // 2] = np.nan
        elif kind == "short":
            x = x[: n // 2]
        elif kind == "clipped":
            x = np.clip(20 * x, -1, 1)
        elif kind == "raise":
            raise RuntimeError("device lost")
        _write(Path(out_path), x)
        return Path(out_path)

    def render_batch(self, requests, out_paths):
        return [self.render(r, Path(p)) for r, p in zip(requests, out_paths, strict=True)]


def _req(duration: float = 2.0, seed: int = 11) -> GenerationRequest:
    return GenerationRequest(text="wind in the trees", duration=duration, seed=seed,
                             family="wind")


def _only(tmp_path: Path, *names: str) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_good_first_take_is_kept(tmp_path):
    gen = ScriptedGenerator()
    clip = render_verified(gen, _req(), tmp_path / "out.wav")
    assert clip.ok and clip.attempts == 1 and clip.seeds == (11,) and clip.problems == ()
    assert clip.path == tmp_path / "out.wav" and clip.clap_score is None
    assert gen.seeds == [11]
    _only(tmp_path, "out.wav")


def test_silent_first_seed_is_retried_with_a_new_seed(tmp_path):
    gen = ScriptedGenerator({11: "silent"})
    clip = render_verified(gen, _req(), tmp_path / "out.wav")
    second = retry_seed(11, 1)
    assert second == derive_seed(11, "retry", 1) != 11
    assert gen.seeds == [11, second] and clip.seeds == (11, second) and clip.attempts == 2
    assert clip.ok and len(clip.problems) == 1 and "silent" in clip.problems[0]
    assert check_audio(clip.path, 2.0).ok  # the good take is the one at out_path
    data, _ = sf.read(clip.path)
    np.testing.assert_allclose(data, _noise(2.0, seed=second % 1000), atol=1e-6)
    _only(tmp_path, "out.wav")
    # Deterministic: the same request retries with the same seeds.
    again = ScriptedGenerator({11: "silent"})
    render_verified(again, _req(), tmp_path / "again.wav")
    assert again.seeds == gen.seeds


def test_takes_are_written_to_temporary_names(tmp_path):
    gen = ScriptedGenerator({11: "nan"})
    render_verified(gen, _req(), tmp_path / "out.wav")
    assert all(p != tmp_path / "out.wav" and p.name.startswith(".out.take") for p in gen.paths)
    assert all(p.parent == tmp_path for p in gen.paths)


def test_cap_is_respected_and_last_usable_take_is_kept(tmp_path):
    gen = ScriptedGenerator(default="silent")
    clip = render_verified(gen, _req(), tmp_path / "out.wav", attempts=3)
    assert len(gen.seeds) == 3 == clip.attempts and len(set(gen.seeds)) == 3
    assert not clip.ok and clip.check.problems == ("silent",)
    assert len(clip.problems) == 3 and all("silent" in p for p in clip.problems)
    _only(tmp_path, "out.wav")  # finite and of the right length: kept, with warnings


def test_unusable_takes_raise_and_leave_nothing(tmp_path):
    gen = ScriptedGenerator(default="nan")
    with pytest.raises(RuntimeError, match=r"no usable audio.*nan"):
        render_verified(gen, _req(), tmp_path / "out.wav", attempts=2)
    assert len(gen.seeds) == 2
    _only(tmp_path)
    gen = ScriptedGenerator(default="short")
    with pytest.raises(RuntimeError, match="wrong length"):
        render_verified(gen, _req(), tmp_path / "out.wav", attempts=2)
    _only(tmp_path)


def test_latest_usable_take_wins_over_a_later_broken_one(tmp_path):
    seeds = [retry_seed(11, a) for a in range(3)]
    gen = ScriptedGenerator({seeds[0]: "nan", seeds[1]: "clipped", seeds[2]: "short"})
    clip = render_verified(gen, _req(), tmp_path / "out.wav", attempts=3)
    assert clip.check.problems == ("clipped",) and clip.attempts == 3
    assert [p.split(":")[1].strip() for p in clip.problems] == ["nan", "clipped", "wrong length"]
    _only(tmp_path, "out.wav")


def test_a_bad_take_never_replaces_an_existing_output(tmp_path):
    out = _write(tmp_path / "out.wav", _noise(2.0, seed=5))
    before = out.read_bytes()
    with pytest.raises(RuntimeError):
        render_verified(ScriptedGenerator(default="nan"), _req(), out, attempts=2)
    assert out.read_bytes() == before
    _only(tmp_path, "out.wav")


def test_backend_errors_propagate_without_leftovers(tmp_path):
    gen = ScriptedGenerator({retry_seed(11, 1): "raise"}, default="silent")
    with pytest.raises(RuntimeError, match="device lost"):
        render_verified(gen, _req(), tmp_path / "out.wav")
    _only(tmp_path)


def test_attempts_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="attempts"):
        render_verified(ScriptedGenerator(), _req(), tmp_path / "o.wav", attempts=0)


def test_default_render_windows_long_requests(tmp_path):
    gen = ScriptedGenerator(window_seconds=4.0)
    clip = render_verified(gen, _req(duration=10.0), tmp_path / "out.wav")
    assert clip.ok and sf.info(clip.path).frames == 10 * SR
    assert len(gen.seeds) == 3  # three windows, one take
    _only(tmp_path, "out.wav")


# --- CLAP ----------------------------------------------------------------------------------------

def test_clap_unavailable_without_a_model(monkeypatch, tmp_path):
    monkeypatch.setenv("LVAS_CLAP_MODEL", str(tmp_path))  # read by the run's Context only
    scorer = ClapScorer()
    assert not scorer.available and not ClapScorer("  ").available
    with pytest.raises(RuntimeError, match="LVAS_CLAP_MODEL"):
        scorer.score(tmp_path / "x.wav", "rain")
    clip = render_verified(ScriptedGenerator(), _req(), tmp_path / "out.wav", clap=scorer)
    assert clip.clap_score is None


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory) -> Path:
    """A randomly initialised CLAP a few kB big, with a processor built offline, saved to disk."""
    torch = pytest.importorskip("torch")
    from transformers import (
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        RobertaTokenizerFast,
    )

    root = tmp_path_factory.mktemp("clap")
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for piece in [*letters, *("\u0120" + c for c in letters)]:  # \u0120: byte-level space
        vocab[piece] = len(vocab)
    tok_dir = root / "tokenizer"
    tok_dir.mkdir()
    (tok_dir / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tok_dir / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = RobertaTokenizerFast.from_pretrained(tok_dir)
    config = ClapConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32,
                         max_position_embeddings=80, projection_dim=8),
        # The default feature extractor stacks four mel views ("fusion"), so the audio
        # tower must expect them.
        audio_config=dict(depths=[1, 1], num_attention_heads=[1, 2], patch_embeds_hidden_size=8,
                          hidden_size=16, window_size=8, projection_dim=8, enable_fusion=True,
                          patch_size=8, patch_stride=[8, 8]),
        projection_dim=8,
    )
    torch.manual_seed(0)
    model_dir = root / "model"
    ClapModel(config).save_pretrained(model_dir)
    ClapProcessor(feature_extractor=ClapFeatureExtractor(), tokenizer=tokenizer).save_pretrained(
        model_dir)
    return model_dir


def test_clap_scores_with_a_tiny_model(tiny_clap, tmp_path):
    from lvas.tools.generation import verify

    # 16 kHz input is resampled to the processor's 48 kHz; 14 s is scored in two 10 s pieces.
    path = _write(tmp_path / "a.wav", _noise(14.0))
    scorer = ClapScorer(str(tiny_clap))
    assert scorer.available
    first = scorer.score(path, "rain on a roof")
    assert isinstance(first, float) and math.isfinite(first) and -1.0 <= first <= 1.0
    assert scorer.score(path, "rain on a roof") == first  # same input, same score
    loaded = dict(verify._LOADED)
    assert ClapScorer(str(tiny_clap))._load() is loaded[(str(tiny_clap), "cpu")]  # loaded once
    clip = render_verified(ScriptedGenerator(), _req(), tmp_path / "out.wav", clap=scorer)
    assert clip.ok and math.isfinite(clip.clap_score) and -1.0 <= clip.clap_score <= 1.0


def test_broken_clap_model_does_not_lose_the_render(tmp_path):
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    clip = render_verified(ScriptedGenerator(), _req(), tmp_path / "out.wav",
                           clap=ClapScorer(str(broken)))
    assert clip.ok and clip.clap_score is None and clip.path.exists()
    assert len(clip.problems) == 1 and clip.problems[0].startswith("CLAP scoring failed")
