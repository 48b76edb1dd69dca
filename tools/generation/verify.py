"""Check rendered audio before it reaches the mix, and re-render bad takes with a new seed.

Diffusion backends occasionally return silence, clipping or NaNs for one seed and fine audio
for the next; the procedural synthesizer never should. A bad take is caught here, retried a
few times, and reported, so the run can say which sounds may be poor instead of mixing a
broken file without a word. Optional CLAP scoring measures how well a take fits its text.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import soundfile as sf

from lvas.tools.common.paths import partial_path
from lvas.tools.generation.base import AudioGenerator, GenerationRequest
from lvas.tools.generation.windowing import derive_seed, render_windowed

SILENT_DBFS = -60.0
CLIP_LEVEL = 0.999
CLIP_RUN = 4  # this many consecutive full-scale samples is clipping, not a peak
CLIP_FRACTION = 0.001
_BLOCK = 1 << 16

# Problems after which a take cannot be kept even as a last resort.
FATAL = frozenset({"nan", "wrong length", "unreadable"})


@dataclass(frozen=True)
class AudioCheck:
    """What is wrong with an audio file, if anything, and its level."""

    ok: bool
    problems: tuple[str, ...]
    rms_db: float
    peak: float
    duration: float
    sample_rate: int

    @property
    def usable(self) -> bool:
        """Finite and of the right length: poor, perhaps, but safe to mix."""
        return not (set(self.problems) & FATAL)


def check_audio(
    path: str | os.PathLike[str], expected_duration: float, *, tolerance: float = 0.05
) -> AudioCheck:
    """Look for silence, clipping, NaN/inf and a wrong length, reading in blocks.

    ``silent``: RMS below -60 dBFS. ``clipped``: a run of more than ``CLIP_RUN`` samples at
    |x| >= 0.999, or more than 0.1 % of samples there. ``nan``: any non-finite sample.
    ``wrong length``: more than ``tolerance`` seconds off. ``unreadable``: not an audio file.
    Level figures ignore non-finite samples.
    """
    try:
        f = sf.SoundFile(str(path))
    except (OSError, RuntimeError, sf.LibsndfileError):
        return AudioCheck(False, ("unreadable",), -math.inf, 0.0, 0.0, 0)
    with f:
        sr, frames = int(f.samplerate), int(f.frames)
        sum_sq, count, peak, bad = 0.0, 0, 0.0, 0
        clipped, run, longest = 0, 0, 0
        while True:
            block = f.read(_BLOCK, dtype="float64", always_2d=True)
            if not len(block):
                break
            finite = np.isfinite(block)
            if not finite.all():
                bad += int(block.size - np.count_nonzero(finite))
                block = np.where(finite, block, 0.0)
            flat = block.reshape(-1)
            sum_sq += float(np.einsum("i,i->", flat, flat))  # no temporary, no BLAS threads
            count += block.size
            block_peak = max(float(flat.max()), -float(flat.min()))
            peak = max(peak, block_peak)
            if block_peak < CLIP_LEVEL:  # nothing at full scale: no clipped run goes on
                run = 0
                continue
            mag = np.abs(block)
            hot = mag.max(axis=1) >= CLIP_LEVEL  # per frame: any channel at full scale
            clipped += int(np.count_nonzero(mag >= CLIP_LEVEL))
            run, longest = _runs(hot, run, longest)
    rms = math.sqrt(sum_sq / count) if count else 0.0
    rms_db = 20 * math.log10(rms) if rms > 0 else -math.inf
    duration = frames / sr if sr else 0.0
    problems = []
    if rms_db < SILENT_DBFS:
        problems.append("silent")
    if longest > CLIP_RUN or (count and clipped > CLIP_FRACTION * count):
        problems.append("clipped")
    if bad:
        problems.append("nan")
    if abs(duration - float(expected_duration)) > tolerance:
        problems.append("wrong length")
    return AudioCheck(not problems, tuple(problems), rms_db, peak, duration, sr)


def _runs(hot: np.ndarray, run: int, longest: int) -> tuple[int, int]:
    """Carry the current run of True across blocks; return (current run, longest so far)."""
    if not hot.any():
        return 0, longest
    # Lengths of the True runs: distances between the edges of a padded 0/1 signal.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], hot.astype(np.int8), [0]))))
    starts, ends = edges[::2], edges[1::2]
    lengths = ends - starts
    if starts[0] == 0:
        lengths[0] += run  # continues the run that ended the previous block
    longest = max(longest, int(lengths.max()))
    run = int(lengths[-1]) if ends[-1] == len(hot) else 0
    return run, longest


@dataclass(frozen=True)
class VerifiedClip:
    """A checked render: where it is, how many takes it needed, and what was wrong with them."""

    path: Path
    attempts: int
    seeds: tuple[int, ...]
    problems: tuple[str, ...]  # one line per rejected or kept-but-flawed take
    check: AudioCheck
    clap_score: float | None = None

    @property
    def ok(self) -> bool:
        return self.check.ok


Renderer = Callable[[AudioGenerator, GenerationRequest, Path], Path]


def retry_seed(seed: int, attempt: int) -> int:
    """The seed of take ``attempt`` (0: the request's own seed)."""
    return int(seed) if attempt == 0 else derive_seed(seed, "retry", attempt)


def render_verified(
    generator: AudioGenerator,
    request: GenerationRequest,
    out_path: Path,
    *,
    attempts: int = 3,
    render: Renderer = render_windowed,
    clap: ClapScorer | None = None,
) -> VerifiedClip:
    """Render, check, and re-render with a new seed while the take is bad, ``attempts`` times.

    Takes are written under temporary names beside ``out_path``; only the chosen one is
    renamed to ``out_path``. When every take has a problem, the latest one that is still
    finite and of the right length is kept and its problems are reported in ``problems`` (for
    the run's warnings); when none is, RuntimeError names what went wrong. Exceptions from the
    backend itself are not retried here: they propagate, with the temporary files removed.
    With an available ``clap`` scorer the kept take is scored against ``request.text``; a
    scorer that fails adds a line to ``problems`` instead of failing the render.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    seeds: list[int] = []
    problems: list[str] = []
    kept: tuple[Path, AudioCheck] | None = None
    try:
        for attempt in range(attempts):
            seed = retry_seed(request.seed, attempt)
            seeds.append(seed)
            # A work-in-progress name: a take that a killed run left behind is swept when
            # the resumed run has finished its renders.
            tmp = partial_path(out_path, f"take{attempt}")
            try:
                render(generator, request.with_seed(seed), tmp)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            check = check_audio(tmp, request.duration)
            if check.ok:
                if kept is not None:
                    kept[0].unlink(missing_ok=True)
                kept = (tmp, check)
                break
            problems.append(f"take {attempt + 1} (seed {seed}): {', '.join(check.problems)}")
            if check.usable:
                if kept is not None:
                    kept[0].unlink(missing_ok=True)
                kept = (tmp, check)
            else:
                tmp.unlink(missing_ok=True)
        if kept is None:
            raise RuntimeError(
                f"Generator {getattr(generator, 'name', generator)!r} gave no usable audio for "
                f"{request.text!r} in {attempts} takes: " + "; ".join(problems)
            )
        os.replace(kept[0], out_path)
    finally:
        if kept is not None:
            kept[0].unlink(missing_ok=True)
    final = kept[1]
    score = None
    if clap is not None and clap.available:
        try:
            score = clap.score(out_path, request.text)
        except Exception as exc:  # noqa: BLE001 - a broken scorer must not lose a good render
            problems.append(f"CLAP scoring failed: {exc}")
    return VerifiedClip(out_path, len(seeds), tuple(seeds), tuple(problems), final, score)


# --- CLAP ---------------------------------------------------------------------------------------

_LOADED: dict[tuple[str, str], tuple[Any, Any]] = {}
_LOAD_LOCK = threading.Lock()
_MAX_CHUNKS = 6  # long clips: average the embeddings of up to this many evenly spaced chunks


@dataclass
class ClapScorer:
    """Audio–text similarity with a CLAP model, loaded lazily and once per process.

    ``model`` is a local folder or a hub id (the run's ``clap_model``); without one the scorer
    is unavailable and nothing is imported. Nothing is downloaded unless ``model`` is a hub id
    not yet in the local cache (pass a folder to stay offline).
    """

    model: str | None = None
    device: str = "cpu"
    _resolved: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._resolved = str(self.model or "").strip() or None

    @property
    def available(self) -> bool:
        return self._resolved is not None

    def _load(self) -> tuple[Any, Any]:
        if self._resolved is None:
            raise RuntimeError(
                "No CLAP model configured: set clap_model (LVAS_CLAP_MODEL) to a folder or "
                "hub id."
            )
        key = (self._resolved, self.device)
        with _LOAD_LOCK:
            if key not in _LOADED:
                from transformers import ClapModel, ClapProcessor

                processor = ClapProcessor.from_pretrained(self._resolved)
                # cast: transformers' stub types the decorated .to() as taking a model.
                model = cast(Any, ClapModel.from_pretrained(self._resolved)).to(self.device).eval()
                _LOADED[key] = (model, processor)
        return _LOADED[key]

    def score(self, audio_path: str | os.PathLike[str], text: str) -> float:
        """Cosine similarity of the clip and the text, in [-1, 1] (higher: a better fit)."""
        model, processor = self._load()
        import torch

        extractor = processor.feature_extractor
        rate = int(extractor.sampling_rate)
        max_len = int(getattr(extractor, "max_length_s", 10) * rate)
        # One piece per call: in a batch, the "fusion" extractor flags a random member as long.
        pieces = [
            extractor([chunk], sampling_rate=rate, return_tensors="pt")
            for chunk in _read_chunks(audio_path, rate, max_len)
        ]
        inputs = dict(processor.tokenizer([text], return_tensors="pt", padding=True))
        inputs["input_features"] = torch.cat([p["input_features"] for p in pieces])
        if "is_longer" in pieces[0]:
            inputs["is_longer"] = torch.cat([p["is_longer"] for p in pieces])
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with torch.no_grad():
            out = model(**inputs)
        audio = torch.nn.functional.normalize(out.audio_embeds.float(), dim=-1).mean(dim=0)
        audio = torch.nn.functional.normalize(audio, dim=-1)
        text_emb = torch.nn.functional.normalize(out.text_embeds.float()[0], dim=-1)
        return float(torch.clamp(torch.dot(audio, text_emb), -1.0, 1.0))


def _read_chunks(path: str | os.PathLike[str], rate: int, max_len: int) -> list[np.ndarray]:
    """Mono pieces at ``rate`` no longer than the model's input, read from the file one by one.

    CLAP's feature extractor crops longer audio at random, which would make the score vary from
    run to run; up to ``_MAX_CHUNKS`` evenly spaced pieces are scored instead (and only they
    are read, so an hour-long bed costs no more memory than a short clip).
    """
    from scipy.signal import resample_poly

    with sf.SoundFile(str(path)) as f:
        sr, frames = int(f.samplerate), int(f.frames)
        piece = min(frames, max(int(max_len * sr / rate), 1))
        count = 1 if frames <= piece else min(_MAX_CHUNKS, math.ceil(frames / piece))
        starts = np.linspace(0, frames - piece, count).astype(np.int64) if frames else [0]
        g = math.gcd(sr, int(rate))
        out = []
        for s in starts:
            f.seek(int(s))
            mono = np.nan_to_num(f.read(piece, dtype="float32", always_2d=True).mean(axis=1))
            if sr != rate:
                mono = resample_poly(mono, rate // g, sr // g).astype(np.float32)[:max_len]
            out.append(mono if len(mono) else np.zeros(1, dtype=np.float32))
    return out
