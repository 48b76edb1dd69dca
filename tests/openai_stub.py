"""A small OpenAI-compatible HTTP server for tests: scripted replies, recorded requests.

Serves ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 (a free port) from
a thread, so the real ``langchain-openai`` client can be exercised without a network::

    with OpenAIStub() as stub:
        stub.script(rate_limited(retry_after_ms=1), json_reply({"caption": "rain"}))
        settings = ChatSettings(model="stub-model", base_url=stub.base_url)
        ...
        assert stub.requests[0]["max_tokens"] == 2048

Replies are taken from the scripted queue first; when it is empty the optional
``responder(body) -> Reply`` decides (handy for end-to-end runs with many calls); with
neither, the stub answers 500 (with ``x-should-retry: false``, so the client does not retry
it) and a missing script shows up as a failure, not a hang.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_USAGE = (12, 7)


@dataclass
class Reply:
    """One scripted answer: a chat completion, or an error status with an OpenAI error body."""

    status: int = 200
    content: str | None = None
    tool_args: Any = None            # dict (or raw JSON string) of a function call
    tool_name: str | None = None     # None: the function the request asked for
    usage: tuple[int, int] | None = DEFAULT_USAGE
    delay: float = 0.0               # seconds to wait before answering
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None         # error message for status >= 400
    finish_reason: str | None = None
    body: dict[str, Any] | None = None  # a complete response body, sent as is


def text_reply(text: str, **kw: Any) -> Reply:
    """Assistant message whose content is ``text`` (e.g. malformed JSON)."""
    return Reply(content=text, **kw)


def json_reply(data: Any, **kw: Any) -> Reply:
    """Assistant message whose content is ``data`` as JSON."""
    return Reply(content=json.dumps(data), **kw)


def tool_reply(args: Any, name: str | None = None, **kw: Any) -> Reply:
    """Assistant message that calls a function with ``args`` (default: the one requested)."""
    return Reply(tool_args=args, tool_name=name, **kw)


def error_reply(status: int, message: str, *, headers: dict[str, str] | None = None,
                **kw: Any) -> Reply:
    """An error response, e.g. ``error_reply(400, "response_format json_schema unsupported")``."""
    return Reply(status=status, error=message, headers=dict(headers or {}), usage=None, **kw)


def retry_after_headers(seconds: float | None = None, ms: int | None = None) -> dict[str, str]:
    """``Retry-After`` and/or ``retry-after-ms`` headers; the openai client reads both, the
    latter first, but takes a zero as "no advice" and backs off by itself instead, so a test
    that must not wait asks for one millisecond."""
    headers = {}
    if seconds is not None:
        headers["Retry-After"] = f"{seconds:g}"
    if ms is not None:
        headers["retry-after-ms"] = str(ms)
    return headers


def rate_limited(retry_after: float | None = None, *, retry_after_ms: int | None = None) -> Reply:
    """A 429, with the waiting advice given (none by default)."""
    return error_reply(429, "Rate limit reached; slow down.",
                       headers=retry_after_headers(retry_after, retry_after_ms))


def slow_reply(delay: float, reply: Reply | None = None) -> Reply:
    """``reply`` (default: an empty JSON object) sent only after ``delay`` seconds."""
    base = reply or json_reply({})
    base.delay = delay
    return base


def rejects_json_schema() -> Reply:
    """What a server without JSON-schema output says about ``response_format``."""
    return error_reply(400, "response_format type 'json_schema' is not supported by this "
                            "server")


Responder = Callable[[dict[str, Any]], Reply]


class OpenAIStub:
    """The server; a context manager. ``requests`` holds every chat request body received."""

    def __init__(self, responder: Responder | None = None, *,
                 models: Iterable[str] = ("stub-model",)) -> None:
        self.responder = responder
        self.models = list(models)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.active = 0
        self.max_active = 0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- control

    def script(self, *replies: Reply | Iterable[Reply]) -> OpenAIStub:
        """Queue replies, answered in order (accepts replies or lists of them)."""
        with self._lock:
            for item in replies:
                self._queue.extend([item] if isinstance(item, Reply) else item)
        return self

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._queue)

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stub is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> OpenAIStub:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True, name="openai-stub")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- serving

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(body)
        # Told not to retry, the client fails at once instead of backing off a few seconds.
        return error_reply(500, "openai stub: no scripted reply left",
                           headers={"x-should-retry": "false"})

    def _completion(self, body: dict[str, Any], reply: Reply, number: int) -> dict[str, Any]:
        if reply.body is not None:
            return reply.body
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = reply.finish_reason or "stop"
        if reply.tool_args is not None:
            name = reply.tool_name or _requested_function(body) or "answer"
            args = reply.tool_args if isinstance(reply.tool_args, str) else json.dumps(
                reply.tool_args)
            message["tool_calls"] = [{"id": f"call_{number}", "type": "function",
                                      "function": {"name": name, "arguments": args}}]
            finish = reply.finish_reason or "tool_calls"
        result: dict[str, Any] = {
            "id": f"chatcmpl-stub-{number}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", "stub-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if reply.usage is not None:
            prompt, completion = reply.usage
            result["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                               "total_tokens": prompt + completion}
        return result

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _send(self, status: int, payload: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to tell it

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "owned_by": "stub"} for m in stub.models]})
                else:
                    self._send(404, _error_body(404, f"no route {self.path}"))

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, _error_body(404, f"no route {self.path}"))
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, _error_body(400, "request body is not JSON"))
                    return
                with stub._lock:
                    stub.requests.append(body)
                    stub.headers.append(dict(self.headers.items()))
                    number = len(stub.requests)
                    stub.active += 1
                    stub.max_active = max(stub.max_active, stub.active)
                try:
                    reply = stub._next_reply(body)
                    if reply.delay:
                        time.sleep(reply.delay)
                    if body.get("stream"):
                        self._send(400, _error_body(400, "openai stub does not stream"))
                    elif reply.status >= 400:
                        self._send(reply.status,
                                   _error_body(reply.status, reply.error or "error"),
                                   reply.headers)
                    else:
                        self._send(reply.status, stub._completion(body, reply, number),
                                   reply.headers)
                finally:
                    with stub._lock:
                        stub.active -= 1

        return Handler


def _requested_function(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name")
    tools = body.get("tools") or []
    return tools[0]["function"]["name"] if tools else None


def _error_body(status: int, message: str) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
             429: "rate_limit_error"}
    return {"error": {"message": message, "type": kinds.get(status, "server_error"),
                      "param": None, "code": None}}


def image_urls(body: dict[str, Any]) -> list[str]:
    """Every image URL in a recorded request body (data URLs for inline images)."""
    urls = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            urls.extend(p["image_url"]["url"] for p in content
                        if isinstance(p, dict) and p.get("type") == "image_url")
    return urls


def message_text(body: dict[str, Any]) -> str:
    """All text of a recorded request's messages, joined (for asserting on prompts)."""
    texts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(texts)
