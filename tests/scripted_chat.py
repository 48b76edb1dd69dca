"""A scripted chat model for tests: queued replies, recorded requests, no network.

It is a real langchain ``BaseChatModel``, so the project's StructuredCaller drives it exactly as
it drives ChatOpenAI: with ``response_format``, ``tools`` and ``tool_choice`` passed as call
arguments (or bound), answers read from ``content`` or ``tool_calls``, and token counts from
``usage_metadata``. Tests queue what the "endpoint" says and then assert on what it was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr


@dataclass
class Reply:
    """One scripted answer: text content, or a tool call when ``tool_args`` is given."""

    text: str = ""
    tool_args: dict[str, Any] | None = None
    tool_name: str | None = None  # None: the name of the tool the request offered
    tokens_in: int = 100
    tokens_out: int = 20


@dataclass
class Request:
    """What the model was sent in one call."""

    messages: list[BaseMessage]
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """All text of all messages, joined, for asserting on prompt content."""
        return "\n".join(_texts(m) for m in self.messages)

    @property
    def images(self) -> list[str]:
        """The image URLs (data: URLs) carried by the messages, in order."""
        urls: list[str] = []
        for message in self.messages:
            if isinstance(message.content, list):
                for part in message.content:
                    if isinstance(part, dict) and part.get("type") == "image_url":
                        url = part["image_url"]
                        urls.append(url["url"] if isinstance(url, dict) else str(url))
        return urls


ReplyLike = str | dict | Reply | BaseException


class ScriptedChat(BaseChatModel):
    """Answers from a queue; a dict is sent as JSON text, an exception instance is raised.

    ``responder(request)`` answers when the queue is empty (e.g. for concurrent calls whose
    order is not fixed); without one, an empty queue is a test failure (AssertionError).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[Any] = Field(default_factory=list)
    responder: Callable[[Request], ReplyLike] | None = None
    requests: list[Request] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    def queue(self, *replies: ReplyLike) -> ScriptedChat:
        with self._lock:
            self.replies.extend(replies)
        return self

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None,
                   **kwargs: Any) -> Any:
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        request = Request(messages=list(messages), kwargs=dict(kwargs))
        with self._lock:
            self.requests.append(request)
            reply = self.replies.pop(0) if self.replies else None
        if reply is None:
            if self.responder is None:
                raise AssertionError("scripted chat model has no reply left")
            reply = self.responder(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, dict):
            reply = Reply(text=json.dumps(reply))
        elif isinstance(reply, str):
            reply = Reply(text=reply)
        return ChatResult(generations=[ChatGeneration(message=_message(reply, kwargs))])


def _message(reply: Reply, kwargs: dict[str, Any]) -> AIMessage:
    usage = {"input_tokens": reply.tokens_in, "output_tokens": reply.tokens_out,
             "total_tokens": reply.tokens_in + reply.tokens_out}
    if reply.tool_args is None:
        return AIMessage(content=reply.text, usage_metadata=usage)
    name = reply.tool_name or _offered_tool(kwargs) or "answer"
    call = {"name": name, "args": reply.tool_args, "id": "call_1", "type": "tool_call"}
    return AIMessage(content=reply.text, tool_calls=[call], usage_metadata=usage)


def _offered_tool(kwargs: dict[str, Any]) -> str | None:
    for tool in kwargs.get("tools") or []:
        if isinstance(tool, dict):
            return tool.get("function", {}).get("name") or tool.get("name")
    return None


def _texts(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "\n".join(part.get("text", "") for part in message.content
                     if isinstance(part, dict) and part.get("type") == "text")
