"""The prompts of LVAS's roles, loaded by name, each with the schema of its answer.

A prompt lives in ``prompts/<name>.md`` with a ``## system`` and a ``## user`` section; the user
section is a ``str.format`` template. Files are read through importlib.resources so an installed
package finds them as well as a checkout does.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from lvas.prompts.schemas import SCHEMAS

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from pydantic import BaseModel

PROMPT_NAMES: tuple[str, ...] = tuple(SCHEMAS)
_SECTION = re.compile(r"^##\s+(\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    """One role's instructions: a fixed system text and a user template to fill in."""

    name: str
    system: str
    user: str
    schema: type[BaseModel]

    @property
    def placeholders(self) -> frozenset[str]:
        """Names the user template expects, e.g. ``{overview}``."""
        return frozenset(
            field for _, field, _, _ in string.Formatter().parse(self.user) if field
        )

    def format_user(self, **values: Any) -> str:
        """The user text with every placeholder filled; a missing value is a clear error."""
        missing = sorted(self.placeholders - set(values))
        if missing:
            raise KeyError(f"prompt {self.name!r} needs values for: {', '.join(missing)}")
        return self.user.format(**values)

    def messages(
        self,
        images: Sequence[str] = (),
        max_images: int = 4,
        image_width: int = 512,
        **values: Any,
    ) -> list[BaseMessage]:
        """System and user messages; images (paths) go into the user message as JPEG parts."""
        from langchain_core.messages import HumanMessage, SystemMessage

        text = self.format_user(**values)
        if images and max_images > 0:
            from lvas.tools.llm.chat import user_message

            human = user_message(text, list(images), max_images=max_images, width=image_width)
        else:
            human = HumanMessage(content=text)
        return [SystemMessage(content=self.system), human]


def _sections(name: str, text: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    found = {parts[i].lower(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    for section in ("system", "user"):
        if not found.get(section):
            raise ValueError(f"prompt file {name}.md has no '## {section}' section")
    return found


@cache
def load_prompt(name: str) -> Prompt:
    """The prompt called ``name`` (one of PROMPT_NAMES), read once and cached."""
    if name not in SCHEMAS:
        raise KeyError(f"unknown prompt {name!r}; known prompts: {', '.join(PROMPT_NAMES)}")
    text = resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    sections = _sections(name, text)
    return Prompt(name=name, system=sections["system"], user=sections["user"],
                  schema=SCHEMAS[name])
