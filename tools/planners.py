"""Planners behind one protocol: who writes scripts, reviews and sound designs.

Nodes ask for a planner by the name in the run's context and never know which one serves
them. ``auto`` picks the best available; the offline planner needs no model at all.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol

from tools import offline_planner
from tools.errors import LVASInputError


class Planner(Protocol):
    def describe_video(self, scenes: list[dict[str, Any]], prompt: str | None) -> str: ...

    def describe_scene(self, scene: dict[str, Any]) -> dict[str, Any]: ...

    def review_pair(
        self,
        previous: dict[str, Any] | None,
        previous_script: dict[str, Any] | None,
        scene: dict[str, Any],
        script: dict[str, Any],
        overview: str,
        prompt: str | None,
    ) -> tuple[str, str, dict[str, Any] | None]: ...

    def design_scene(
        self,
        scene: dict[str, Any],
        script: dict[str, Any],
        prompt: str | None,
        onsets: list[float],
        seed: int,
    ) -> dict[str, Any]: ...

    def review_label(
        self, sound: dict[str, Any], choice: dict[str, Any], prompt: str | None
    ) -> tuple[bool, str]: ...


_PLANNERS: dict[str, ModuleType] = {"offline": offline_planner}
_AUTO_ORDER = ("offline",)


def get_planner(name: str = "auto") -> Planner:
    """The planner called ``name``; ``auto`` gives the best one configured here."""
    if name == "auto":
        name = next(n for n in _AUTO_ORDER if n in _PLANNERS)
    try:
        return _PLANNERS[name]  # type: ignore[return-value]
    except KeyError:
        raise LVASInputError(
            f"Unknown chat backend {name!r}; choose one of: auto, {', '.join(_PLANNERS)}."
        ) from None
