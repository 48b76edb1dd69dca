"""Text-to-speech for narration and dialogue lines: espeak-ng, or a VITS model from transformers.

Narration is off by default, so neither backend is in the ``auto`` order; a run names one.
The request's ``text`` is the line to speak. Every backend fits the line into its span: speech
starts just after the span opens, a line that runs long is spoken again faster (at most
``MAX_SPEEDUP`` times) and then cut with a short fade, and silence pads the file to exactly
``round(duration * sample_rate)`` frames, so the mixer can place it like any other clip.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, cast

import numpy as np

from lvas.tools.audio.audio_io import write_wav
from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation.base import (
    GenerationRequest,
    GeneratorCapabilities,
    SequentialBatchMixin,
)

ESPEAK_SAMPLE_RATE = 22050
DEFAULT_VOICE = "en-us"
DEFAULT_WPM = 175
WPM_RANGE = (80, 450)
FASTEST_WPM = 900
DEFAULT_VITS_MODEL = "facebook/mms-tts-eng"
LEAD_IN_SECONDS = 0.1
MAX_SPEEDUP = 1.6
FADE_SECONDS = 0.05
_EDGE_FADE_SECONDS = 0.005
_SILENCE_RELATIVE = 1e-3
_VOICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+/-]{0,63}$")

ESPEAK_INSTALL_HINT = (
    "install espeak-ng (Debian/Ubuntu: 'sudo apt-get install espeak-ng'; macOS: "
    "'brew install espeak-ng'), set LVAS_ESPEAK to the path of its executable, or choose "
    "another narration backend ('vits') or 'off'"
)


# ---------------------------------------------------------------------------------------------
# Fitting a spoken line into its span


def trim_silence(speech: np.ndarray) -> np.ndarray:
    """``speech`` without its silent head and tail, so lead-in and fit are measured on words."""
    data = np.asarray(speech, dtype=np.float32).reshape(-1)
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    if peak <= 0.0 or not np.isfinite(peak):
        return data[:0]
    loud = np.flatnonzero(np.abs(data) > peak * _SILENCE_RELATIVE)
    return data[loud[0] : loud[-1] + 1]


def _layout(sample_rate: int, duration: float, lead_in: float) -> tuple[int, int]:
    """Total frames of the clip and the lead-in frames before speech starts."""
    total = int(round(duration * sample_rate))
    lead = min(int(round(lead_in * sample_rate)), total // 4)
    return total, lead


def fit_speech(
    speech: np.ndarray,
    sample_rate: int,
    duration: float,
    *,
    lead_in: float = LEAD_IN_SECONDS,
    fade: float = FADE_SECONDS,
) -> np.ndarray:
    """Place a spoken line in a span of ``duration`` seconds: exactly ``round(duration * sr)``
    frames, speech after a short lead-in, cut with a fade-out when it does not fit."""
    total, lead = _layout(sample_rate, duration, lead_in)
    out = np.zeros(total, dtype=np.float32)
    words = trim_silence(speech).copy()
    room = total - lead
    if room <= 0 or words.size == 0:
        return out
    edge = min(int(_EDGE_FADE_SECONDS * sample_rate), words.size // 2)
    if edge > 0:  # the silence trim may cut mid-wave; a few ms of ramp avoids a click
        words[:edge] *= np.arange(1, edge + 1, dtype=np.float32) / edge
    if words.size > room:
        words = words[:room]
        n = max(1, min(int(round(fade * sample_rate)), room // 4))
        words[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    out[lead : lead + words.size] = np.clip(words, -1.0, 1.0)
    return out


def _line_of(request: GenerationRequest) -> str:
    text = " ".join(str(request.text).split())
    if not text:
        raise LVASInputError("A narration line is empty; give it text in the plan or remove it.")
    if not request.duration > 0:
        raise LVASInputError(
            f"A narration line needs a positive duration, got {request.duration}; "
            "fix its start and end in the plan."
        )
    return text


class _LineSpeaker(SequentialBatchMixin):
    """Shared render: speak, speak again faster when the line is too long, fit, write."""

    capabilities: GeneratorCapabilities
    voice: str
    lead_in: float
    max_speedup: float

    def _speak(self, text: str, voice: str, rate: float, seed: int) -> np.ndarray:
        """The line as mono float32 at ``capabilities.sample_rate``; ``rate`` scales speed."""
        raise NotImplementedError

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        text = _line_of(request)
        voice = request.voice or self.voice  # a plan line's own voice, else the backend's
        sr = self.capabilities.sample_rate
        total, lead = _layout(sr, request.duration, self.lead_in)
        room = total - lead
        speech = trim_silence(self._speak(text, voice, 1.0, request.seed))
        if room > 0 and speech.size > room and self.max_speedup > 1.0:
            # Length is close to inversely proportional to speed; aim a little short of the room.
            rate = min(speech.size / room * 1.03, self.max_speedup)
            speech = trim_silence(self._speak(text, voice, rate, request.seed))
        audio = fit_speech(speech, sr, request.duration, lead_in=self.lead_in)
        return write_wav(out_path, audio, sr)


def _check_fit_options(lead_in: float, max_speedup: float) -> None:
    if not 0 <= lead_in <= 2:
        raise LVASInputError(f"lead_in must be 0 to 2 seconds, got {lead_in}.")
    if not 1 <= max_speedup <= 3:
        raise LVASInputError(f"max_speedup must be 1 to 3, got {max_speedup}.")


def _to_rate(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    if source_rate == target_rate or audio.size == 0:
        return audio
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(source_rate, target_rate)
    return resample_poly(audio, target_rate // g, source_rate // g).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# espeak-ng


def _locate_espeak(executable: str = "") -> tuple[str | None, str]:
    """The espeak program and how it was found: ``executable`` (the run's ``espeak_path``, a
    path or a name on PATH), else espeak-ng, else espeak, on PATH."""
    override = executable.strip()
    if override:
        path = Path(override).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path), f"espeak program {path}"
        found = shutil.which(override)
        if found:
            return found, f"espeak program {override} ({found})"
        return None, (f"the espeak program {override!r} (espeak_path, LVAS_ESPEAK) is not an "
                      "executable file; fix it or unset it")
    for name in ("espeak-ng", "espeak"):
        found = shutil.which(name)
        if found:
            return found, f"{name} at {found}"
    return None, "espeak-ng was not found on PATH"


def espeak_available(executable: str = "") -> tuple[bool, str]:
    """Whether the espeak backend can run here with ``executable`` (empty: found on PATH), and
    why not (with how to install it)."""
    path, how = _locate_espeak(executable)
    if path is None:
        return False, f"{how}; {ESPEAK_INSTALL_HINT}"
    return True, how


def _check_voice(voice: str) -> str:
    if not isinstance(voice, str) or not _VOICE.match(voice):
        raise LVASInputError(
            f"Voice {voice!r} is not a voice name; use one like 'en-us', 'en-gb' or "
            "'en-us+m3' (list them with 'espeak-ng --voices')."
        )
    return voice


class EspeakTTS(_LineSpeaker):
    """Speaks lines with the espeak-ng program: small, offline, robotic but intelligible.

    ``sample_rate`` is accepted for the factory convention and ignored: the clip is written at
    espeak's native 22050 Hz and the mixer resamples it. ``executable`` is the program, a path
    or a name on PATH (the run's ``espeak_path``); None looks for espeak-ng, then espeak.
    """

    name = "espeak"
    version = "1"

    def __init__(
        self,
        sample_rate: int | None = None,
        *,
        voice: str = DEFAULT_VOICE,
        speed: int = DEFAULT_WPM,
        pitch: int = 50,
        timeout: float = 60.0,
        executable: str | None = None,
        lead_in: float = LEAD_IN_SECONDS,
        max_speedup: float = MAX_SPEEDUP,
    ) -> None:
        del sample_rate
        executable, how = _locate_espeak(executable or "")
        if executable is None:
            raise LVASInputError(f"Narration with espeak cannot run: {how}; "
                                 f"{ESPEAK_INSTALL_HINT}.")
        if not WPM_RANGE[0] <= int(speed) <= WPM_RANGE[1]:
            raise LVASInputError(f"espeak speed must be {WPM_RANGE[0]} to {WPM_RANGE[1]} words "
                                 f"per minute, got {speed}.")
        if not 0 <= int(pitch) <= 99:
            raise LVASInputError(f"espeak pitch must be 0 to 99, got {pitch}.")
        if not timeout > 0:
            raise LVASInputError(f"espeak timeout must be positive, got {timeout}.")
        _check_fit_options(lead_in, max_speedup)
        self.executable = executable
        self.voice = _check_voice(voice)
        self.speed = int(speed)
        self.pitch = int(pitch)
        self.timeout = float(timeout)
        self.lead_in = float(lead_in)
        self.max_speedup = float(max_speedup)
        self.capabilities = GeneratorCapabilities(
            video_to_audio=False, text_to_audio=True, sample_rate=ESPEAK_SAMPLE_RATE,
            window_seconds=None, max_batch=1, speech=True, device="cpu",
        )

    def command(self, voice: str, words_per_minute: int, wav_path: Path) -> list[str]:
        """The argument list; the text goes on stdin, so a line starting with '-' stays text."""
        return [
            self.executable, "-v", _check_voice(voice), "-s", str(words_per_minute),
            "-p", str(self.pitch), "-b", "1", "-z", "-w", str(wav_path), "--stdin",
        ]

    def _speak(self, text: str, voice: str, rate: float, seed: int) -> np.ndarray:
        import soundfile as sf

        wpm = int(round(min(max(self.speed * rate, WPM_RANGE[0]), FASTEST_WPM)))
        program = Path(self.executable).name
        with tempfile.TemporaryDirectory(prefix="lvas-espeak-") as tmp:
            wav = Path(tmp) / "line.wav"
            try:
                done = subprocess.run(
                    self.command(voice, wpm, wav), input=text.encode("utf-8"),
                    capture_output=True, timeout=self.timeout, check=False,
                )
            except subprocess.TimeoutExpired:
                raise LVASInputError(
                    f"{program} timed out after {self.timeout:g} s speaking a line of "
                    f"{len(text)} characters; shorten the line or raise the timeout."
                ) from None
            except OSError as exc:
                raise LVASInputError(f"Could not run {self.executable}: {exc}; "
                                     f"{ESPEAK_INSTALL_HINT}.") from None
            if done.returncode != 0:
                message = done.stderr.decode("utf-8", "replace").strip()[-500:] or "no message"
                raise LVASInputError(
                    f"{program} failed (exit status {done.returncode}) with voice {voice!r}: "
                    f"{message}. Check the voice with '{program} --voices', or choose another "
                    "narration backend."
                )
            if not wav.is_file() or wav.stat().st_size == 0:
                raise LVASInputError(f"{program} exited without writing audio; check that it "
                                     "is a working espeak-ng (try it in a terminal).")
            data, file_rate = sf.read(str(wav), dtype="float32", always_2d=True)
        return _to_rate(data.mean(axis=1), int(file_rate), self.capabilities.sample_rate)


# ---------------------------------------------------------------------------------------------
# VITS through transformers (e.g. Meta's MMS-TTS models)

_VITS_LOCK = threading.Lock()
_VITS_CACHE: dict[tuple[str, str], tuple[Any, Any]] = {}


def _vits_source(model: str | None) -> str:
    """The VITS model to use: ``model`` (the run's ``tts_model``), else the default."""
    return (model or "").strip() or DEFAULT_VITS_MODEL


def _is_local(source: str) -> bool:
    return Path(source).expanduser().is_dir()


def tts_available(model: str | None = None) -> tuple[bool, str]:
    """Whether the VITS backend can run here: transformers installed and ``model`` (the run's
    ``tts_model``; None: the default) on disk."""
    for package in ("torch", "transformers"):
        if importlib.util.find_spec(package) is None:
            return False, f"{package} is not installed (pip install torch transformers)"
    source = _vits_source(model)
    if _is_local(source):
        folder = Path(source).expanduser()
        if not (folder / "config.json").is_file():
            return False, f"{folder} has no config.json; give a folder saved by save_pretrained"
        return True, f"VITS model in {folder}"
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False, "huggingface_hub is not installed"
    try:
        cached = try_to_load_from_cache(source, "config.json")
    except Exception as exc:  # noqa: BLE001 - a malformed id is simply "not available"
        return False, f"TTS model {source!r} is not usable: {exc}"
    if isinstance(cached, str):
        return True, f"VITS model {source} (cached)"
    return False, (f"TTS model {source} is not downloaded; fetch it once with "
                   f"'hf download {source}' or set LVAS_TTS_MODEL to a local folder")


def _load_vits(source: str, device: str) -> tuple[Any, Any]:
    """Model and tokenizer, loaded once per process per (source, device)."""
    key = (source, device)
    with _VITS_LOCK:
        if key not in _VITS_CACHE:
            from transformers import AutoTokenizer, VitsModel

            local = _is_local(source)
            path = str(Path(source).expanduser()) if local else source
            try:
                model = VitsModel.from_pretrained(path, local_files_only=True)
                tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            except OSError as exc:
                raise LVASInputError(
                    f"Could not load the TTS model {source!r} ({exc}). Download it once with "
                    f"'hf download {source}', or set LVAS_TTS_MODEL to a folder saved with "
                    "save_pretrained."
                ) from None
            # cast: transformers' stub types the decorated .to() as taking a model, not a device.
            _VITS_CACHE[key] = (cast(Any, model).to(device).eval(), tokenizer)
        return _VITS_CACHE[key]


class TransformersTTS(_LineSpeaker):
    """Speaks lines with a VITS model (``VitsModel``), e.g. facebook/mms-tts-eng; CPU or GPU.

    The model is loaded on first use and shared by every instance in the process. ``voice``
    selects a speaker id on multi-speaker models (a number); other voices are ignored.
    """

    name = "vits"
    version = "1"

    def __init__(
        self,
        sample_rate: int | None = None,
        *,
        model: str | None = None,
        device: str | None = None,
        voice: str = "",
        speed: float = 1.0,
        lead_in: float = LEAD_IN_SECONDS,
        max_speedup: float = MAX_SPEEDUP,
    ) -> None:
        del sample_rate
        import torch
        from transformers import AutoConfig

        _check_fit_options(lead_in, max_speedup)
        if not 0.5 <= speed <= 2.0:
            raise LVASInputError(f"VITS speed must be 0.5 to 2.0, got {speed}.")
        self.source = _vits_source(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.voice = voice
        self.speed = float(speed)
        self.lead_in = float(lead_in)
        self.max_speedup = float(max_speedup)
        path = str(Path(self.source).expanduser()) if _is_local(self.source) else self.source
        try:
            config = AutoConfig.from_pretrained(path, local_files_only=True)
        except OSError as exc:
            raise LVASInputError(
                f"Could not read the TTS model {self.source!r} ({exc}). Download it once with "
                f"'hf download {self.source}', or set LVAS_TTS_MODEL to a local folder."
            ) from None
        self.capabilities = GeneratorCapabilities(
            video_to_audio=False, text_to_audio=True, sample_rate=int(config.sampling_rate),
            window_seconds=None, max_batch=1, speech=True, device=self.device,
        )
        self._speakers = int(getattr(config, "num_speakers", 1) or 1)

    def _speak(self, text: str, voice: str, rate: float, seed: int) -> np.ndarray:
        import torch

        model, tokenizer = _load_vits(self.source, self.device)
        inputs = tokenizer(text=text, return_tensors="pt")
        if inputs["input_ids"].shape[-1] <= 1:
            raise LVASInputError(f"The line {text[:60]!r} has no characters the TTS model "
                                 f"{self.source} can speak; reword it or choose 'espeak'.")
        speaker = int(voice) if voice.isdigit() and self._speakers > 1 else None
        if speaker is not None and speaker >= self._speakers:
            raise LVASInputError(f"Voice {voice} is not a speaker of {self.source} "
                                 f"(0 to {self._speakers - 1}).")
        target = torch.device(self.device)
        devices = []
        if target.type == "cuda":
            devices = [target.index if target.index is not None else torch.cuda.current_device()]
        # VITS samples noise; a fixed seed in a forked RNG makes a line render the same each time.
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            out = model(**{k: v.to(self.device) for k, v in inputs.items()},
                        speaker_id=speaker, speaking_rate=self.speed * rate)
        length = int(out.sequence_lengths[0])
        return out.waveform[0, :length].float().cpu().numpy()
