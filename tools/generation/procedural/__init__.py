"""Offline procedural sound synthesizer: one recipe per sound family, no models, no GPU.

Deterministic (same arguments, same samples), streamable to WAV for beds of any length.
"""

from lvas.tools.generation.procedural.render import (
    BED_RMS_DBFS,
    EVENT_PEAK_DBFS,
    LAYERS,
    RECIPE_FAMILIES,
    iter_blocks,
    render_sound,
    render_to_wav,
)

__all__ = [
    "BED_RMS_DBFS",
    "EVENT_PEAK_DBFS",
    "LAYERS",
    "RECIPE_FAMILIES",
    "iter_blocks",
    "render_sound",
    "render_to_wav",
]
