"""``langgraph dev`` loads the graph and runs it once through the HTTP API."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.audio_checks import video_packets_digest
from tests.videos import make_cut_video

ROOT = Path(__file__).resolve().parents[1]


def test_langgraph_json_points_at_compiled_graphs(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``langgraph dev`` loads, checked in the default tier without starting a server."""
    from langgraph.graph.state import CompiledStateGraph

    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    assert set(config["graphs"]) == {"lvas", "index", "ablate"}
    for name, reference in config["graphs"].items():
        path, attribute = reference.rsplit(":", 1)
        spec = importlib.util.spec_from_file_location(f"_langgraph_json_{name}", ROOT / path)
        assert spec is not None and spec.loader is not None, reference
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)  # as langgraph's loader does
        spec.loader.exec_module(module)
        assert isinstance(getattr(module, attribute), CompiledStateGraph), reference


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"langgraph dev exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("langgraph dev did not become ready")


@pytest.fixture(scope="module")
def server(tmp_path_factory, label_cache_dir):
    exe = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which(
        "langgraph")
    if exe is None:
        pytest.fail("langgraph CLI missing: install the dev extra (pip install -e '.[dev]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
        "LVAS_CACHE_DIR": str(label_cache_dir),
    }
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [exe, "dev", "--host", "127.0.0.1", "--port", str(port), "--no-browser",
             "--no-reload", "--config", str(ROOT / "langgraph.json")],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        yield url
    except Exception:
        print(log.read_text()[-5000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


# Starting ``langgraph dev`` and serving a whole run takes about 15 s: the slow tier.
@pytest.mark.slow
def test_server_lists_every_graph(server):
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    graphs = {a["graph_id"] for a in client.assistants.search(limit=20)}
    assert {"lvas", "index", "ablate"} <= graphs


@pytest.mark.slow
def test_server_runs_an_ablation_study(server, tmp_path):
    from langgraph_sdk import get_sync_client

    videos = tmp_path / "videos"
    videos.mkdir()
    make_cut_video(videos / "one.mp4", [1.5, 1.5])
    plan = ("### Ablation 1: no ducking\n- **Ablated Part**: ducking\n- **Action**: REMOVE\n"
            "- **Metrics**: seams, dropouts\n")
    client = get_sync_client(url=server, timeout=600)
    thread = client.threads.create()
    result = client.runs.wait(
        thread["thread_id"], "ablate",
        input={"plan": plan, "videos": str(videos), "output_dir": str(tmp_path / "study")},
        context={"seed": 1},
    )
    assert "__error__" not in result, result
    rows = [json.loads(line) for line in
            (tmp_path / "study" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["variant"] for r in rows) == ["ducking/no-ducking", "full"]
    assert all(r["status"] == "ok" and r["dropout_share"] is not None for r in rows)
    assert Path(result["outputs"]["table_md"]).is_file()


@pytest.mark.slow
def test_server_runs_the_graph_once(server, tmp_path):
    from langgraph_sdk import get_sync_client

    video = make_cut_video(tmp_path / "served.mp4", [1.5, 1.5])
    out = tmp_path / "served.dubbed.mp4"
    client = get_sync_client(url=server, timeout=600)
    thread = client.threads.create()
    result = client.runs.wait(
        thread["thread_id"],
        "lvas",
        input={"video": str(video), "output": str(out)},
        context={"seed": 3, "run_dir": str(tmp_path / "run")},
    )
    assert "__error__" not in result, result
    assert result["artifacts"]["output"] == str(out.resolve())
    assert video_packets_digest(out) == video_packets_digest(video)
    assert (tmp_path / "run" / "plan.json").exists()
    state = client.threads.get_state(thread["thread_id"])
    assert state["values"]["scenes"]
