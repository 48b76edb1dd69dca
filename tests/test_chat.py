"""StructuredCaller through the real langchain-openai client against a local stub server.

Retries are the openai client's and the cache is LangChain's, so these tests count what the
stub received rather than what LVAS's code did.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from lvas.graph.context import Context
from lvas.tools.common.errors import LVASInputError
from lvas.tools.llm.chat import (
    CACHE_FILE,
    CallLog,
    ChatConfigError,
    ChatFailure,
    ChatSettings,
    StructuredCaller,
    extract_json,
    forget_endpoints,
    image_part,
    make_chat_model,
    user_message,
)
from tests.openai_stub import (
    OpenAIStub,
    Reply,
    error_reply,
    image_urls,
    json_reply,
    message_text,
    rate_limited,
    rejects_json_schema,
    retry_after_headers,
    slow_reply,
    text_reply,
    tool_reply,
)


class SceneCaption(BaseModel):
    background: str
    entities: list[str]


GOOD = {"background": "rain on a tin roof", "entities": ["dog", "car"]}
MESSAGES = [SystemMessage(content="You describe scenes."), HumanMessage(content="Scene 1")]


@pytest.fixture
def stub():
    forget_endpoints()
    with OpenAIStub() as server:
        yield server
    forget_endpoints()


def caller(stub: OpenAIStub, **settings) -> StructuredCaller:
    settings.setdefault("model", "stub-model")
    return StructuredCaller(ChatSettings(base_url=stub.base_url, **settings))


# --------------------------------------------------------------------------- replies


def test_valid_reply_is_parsed_and_usage_recorded(stub):
    stub.script(json_reply(GOOD, usage=(101, 23)))
    log = CallLog()
    result = caller(stub).call("scriptwriter", SceneCaption, MESSAGES, log)
    assert result == SceneCaption(**GOOD)
    body = stub.requests[0]
    assert body["max_tokens"] == 2048 and body["max_completion_tokens"] == 2048
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "SceneCaption"
    assert "entities" in body["response_format"]["json_schema"]["schema"]["properties"]
    assert body["temperature"] == 0.2
    assert "background" in message_text(body)  # schema spelled out for servers that ignore it
    (usage,) = log.usage
    assert usage["role"] == "scriptwriter" and usage["model"] == "stub-model"
    assert (usage["tokens_in"], usage["tokens_out"]) == (101, 23)
    assert usage["cached"] is False and usage["attempts"] == 1
    assert usage["method"] == "json_schema" and usage["latency_s"] >= 0
    assert log.warnings == []


def test_fenced_json_with_prose_is_accepted(stub):
    stub.script(text_reply("Sure! Here it is:\n```json\n" + json.dumps(GOOD) + "\n```\nBye."))
    assert caller(stub).call("r", SceneCaption, MESSAGES, CallLog()).entities == ["dog", "car"]


def test_extract_json_variants():
    assert extract_json('<think>{"no": 1}</think> {"a": 1}') == {"a": 1}
    assert extract_json('The answer {not json} then {"a": [1, 2]} trailing') == {"a": [1, 2]}
    with pytest.raises(ValueError):
        extract_json("no json here")


def test_malformed_json_gets_one_repair_round(stub):
    stub.script(text_reply('{"background": "rain", "entities": "dog"'),  # cut off
                json_reply({"background": "rain"}),                     # still invalid
                )
    log = CallLog()
    with pytest.raises(ChatFailure) as info:
        caller(stub).call("designer", SceneCaption, MESSAGES, log)
    assert "repair" in info.value.reason
    assert len(stub.requests) == 2
    assert log.usage[0]["ok"] is False and log.usage[0]["attempts"] == 2


def test_repair_request_carries_the_validation_error(stub):
    stub.script(json_reply({"background": "rain"}), json_reply(GOOD))
    log = CallLog()
    result = caller(stub).call("designer", SceneCaption, MESSAGES, log)
    assert result.background == "rain on a tin roof"
    assert len(stub.requests) == 2
    repair = stub.requests[1]["messages"]
    assert repair[-2]["role"] == "assistant" and '"rain"' in repair[-2]["content"]
    assert repair[-1]["role"] == "user" and "entities" in repair[-1]["content"]
    assert "Field required" in repair[-1]["content"]
    assert log.usage[0]["attempts"] == 2 and log.usage[0]["tokens_in"] == 24
    assert any("corrected" in w for w in log.warnings)


# --------------------------------------------------------------------------- transient errors
# The openai client retries these itself; waits are kept short with the server's advice.


def test_rate_limit_is_retried_by_the_client_honouring_retry_after(stub):
    stub.script(rate_limited(retry_after=1), json_reply(GOOD))
    log = CallLog()
    started = time.monotonic()
    assert caller(stub).call("r", SceneCaption, MESSAGES, log) == SceneCaption(**GOOD)
    # The server's second, not the client's own first backoff (0.5 s at most).
    assert time.monotonic() - started >= 1.0
    assert len(stub.requests) == 2
    (usage,) = log.usage
    assert usage["ok"] and usage["attempts"] == 1 and usage["tokens_in"] == 12
    assert log.warnings == []


def test_retry_after_ms_is_honoured(stub):
    stub.script(rate_limited(retry_after_ms=1), rate_limited(retry_after_ms=1), json_reply(GOOD))
    ready = caller(stub)
    started = time.monotonic()
    assert ready.call("r", SceneCaption, MESSAGES, CallLog()) == SceneCaption(**GOOD)
    assert len(stub.requests) == 3
    assert time.monotonic() - started < 1.0  # the client's own backoff: 0.375 + 0.75 s at least


def test_a_wait_longer_than_the_client_allows_fails_at_once(stub):
    stub.script(rate_limited(retry_after=3600), json_reply(GOOD))
    log = CallLog()
    with pytest.raises(ChatFailure, match="rate limited"):
        caller(stub).call("r", SceneCaption, MESSAGES, log)
    assert len(stub.requests) == 1 and stub.pending == 1
    assert log.usage[0]["ok"] is False


def test_server_error_is_retried(stub):
    stub.script(error_reply(503, "overloaded", headers=retry_after_headers(ms=1)),
                json_reply(GOOD))
    assert caller(stub).call("r", SceneCaption, MESSAGES, CallLog()) == SceneCaption(**GOOD)
    assert len(stub.requests) == 2


def test_server_errors_past_max_retries_give_a_chat_failure(stub):
    stub.script([error_reply(502, "bad gateway", headers=retry_after_headers(ms=1))
                 for _ in range(3)], json_reply(GOOD))
    with pytest.raises(ChatFailure, match="server error 502") as info:
        caller(stub, max_retries=2).call("r", SceneCaption, MESSAGES, CallLog())
    assert "max_retries=2" in info.value.reason
    assert len(stub.requests) == 3 and stub.pending == 1


def test_slow_reply_times_out_and_is_retried(stub):
    stub.script(slow_reply(1.5, json_reply({"background": "late", "entities": []})),
                json_reply(GOOD))
    log = CallLog()
    result = caller(stub, timeout=0.4).call("r", SceneCaption, MESSAGES, log)
    assert result.background == "rain on a tin roof"
    assert len(stub.requests) == 2 and log.usage[0]["attempts"] == 1


def test_all_timeouts_give_a_chat_failure(stub):
    stub.script(slow_reply(1.0), slow_reply(1.0))
    log = CallLog()
    with pytest.raises(ChatFailure) as info:
        caller(stub, timeout=0.3, max_retries=1).call("r", SceneCaption, MESSAGES, log)
    assert "timed out" in info.value.reason and "max_retries=1" in info.value.reason
    assert len(stub.requests) == 2 and log.usage[0]["ok"] is False


def test_connection_refused_gives_a_chat_failure():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = ChatSettings(model="nobody", base_url=f"http://127.0.0.1:{port}/v1",
                            max_retries=1)
    log = CallLog()
    with pytest.raises(ChatFailure, match="cannot connect"):
        StructuredCaller(settings).call("r", SceneCaption, MESSAGES, log)
    assert log.usage[0]["attempts"] == 1 and log.usage[0]["ok"] is False


# --------------------------------------------------------------------------- permanent errors


def test_auth_error_fails_at_once(stub):
    stub.script(error_reply(401, "Incorrect API key provided"), json_reply(GOOD))
    with pytest.raises(ChatFailure) as info:
        caller(stub).call("r", SceneCaption, MESSAGES, CallLog())
    assert "authentication failed" in info.value.reason
    assert "OPENAI_API_KEY" in info.value.reason
    assert len(stub.requests) == 1


def test_unknown_model_fails_at_once(stub):
    stub.script(error_reply(404, "The model does not exist"))
    with pytest.raises(ChatFailure, match="LVAS_LLM_MODEL"):
        caller(stub).call("r", SceneCaption, MESSAGES, CallLog())
    assert len(stub.requests) == 1


def test_other_bad_request_fails_without_fallback(stub):
    stub.script(error_reply(400, "context length exceeded"))
    with pytest.raises(ChatFailure, match="refused the request"):
        caller(stub).call("r", SceneCaption, MESSAGES, CallLog())
    assert len(stub.requests) == 1


# --------------------------------------------------------------------------- methods


def test_json_schema_rejected_falls_back_to_function_calling_and_is_remembered(stub):
    stub.script(rejects_json_schema(), tool_reply(GOOD), tool_reply(GOOD))
    log = CallLog()
    first = caller(stub)
    assert first.call("r", SceneCaption, MESSAGES, log) == SceneCaption(**GOOD)
    assert "response_format" in stub.requests[0]
    fc = stub.requests[1]
    assert "response_format" not in fc
    assert fc["tools"][0]["function"]["name"] == "SceneCaption"
    assert fc["tool_choice"] == {"type": "function", "function": {"name": "SceneCaption"}}
    assert log.usage[0]["method"] == "function_calling"
    assert any("rejected" in w and "json_schema" in w for w in log.warnings)
    # A new caller for the same endpoint and model starts with the method that worked.
    caller(stub).call("r", SceneCaption, MESSAGES, log)
    assert len(stub.requests) == 3 and "tools" in stub.requests[2]
    assert caller(stub).method_order()[0] == "function_calling"
    assert caller(stub, model="other-model").method_order()[0] == "json_schema"


def test_falls_back_to_json_mode_with_schema_in_prompt(stub):
    stub.script(rejects_json_schema(), error_reply(400, "tools are not supported"),
                json_reply(GOOD))
    log = CallLog()
    assert caller(stub).call("r", SceneCaption, MESSAGES, log) == SceneCaption(**GOOD)
    body = stub.requests[2]
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You describe scenes.")
    assert '"entities"' in system["content"]
    assert log.usage[0]["method"] == "json_mode" and log.usage[0]["attempts"] == 3


def test_every_method_rejected_gives_a_chat_failure(stub):
    stub.script(rejects_json_schema(), error_reply(400, "tool_choice unsupported"),
                error_reply(422, "response_format json_object unsupported"))
    with pytest.raises(ChatFailure, match="every structured-output method"):
        caller(stub).call("r", SceneCaption, MESSAGES, CallLog())


def test_configured_method_is_tried_first(stub):
    stub.script(json_reply(GOOD))
    caller(stub, method="json_mode").call("r", SceneCaption, [HumanMessage("x")], CallLog())
    body = stub.requests[0]
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["role"] == "system" and "JSON schema" in body["messages"][0][
        "content"]


def test_invalid_tool_arguments_are_repaired(stub):
    stub.script(tool_reply('{"background": "rain", '), tool_reply(GOOD))
    log = CallLog()
    result = caller(stub, method="function_calling").call("r", SceneCaption, MESSAGES, log)
    assert result == SceneCaption(**GOOD)
    assert "not valid JSON" in stub.requests[1]["messages"][-1]["content"]


def test_server_refusing_max_tokens_gets_only_max_completion_tokens(stub):
    stub.script(error_reply(400, "Unsupported parameter: 'max_tokens'"), json_reply(GOOD),
                json_reply(GOOD))
    log = CallLog()
    caller(stub, max_tokens=300).call("r", SceneCaption, MESSAGES, log)
    assert stub.requests[0]["max_tokens"] == 300
    assert "max_tokens" not in stub.requests[1]
    assert stub.requests[1]["max_completion_tokens"] == 300
    caller(stub, max_tokens=300).call("r", SceneCaption, [HumanMessage("y")], log)
    assert "max_tokens" not in stub.requests[2]


# --------------------------------------------------------------------------- images


def _png(path: Path, shade: int, size: tuple[int, int] = (200, 100)) -> Path:
    width, height = size
    cv2.imwrite(str(path), np.full((height, width, 3), shade, np.uint8))
    return path


def _decode(url: str) -> np.ndarray:
    assert url.startswith("data:image/jpeg;base64,")
    data = base64.b64decode(url.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def test_images_reach_the_server_resized_and_evenly_chosen(stub, tmp_path):
    frames = [_png(tmp_path / f"k{i}.png", 20 + 40 * i) for i in range(6)]
    message = user_message("Describe the scene.", frames, max_images=3, width=64)
    stub.script(json_reply(GOOD))
    caller(stub).call("scriptwriter", SceneCaption, [message], CallLog())
    urls = image_urls(stub.requests[0])
    assert len(urls) == 3
    decoded = [_decode(u) for u in urls]
    assert all(img.shape[:2] == (32, 64) for img in decoded)
    shades = [round(float(img.mean())) for img in decoded]
    assert [round((s - 20) / 40) for s in shades] == [0, 2, 5]  # first, middle, last
    assert "Describe the scene." in message_text(stub.requests[0])


def test_image_part_keeps_small_images_and_rejects_bad_files(tmp_path):
    small = _decode(image_part(_png(tmp_path / "s.png", 90, (40, 30)), width=512)
                    ["image_url"]["url"])
    assert small.shape[:2] == (30, 40)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(LVASInputError, match="Cannot read image"):
        image_part(bad)
    assert user_message("plain").content == "plain"
    assert len(user_message("one", [tmp_path / "s.png"] * 5, max_images=1).content) == 2


def test_server_refusing_images_gets_the_text_alone(stub, tmp_path):
    message = user_message("What is shown?", [_png(tmp_path / "a.png", 50)])
    stub.script(error_reply(400, "This model does not accept image input"), json_reply(GOOD))
    log = CallLog()
    caller(stub).call("r", SceneCaption, [message], log)
    assert len(image_urls(stub.requests[0])) == 1 and image_urls(stub.requests[1]) == []
    assert any("images" in w for w in log.warnings)


# --------------------------------------------------------------------------- cache, concurrency


def _answer(body: dict) -> Reply:
    """GOOD in whatever form the request asked for."""
    return (tool_reply if body.get("tools") else json_reply)(GOOD, usage=(50, 9))


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_identical_calls_are_answered_from_the_cache(stub, tmp_path, method):
    stub.responder = _answer
    frames = [_png(tmp_path / f"k{i}.png", 30 + 50 * i) for i in range(2)]
    messages = [MESSAGES[0], user_message("Scene 1", frames)]
    settings = {"cache_dir": str(tmp_path / "cache"), "method": method}
    log = CallLog()
    first = caller(stub, **settings).call("r", SceneCaption, messages, log)
    # A new caller (a new client) over the same folder, as in a later run.
    second = caller(stub, **settings).call("r", SceneCaption, messages, log)
    assert first == second == SceneCaption(**GOOD)
    assert len(stub.requests) == 1 and len(image_urls(stub.requests[0])) == 2
    assert log.usage[0] == {**log.usage[0], "cached": False, "tokens_in": 50, "attempts": 1}
    assert log.usage[1] == {**log.usage[1], "cached": True, "tokens_in": 0, "tokens_out": 0,
                            "attempts": 0, "method": method, "ok": True}
    assert (tmp_path / "cache" / CACHE_FILE).is_file()


def test_a_different_call_is_not_answered_from_the_cache(stub, tmp_path):
    class ShortCaption(BaseModel):
        background: str

    stub.responder = _answer
    frames = [_png(tmp_path / f"k{i}.png", 30 + 50 * i) for i in range(2)]
    base = [MESSAGES[0], user_message("Scene 1", frames[:1])]
    cache = {"cache_dir": str(tmp_path / "cache")}
    log = CallLog()
    caller(stub, **cache).call("r", SceneCaption, base, log)
    variants = [
        ({}, SceneCaption, [MESSAGES[0], user_message("Scene 2", frames[:1])]),  # other text
        ({}, SceneCaption, [MESSAGES[0], user_message("Scene 1", frames[1:])]),  # other image
        ({}, ShortCaption, base),                                                # other schema
        ({"temperature": 0.7}, SceneCaption, base),
        ({"max_tokens": 512}, SceneCaption, base),
        ({"model": "other-model"}, SceneCaption, base),
    ]
    for sent, (changes, schema, messages) in enumerate(variants, start=2):
        caller(stub, **cache, **changes).call("r", schema, messages, log)
        assert len(stub.requests) == sent
    for changes, schema, messages in variants:  # each is its own entry now
        caller(stub, **cache, **changes).call("r", schema, messages, log)
    assert len(stub.requests) == 1 + len(variants)
    assert [u["cached"] for u in log.usage] == [False] * 7 + [True] * 6


def test_only_replies_that_validated_are_kept(stub, tmp_path):
    stub.script(json_reply({"background": "rain"}),  # no entities: repaired, not kept
                json_reply(GOOD),                    # the repair: kept, under the repair prompt
                json_reply(GOOD))                    # the first prompt, asked again: kept
    cache = {"cache_dir": str(tmp_path / "cache")}
    log = CallLog()
    for _ in range(3):
        assert caller(stub, **cache).call("r", SceneCaption, MESSAGES, log) == \
            SceneCaption(**GOOD)
    assert len(stub.requests) == 3
    assert [(u["cached"], u["attempts"]) for u in log.usage] == [(False, 2), (False, 1),
                                                                 (True, 0)]


def test_errors_are_not_cached(stub, tmp_path):
    stub.script(error_reply(400, "context length exceeded"), json_reply(GOOD))
    cache = {"cache_dir": str(tmp_path / "cache")}
    with pytest.raises(ChatFailure):
        caller(stub, **cache).call("r", SceneCaption, MESSAGES, CallLog())
    assert caller(stub, **cache).call("r", SceneCaption, MESSAGES, CallLog()) == \
        SceneCaption(**GOOD)
    assert len(stub.requests) == 2


def test_an_unusable_cache_folder_is_reported_and_the_call_goes_on(stub, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    stub.script(json_reply(GOOD))
    log = CallLog()
    assert caller(stub, cache_dir=str(blocked / "llm")).call(
        "r", SceneCaption, MESSAGES, log) == SceneCaption(**GOOD)
    assert any("no chat cache" in w for w in log.warnings)


def test_concurrency_is_capped_per_endpoint_and_the_cache_serves_every_thread(stub, tmp_path):
    stub.responder = lambda body: slow_reply(0.25, json_reply(GOOD))
    shared = caller(stub, model="busy-model", max_concurrency=2,
                    cache_dir=str(tmp_path / "cache"))
    log = CallLog()
    errors: list[BaseException] = []

    def work(scene: int) -> None:
        try:
            shared.call("r", SceneCaption, [HumanMessage(f"Scene {scene}")], log)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    for _ in range(2):  # the second round is answered from the cache, thread by thread
        threads = [threading.Thread(target=work, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert errors == [] and len(log.usage) == 10
    assert len(stub.requests) == 5 and stub.max_active == 2
    assert sorted(u["cached"] for u in log.usage) == [False] * 5 + [True] * 5


def test_scripted_chat_model_works_with_the_real_caller():
    model = GenericFakeChatModel(messages=iter([
        AIMessage(content="not json"), AIMessage(content=json.dumps(GOOD))]))
    settings = ChatSettings(model="scripted", base_url="http://unused.invalid/v1",
                            method="json_mode")
    log = CallLog()
    assert StructuredCaller(settings, model=model).call("r", SceneCaption, MESSAGES, log) == \
        SceneCaption(**GOOD)
    assert log.usage[0]["attempts"] == 2


def test_call_log_survives_copying():
    log = CallLog()
    log.add_usage("r", "m", tokens_in=3)
    log.warn("careful")
    for clone in (copy.deepcopy(log), pickle.loads(pickle.dumps(log))):
        clone.warn("more")
        assert clone.as_dict()["warnings"] == ["careful", "more"]
    assert log.as_dict() == {"usage": log.usage, "warnings": ["careful"]}


# --------------------------------------------------------------------------- settings, factory


def test_settings_come_from_the_context(monkeypatch, tmp_path):
    for name in ("LVAS_LLM_MODEL", "LVAS_LLM_BASE_URL", "LVAS_LLM_TEMPERATURE",
                 "LVAS_LLM_MAX_TOKENS", "LVAS_LLM_TIMEOUT", "LVAS_LLM_METHOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LVAS_CACHE_DIR", str(tmp_path))
    assert Context().chat_settings() is None
    monkeypatch.setenv("LVAS_LLM_MODEL", "qwen2.5-vl")
    monkeypatch.setenv("LVAS_LLM_BASE_URL", "http://localhost:8000/v1")
    monkeypatch.setenv("LVAS_LLM_MAX_TOKENS", "512")
    monkeypatch.setenv("LVAS_LLM_TIMEOUT", "12.5")
    monkeypatch.setenv("LVAS_LLM_METHOD", "function_calling")
    settings = Context(llm_temperature=0.0, max_images_per_call=2).chat_settings()
    assert settings == ChatSettings(model="qwen2.5-vl", base_url="http://localhost:8000/v1",
                                    temperature=0.0, max_tokens=512, timeout=12.5,
                                    method="function_calling", max_images=2,
                                    cache_dir=str(tmp_path / "llm"))
    assert Context(llm_model="gpt-4o-mini").chat_settings().model == "gpt-4o-mini"
    assert Context(chat_backend="offline").chat_settings() is None
    with pytest.raises(LVASInputError, match="structured-output method"):
        Context(llm_method="xml").chat_settings()
    monkeypatch.setenv("LVAS_LLM_MAX_TOKENS", "lots")
    with pytest.raises(LVASInputError, match="LVAS_LLM_MAX_TOKENS"):
        Context()
    assert "sk-test" not in repr(ChatSettings(model="m", api_key="sk-test"))


def test_a_run_context_reaches_the_server_with_the_key_the_client_reads(stub, monkeypatch,
                                                                        tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    context = Context(llm_model="stub-model", llm_base_url=stub.base_url, llm_max_tokens=300,
                      index_dir=str(tmp_path))
    stub.script(json_reply(GOOD), json_reply(GOOD))
    log = CallLog()
    for _ in range(2):
        StructuredCaller(context.chat_settings()).call("r", SceneCaption, MESSAGES, log)
    assert len(stub.requests) == 1 and stub.requests[0]["max_tokens"] == 300
    assert log.usage[1]["cached"] and (tmp_path / "llm" / CACHE_FILE).is_file()
    monkeypatch.delenv("OPENAI_API_KEY")
    StructuredCaller(context.chat_settings()).call("r", SceneCaption, [HumanMessage("x")], log)
    keys = [{k.lower(): v for k, v in h.items()}["authorization"] for h in stub.headers]
    assert keys == ["Bearer sk-from-env", "Bearer not-needed"]


def test_openai_without_key_is_a_clear_config_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ChatConfigError, match="OPENAI_API_KEY") as info:
        make_chat_model(ChatSettings(model="gpt-4o-mini"))
    assert isinstance(info.value, LVASInputError) and isinstance(info.value, ChatFailure)
    local = make_chat_model(ChatSettings(model="llama3", base_url="http://localhost:11434/v1"))
    assert local.openai_api_key.get_secret_value() == "not-needed"
    assert local.extra_body == {"max_tokens": 2048}
    assert local.max_retries == local.root_client.max_retries == 4 and local.cache is False
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    hosted = make_chat_model(ChatSettings(model="gpt-4o-mini", max_retries=1))
    assert hosted.extra_body is None and hosted.max_tokens == 2048
    assert hosted.root_client.max_retries == 1


def test_gguf_without_llama_cpp_is_a_clear_error(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    with pytest.raises(ChatConfigError, match="pip install llama-cpp-python"):
        StructuredCaller(ChatSettings(model=f"gguf:{path}"))


def test_reply_with_explicit_body_and_no_usage(stub):
    stub.script(Reply(content=json.dumps(GOOD), usage=None))
    log = CallLog()
    caller(stub).call("r", SceneCaption, MESSAGES, log)
    assert (log.usage[0]["tokens_in"], log.usage[0]["tokens_out"]) == (0, 0)
