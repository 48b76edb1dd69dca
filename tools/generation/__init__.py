"""Audio generators behind one small protocol, chosen by name from a registry.

Nodes ask for a generator by the name in the run's context; they never know which backend
serves them. ``auto`` picks the best backend that can run on this machine.
"""

from lvas.tools.generation.base import (
    AudioGenerator,
    GenerationRequest,
    GeneratorCapabilities,
    SequentialBatchMixin,
)
from lvas.tools.generation.registry import (
    available_generators,
    backend_names,
    backend_status,
    get_generator,
    register,
)

__all__ = [
    "AudioGenerator",
    "GenerationRequest",
    "GeneratorCapabilities",
    "SequentialBatchMixin",
    "available_generators",
    "backend_names",
    "backend_status",
    "get_generator",
    "register",
]
