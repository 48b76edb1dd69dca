"""Offline procedural sound synthesizer: one recipe per sound family, no models, no GPU.

Deterministic (same arguments, same samples), streamable to WAV for beds of any length.
"""

from lvas.tools.generation.procedural.compound import SURFACES, Part, parts_of, surface_of
from lvas.tools.generation.procedural.render import (
    BED_RMS_DBFS,
    EVENT_PEAK_DBFS,
    LAYERS,
    RECIPE_FAMILIES,
    iter_blocks,
    render_sound,
    render_to_wav,
    window_levels,
)

__all__ = [
    "BED_RMS_DBFS",
    "EVENT_PEAK_DBFS",
    "LAYERS",
    "RECIPE_FAMILIES",
    "SURFACES",
    "Part",
    "iter_blocks",
    "parts_of",
    "render_sound",
    "render_to_wav",
    "surface_of",
    "window_levels",
]
