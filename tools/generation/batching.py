"""Batches for model backends: group requests that can share a call, and shrink the batch when
the device runs out of memory. Shared by every backend that renders on a GPU."""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is torch running out of device memory (CUDA, MPS or the CPU allocator)."""
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None) or getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_device_memory() -> None:
    """Give cached device memory back before a smaller retry."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def group_indices(items: Sequence[T], key: Callable[[T], K]) -> dict[K, list[int]]:
    """Indices of ``items`` by ``key``, in first-seen order: one group per compatible call."""
    groups: dict[K, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    return groups


def run_in_batches(
    groups: dict[K, list[int]],
    batch_limit: int,
    call: Callable[[K, list[int]], None],
    *,
    on_single_oom: Callable[[K, BaseException], Exception] | None = None,
) -> int:
    """Call ``call(group, chunk)`` on chunks of at most ``batch_limit`` indices per group.

    A chunk that runs out of device memory is retried at half the size, down to one; one that
    still does not fit raises ``on_single_oom(group, exc)`` (or the error itself). Returns the
    batch limit that worked, so a backend can keep it for its later calls.
    """
    limit = max(1, int(batch_limit))
    for group, indices in groups.items():
        pos = 0
        while pos < len(indices):
            chunk = indices[pos:pos + limit]
            try:
                call(group, chunk)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                free_device_memory()
                if len(chunk) == 1:
                    if on_single_oom is None:
                        raise
                    raise on_single_oom(group, exc) from exc
                limit = max(1, len(chunk) // 2)
                continue
            pos += len(chunk)
    return limit
