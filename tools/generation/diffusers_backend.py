"""Text-to-audio with Hugging Face diffusers: Stable Audio Open and AudioLDM 2.

One adapter serves both pipelines; a small table (:data:`PIPELINES`) holds what differs
(class, default model, steps, guidance, window, how the length is passed). The pipeline is
loaded lazily on the first render and kept in a process-wide cache, so every generator
instance, node and thread of a run shares one copy of the weights on the device. Nothing heavy
(torch, diffusers, transformers) is imported with this module.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from lvas.tools.audio.audio_io import write_wav
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.gpu import cuda_available
from lvas.tools.generation.base import GenerationRequest, GeneratorCapabilities
from lvas.tools.generation.batching import group_indices, run_in_batches

VERSION = "1"


@dataclass(frozen=True)
class PipelineSpec:
    """What differs between the supported diffusers pipelines."""

    class_name: str
    default_model: str
    default_steps: int  # the pipeline's own default
    default_guidance: float  # the pipeline's own default
    default_window: float  # seconds rendered well in one call
    fallback_rate: int  # native rate of the default model, until the pipeline is loaded
    length_kwarg: str  # the __call__ argument that takes the length in seconds
    packages: tuple[str, ...]  # import names needed to run it


PIPELINES: dict[str, PipelineSpec] = {
    # 44.1 kHz stereo; the DiT sees 47.55 s at most and always denoises the whole span, but
    # shorter windows sound better, so windows default to 30 s (cost is the same per call).
    "stable-audio": PipelineSpec(
        class_name="StableAudioPipeline",
        default_model="stabilityai/stable-audio-open-1.0",
        default_steps=100,
        default_guidance=7.0,
        default_window=30.0,
        fallback_rate=44100,
        length_kwarg="audio_end_in_s",
        packages=("torch", "diffusers", "transformers", "torchsde"),
    ),
    # 16 kHz mono; trained on 10.24 s clips (longer renders, but drifts).
    "audioldm2": PipelineSpec(
        class_name="AudioLDM2Pipeline",
        default_model="cvssp/audioldm2",
        default_steps=200,
        default_guidance=3.5,
        default_window=10.0,
        fallback_rate=16000,
        length_kwarg="audio_length_in_s",
        packages=("torch", "diffusers", "transformers"),
    ),
}

_DTYPES = {"float16": "float16", "fp16": "float16", "half": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16",
           "float32": "float32", "fp32": "float32", "float": "float32"}


# --------------------------------------------------------------------------- availability


def diffusers_available(pipeline: str = "stable-audio", *, for_auto: bool = False,
                        device: str = "") -> tuple[bool, str]:
    """Whether ``pipeline`` can run here; ``for_auto`` also asks for a device fit for it.

    Without a GPU a real model takes many minutes per clip, so for ``auto`` it counts only
    with CUDA, or when ``device`` (the run's setting: cpu, mps) asks for another device on
    purpose, as MMAudio does. Otherwise only the packages are checked (import specs, nothing
    imported), so naming the backend runs it anywhere and ``lvas doctor`` stays fast.
    """
    spec = _spec(pipeline)
    missing = [name for name in spec.packages if importlib.util.find_spec(name) is None]
    if missing:
        return False, (f"missing Python packages {', '.join(missing)}; install the 'diffusers' "
                       "extra (pip install 'lvas[diffusers]')")
    found = f"diffusers {_installed_version('diffusers')}, {spec.class_name}"
    if not for_auto:
        return True, found
    requested = device.strip().lower()
    if requested in ("", "auto") or requested.startswith("cuda"):
        if cuda_available():
            return True, f"{found} on CUDA"
        return False, ("no CUDA GPU; diffusers text-to-audio on the CPU takes minutes per clip "
                       f"(choose '{pipeline}' by name or set the device to cpu, --device cpu "
                       "or LVAS_DEVICE=cpu, to use it anyway)")
    if requested == "cpu":
        return True, f"{found} on the CPU (device cpu): works, but slow"
    if requested == "mps":
        import torch

        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return True, f"{found} on Apple MPS (device mps)"
        return False, "device mps asked for, but torch sees no MPS device"
    return False, f"device {requested} is not one diffusers can use (cuda, cpu, mps)"


@cache
def _installed_version(package: str) -> str:
    """The package's version, read once per process: ``auto`` asks for every clip of a run,
    and reading the metadata cost more than some clips' synthesis."""
    from importlib.metadata import version

    return version(package)


@cache
def _hub_reachable() -> bool:
    """Whether the Hugging Face hub answers at all (2 s), asked only when weights are missing:
    an offline machine learns at once, not after the model starts loading."""
    import socket

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:  # the hub library's own reading of HF_HUB_OFFLINE
        return False

    try:
        with socket.create_connection(("huggingface.co", 443), timeout=2.0):
            return True
    except OSError:
        return False


def weights_status(pipeline: str, model: str = "") -> tuple[bool, str]:
    """Whether ``model`` (default: the pipeline's) is on this machine, or can be fetched."""
    name = model or _spec(pipeline).default_model
    if Path(name).expanduser().is_dir():
        return True, f"weights in {name}"
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "model_index.json"), str):
        return True, f"weights of {name} in the Hugging Face cache"
    if _hub_reachable():
        return True, f"weights of {name} are fetched from the Hugging Face hub on first use"
    return False, (f"weights missing: {name} is not in the Hugging Face cache and the hub cannot "
                   f"be reached; download it where it can (huggingface-cli download {name}) or "
                   "give a local model folder (--generator-model)")


def _with_weights(pipeline: str, status: tuple[bool, str], model: str) -> tuple[bool, str]:
    if not status[0]:
        return status
    ok, weights = weights_status(pipeline, model)
    return (True, f"{status[1]}; {weights}") if ok else (False, weights)


def stable_audio_available(model: str = "") -> tuple[bool, str]:
    """Registry check for an explicit ``stable-audio`` choice (any device)."""
    return _with_weights("stable-audio", diffusers_available("stable-audio"), model)


def audioldm2_available(model: str = "") -> tuple[bool, str]:
    """Registry check for an explicit ``audioldm2`` choice (any device)."""
    return _with_weights("audioldm2", diffusers_available("audioldm2"), model)


def stable_audio_auto_available(device: str = "", model: str = "") -> tuple[bool, str]:
    """Registry check for ``auto``: ``stable-audio`` only on CUDA or a device asked for."""
    return _with_weights("stable-audio", diffusers_available("stable-audio", for_auto=True,
                                                             device=device), model)


def audioldm2_auto_available(device: str = "", model: str = "") -> tuple[bool, str]:
    """Registry check for ``auto``: ``audioldm2`` only on CUDA or a device asked for."""
    return _with_weights("audioldm2", diffusers_available("audioldm2", for_auto=True,
                                                          device=device), model)


# --------------------------------------------------------------------------- pipeline cache


_CACHE: dict[tuple[str, str, str, str], tuple[Any, threading.Lock]] = {}
_CACHE_LOCK = threading.Lock()


def clear_pipeline_cache() -> None:
    """Drop every loaded pipeline (frees device memory once no generator holds one)."""
    with _CACHE_LOCK:
        _CACHE.clear()
    gc.collect()


def _load_pipeline(kind: str, model: str, device: str, dtype: str) -> tuple[Any, threading.Lock]:
    """The pipeline for these settings, loaded at most once per process.

    The lock that comes with it serializes calls: a pipeline's scheduler keeps state between
    steps, so two threads must never denoise through the same object at once.
    """
    key = (kind, model, device, dtype)
    with _CACHE_LOCK:
        if key not in _CACHE:
            import diffusers
            import torch

            cls = getattr(diffusers, PIPELINES[kind].class_name)
            try:
                pipe = cls.from_pretrained(model, torch_dtype=getattr(torch, dtype))
            except (OSError, ValueError) as exc:
                raise LVASInputError(
                    f"Could not load the {kind} model {model!r}: {exc}. Give a local model "
                    "folder or a Hugging Face id that is downloaded or downloadable (gated "
                    "models such as Stable Audio Open need 'hf auth login' and an accepted "
                    "licence), or choose another generator backend."
                ) from exc
            if kind == "audioldm2":
                _ensure_generation_head(pipe)
            pipe = pipe.to(device)
            pipe.set_progress_bar_config(disable=True)
            _CACHE[key] = (pipe, threading.Lock())
        return _CACHE[key]


# --------------------------------------------------------------------------- the generator


class DiffusersTextToAudio:
    """A text-to-audio generator on a diffusers pipeline (``stable-audio`` or ``audioldm2``).

    ``steps``/``guidance_scale`` of 0 mean the pipeline's default; ``device`` (the run's
    ``Context.device``) empty means CUDA when present, else CPU; ``dtype`` empty means float16
    on CUDA and float32 elsewhere. ``pipe`` injects a ready pipeline object (tests, notebooks)
    instead of loading ``model``. ``sample_rate`` (the run's rate) is accepted and ignored: WAVs
    are written at the pipeline's native rate and the mixer resamples.
    """

    def __init__(
        self,
        pipeline: str = "stable-audio",
        *,
        model: str = "",
        steps: int = 0,
        guidance_scale: float = 0.0,
        device: str = "",
        dtype: str = "",
        max_batch: int = 4,
        window_seconds: float = 0.0,
        pipe: Any = None,
        sample_rate: int | None = None,
    ) -> None:
        self._spec = _spec(pipeline)
        if steps < 0 or guidance_scale < 0 or window_seconds < 0:
            raise LVASInputError("steps, guidance_scale and window_seconds must be >= 0 "
                                 "(0 means the backend's default).")
        if max_batch < 1:
            raise LVASInputError(f"max_batch must be at least 1, got {max_batch}.")
        if dtype and dtype.lower() not in _DTYPES:
            raise LVASInputError(f"Unknown dtype {dtype!r}; use float16, bfloat16 or float32.")
        self.name = pipeline
        self.kind = pipeline
        self.model = model or ("injected" if pipe is not None else self._spec.default_model)
        self.steps = int(steps) or self._spec.default_steps
        self.guidance_scale = float(guidance_scale) or self._spec.default_guidance
        self.max_batch = int(max_batch)
        self._window = float(window_seconds) or self._spec.default_window
        self._device = device.strip().lower()
        if self._device == "auto":
            self._device = ""
        self._dtype = _DTYPES[dtype.lower()] if dtype else ""
        self._pipe = pipe
        # An injected pipeline gets its own lock; a loaded one shares the cache's lock.
        self._lock = threading.Lock()
        self._batch_limit = self.max_batch  # lowered for good after an out-of-memory error
        # Part of every clip's cache name: a change of model or sampling renders anew.
        self.version = f"{VERSION}:{self.model}:{self.steps}:{self.guidance_scale:g}"

    # -- settings ---------------------------------------------------------------------------

    @property
    def device(self) -> str:
        if self._pipe is not None:
            return str(getattr(self._pipe, "device", "cpu"))
        if not self._device:
            self._device = "cuda" if cuda_available() else "cpu"
        return self._device

    @property
    def dtype(self) -> str:
        if not self._dtype:
            self._dtype = "float16" if self.device.startswith("cuda") else "float32"
        return self._dtype

    @property
    def capabilities(self) -> GeneratorCapabilities:
        window = self._window
        if self._pipe is not None and self.kind == "stable-audio":
            window = min(window, _stable_audio_max_seconds(self._pipe))
        return GeneratorCapabilities(
            video_to_audio=False,
            text_to_audio=True,
            sample_rate=self.sample_rate,
            window_seconds=window,
            max_batch=self.max_batch,
            device=self.device,
        )

    @property
    def sample_rate(self) -> int:
        """The pipeline's rate once loaded; before that, read from the model's config files."""
        if self._pipe is not None:
            return _pipeline_rate(self.kind, self._pipe)
        return _peek_rate(self.kind, self.model) or self._spec.fallback_rate

    def pipeline(self) -> Any:
        """The diffusers pipeline, loaded (once per process) on first use."""
        if self._pipe is None:
            self._pipe, self._lock = _load_pipeline(self.kind, self.model, self.device,
                                                    self.dtype)
        return self._pipe

    # -- rendering --------------------------------------------------------------------------

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        return self.render_batch([request], [out_path])[0]

    def render_batch(
        self, requests: Sequence[GenerationRequest], out_paths: Sequence[Path]
    ) -> list[Path]:
        """Render requests in pipeline calls of equal duration, up to ``max_batch`` each.

        A batch that runs out of device memory is retried at half the size (and the smaller
        size is kept); a single request that does not fit raises.
        """
        if len(requests) != len(out_paths):
            raise ValueError("render_batch needs one output path per request")
        for request in requests:
            if not request.duration > 0:
                raise ValueError(f"duration must be positive, got {request.duration}")
        pipe = self.pipeline()
        if self.kind == "stable-audio":
            longest = _stable_audio_max_seconds(pipe)
            too_long = [r.duration for r in requests if r.duration > longest]
            if too_long:
                raise ValueError(
                    f"{max(too_long):.2f} s is longer than this Stable Audio model renders "
                    f"({longest:.2f} s); split requests into windows first."
                )
        groups = group_indices(
            requests, lambda r: (float(r.duration), bool(r.negative_text.strip())))

        def render_chunk(_: object, chunk: list[int]) -> None:
            audios = self._call(pipe, [requests[i] for i in chunk])
            rate = _pipeline_rate(self.kind, pipe)
            for i, audio in zip(chunk, audios, strict=True):
                frames = round(requests[i].duration * rate)
                write_wav(out_paths[i], _fit(audio, frames), rate, subtype="FLOAT")

        self._batch_limit = run_in_batches(groups, self._batch_limit, render_chunk)
        return [Path(p) for p in out_paths]

    def _call(self, pipe: Any, requests: list[GenerationRequest]) -> list[np.ndarray]:
        """One pipeline call: a prompt, a negative prompt and a seeded generator per request."""
        import torch

        duration = float(requests[0].duration)
        negatives = [r.negative_text.strip() for r in requests]
        # CPU generators: the same seed gives the same starting noise on any device.
        generators = [torch.Generator("cpu").manual_seed(int(r.seed) % 2**63) for r in requests]
        kwargs: dict[str, Any] = {
            "prompt": [r.text for r in requests],
            "negative_prompt": negatives if any(negatives) else None,
            self._spec.length_kwarg: duration,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "num_waveforms_per_prompt": 1,
            "generator": generators,
            "output_type": "np",
        }
        with self._lock, warnings.catch_warnings():
            # torchsde warns about float rounding at the ends of its Brownian interval.
            warnings.filterwarnings("ignore", message="Should have t", category=UserWarning)
            output = pipe(**kwargs)
        audios = np.asarray(output.audios, dtype=np.float32)
        if len(audios) != len(requests):
            raise RuntimeError(f"{self.kind} returned {len(audios)} clips for "
                               f"{len(requests)} prompts")
        return list(audios)


def stable_audio(sample_rate: int | None = None, **options: Any) -> DiffusersTextToAudio:
    """Registry factory for the ``stable-audio`` backend."""
    return DiffusersTextToAudio("stable-audio", sample_rate=sample_rate, **options)


def audioldm2(sample_rate: int | None = None, **options: Any) -> DiffusersTextToAudio:
    """Registry factory for the ``audioldm2`` backend."""
    return DiffusersTextToAudio("audioldm2", sample_rate=sample_rate, **options)


# --------------------------------------------------------------------------- helpers


def _spec(kind: str) -> PipelineSpec:
    if kind not in PIPELINES:
        raise LVASInputError(
            f"Unknown diffusers pipeline {kind!r}; choose one of: {', '.join(PIPELINES)}."
        )
    return PIPELINES[kind]


def _pipeline_rate(kind: str, pipe: Any) -> int:
    if kind == "stable-audio":
        return int(pipe.vae.config.sampling_rate)
    return int(pipe.vocoder.config.sampling_rate)


def _stable_audio_max_seconds(pipe: Any) -> float:
    """Longest clip the DiT's latent span decodes to (47.55 s for Stable Audio Open 1.0)."""
    span = pipe.transformer.config.sample_size * pipe.vae.hop_length
    return float(span / pipe.vae.config.sampling_rate)


def _peek_rate(kind: str, model: str) -> int | None:
    """The native rate from the model's config file, local folder or hub cache, no download."""
    name = "vae/config.json" if kind == "stable-audio" else "vocoder/config.json"
    local = Path(model) / name
    path: Path | None = local if local.is_file() else None
    if path is None:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model, name)
            path = Path(cached) if isinstance(cached, str) else None
        except Exception:  # noqa: BLE001 - not a hub id, or no hub client: use the fallback
            path = None
    if path is None:
        return None
    try:
        rate = json.loads(path.read_text(encoding="utf-8")).get("sampling_rate")
    except (OSError, ValueError):
        return None
    return int(rate) if rate else None


def _ensure_generation_head(pipe: Any) -> None:
    """Give AudioLDM 2 a language model it can step token by token with transformers 5.

    Checkpoints that store a bare ``GPT2Model`` fail in diffusers (``GenerationMixin``
    methods are missing, diffusers issue 12630). Wrapping it in a ``GPT2LMHeadModel`` that
    shares its layers (and ties the head to its embeddings, so no new weights) gives the
    same hidden states the pipeline reads.
    """
    language_model = pipe.language_model
    if hasattr(language_model, "_update_model_kwargs_for_generation"):
        return
    import torch
    from transformers import GPT2LMHeadModel

    with torch.device("meta"):  # the shell only: its layers are replaced just below
        head = GPT2LMHeadModel(language_model.config)
    head.transformer = language_model
    head.lm_head.weight = language_model.get_input_embeddings().weight
    pipe.language_model = head.eval()


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    """``(channels, samples)`` or ``(samples,)`` as ``(frames, channels)``/``(frames,)``,
    trimmed or padded with silence to exactly ``frames``."""
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim == 2:
        data = data[0] if data.shape[0] == 1 else data.T
    out = np.zeros((frames,) + data.shape[1:], dtype=np.float32)
    n = min(frames, len(data))
    out[:n] = data[:n]
    return out

