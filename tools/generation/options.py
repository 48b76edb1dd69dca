"""From a run's settings to one backend's constructor options.

Each backend takes only the options it understands; keeping the mapping here means the run's
context stays one flat form (what Studio shows) and no backend knows about it.
"""

from __future__ import annotations

from typing import Any

from lvas.tools.common.errors import LVASInputError

MODEL_BACKENDS = ("mmaudio", "stable-audio", "audioldm2")
TTS_BACKENDS = ("espeak", "vits")


# Backend -> (context field -> constructor argument); an empty (falsy) field is left to the
# backend's own default.
_OPTION_NAMES: dict[str, dict[str, str]] = {
    "mmaudio": {"generator_model": "variant", "generation_steps": "steps",
                "cfg_strength": "cfg_strength", "device": "device"},
    "stable-audio": {"generator_model": "model", "generation_steps": "steps",
                     "cfg_strength": "guidance_scale", "device": "device"},
    "audioldm2": {"generator_model": "model", "generation_steps": "steps",
                  "cfg_strength": "guidance_scale", "device": "device"},
    "vits": {"device": "device"},
}


def generator_options(ctx: Any, name: str) -> dict[str, Any]:
    """Constructor options of backend ``name`` from the run context ``ctx``."""
    options = {arg: getattr(ctx, field) for field, arg in _OPTION_NAMES.get(name, {}).items()
               if getattr(ctx, field)}
    if name == "mmaudio":
        options["window_seconds"] = ctx.window_seconds
    return options


def narration_backend(setting: str) -> str | None:
    """The text-to-speech backend for a run's ``narration`` setting (None: not voiced).

    ``auto`` takes espeak-ng when it is installed, else a VITS model when one is configured,
    else None (the run goes on and its warnings say how to get a voice); a backend named
    explicitly must be there.
    """
    if setting == "off":
        return None
    if setting != "auto":
        if setting not in TTS_BACKENDS:
            raise LVASInputError(f"Unknown narration backend {setting!r}; choose one of: off, "
                                 f"auto, {', '.join(TTS_BACKENDS)}.")
        return setting
    from lvas.tools.generation.registry import backend_status

    status = backend_status()
    for name in TTS_BACKENDS:
        if status.get(name, (False, ""))[0]:
            return name
    return None


NO_VOICE_HINT = ("install espeak-ng (apt-get install espeak-ng, brew install espeak-ng) or set "
                 "LVAS_TTS_MODEL to a local VITS model")
