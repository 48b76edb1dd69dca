"""Helpers every node shares: timing and run-directory paths."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed(name: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Add the node's wall time to the ``timings`` channel of its update."""

    def decorate(func: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
            started = time.perf_counter()
            update = func(*args, **kwargs)
            if isinstance(update, dict):
                update = {**update, "timings": {name: time.perf_counter() - started}}
            return update

        return wrapper

    return decorate


def in_run(run_dir: str, relative: str) -> Path:
    """Absolute path of an artifact stored in state relative to the run directory."""
    path = Path(relative)
    return path if path.is_absolute() else Path(run_dir) / path
