"""Planners behind one protocol: who writes scripts, reviews, sound designs and label picks.

Nodes ask for a planner by the name in the run's context and never know which one serves
them. ``auto`` picks a chat model when one is configured (LVAS_LLM_MODEL) and the offline
planner otherwise; the offline planner needs no model at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.types import (
    LabelCandidate,
    LabelChoice,
    ReviewAction,
    Scene,
    SceneDesign,
    SceneScript,
)
from lvas.tools.planning.offline import OfflinePlanner

if TYPE_CHECKING:
    from lvas.tools.llm.call_log import CallLog
    from lvas.tools.llm.chat import ChatSettings

CHAT_BACKENDS = ("auto", "offline", "openai")


class Planner(Protocol):
    """Who writes scripts, reviews, designs and label picks; ``log`` collects model usage and
    fallback warnings (the offline planner ignores it)."""

    name: str

    def describe_video(self, scenes: list[Scene], prompt: str | None,
                       log: CallLog | None = None) -> str: ...

    def describe_scene(self, scene: Scene, overview: str, prompt: str | None,
                       log: CallLog | None = None) -> SceneScript: ...

    def review_pair(self, previous: Scene | None, previous_script: SceneScript | None,
                    scene: Scene, script: SceneScript, overview: str, prompt: str | None,
                    log: CallLog | None = None
                    ) -> tuple[ReviewAction, str, SceneScript | None]: ...

    def design_scene(self, scene: Scene, script: SceneScript, prompt: str | None,
                     onsets: list[float], seed: int,
                     log: CallLog | None = None) -> SceneDesign: ...

    def select_labels(self, design: SceneDesign, candidates: dict[str, list[LabelCandidate]],
                      prompt: str | None,
                      log: CallLog | None = None) -> dict[str, LabelCandidate | None]: ...

    def review_labels(self, design: SceneDesign, choices: dict[str, LabelChoice],
                      prompt: str | None,
                      log: CallLog | None = None) -> dict[str, tuple[bool, str, str | None]]: ...


def get_planner(name: str = "auto", *, chat: ChatSettings | None = None,
                vision: bool = True) -> Planner:
    """The planner called ``name``; ``auto`` uses the chat model when ``chat`` is configured.

    ``vision`` False gives a planner that does not see the picture: the chat planner sends no
    keyframes, the offline planner ignores measured colour and light (see each module).
    """
    if name not in CHAT_BACKENDS:
        raise LVASInputError(
            f"Unknown chat backend {name!r}; choose one of: {', '.join(CHAT_BACKENDS)}."
        )
    if name == "offline" or (name == "auto" and chat is None):
        return OfflinePlanner(vision=vision)
    if chat is None:
        raise LVASInputError(
            "chat_backend 'openai' needs a model: set LVAS_LLM_MODEL (and LVAS_LLM_BASE_URL "
            "for a local server such as vLLM, Ollama or llama.cpp)."
        )
    from lvas.tools.planning.chat import ChatPlanner

    return ChatPlanner(chat, vision=vision)
