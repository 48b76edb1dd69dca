"""The state schema declares every key the pipeline writes, so the two cannot drift apart.

The offline pipeline plans a small generated video (``lvas plan``), then renders the plan
(``lvas render``): between them every node runs. The final state of both runs, every node's
update, the payloads of the fan-outs and the plan file are walked against the TypedDicts of
``lvas.graph.state`` and ``lvas.tools.common.types``. A key that is not declared, a required key
that is missing or a value of the wrong kind fails here.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin

import pytest
from typing_extensions import get_type_hints, is_typeddict

from lvas.graph.context import Context
from lvas.graph.runner import run_pipeline
from lvas.graph.state import ClipTask, LVASState, SceneTask
from lvas.nodes.routing import clip_tasks, scene_tasks
from lvas.tools.common.types import Scene
from lvas.tools.planning.plan_file import Plan


def drift(value: Any, hint: Any, where: str = "state") -> list[str]:
    """Where ``value`` does not fit the type ``hint``, walking TypedDicts, lists and dicts."""
    origin = get_origin(hint)
    if hint is Any:
        return []
    if origin in (Annotated, NotRequired, Required):
        return drift(value, get_args(hint)[0], where)
    if origin in (Union, types.UnionType):
        tries = [drift(value, arm, where) for arm in get_args(hint)]
        return [] if any(not t for t in tries) else min(tries, key=len)
    if origin is Literal:
        return [] if value in get_args(hint) else [f"{where}: {value!r} is not one of "
                                                    f"{get_args(hint)}"]
    if is_typeddict(hint):
        return _typed_dict_drift(value, hint, where)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} where a list belongs"]
        return [p for i, item in enumerate(value) for p in drift(item, get_args(hint)[0],
                                                               f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} where a dict belongs"]
        key_type, value_type = get_args(hint)
        return [p for key, item in value.items()
                for p in drift(key, key_type, f"{where} key") + drift(item, value_type,
                                                                      f"{where}.{key}")]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is type(None):
        ok = value is None
    else:
        ok = isinstance(value, hint)
    return [] if ok else [f"{where}: {value!r} is not of type {getattr(hint, '__name__', hint)}"]


def _typed_dict_drift(value: Any, shape: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: {type(value).__name__} where a {shape.__name__} belongs"]
    hints = get_type_hints(shape, include_extras=True)
    found = [f"{where}: {key!r} is not declared in {shape.__name__}"
             for key in value if key not in hints]
    found += [f"{where}: {shape.__name__} needs {key!r}"
              for key in sorted(shape.__required_keys__ - value.keys())]
    for key, item in value.items():
        if key in hints:
            found += drift(item, hints[key], f"{where}.{key}")
    return found


def test_the_walker_finds_undeclared_missing_and_mistyped_keys():
    scene = {"id": "scene-000", "start": 0.0, "end": 2.0}
    assert drift({"scenes": [scene]}, LVASState) == []
    assert drift({"scenes": [{**scene, "mood": "calm"}]}, LVASState) == [
        "state.scenes[0]: 'mood' is not declared in Scene"]
    assert drift({"id": "scene-000", "end": 2.0}, Scene) == ["state: Scene needs 'start'"]
    assert drift({"review_round": "1", "label_final": 1}, LVASState) == [
        "state.review_round: '1' is not of type int", "state.label_final: 1 is not of type bool"]


@pytest.fixture(scope="module")
def runs(cut_video: Path, label_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A plan with a narration file, then its render: final states, updates and the plan."""
    root = tmp_path_factory.mktemp("schema")
    lines = root / "lines.srt"
    lines.write_text("1\n00:00:01,000 --> 00:00:02,500\nThe storm rolls in.\n", encoding="utf-8")
    updates: list[tuple[str, dict[str, Any]]] = []

    def record(node: str, update: dict[str, Any], _seconds: float) -> None:
        updates.append((node, update))

    plan = root / "film.plan.json"
    planned = run_pipeline(
        {"video": str(cut_video), "plan_only": True, "plan_output": str(plan),
         "narration": str(lines)},
        Context(run_dir=str(root / "plan"), index_dir=str(label_cache_dir), seed=5),
        progress=record)
    rendered = run_pipeline(
        {"plan": str(plan), "output": str(root / "render.mp4")},
        Context(run_dir=str(root / "render"), index_dir=str(label_cache_dir), seed=5),
        progress=record)
    return planned, rendered, updates, plan


def test_every_key_of_the_final_state_is_declared(runs):
    planned, rendered, _, _ = runs
    assert planned["review_notes"] and planned["label_reviews"] and planned["narration_lines"]
    assert rendered["clips"] and "delivered_lufs" in rendered["artifacts"]  # the mixer's keys
    assert drift(planned, LVASState, "planned") == []
    assert drift(rendered, LVASState, "rendered") == []
    json.dumps([planned, rendered])  # plain JSON (DESIGN §4)


def test_every_node_update_is_declared(runs):
    _, _, updates, _ = runs
    assert {node for node, _ in updates} >= {"probe", "storyboarder", "write_scene_script",
                                              "review", "designer", "synthesizer", "write_plan",
                                              "load_plan", "generate_clip", "mixer", "report"}
    for node, update in updates:
        # the Review retires a merged scene's script with None (merge_by_key drops it)
        scripts = {k: v for k, v in update.get("scripts", {}).items() if v is not None}
        assert drift({**update, **({"scripts": scripts} if scripts else {})}, LVASState,
                     node) == []


def test_fan_out_payloads_are_declared(runs):
    planned, rendered, _, _ = runs
    sends = clip_tasks(planned) + clip_tasks(rendered)
    assert any(send.arg["sound"]["layer"] == "speech" for send in sends)  # the narration line
    for send in sends:
        assert drift(send.arg, ClipTask, f"ClipTask {send.arg['sound']['id']}") == []
    for send in scene_tasks(planned):
        assert drift(send.arg, SceneTask, f"SceneTask {send.arg['scene']['id']}") == []


def test_the_plan_file_is_declared(runs):
    _, _, _, plan = runs
    assert drift(json.loads(plan.read_text(encoding="utf-8")), Plan, "plan") == []
