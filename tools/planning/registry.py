"""Planners behind one protocol: who writes scripts, reviews, sound designs and label picks.

Nodes ask for a planner by the name in the run's context and never know which one serves
them. ``auto`` picks a chat model when one is configured (LVAS_LLM_MODEL) and the offline
planner otherwise; the offline planner needs no model at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from lvas.tools.common.errors import LVASInputError
from lvas.tools.planning.offline import OfflinePlanner

if TYPE_CHECKING:
    from lvas.tools.llm.chat import ChatSettings

CHAT_BACKENDS = ("auto", "offline", "openai")


class Planner(Protocol):
    name: str

    def describe_video(self, scenes: list[dict[str, Any]], prompt: str | None,
                       log: Any) -> str: ...

    def describe_scene(self, scene: dict[str, Any], overview: str, prompt: str | None,
                       log: Any) -> dict[str, Any]: ...

    def review_pair(self, previous: dict[str, Any] | None,
                    previous_script: dict[str, Any] | None, scene: dict[str, Any],
                    script: dict[str, Any], overview: str, prompt: str | None,
                    log: Any) -> tuple[str, str, dict[str, Any] | None]: ...

    def design_scene(self, scene: dict[str, Any], script: dict[str, Any], prompt: str | None,
                     onsets: list[float], seed: int, log: Any) -> dict[str, Any]: ...

    def select_labels(self, design: dict[str, Any], candidates: dict[str, list[dict[str, Any]]],
                      prompt: str | None, log: Any) -> dict[str, dict[str, Any] | None]: ...

    def review_labels(self, design: dict[str, Any], choices: dict[str, dict[str, Any]],
                      prompt: str | None,
                      log: Any) -> dict[str, tuple[bool, str, str | None]]: ...


def get_planner(name: str = "auto", *, chat: ChatSettings | None = None) -> Planner:
    """The planner called ``name``; ``auto`` uses the chat model when ``chat`` is configured."""
    if name not in CHAT_BACKENDS:
        raise LVASInputError(
            f"Unknown chat backend {name!r}; choose one of: {', '.join(CHAT_BACKENDS)}."
        )
    if name == "offline" or (name == "auto" and chat is None):
        return OfflinePlanner()
    if chat is None:
        raise LVASInputError(
            "chat_backend 'openai' needs a model: set LVAS_LLM_MODEL (and LVAS_LLM_BASE_URL "
            "for a local server such as vLLM, Ollama or llama.cpp)."
        )
    from lvas.tools.planning.chat import ChatPlanner

    return ChatPlanner(chat)
