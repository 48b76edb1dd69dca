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


def planner_for(ctx: Any) -> Any:
    """The planner this run's context asks for (offline, or a chat model)."""
    from lvas.tools.planning.registry import get_planner

    return get_planner(ctx.chat_backend, chat=ctx.chat_settings())


def new_log() -> Any:
    """A per-node record of model calls (usage for accounting, warnings for fallbacks)."""
    from lvas.tools.llm.chat import CallLog

    return CallLog()


def log_update(log: Any) -> dict[str, Any]:
    """The state channels a node's model calls report into."""
    update: dict[str, Any] = {}
    if log.usage:
        update["llm_usage"] = list(log.usage)
    if log.warnings:
        update["warnings"] = list(log.warnings)
    return update


def with_absolute_keyframes(scene: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """A scene as planners see it: keyframe paths they can open."""
    return {**scene, "keyframes": [str(in_run(run_dir, k)) for k in scene.get("keyframes", [])]}
