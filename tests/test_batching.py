"""Shared batching of model backends: groups, and halving on out-of-memory."""

from __future__ import annotations

import pytest

from lvas.tools.generation.batching import group_indices, run_in_batches


def test_groups_keep_first_seen_order():
    assert group_indices([3, 1, 3, 2, 1], lambda x: x) == {3: [0, 2], 1: [1, 4], 2: [3]}


def test_out_of_memory_halves_the_batch_and_keeps_the_smaller_size():
    calls: list[tuple[str, list[int]]] = []

    def call(group, chunk):
        if len(chunk) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        calls.append((group, chunk))

    limit = run_in_batches({"a": [0, 1, 2, 3, 4], "b": [5]}, 8, call)
    assert limit == 2
    assert calls == [("a", [0, 1]), ("a", [2, 3]), ("a", [4]), ("b", [5])]


def test_one_request_that_does_not_fit_and_other_errors_raise():
    def oom(group, chunk):
        raise RuntimeError("out of memory")

    with pytest.raises(LookupError, match="too big: g"):
        run_in_batches({"g": [0, 1]}, 2, oom,
                       on_single_oom=lambda group, exc: LookupError(f"too big: {group}"))

    def broken(group, chunk):
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        run_in_batches({"g": [0, 1]}, 2, broken)
