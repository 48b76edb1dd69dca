"""Helpers every node shares: timing and run-directory paths."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from lvas.graph.state import LVASState
from lvas.nodes import failpoints
from lvas.tools.common.types import Scene
from lvas.tools.llm.call_log import CallLog

if TYPE_CHECKING:
    from lvas.graph.context import Context
    from lvas.tools.planning.registry import Planner

P = ParamSpec("P")
Update = TypeVar("Update", bound=Mapping[str, Any])


def timed(name: str) -> Callable[[Callable[P, Update]], Callable[P, Update]]:
    """Add the node's wall time to the ``timings`` channel of its update (and let fault
    injection, :mod:`lvas.nodes.failpoints`, fail the node when a test asks)."""

    def decorate(func: Callable[P, Update]) -> Callable[P, Update]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Update:
            state = args[0] if args else None
            failpoints.check(name, state.get("video") if isinstance(state, Mapping) else None)
            started = time.perf_counter()
            update = func(*args, **kwargs)
            if isinstance(update, dict):
                update = cast(Update, {**update, "timings": {name: time.perf_counter() - started}})
            return update

        return wrapper

    return decorate


def in_run(run_dir: str, relative: str) -> Path:
    """Absolute path of an artifact stored in state relative to the run directory."""
    path = Path(relative)
    return path if path.is_absolute() else Path(run_dir) / path


def planner_for(ctx: Context) -> Planner:
    """The planner this run's context asks for (offline, or a chat model)."""
    from lvas.tools.planning.registry import get_planner

    return get_planner(ctx.chat_backend, chat=ctx.chat_settings())


def scriptwriter_planner(ctx: Context) -> Planner:
    """The Scriptwriter's planner, seeing the keyframes only when the run has vision input."""
    from lvas.tools.planning.registry import get_planner

    return get_planner(ctx.chat_backend, chat=ctx.chat_settings(), vision=ctx.vision_input)


def measures_keyframes(ctx: Context) -> bool:
    """Whether this run's Scriptwriter measures keyframes (the offline planner, with vision)."""
    return ctx.vision_input and scriptwriter_planner(ctx).name == "offline"


def new_log() -> CallLog:
    """A per-node record of model calls (usage for accounting, warnings for fallbacks)."""
    return CallLog()


def log_update(log: CallLog) -> LVASState:
    """The state channels a node's model calls report into."""
    update: LVASState = {}
    if log.usage:
        update["llm_usage"] = list(log.usage)
    if log.warnings:
        update["warnings"] = list(log.warnings)
    return update


def with_absolute_keyframes(scene: Scene, run_dir: str) -> Scene:
    """A scene as planners see it: keyframe paths they can open."""
    return {**scene, "keyframes": [str(in_run(run_dir, k)) for k in scene.get("keyframes", [])]}
