"""Structured calls to chat and vision models that survive what real endpoints do wrong.

One OpenAI-compatible client (``langchain-openai``) serves hosted OpenAI models and local
servers (vLLM, Ollama, llama.cpp's server); ``gguf:PATH`` runs a model in-process. The openai
client retries what is transient (with backoff and the server's ``Retry-After``) and
LangChain's cache answers identical calls; the caller adds what neither does: the
structured-output method and its fallback, the repair round for invalid JSON, the concurrency
cap and the accounting, so every failure ends either in a validated Pydantic object or in a
:class:`ChatFailure` the planner can answer with its offline fallback.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlparse

import openai
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, SecretStr, ValidationError

from lvas.tools.common.errors import LVASInputError
from lvas.tools.llm.call_log import CallLog

Method = Literal["auto", "json_schema", "json_mode", "function_calling"]
METHODS: tuple[str, ...] = ("json_schema", "function_calling", "json_mode")
"""Order ``auto`` tries; a method a server rejects moves the call on to the next."""

JPEG_QUALITY = 85
CACHE_FILE = "replies.sqlite"
_ERROR_TEXT_LIMIT = 1500

_METHOD_WORDS = ("response_format", "json_schema", "json_object", "tool_choice", "tools",
                 "function")
# What the openai client itself retries (with connection errors: 408 and 409 too); reaching
# the caller, these mean its retries are spent.
_TRANSIENT = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
              openai.InternalServerError)

M = TypeVar("M", bound=BaseModel)


class ChatFailure(RuntimeError):
    """The step could not get a valid answer from the model; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatConfigError(ChatFailure, LVASInputError):
    """The chat model is configured wrongly: the user must fix settings, not the model.

    Both a :class:`ChatFailure` (a planner may fall back) and an
    :class:`~lvas.tools.common.errors.LVASInputError` (the CLI exits with code 2 and the message).
    """


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ChatSettings:
    """How to reach one chat model and how hard to try; immutable so it can key caches.

    A run builds it from its :class:`~lvas.graph.context.Context` (``Context.chat_settings``),
    whose ``llm_*`` fields take their defaults from the LVAS_LLM_* variables. ``api_key`` is for
    Python callers; left out, the openai client reads OPENAI_API_KEY itself. ``max_retries``
    is the openai client's: how often it retries a request that failed for a transient reason.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = None
    temperature: float = 0.2
    max_tokens: int = 2048
    timeout: float = 60.0
    method: Method = "auto"
    max_retries: int = 4
    max_concurrency: int = 4
    cache_dir: str | None = None
    max_images: int = 4
    image_width: int = 512

    def __post_init__(self) -> None:
        if not self.model or not self.model.strip():
            raise LVASInputError("The chat model name is empty; set LVAS_LLM_MODEL.")
        if self.method not in get_args(Method):
            raise LVASInputError(
                f"Unknown structured-output method {self.method!r}; choose one of: "
                f"{', '.join(get_args(Method))}."
            )
        positive = {"max_tokens": self.max_tokens, "timeout": self.timeout,
                    "max_concurrency": self.max_concurrency, "image_width": self.image_width}
        for name, value in positive.items():
            if value <= 0:
                raise LVASInputError(f"Chat setting {name} must be positive, got {value}.")
        if self.max_retries < 0 or self.max_images < 0:
            raise LVASInputError("Chat settings max_retries and max_images must be >= 0.")

    def __repr__(self) -> str:
        # Keep the key out of logs and tracebacks.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if shown["api_key"]:
            shown["api_key"] = "***"
        return "ChatSettings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def endpoint(self) -> str:
        """Human-readable name of where requests go."""
        if self.model.startswith("gguf:"):
            return "in-process llama.cpp"
        return self.base_url or "OpenAI API"


# --------------------------------------------------------------------------- the model


def _is_openai_host(base_url: str | None) -> bool:
    return base_url is None or (urlparse(base_url).hostname or "").endswith("api.openai.com")


def make_chat_model(settings: ChatSettings, *, cache: BaseCache | None = None) -> BaseChatModel:
    """The chat model for ``settings``, answering from ``cache`` when given (never the global
    LangChain cache, so runs and tests do not share one by accident).

    The openai client retries connection errors, timeouts, 408, 409, 429 and 5xx up to
    ``settings.max_retries`` times: it waits what the server asks in ``retry-after-ms`` or
    ``Retry-After`` (up to two minutes; a longer wait is not retried at all), else 0.5 s
    doubling to 8 s, less up to a quarter of jitter. OpenAI-compatible servers get the output
    limit both as ``max_completion_tokens`` and, in the request body, as ``max_tokens`` (many
    local servers read only the latter); OpenAI's own API gets only ``max_completion_tokens``,
    which its newer models require.
    """
    if settings.model.startswith("gguf:"):
        return _make_gguf_model(settings, cache)
    from langchain_openai import ChatOpenAI

    extra_body = None if _is_openai_host(settings.base_url) else {"max_tokens":
                                                                   settings.max_tokens}
    options: dict[str, Any] = {
        "model": settings.model, "base_url": settings.base_url,
        "temperature": settings.temperature, "max_completion_tokens": settings.max_tokens,
        "timeout": settings.timeout, "max_retries": settings.max_retries,
        "extra_body": extra_body, "cache": cache if cache is not None else False,
    }
    try:
        # With no key given, the client reads OPENAI_API_KEY, and refuses to start without one.
        key = SecretStr(settings.api_key) if settings.api_key else None
        return ChatOpenAI(api_key=key, **options)
    except openai.OpenAIError:
        if settings.base_url is None:
            raise ChatConfigError(
                f"Chat model {settings.model!r} on OpenAI's API needs a key: set "
                "OPENAI_API_KEY, or set LVAS_LLM_BASE_URL to a local OpenAI-compatible "
                "server (vLLM, Ollama, llama.cpp)."
            ) from None
    return ChatOpenAI(api_key=SecretStr("not-needed"), **options)  # local servers take any key


def _make_gguf_model(settings: ChatSettings, cache: BaseCache | None) -> BaseChatModel:
    """llama.cpp in this process: nothing transient to retry, so ``max_retries`` has no use;
    ``response_format`` and ``tools`` reach ``create_chat_completion`` as call arguments."""
    path = Path(settings.model[len("gguf:"):]).expanduser()
    if importlib.util.find_spec("llama_cpp") is None:
        raise ChatConfigError(
            f"Model {settings.model!r} runs in-process and needs llama-cpp-python: "
            "pip install llama-cpp-python (or serve the GGUF file with llama.cpp's server "
            "and set LVAS_LLM_BASE_URL)."
        )
    if not path.is_file():
        raise ChatConfigError(f"GGUF model file {path} does not exist; fix LVAS_LLM_MODEL.")
    from langchain_community.chat_models import ChatLlamaCpp

    return ChatLlamaCpp(model_path=str(path), temperature=settings.temperature,
                        max_tokens=settings.max_tokens, n_ctx=8192, streaming=False,
                        verbose=False, cache=cache if cache is not None else False)


# --------------------------------------------------------------------------- vision


def image_part(path: str | Path, width: int = 512) -> dict[str, Any]:
    """A JPEG/PNG as an OpenAI image content part: at most ``width`` wide, JPEG, inline."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise LVASInputError(f"Cannot read image {path}: expected a readable JPEG or PNG file.")
    height, current = image.shape[:2]
    if current > width:
        size = (int(width), max(1, round(height * width / current)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise LVASInputError(f"Cannot encode image {path} as JPEG.")
    data = base64.b64encode(encoded.tobytes()).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{data}"}}


def _spread(count: int, keep: int) -> list[int]:
    """Indices of ``keep`` items spread evenly over ``count`` (first and last included)."""
    if keep <= 0 or count <= 0:
        return []
    if count <= keep:
        return list(range(count))
    if keep == 1:
        return [count // 2]
    return sorted({round(i * (count - 1) / (keep - 1)) for i in range(keep)})


def user_message(text: str, images: Sequence[str | Path] = (), *, max_images: int = 4,
                 width: int = 512) -> HumanMessage:
    """A user turn with text and up to ``max_images`` images chosen evenly from ``images``."""
    chosen = [images[i] for i in _spread(len(images), max_images)]
    if not chosen:
        return HumanMessage(content=text)
    parts: list[str | dict[str, Any]] = [{"type": "text", "text": text}]
    parts.extend(image_part(p, width) for p in chosen)
    return HumanMessage(content=parts)


def _without_images(messages: list[BaseMessage]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for message in messages:
        if isinstance(message.content, list):
            kept = [p for p in message.content
                    if not (isinstance(p, dict) and p.get("type") in ("image_url", "image"))]
            message = message.model_copy(update={"content": kept})
        out.append(message)
    return out


# --------------------------------------------------------------------------- parsing


class _InvalidReply(Exception):
    """The reply was not valid JSON for the schema; ``raw`` is what the model said."""

    def __init__(self, error: str, raw: str) -> None:
        super().__init__(error)
        self.error = error
        self.raw = raw


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def _reply_text(reply: BaseMessage) -> str:
    content = reply.content
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "".join(texts)


def extract_json(text: str) -> Any:
    """The JSON value in a model's text: whole, inside a ```json fence, or the first object."""
    text = _THINK.sub("", text).strip()
    candidates = [m.group(1).strip() for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError("the reply contains no JSON object")


def _parse_reply(reply: BaseMessage, schema: type[M], method: str) -> M:
    raw = _reply_text(reply)
    data: Any = None
    if method == "function_calling" and isinstance(reply, AIMessage):
        if reply.tool_calls:
            data = reply.tool_calls[0]["args"]
            raw = json.dumps(data, ensure_ascii=False)
        elif reply.invalid_tool_calls:
            bad = reply.invalid_tool_calls[0]
            raise _InvalidReply(f"the tool call's arguments are not valid JSON: "
                                f"{bad.get('error') or 'parse error'}",
                                str(bad.get("args") or ""))
    if data is None:
        try:
            data = extract_json(raw)
        except ValueError as exc:
            raise _InvalidReply(f"{exc}; reply with a single JSON object", raw) from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise _InvalidReply(str(exc)[:_ERROR_TEXT_LIMIT], raw) from None


# --------------------------------------------------------------------------- cache


class ReplyCache(BaseCache):
    """LangChain's SQLite cache of model replies, with the two things LVAS needs on top.

    LangChain keys a reply by the model's parameters (name, endpoint, temperature, token
    limit, and also timeout and retries), the call's arguments (method, schema, tools) and the
    messages with their inline images, which is what makes two calls identical. But it
    stores every reply, even one that then fails validation and would be replayed, repair
    round and all, on every later run; and on a hit it hands back the original token counts
    without saying it was a hit. So here a reply is stored only when the caller calls
    :meth:`keep` (it validated), and the caller asks whether its request was :meth:`answered`
    from the cache. Both are per thread: one cache serves every concurrent call to its
    folder, and a model call runs in its caller's thread.
    """

    def __init__(self, folder: Path) -> None:
        # Imported here: langchain-community and SQLAlchemy take about a second to import,
        # which runs without a model never pay.
        from langchain_community.cache import SQLiteCache

        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / CACHE_FILE
        self._store = SQLiteCache(str(self.path))
        self._local = threading.local()

    def start(self) -> None:
        """Begin a request in this thread: not answered, nothing to keep."""
        self._local.hit = False
        self._local.pending = None

    def answered(self) -> bool:
        """Whether this thread's request since :meth:`start` came from the cache."""
        return bool(getattr(self._local, "hit", False))

    def keep(self) -> None:
        """Store the reply this thread's request got from the model (it validated)."""
        pending, self._local.pending = getattr(self._local, "pending", None), None
        if pending is not None:
            try:
                self._store.update(*pending)
            except Exception as exc:  # noqa: BLE001 - a cache that fails only costs a request
                self._local.problem = f"could not write the chat cache {self.path}: {exc}"

    def problem(self) -> str | None:
        """What went wrong with the cache in this thread since last asked, if anything."""
        found, self._local.problem = getattr(self._local, "problem", None), None
        return found

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        try:
            found = self._store.lookup(prompt, llm_string)
        except Exception as exc:  # noqa: BLE001 - a cache that fails only costs a request
            self._local.problem = f"could not read the chat cache {self.path}: {exc}"
            found = None
        # SQLiteCache hands back a row it cannot deserialise (an old format, or a class that a
        # newer langchain-core no longer loads by default) as plain text: that is no reply.
        if not found or not all(isinstance(g, ChatGeneration) for g in found):
            found = None
        self._local.hit = found is not None
        return found

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        self._local.pending = (prompt, llm_string, return_val)

    def clear(self, **kwargs: Any) -> None:
        self._store.clear(**kwargs)


_CACHES_LOCK = threading.Lock()
_CACHES: dict[Path, ReplyCache] = {}


def reply_cache(folder: str | Path) -> ReplyCache:
    """The one :class:`ReplyCache` of ``folder`` in this process."""
    folder = Path(folder).expanduser().resolve()
    with _CACHES_LOCK:
        if folder not in _CACHES:
            _CACHES[folder] = ReplyCache(folder)
        return _CACHES[folder]


# --------------------------------------------------------------------------- the caller

_REGISTRY_LOCK = threading.Lock()
_SEMAPHORES: dict[tuple[str, str, int], threading.BoundedSemaphore] = {}
_WORKING_METHOD: dict[tuple[str, str], str] = {}
_NO_LEGACY_MAX_TOKENS: set[tuple[str, str]] = set()


def _semaphore_for(key: tuple[str, str], slots: int) -> threading.BoundedSemaphore:
    with _REGISTRY_LOCK:
        return _SEMAPHORES.setdefault((*key, slots), threading.BoundedSemaphore(slots))


def forget_endpoints() -> None:
    """Forget remembered methods and quirks of every endpoint (for tests)."""
    with _REGISTRY_LOCK:
        _WORKING_METHOD.clear()
        _NO_LEGACY_MAX_TOKENS.clear()


class _MethodRejected(Exception):
    pass


@dataclass
class _Stats:
    attempts: int = 0  # requests that reached the model (each with the client's retries)
    hits: int = 0      # requests answered from the cache
    tokens_in: int = 0
    tokens_out: int = 0


def _error_text(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    body = getattr(exc, "body", None)
    if body is not None and str(body) not in text:
        text = f"{text} {body}"
    return text[:_ERROR_TEXT_LIMIT]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.RateLimitError):
        return "rate limited (429)"
    if isinstance(exc, openai.APITimeoutError):
        return "request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "cannot connect"
    if isinstance(exc, openai.InternalServerError):
        return f"server error {getattr(exc, 'status_code', '5xx')}"
    return type(exc).__name__


class StructuredCaller:
    """Ask a chat model for one Pydantic object, with method fallback, repair and accounting.

    What is transient the client retries (see :func:`make_chat_model`); identical calls are
    answered by LangChain's cache in ``settings.cache_dir`` (see :class:`ReplyCache`). A
    ``model`` given here is used as it is, cache and retries included.
    """

    def __init__(self, settings: ChatSettings, *, model: BaseChatModel | None = None) -> None:
        self.settings = settings
        self._cache: ReplyCache | None = None
        self._cache_problem: str | None = None
        if model is None and settings.cache_dir:
            try:
                self._cache = reply_cache(settings.cache_dir)
            except Exception as exc:  # noqa: BLE001 - without a cache the run still works
                self._cache_problem = f"no chat cache in {settings.cache_dir}: {exc}"
        self.model = model if model is not None else make_chat_model(settings, cache=self._cache)
        self._key = (settings.base_url or "", settings.model)
        self._semaphore = _semaphore_for(self._key, settings.max_concurrency)
        self._gguf = settings.model.startswith("gguf:")

    # ----------------------------------------------------------------- public

    def call(self, role: str, schema: type[M], messages: list[BaseMessage],
             log: CallLog) -> M:
        """A validated ``schema`` instance, or :class:`ChatFailure` with the reason.

        The call is recorded in ``log`` once, with all its requests; one answered wholly from
        the cache is recorded as cached, with no tokens and no attempts.
        """
        started = time.monotonic()
        if self._cache_problem is not None:
            log.warn(f"{role}: {self._cache_problem}")
            self._cache_problem = None
        stats = _Stats()
        method: str | None = None
        try:
            value, method = self._call_methods(role, schema, messages, log, stats)
        except ChatFailure:
            log.add_usage(role, self.settings.model, tokens_in=stats.tokens_in,
                          tokens_out=stats.tokens_out, latency_s=time.monotonic() - started,
                          attempts=stats.attempts, method=method, ok=False)
            raise
        log.add_usage(role, self.settings.model, tokens_in=stats.tokens_in,
                      tokens_out=stats.tokens_out, latency_s=time.monotonic() - started,
                      cached=stats.hits > 0 and stats.attempts == 0,
                      attempts=stats.attempts, method=method)
        return value

    def method_order(self) -> list[str]:
        """Methods in the order this call will try them (remembered working method first)."""
        if self._gguf:
            base = ["json_mode", "function_calling"]
        else:
            base = list(METHODS)
        first: str | None = self.settings.method if self.settings.method != "auto" else None
        with _REGISTRY_LOCK:
            first = first or _WORKING_METHOD.get(self._key)
        if first in base:
            base.remove(first)
        return [first, *base] if first else base

    # ----------------------------------------------------------------- methods

    def _call_methods(self, role: str, schema: type[M], messages: list[BaseMessage],
                      log: CallLog, stats: _Stats) -> tuple[M, str]:
        rejected: list[str] = []
        for method in self.method_order():
            try:
                value = self._call_method(role, method, schema, messages, log, stats)
            except _MethodRejected as exc:
                rejected.append(f"{method}: {exc}")
                log.warn(f"{role}: {self.settings.endpoint} rejected structured output "
                         f"method {method}; trying the next one")
                continue
            with _REGISTRY_LOCK:
                _WORKING_METHOD[self._key] = method
            return value, method
        raise ChatFailure("the server rejected every structured-output method ("
                          + "; ".join(rejected) + ")")

    def _method_kwargs(self, method: str, schema: type[BaseModel]) -> dict[str, Any]:
        name = re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64]
        if method == "json_schema":
            return {"response_format": {"type": "json_schema", "json_schema": {
                "name": name, "schema": schema.model_json_schema(), "strict": False}}}
        if method == "json_mode":
            fmt: dict[str, Any] = {"type": "json_object"}
            if self._gguf:  # llama.cpp constrains its grammar to the schema given here
                fmt["schema"] = schema.model_json_schema()
            return {"response_format": fmt}
        tool = convert_to_openai_tool(schema)
        tool_name = tool["function"]["name"]
        return {"tools": [tool],
                "tool_choice": {"type": "function", "function": {"name": tool_name}}}

    def _prepare(self, method: str, schema: type[BaseModel],
                 messages: list[BaseMessage]) -> list[BaseMessage]:
        """Tell the model the schema in words where the method does not carry it."""
        if method == "function_calling":
            return list(messages)
        schema_text = json.dumps(schema.model_json_schema(), separators=(",", ":"))
        note = ("Reply with a single JSON object, and nothing else, that matches this JSON "
                f"schema:\n{schema_text}")
        out = list(messages)
        for i, message in enumerate(out):
            if isinstance(message, SystemMessage) and isinstance(message.content, str):
                out[i] = SystemMessage(content=f"{message.content}\n\n{note}")
                return out
        return [SystemMessage(content=note), *out]

    def _call_method(self, role: str, method: str, schema: type[M],
                     messages: list[BaseMessage], log: CallLog, stats: _Stats) -> M:
        kwargs = self._method_kwargs(method, schema)
        prepared = self._prepare(method, schema, messages)
        reply = self._invoke(role, prepared, kwargs, log, stats)
        try:
            value = _parse_reply(reply, schema, method)
        except _InvalidReply as first:
            log.warn(f"{role}: invalid reply from the model ({first.error.splitlines()[0]}); "
                     "asking once for a corrected one")
            repair = [*prepared, AIMessage(content=first.raw or "(empty reply)"),
                      HumanMessage(content=(
                          "Your reply could not be used. The problem:\n"
                          f"{first.error}\n\nReply again with only the corrected JSON object "
                          "that matches the schema, no other text."))]
            reply = self._invoke(role, repair, kwargs, log, stats)
            try:
                value = _parse_reply(reply, schema, method)
            except _InvalidReply as second:
                raise ChatFailure(
                    f"invalid reply after one repair attempt: {second.error.splitlines()[0]}"
                ) from None
        if self._cache is not None:
            self._cache.keep()
            self._report_cache(role, log)
        return value

    # ----------------------------------------------------------------- one request

    def _invoke(self, role: str, messages: list[BaseMessage], kwargs: dict[str, Any],
                log: CallLog, stats: _Stats) -> BaseMessage:
        """One answered request; the client has retried what was transient, so what fails
        here is classified: worth another method, another form, or a :class:`ChatFailure`."""
        images_dropped = False
        while True:
            call_kwargs = dict(kwargs)
            with _REGISTRY_LOCK:
                if self._key in _NO_LEGACY_MAX_TOKENS and not self._gguf:
                    call_kwargs["extra_body"] = None
            if self._cache is not None:
                self._cache.start()
            stats.attempts += 1
            try:
                with self._semaphore:
                    reply = self.model.invoke(messages, **call_kwargs)
            except _TRANSIENT as exc:
                raise ChatFailure(
                    f"{_describe(exc)} at {self.settings.endpoint}; gave up after the "
                    f"client's retries (max_retries={self.settings.max_retries})") from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise ChatFailure(
                    f"authentication failed at {self.settings.endpoint}: check OPENAI_API_KEY "
                    f"({_error_text(exc)})") from None
            except openai.NotFoundError as exc:
                raise ChatFailure(
                    f"model {self.settings.model!r} or its endpoint was not found at "
                    f"{self.settings.endpoint}: check LVAS_LLM_MODEL and LVAS_LLM_BASE_URL "
                    f"({_error_text(exc)})") from None
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                text = _error_text(exc)
                lowered = text.lower()
                if ("max_tokens" in lowered and "extra_body" not in call_kwargs
                        and not self._gguf and self._sends_legacy_max_tokens()):
                    with _REGISTRY_LOCK:
                        _NO_LEGACY_MAX_TOKENS.add(self._key)
                    log.warn(f"{role}: {self.settings.endpoint} refused max_tokens; sending "
                             "only max_completion_tokens")
                    continue
                if any(word in lowered for word in _METHOD_WORDS):
                    raise _MethodRejected(text[:300]) from None
                if "image" in lowered and not images_dropped and _has_images(messages):
                    images_dropped = True
                    messages = _without_images(messages)
                    log.warn(f"{role}: {self.settings.endpoint} refused images "
                             f"({text[:200]}); asking without them")
                    continue
                raise ChatFailure(f"the server refused the request: {text}") from None
            except openai.LengthFinishReasonError:
                raise ChatFailure(
                    f"the reply was cut off at max_tokens={self.settings.max_tokens}; raise "
                    "LVAS_LLM_MAX_TOKENS") from None
            except openai.APIStatusError as exc:
                raise ChatFailure(f"server error {exc.status_code}: {_error_text(exc)}") from None
            except ChatFailure:
                raise
            except Exception as exc:  # noqa: BLE001 - any model failure becomes a fallback
                raise ChatFailure(f"model call failed: {type(exc).__name__}: "
                                  f"{str(exc)[:_ERROR_TEXT_LIMIT]}") from None
            if self._cache is not None:
                self._report_cache(role, log)
                if self._cache.answered():
                    # No request was sent, and the tokens it reports were paid for before.
                    stats.attempts -= 1
                    stats.hits += 1
                    return reply
            usage = getattr(reply, "usage_metadata", None) or {}
            stats.tokens_in += int(usage.get("input_tokens") or 0)
            stats.tokens_out += int(usage.get("output_tokens") or 0)
            return reply

    def _report_cache(self, role: str, log: CallLog) -> None:
        if self._cache is not None and (problem := self._cache.problem()) is not None:
            log.warn(f"{role}: {problem}")

    def _sends_legacy_max_tokens(self) -> bool:
        extra = getattr(self.model, "extra_body", None)
        return isinstance(extra, dict) and "max_tokens" in extra


def _has_images(messages: list[BaseMessage]) -> bool:
    return any(isinstance(p, dict) and p.get("type") in ("image_url", "image")
               for m in messages if isinstance(m.content, list) for p in m.content)
