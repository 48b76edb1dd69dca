"""What the adapter asked of the stand-in, and the faults a test wants it to raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    networks: list[str] = field(default_factory=list)  # get_my_mmaudio names
    features: list[dict[str, Any]] = field(default_factory=list)  # FeaturesUtils kwargs
    downloads: list[str] = field(default_factory=list)  # download_model_if_needed paths
    loaded: list[int] = field(default_factory=list)  # load_weights: number of tensors
    seq_lengths: list[tuple[int, int, int]] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)  # batch size of every generate call
    generate_calls: list[dict[str, Any]] = field(default_factory=list)  # completed calls
    flow_steps: list[int] = field(default_factory=list)  # num_steps of every to_data run
    # Faults: ``generate`` raises when the batch is larger than ``oom_above``; as
    # torch.cuda.OutOfMemoryError, or as RuntimeError(oom_message) when that is set.
    oom_above: int | None = None
    oom_message: str | None = None
    fail_with: Exception | None = None


RECORD = Record()


def reset() -> Record:
    """Forget every call and fault (between tests)."""
    global RECORD
    RECORD.__dict__.update(Record().__dict__)
    return RECORD
