"""MMAudio (hkchengrex/MMAudio) behind the generator protocol: video-to-audio and text-to-audio.

MMAudio is not on PyPI; it is the ``mmaudio`` extra, installed on GPU machines. Nothing here
imports it, or torch, until a generator renders: listing backends stays cheap everywhere.

Models are loaded once per process and shared by every generator of the same variant, device
and dtype (``_MODELS``); weights are fetched by MMAudio's own ``ModelConfig.download_if_needed``
into one folder (``weights_dir``, default ``<cache folder>/mmaudio``) instead of the current
directory, where MMAudio's relative paths would otherwise put them.

Video frames come from :mod:`~lvas.tools.generation.mmaudio_frames`: the tensors MMAudio's own
loader (``mmaudio.eval_utils.load_video``) makes, 8 fps at 384x384 for CLIP and 25 fps at
224x224 for Synchformer, each window read as MMAudio would read it cut out as its own clip.

Seeds: ``generate`` draws the starting noise of a whole batch from one ``torch.Generator``.
To keep a request's audio a function of its own seed, whatever it is batched with, the
sampler handed to ``generate`` replaces that noise with one draw per request, each from a
generator seeded with the request's seed: the very noise ``generate`` would draw if the
request were rendered alone. Batching changes speed, not the sound (up to float rounding).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lvas.tools.audio.audio_io import write_wav
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.gpu import cuda_available
from lvas.tools.common.paths import default_cache_dir
from lvas.tools.generation.base import GenerationRequest, GeneratorCapabilities
from lvas.tools.generation.batching import group_indices, run_in_batches
from lvas.tools.generation.mmaudio_frames import (  # noqa: F401 - part of this module's API
    CLIP_FPS,
    CLIP_SIZE,
    SYNC_FPS,
    SYNC_SIZE,
    read_mmaudio_frames,
)

if TYPE_CHECKING:  # pragma: no cover - typing only; torch is imported lazily
    import torch

VARIANTS: tuple[str, ...] = ("small_16k", "small_44k", "medium_44k", "large_44k", "large_44k_v2")
DEFAULT_VARIANT = "large_44k_v2"
SAMPLE_RATES: dict[str, int] = {
    "small_16k": 16000,
    "small_44k": 44100,
    "medium_44k": 44100,
    "large_44k": 44100,
    "large_44k_v2": 44100,
}
MIN_MODEL_SECONDS = 1.0
"""Shorter requests are rendered this long and trimmed: Synchformer needs 16 frames (0.64 s)."""

_DTYPES = {"bf16": "bf16", "bfloat16": "bf16", "fp32": "fp32", "float32": "fp32"}


class MMAudioOutOfMemoryError(LVASInputError):
    """The GPU ran out of memory even for one request at a time: the user must choose less."""


@dataclass
class MMAudioModels:
    """What one variant needs at run time, built once and shared by every generator.

    ``seq_cfg`` is a private copy of the variant's ``SequenceConfig``; ``lock`` serialises
    renders, because ``net.update_seq_lengths`` changes the shared network's sequence lengths.
    """

    net: Any
    feature_utils: Any
    seq_cfg: Any
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


_MODELS: dict[tuple[str, str, str], MMAudioModels] = {}
_MODELS_LOCK = threading.Lock()


# --- device, dtype and availability -------------------------------------------------------


def resolve_device(device: str | None = None) -> str:
    """``device`` (the run's ``Context.device``), else ``cuda`` when torch sees a GPU, else
    ``cpu``."""
    value = (device or "").strip().lower()
    if value in ("", "auto"):
        return "cuda" if cuda_available() else "cpu"
    return value


def resolve_dtype(device: str, dtype: str | None = None, *, full_precision: bool = False) -> str:
    """``fp32`` or ``bf16``: bf16 on CUDA (MMAudio's default), fp32 elsewhere or when asked."""
    if full_precision:
        return "fp32"
    if dtype is None:
        return "bf16" if device.startswith("cuda") else "fp32"
    name = _DTYPES.get(str(dtype).strip().lower())
    if name is None:
        raise LVASInputError(f"Unknown MMAudio dtype {dtype!r}; use 'bf16' or 'fp32'.")
    return name


def _torch_dtype(name: str) -> torch.dtype:
    import torch

    return torch.bfloat16 if name == "bf16" else torch.float32


def mmaudio_available(device: str = "") -> tuple[bool, str]:
    """Whether MMAudio can run here on ``device`` (the run's setting; empty: CUDA), and why not.

    Without a CUDA GPU it counts as available only when ``device`` is ``cpu`` on purpose, so
    ``auto`` never picks a backend that takes minutes per clip by accident.
    """
    if importlib.util.find_spec("mmaudio") is None:
        return False, (
            "mmaudio is not installed (GPU machines: pip install -e '.[mmaudio]')"
        )
    if importlib.util.find_spec("torch") is None:  # pragma: no cover - torch is a dependency
        return False, "torch is not installed"
    requested = device.strip().lower()
    if requested in ("", "auto") or requested.startswith("cuda"):
        if cuda_available():
            import torch

            try:
                name = torch.cuda.get_device_name(0)
            except Exception:  # noqa: BLE001 - the name is only for the message
                name = "CUDA GPU"
            return True, f"on {name}"
        if requested.startswith("cuda"):
            return False, f"device {requested} asked for, but torch sees no CUDA GPU"
        return False, (
            "no CUDA GPU; MMAudio on the CPU works but takes minutes per clip "
            "(set the device to cpu, --device cpu or LVAS_DEVICE=cpu, to use it anyway)"
        )
    if requested == "cpu":
        return True, "on the CPU (device cpu): works, but slow (minutes per 8 s clip)"
    if requested == "mps":
        import torch

        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return True, "on Apple MPS (device mps)"
        return False, "device mps asked for, but torch sees no MPS device"
    return False, f"device {requested} is not one MMAudio can use (cuda, cpu or mps)"


# --- the model cache ----------------------------------------------------------------------


def _cache_key(variant: str, device: str, dtype: str) -> tuple[str, str, str]:
    return (variant, device, dtype)


def preload(models: MMAudioModels, *, variant: str, device: str, dtype: str) -> None:
    """Put pre-built models in the cache, for tests and for models built by hand.

    The objects must follow MMAudio's interface (an ``MMAudio`` network, ``FeaturesUtils``,
    a ``SequenceConfig``); they are used as they are: nothing is downloaded or moved.
    """
    _check_variant(variant)
    dtype = resolve_dtype(device, dtype)
    with _MODELS_LOCK:
        _MODELS[_cache_key(variant, device, dtype)] = models


def clear_model_cache() -> None:
    """Forget every loaded model (tests; freeing GPU memory between jobs)."""
    with _MODELS_LOCK:
        _MODELS.clear()


def default_weights_dir(cache_dir: str | Path | None = None) -> Path:
    """Where MMAudio's weights go unless a generator is given ``weights_dir``: ``mmaudio`` in
    the cache folder ``cache_dir`` (default ~/.cache/lvas)."""
    return default_cache_dir(cache_dir) / "mmaudio"


def _localized(path: Path | None, root: Path) -> Path | None:
    """MMAudio's relative weight paths (``./weights/x.pth``) placed under ``root``."""
    if path is None or Path(path).is_absolute():
        return path
    return root / Path(path)


def load_models(
    variant: str, device: str, dtype: str, *, weights_dir: str | Path | None = None
) -> MMAudioModels:
    """The models of ``variant`` on ``device`` in ``dtype``, built on first use only."""
    key = _cache_key(variant, device, dtype)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _build_models(variant, device, dtype, weights_dir)
        return _MODELS[key]


def _build_models(
    variant: str, device: str, dtype: str, weights_dir: str | Path | None
) -> MMAudioModels:
    """Load as MMAudio's demo does, with the weights fetched by its own downloader."""
    import torch
    from mmaudio.eval_utils import all_model_cfg
    from mmaudio.model.networks import get_my_mmaudio
    from mmaudio.model.utils.features_utils import FeaturesUtils

    root = Path(weights_dir).expanduser() if weights_dir else default_weights_dir()
    base = all_model_cfg[variant]
    cfg = dataclasses.replace(
        base,
        model_path=_localized(base.model_path, root),
        vae_path=_localized(base.vae_path, root),
        bigvgan_16k_path=_localized(base.bigvgan_16k_path, root),
        synchformer_ckpt=_localized(base.synchformer_ckpt, root),
    )
    cfg.download_if_needed()
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    tdtype = _torch_dtype(dtype)
    net = get_my_mmaudio(cfg.model_name).to(device, tdtype).eval()
    net.load_weights(torch.load(cfg.model_path, map_location=device, weights_only=True))
    feature_utils = FeaturesUtils(
        tod_vae_ckpt=cfg.vae_path,
        synchformer_ckpt=cfg.synchformer_ckpt,
        enable_conditions=True,
        mode=cfg.mode,
        bigvgan_vocoder_ckpt=cfg.bigvgan_16k_path,
        need_vae_encoder=False,
    )
    feature_utils = feature_utils.to(device, tdtype).eval()
    return MMAudioModels(net=net, feature_utils=feature_utils, seq_cfg=dataclasses.replace(
        cfg.seq_cfg))


# --- sampling ---------------------------------------------------------------------------


class _PerRequestNoise:
    """A ``FlowMatching`` stand-in for ``generate``: each row starts from its own seed's noise.

    ``generate`` draws ``x0`` for the whole batch from one generator and passes it only to
    ``fm.to_data``; here that draw is replaced, row by row, by the noise a lone render of
    the request would start from, so batching does not change a request's audio.
    """

    def __init__(self, fm: Any, seeds: Sequence[int]) -> None:
        self.fm = fm
        self.seeds = list(seeds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fm, name)

    def to_data(self, fn: Any, x0: torch.Tensor) -> torch.Tensor:
        import torch

        rows = [
            torch.randn((1, *x0.shape[1:]), device=x0.device, dtype=x0.dtype,
                        generator=_generator(x0.device, seed))
            for seed in self.seeds
        ]
        return self.fm.to_data(fn, torch.cat(rows, dim=0))


def _generator(device: Any, seed: int) -> torch.Generator:
    import torch

    rng = torch.Generator(device=device)
    rng.manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
    return rng


def _model_seconds(duration: float) -> float:
    return max(float(duration), MIN_MODEL_SECONDS)


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise LVASInputError(
            f"Unknown MMAudio variant {variant!r}; choose one of: {', '.join(VARIANTS)}."
        )
    return variant


class MMAudioGenerator:
    """MMAudio as an :class:`~lvas.tools.generation.base.AudioGenerator`.

    ``sample_rate`` (the mixer's rate, passed by the registry) is ignored: the backend writes
    at the variant's own rate, 16 kHz or 44.1 kHz, and the mixer resamples. ``models`` takes
    pre-built models (see :func:`preload`) instead of loading MMAudio's weights.
    """

    name = "mmaudio"

    def __init__(
        self,
        sample_rate: int | None = None,
        *,
        variant: str = DEFAULT_VARIANT,
        steps: int = 25,
        cfg_strength: float = 4.5,
        dtype: str | None = None,
        device: str | None = None,
        full_precision: bool = False,
        window_seconds: float | None = 8.0,
        max_batch: int = 4,
        weights_dir: str | Path | None = None,
        models: MMAudioModels | None = None,
    ) -> None:
        del sample_rate  # the mixer resamples; MMAudio has one native rate per variant
        self.variant = _check_variant(variant)
        if int(steps) < 1:
            raise LVASInputError(f"MMAudio steps must be at least 1, got {steps}.")
        if int(max_batch) < 1:
            raise LVASInputError(f"MMAudio max_batch must be at least 1, got {max_batch}.")
        if window_seconds is not None and float(window_seconds) <= 0:
            raise LVASInputError(f"window_seconds must be positive, got {window_seconds}.")
        self.steps = int(steps)
        self.cfg_strength = float(cfg_strength)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(self.device, dtype, full_precision=full_precision)
        self.weights_dir = weights_dir
        self.version = f"1:{self.variant}:{self.steps}:{self.cfg_strength:g}:{self.dtype}"
        self.capabilities = GeneratorCapabilities(
            video_to_audio=True,
            text_to_audio=True,
            sample_rate=SAMPLE_RATES[self.variant],
            window_seconds=None if window_seconds is None else float(window_seconds),
            max_batch=int(max_batch),
            device=self.device,
        )
        # Lowered for good after an out-of-memory error, so later batches do not hit it again.
        self._batch_limit = int(max_batch)
        self._fm: Any = None
        if models is not None:
            preload(models, variant=self.variant, device=self.device, dtype=self.dtype)

    @property
    def sample_rate(self) -> int:
        return self.capabilities.sample_rate

    def models(self) -> MMAudioModels:
        """The shared models of this generator's variant, device and dtype (loaded once)."""
        return load_models(self.variant, self.device, self.dtype, weights_dir=self.weights_dir)

    def _flow_matching(self) -> Any:
        if self._fm is None:
            from mmaudio.model.flow_matching import FlowMatching

            self._fm = FlowMatching(min_sigma=0, inference_mode="euler", num_steps=self.steps)
        return self._fm

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        return self.render_batch([request], [out_path])[0]

    def render_batch(
        self, requests: Sequence[GenerationRequest], out_paths: Sequence[Path]
    ) -> list[Path]:
        """Render requests in batches of equal length and kind (video or text only).

        On out-of-memory the batch is halved and retried, down to one request at a time.
        """
        if len(requests) != len(out_paths):
            raise ValueError("render_batch needs one output path per request")
        for request in requests:
            self._check_request(request)
        groups = group_indices(requests, lambda r: (
            round(_model_seconds(r.duration), 6), r.video_path is not None))
        models = self.models()

        def render_chunk(group: tuple[float, bool], chunk: list[int]) -> None:
            audio = self._generate(models, [requests[i] for i in chunk], group[0])
            for row, i in enumerate(chunk):
                self._write(audio[row], requests[i].duration, Path(out_paths[i]))

        def too_big(group: tuple[float, bool], _: BaseException) -> Exception:
            return MMAudioOutOfMemoryError(
                f"MMAudio ({self.variant}, {self.dtype}) ran out of memory on {self.device} "
                f"rendering one {group[0]:g} s request. Use a smaller variant (small_44k or "
                "small_16k), shorter windows, bf16, or free the GPU; or choose the "
                "'procedural' backend.")

        self._batch_limit = run_in_batches(groups, self._batch_limit, render_chunk,
                                           on_single_oom=too_big)
        return [Path(p) for p in out_paths]

    @staticmethod
    def _check_request(request: GenerationRequest) -> None:
        if not (request.duration > 0 and math.isfinite(request.duration)):
            raise LVASInputError(
                f"MMAudio needs a positive, finite duration, got {request.duration!r}."
            )
        if request.video_path is not None and request.video_span is None:
            raise LVASInputError(
                "A video-to-audio request needs video_span=(start, end) with its video_path."
            )

    def _generate(
        self, models: MMAudioModels, batch: list[GenerationRequest], seconds: float
    ) -> np.ndarray:
        """One ``generate`` call for requests of the same length: float32 ``(B, samples)``."""
        import torch
        from mmaudio.eval_utils import generate

        clip_video = sync_video = None
        if batch[0].video_path is not None:
            frames = [
                read_mmaudio_frames(r.video_path, float(r.video_span[0]), seconds)  # type: ignore[arg-type,index]
                for r in batch
            ]
            clip_video = torch.from_numpy(np.stack([c for c, _ in frames]))
            sync_video = torch.from_numpy(np.stack([s for _, s in frames]))
        seeds = [r.seed for r in batch]
        with models.lock, torch.inference_mode():
            seq_cfg = dataclasses.replace(models.seq_cfg, duration=seconds)
            models.net.update_seq_lengths(
                seq_cfg.latent_seq_len, seq_cfg.clip_seq_len, seq_cfg.sync_seq_len
            )
            audio = generate(
                clip_video,
                sync_video,
                [r.text for r in batch],
                negative_text=[r.negative_text for r in batch],
                feature_utils=models.feature_utils,
                net=models.net,
                fm=_PerRequestNoise(self._flow_matching(), seeds),
                rng=_generator(self.device, seeds[0]),
                cfg_strength=self.cfg_strength,
            )
            out = audio.float().cpu().numpy()
        return out.reshape(len(batch), -1)

    def _write(self, audio: np.ndarray, duration: float, out_path: Path) -> None:
        """Exactly ``round(duration * rate)`` samples, written atomically as float WAV."""
        n = int(round(duration * self.sample_rate))
        audio = np.asarray(audio, dtype=np.float32)[:n]
        if len(audio) < n:
            audio = np.pad(audio, (0, n - len(audio)))
        if not np.all(np.isfinite(audio)):
            raise RuntimeError(f"MMAudio produced non-finite samples for {out_path.name}")
        write_wav(out_path, audio, self.sample_rate, subtype="FLOAT")
