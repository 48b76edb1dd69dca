"""The diffusers text-to-audio adapter, run end to end on tiny random pipelines (no weights)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("diffusers")
pytest.importorskip("torchsde")

import torch  # noqa: E402

from lvas.tools.common.errors import LVASInputError  # noqa: E402
from lvas.tools.generation import GenerationRequest  # noqa: E402
from lvas.tools.generation import diffusers_backend as db  # noqa: E402
from tests.tiny_diffusers import TINY_RATE, tiny_audioldm2, tiny_stable_audio  # noqa: E402

KINDS = ("stable-audio", "audioldm2")
CHANNELS = {"stable-audio": 2, "audioldm2": 1}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tensors this small only lose to thread start-up, ten times over on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(one_torch_thread: None) -> dict[str, Any]:
    return {"stable-audio": tiny_stable_audio(), "audioldm2": tiny_audioldm2()}


class Recorder:
    """Stands in front of a real pipeline: records each call, optionally fails first."""

    def __init__(self, pipe: Any, fail_with: list[BaseException] | None = None) -> None:
        self.pipe = pipe
        self.calls: list[dict[str, Any]] = []
        self.fail_with = list(fail_with or [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)

    def __call__(self, **kwargs: Any) -> Any:
        call = dict(kwargs)
        call["seeds"] = [g.initial_seed() for g in kwargs["generator"]]
        self.calls.append(call)
        if self.fail_with:
            raise self.fail_with.pop(0)
        return self.pipe(**kwargs)

    def sizes(self) -> list[int]:
        return [len(c["prompt"]) for c in self.calls]


def request(seed: int = 1, duration: float = 1.3, negative: str = "music",
            text: str = "rain on wood") -> GenerationRequest:
    return GenerationRequest(text=text, duration=duration, seed=seed, negative_text=negative)


def generator(kind: str, pipe: Any, **options: Any) -> db.DiffusersTextToAudio:
    return db.DiffusersTextToAudio(kind, pipe=pipe, steps=2, **options)


def read(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(path, dtype="float32", always_2d=False)
    return data, rate


@pytest.mark.parametrize("kind", KINDS)
def test_renders_exact_length_at_the_pipeline_rate(kind: str, tiny: dict, tmp_path: Path) -> None:
    pipe = Recorder(tiny[kind])
    gen = generator(kind, pipe)
    caps = gen.capabilities
    assert (caps.text_to_audio, caps.video_to_audio, caps.sample_rate) == (True, False, TINY_RATE)
    # The tiny Stable Audio DiT spans 2 s, so its window shrinks from 30 s to that.
    assert caps.window_seconds == (2.0 if kind == "stable-audio" else 10.0)

    out = gen.render(request(seed=7, duration=1.3), tmp_path / "clip.wav")

    data, rate = read(out)
    assert rate == TINY_RATE
    assert len(data) == round(1.3 * TINY_RATE)  # the tiny AudioLDM 2 gives 80: padded to 83
    assert (data.ndim == 2 and data.shape[1] == 2) if CHANNELS[kind] == 2 else data.ndim == 1
    assert np.isfinite(data).all() and np.abs(data).max() > 0
    assert sf.info(out).subtype == "FLOAT"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.wav"]  # no temporary left behind
    (call,) = pipe.calls
    assert call["prompt"] == ["rain on wood"] and call["seeds"] == [7]
    assert call["negative_prompt"] == ["music"]
    assert call[db.PIPELINES[kind].length_kwarg] == 1.3
    assert call["num_inference_steps"] == 2 and call["num_waveforms_per_prompt"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_seed_decides_the_audio(kind: str, tiny: dict, tmp_path: Path) -> None:
    gen = generator(kind, tiny[kind])
    batch = gen.render_batch([request(seed=1), request(seed=2)],
                             [tmp_path / "a1.wav", tmp_path / "b2.wav"])
    alone = gen.render(request(seed=1), tmp_path / "c1.wav")
    a1, b2 = read(batch[0])[0], read(batch[1])[0]
    c1 = read(alone)[0]
    scale = np.abs(a1).max()
    # Same seed: the same audio, whether batched with others or alone.
    assert np.abs(a1 - c1).max() < 1e-4 * scale
    # Another seed: other audio.
    assert np.abs(a1 - b2).max() > 0.1 * scale


def test_the_negative_prompt_reaches_the_pipeline(tiny: dict, tmp_path: Path) -> None:
    pipe = Recorder(tiny["stable-audio"])
    gen = generator("stable-audio", pipe)
    music = gen.render(request(negative="music"), tmp_path / "music.wav")
    wind = gen.render(request(negative="wind"), tmp_path / "wind.wav")
    gen.render(request(negative=" "), tmp_path / "none.wav")
    assert [c["negative_prompt"] for c in pipe.calls] == [["music"], ["wind"], None]
    assert not np.allclose(read(music)[0], read(wind)[0], atol=1e-6)


def test_batches_group_equal_durations(tiny: dict, tmp_path: Path) -> None:
    pipe = Recorder(tiny["audioldm2"])
    gen = generator("audioldm2", pipe, max_batch=2)
    reqs = [request(seed=0, duration=1.0), request(seed=1, duration=0.5),
            request(seed=2, duration=1.0), request(seed=3, duration=1.0),
            request(seed=4, duration=0.5), request(seed=5, duration=0.5, negative="")]
    paths = [tmp_path / f"r{i}.wav" for i in range(len(reqs))]

    assert gen.render_batch(reqs, paths) == paths

    got = [(c["audio_length_in_s"], c["seeds"], c["negative_prompt"]) for c in pipe.calls]
    assert got == [
        (1.0, [0, 2], ["music", "music"]),
        (1.0, [3], ["music"]),
        (0.5, [1, 4], ["music", "music"]),
        (0.5, [5], None),  # no negative prompt: its own call, unaffected by its neighbours
    ]
    for req, path in zip(reqs, paths, strict=True):
        assert len(read(path)[0]) == round(req.duration * TINY_RATE)


@pytest.mark.parametrize("error", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
    RuntimeError("CUDA out of memory."),
])
def test_out_of_memory_halves_the_batch(error: Exception, tiny: dict, tmp_path: Path) -> None:
    pipe = Recorder(tiny["audioldm2"], fail_with=[error])
    gen = generator("audioldm2", pipe, max_batch=4)
    reqs = [request(seed=s, duration=0.5) for s in range(4)]
    paths = gen.render_batch(reqs, [tmp_path / f"r{s}.wav" for s in range(4)])

    assert pipe.sizes() == [4, 2, 2]
    assert [c["seeds"] for c in pipe.calls[1:]] == [[0, 1], [2, 3]]
    assert all(len(read(p)[0]) == 32 for p in paths)


def test_out_of_memory_limits(tiny: dict, tmp_path: Path) -> None:
    oom = RuntimeError("CUDA out of memory.")
    pipe = Recorder(tiny["audioldm2"], fail_with=[oom])
    gen = generator("audioldm2", pipe, max_batch=4)
    gen.render_batch([request(seed=s, duration=0.5) for s in range(4)],
                     [tmp_path / f"a{s}.wav" for s in range(4)])
    # The smaller batch is kept: the next call does not hit the wall again.
    pipe.calls.clear()
    gen.render_batch([request(seed=s, duration=0.5) for s in range(3)],
                     [tmp_path / f"b{s}.wav" for s in range(3)])
    assert pipe.sizes() == [2, 1]

    # A single request that does not fit, and any other error, are raised.
    pipe.fail_with = [oom]
    with pytest.raises(RuntimeError, match="out of memory"):
        gen.render(request(), tmp_path / "single.wav")
    pipe.fail_with = [ValueError("bad prompt")]
    gen._batch_limit = 4
    with pytest.raises(ValueError, match="bad prompt"):
        gen.render_batch([request(seed=1), request(seed=2)], [tmp_path / "x", tmp_path / "y"])
    assert pipe.sizes()[-1] == 2  # not retried smaller
    assert not (tmp_path / "single.wav").exists() and not (tmp_path / "x").exists()


def test_pipeline_is_loaded_lazily_and_once(tiny: dict, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import diffusers

    loads: list[tuple[str, Any]] = []

    def from_pretrained(model: str, torch_dtype: Any = None) -> Any:
        loads.append((model, torch_dtype))
        return tiny["stable-audio"]

    monkeypatch.setattr(diffusers.StableAudioPipeline, "from_pretrained", from_pretrained)
    db.clear_pipeline_cache()
    try:
        first = db.stable_audio(sample_rate=48000, model="tiny/model", device="cpu", steps=2)
        second = db.stable_audio(sample_rate=48000, model="tiny/model", device="cpu", steps=2)
        # Capabilities before any render: the default model's rate, nothing loaded yet.
        assert first.capabilities.sample_rate == 44100 and first.capabilities.device == "cpu"
        assert loads == []
        first.render(request(seed=1), tmp_path / "a.wav")
        second.render(request(seed=2), tmp_path / "b.wav")
        assert loads == [("tiny/model", torch.float32)]
        assert first.pipeline() is second.pipeline()
        assert second.capabilities.sample_rate == TINY_RATE
    finally:
        db.clear_pipeline_cache()


def test_audioldm2_with_a_bare_gpt2_language_model_still_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import diffusers
    from transformers import GPT2Model

    pipe = tiny_audioldm2()
    reference = generator("audioldm2", pipe).render(request(seed=3), tmp_path / "head.wav")
    bare = GPT2Model(pipe.language_model.config).eval()  # what some checkpoints store
    bare.load_state_dict(pipe.language_model.transformer.state_dict())
    pipe.language_model = bare
    monkeypatch.setattr(diffusers.AudioLDM2Pipeline, "from_pretrained",
                        lambda model, torch_dtype=None: pipe)
    db.clear_pipeline_cache()
    try:
        gen = db.audioldm2(model="tiny/audioldm2", device="cpu", steps=2)
        out = gen.render(request(seed=3), tmp_path / "bare.wav")
        assert type(gen.pipeline().language_model).__name__ == "GPT2LMHeadModel"
        assert gen.pipeline().language_model.transformer is bare
        np.testing.assert_array_equal(read(out)[0], read(reference)[0])
    finally:
        db.clear_pipeline_cache()


def test_importing_the_backend_loads_no_model_library() -> None:
    code = ("import sys, lvas.tools.generation.diffusers_backend as d; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_loads_a_saved_pipeline_folder_once(tiny: dict, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import diffusers

    folder = tmp_path / "tiny-audioldm2"
    tiny["audioldm2"].save_pretrained(folder)
    real_from_pretrained = diffusers.AudioLDM2Pipeline.from_pretrained
    loads: list[str] = []

    def counting(model: str, **kwargs: Any) -> Any:
        loads.append(model)
        return real_from_pretrained(model, **kwargs)

    monkeypatch.setattr(diffusers.AudioLDM2Pipeline, "from_pretrained", counting)
    db.clear_pipeline_cache()
    try:
        first = db.audioldm2(model=str(folder), device="cpu", steps=2)
        second = db.audioldm2(model=str(folder), device="cpu", steps=2)
        assert first.capabilities.sample_rate == TINY_RATE  # read from vocoder/config.json
        assert loads == []
        loaded = first.render(request(seed=5), tmp_path / "loaded.wav")
        second.render(request(seed=6), tmp_path / "again.wav")
        assert loads == [str(folder)] and first.pipeline() is second.pipeline()
        injected = generator("audioldm2", tiny["audioldm2"]).render(request(seed=5),
                                                                    tmp_path / "injected.wav")
        np.testing.assert_allclose(read(loaded)[0], read(injected)[0], atol=1e-7)
    finally:
        db.clear_pipeline_cache()
    # A hub id that is not in the local cache: the default model's rate, no download.
    assert db.audioldm2(model="nobody/nothing", device="cpu").capabilities.sample_rate == 16000


def test_settings_defaults_and_validation(tiny: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = db.DiffusersTextToAudio("audioldm2", pipe=tiny["audioldm2"])
    assert (gen.name, gen.steps, gen.guidance_scale) == ("audioldm2", 200, 3.5)
    sa = db.DiffusersTextToAudio("stable-audio", model="x/y", device="cpu", steps=8,
                                 guidance_scale=5)
    assert (sa.steps, sa.guidance_scale, sa.dtype, sa.capabilities.max_batch) == (8, 5.0,
                                                                                  "float32", 4)
    assert sa.version != db.DiffusersTextToAudio("stable-audio", model="x/y", steps=9).version
    assert db.DiffusersTextToAudio("stable-audio", device="cuda").dtype == "float16"
    assert db.DiffusersTextToAudio("stable-audio", device="cuda:1").device == "cuda:1"
    monkeypatch.setenv("LVAS_DEVICE", "cuda:1")  # read by the run's Context, not the backend
    monkeypatch.setattr(db, "cuda_available", lambda: False)
    assert db.DiffusersTextToAudio("stable-audio").device == "cpu"
    assert db.DiffusersTextToAudio("stable-audio", device="auto").device == "cpu"
    for bad in ({"pipeline": "musicgen"}, {"dtype": "int8"}, {"max_batch": 0}, {"steps": -1}):
        with pytest.raises(LVASInputError):
            db.DiffusersTextToAudio(**bad)


def test_requests_the_model_cannot_render_are_refused(tiny: dict, tmp_path: Path) -> None:
    gen = generator("stable-audio", Recorder(tiny["stable-audio"]))
    with pytest.raises(ValueError, match="longer than"):
        gen.render(request(duration=2.5), tmp_path / "long.wav")  # the tiny DiT spans 2 s
    with pytest.raises(ValueError, match="positive"):
        gen.render(request(duration=0.0), tmp_path / "empty.wav")
    with pytest.raises(ValueError, match="one output path"):
        gen.render_batch([request()], [])


def test_fit_trims_pads_and_lays_out_channels() -> None:
    stereo = np.arange(10, dtype=np.float32).reshape(2, 5)
    assert db._fit(stereo, 3).tolist() == [[0, 5], [1, 6], [2, 7]]
    assert db._fit(stereo, 6)[-1].tolist() == [0, 0] and db._fit(stereo, 6).shape == (6, 2)
    mono = np.ones(4, dtype=np.float32)
    assert db._fit(mono, 6).tolist() == [1, 1, 1, 1, 0, 0]
    assert db._fit(mono[None, :], 2).shape == (2,)


def test_weights_are_found_locally_or_said_missing(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    assert db.weights_status("stable-audio", str(tmp_path)) == (True, f"weights in {tmp_path}")
    monkeypatch.setattr(db, "_hub_reachable", lambda: False)
    ok, reason = db.weights_status("stable-audio", "some-org/not-downloaded-model")
    assert not ok and "weights missing" in reason and "huggingface-cli download" in reason
    ok, reason = db.stable_audio_available("some-org/not-downloaded-model")
    assert not ok and "weights missing" in reason  # what doctor and the probe say
    monkeypatch.setattr(db, "_hub_reachable", lambda: True)
    ok, reason = db.stable_audio_available("some-org/not-downloaded-model")
    assert ok and "fetched from the Hugging Face hub on first use" in reason


def test_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "weights_status", lambda pipeline, model="": (True, "weights here"))
    ok, reason = db.stable_audio_available()
    assert ok and "diffusers" in reason
    monkeypatch.setattr(db, "cuda_available", lambda: False)
    ok, reason = db.audioldm2_auto_available()
    assert not ok and "CUDA" in reason
    assert db.audioldm2_available()[0]  # chosen by name it still runs on the CPU
    ok, reason = db.stable_audio_auto_available("cpu")  # asked for on purpose: auto may take it
    assert ok and "CPU" in reason
    assert not db.stable_audio_auto_available("cuda")[0]
    monkeypatch.setattr(db, "cuda_available", lambda: True)
    assert db.stable_audio_auto_available("cuda")[0]
    assert db.stable_audio_auto_available()[0]

    real_find_spec = db.importlib.util.find_spec
    monkeypatch.setattr(db.importlib.util, "find_spec",
                        lambda name: None if name == "torchsde" else real_find_spec(name))
    ok, reason = db.stable_audio_available()
    assert not ok and "torchsde" in reason
    assert db.audioldm2_available()[0]
    with pytest.raises(LVASInputError):
        db.diffusers_available("musicgen")
