"""``lvas doctor``: what this machine can run, so users know which quality profile they get.

It reports from a :class:`~lvas.graph.context.Context` (by default ``Context()``, which reads
the environment), so it shows the configuration a run would use. It stays quick: torch is
imported only where a GPU driver exists, the index is judged from its metadata, and no model
is loaded.
"""

from __future__ import annotations

import importlib.util
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lvas.graph.context import Context


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def check_ffmpeg() -> dict[str, Any]:
    """Which ffmpeg runs, its version, and why it was chosen (and any passed over): a system
    ffmpeg too old for what LVAS asks is named with what it lacks."""
    from lvas.tools.common.ffmpeg_choice import choose_ffmpeg

    try:
        choice = choose_ffmpeg()
    except Exception as exc:  # noqa: BLE001 - doctor reports, never fails
        return _check("ffmpeg", False, f"not usable: {exc}")
    check = _check("ffmpeg", choice.capable, choice.reason)
    check.update(path=choice.path, version=choice.version, origin=choice.origin,
                 missing=list(choice.missing), rejected=list(choice.rejected))
    return check


def check_pyav() -> dict[str, Any]:
    try:
        import av

        return _check("PyAV", True, f"av {av.__version__}")
    except Exception as exc:  # noqa: BLE001
        return _check("PyAV", False, f"not importable: {exc}")


def check_gpu() -> dict[str, Any]:
    from lvas.tools.common.gpu import gpu_driver_present

    if not gpu_driver_present():
        try:
            version = f"torch {metadata.version('torch')}"
        except metadata.PackageNotFoundError:
            version = "torch not installed"
        return _check("GPU", False, f"none (no NVIDIA or ROCm driver); {version} runs on the CPU")
    try:
        import torch

        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            return _check("GPU", True, f"CUDA: {name} (torch {torch.__version__})")
        return _check("GPU", False, f"none; torch {torch.__version__} runs on the CPU")
    except Exception as exc:  # noqa: BLE001
        return _check("GPU", False, f"torch not importable: {exc}")


def check_mmaudio() -> dict[str, Any]:
    found = importlib.util.find_spec("mmaudio") is not None
    detail = "installed" if found else "not installed (pip install 'lvas-agent[mmaudio]' on a GPU)"
    return _check("MMAudio", found, detail)


def check_ray() -> dict[str, Any]:
    """Whether ``lvas batch`` can run: Ray installed (found without importing it: a second)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = f"installed ({version('ray')}); lvas batch runs locally or with --address"
    except PackageNotFoundError:
        return _check("Ray", False, "not installed (pip install 'lvas-agent[ray]' for lvas batch)")
    return _check("Ray", True, found)


def check_generators(options: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every audio backend (and text-to-speech voice): can it run here with the run's
    ``options`` (device, program, model), and why not."""
    from lvas.tools.generation import backend_status

    return [_check(f"backend {name}", ok, reason) for name, (ok, reason) in
            backend_status(options).items()]


def check_llm(model: str, base_url: str = "", timeout: float = 3.0) -> dict[str, Any]:
    """Whether the chat model ``model`` at ``base_url`` (empty: OpenAI's API) can be reached.

    The openai SDK reads OPENAI_API_KEY itself, as it will in a run; it is imported only
    when a model is configured.
    """
    base = base_url.strip().rstrip("/")
    model = model.strip()
    if not base and not model:
        return _check("LLM endpoint", False, "not configured (llm_model / LVAS_LLM_MODEL, "
                      "llm_base_url / LVAS_LLM_BASE_URL); offline planner used")
    if model.startswith("gguf:"):
        path = Path(model.removeprefix("gguf:")).expanduser()
        runtime = importlib.util.find_spec("llama_cpp") is not None
        ok = path.is_file() and runtime
        detail = (f"in-process model {path}" + ("" if path.is_file() else " (file not found)")
                  + ("" if runtime else "; llama-cpp-python is not installed"))
        return _check("LLM endpoint", ok, detail)
    import openai

    try:
        client = openai.OpenAI(base_url=base or None, timeout=timeout, max_retries=0)
        has_key = True
    except openai.OpenAIError:  # the SDK found no key
        has_key = False
    if not base:
        return _check("LLM endpoint", has_key, f"model {model} on OpenAI's API; key "
                      f"{'set' if has_key else 'missing (OPENAI_API_KEY)'}")
    if not has_key:  # local servers (vLLM, Ollama, llama.cpp) take any key
        client = openai.OpenAI(base_url=base, api_key="not-needed", timeout=timeout,
                               max_retries=0)
    try:
        client.models.list()
    except openai.APIStatusError as exc:
        return _check("LLM endpoint", False, f"{base} answered {exc.status_code}; model {model}")
    except openai.OpenAIError as exc:
        return _check("LLM endpoint", False, f"{base} unreachable: {exc}")
    return _check("LLM endpoint", True, f"{base} answered; model {model}")


def check_index(cache_dir: str | None = None, embedding_model: str = "packaged"
                ) -> dict[str, Any]:
    try:
        from lvas.retrieval_index.store import index_status

        status = index_status(cache_dir, embedding_model=embedding_model)
        return _check("label index", bool(status.get("ready")), status.get("detail", ""))
    except Exception as exc:  # noqa: BLE001
        return _check("label index", False, f"not usable: {exc}")


def check_embeddings(embedding_model: str = "packaged") -> dict[str, Any]:
    """The embedding model is on disk (nothing is loaded)."""
    try:
        from lvas.retrieval_index.embeddings import resolve_model

        path, model_id = resolve_model(embedding_model)
        return _check("embedding model", path.exists(), f"{model_id} at {path}")
    except Exception as exc:  # noqa: BLE001
        return _check("embedding model", False, f"not usable: {exc}")


def run_checks(ctx: Context | None = None) -> dict[str, Any]:
    """All checks for the run settings ``ctx`` (default: ``Context()``, from the environment),
    plus the profile that ``auto`` will pick from them."""
    from lvas.graph.context import Context
    from lvas.tools.generation.options import all_generator_options, generator_backend

    ctx = ctx if ctx is not None else Context()
    options = all_generator_options(ctx)
    checks = [check_ffmpeg(), check_pyav(), check_gpu(), check_mmaudio(), check_ray(),
              *check_generators(options), check_llm(ctx.llm_model, ctx.llm_base_url),
              check_embeddings(ctx.embedding_model),
              check_index(ctx.index_dir or None, ctx.embedding_model)]
    chat = ctx.chat_backend != "offline" and ctx.llm_model
    profile = {
        "chat": (f"chat model {ctx.llm_model} (offline planner as fallback)" if chat
                 else "offline planner"),
        "generator": generator_backend(ctx),
        "embeddings": ("packaged all-MiniLM-L6-v2" if ctx.embedding_model == "packaged"
                       else ctx.embedding_model),
    }
    return {"python": platform.python_version(), "checks": checks, "auto_profile": profile}
