"""``lvas batch`` end to end on a real local Ray instance: a catalogue with a corrupt file, a
node that crashes and a worker that dies, run through the real command line.

One batch runs for the module (about a minute on 2 cores): every good video must come out
as ``lvas dub`` makes it, each failure must be recorded with its error and leave the others
alone, a worker killed mid-run must be retried once elsewhere, models must load once per
actor and the label index once per worker process, and running the command again must redo
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.audio_checks import decode_audio, video_duration, video_packets_digest
from tests.videos import make_cut_video, make_garbled

pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a Ray instance and nine dubs: about two minutes on 2 cores

GOOD = [f"clip{i}" for i in range(5)]
CRASH, LOST, BROKEN = "crashes-in-mixer", "worker-dies", "broken"


def _batch(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lvas.graph.cli", "batch", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=900)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("batch")
    videos = root / "videos"
    videos.mkdir()
    for i, name in enumerate([*GOOD, CRASH, LOST]):
        make_cut_video(videos / f"{name}.mp4", [1.0 + 0.25 * (i % 3), 1.5], size=(160, 120))
    make_garbled(videos / f"{BROKEN}.mp4", videos / "clip0.mp4")
    out = root / "dubbed"
    env = {**os.environ, "LVAS_CACHE_DIR": str(root / "cache"),
           "LVAS_FAILPOINTS": f"mixer@{CRASH}=raise,storyboarder@{LOST}=exit",
           "LVAS_FAILPOINTS_ONCE": str(root / "fired")}
    first = _batch([str(videos), "-o", str(out), "--seed", "3", "--json"], env, root)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    again = _batch([str(videos), "-o", str(out), "--seed", "3", "--json"], env, root)
    return {"root": root, "videos": videos, "out": out, "env": env, "first": first,
            "again": again, "before": before}


def _summary(done: subprocess.CompletedProcess) -> dict[str, Any]:
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def _records(out: Path) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for line in (out / "batch.jsonl").read_text().splitlines():
        record = json.loads(line)
        latest[Path(record["video"]).stem] = record
    return latest


def test_failures_are_recorded_and_the_batch_exits_1(catalogue: dict[str, Any]) -> None:
    first = catalogue["first"]
    assert first.returncode == 1, first.stderr
    records = _records(catalogue["out"])
    assert records[BROKEN]["status"] == "failed"
    assert records[BROKEN]["error_kind"] == "input"
    assert "corrupt" in records[BROKEN]["error"] or "decode" in records[BROKEN]["error"]
    assert records[CRASH]["status"] == "failed"
    assert records[CRASH]["error_kind"] == "crash"
    assert "injected fault in mixer" in records[CRASH]["error"]
    summary = _summary(first)
    failed = {Path(r["video"]).stem for r in summary["videos"] if r["status"] == "failed"}
    assert failed == {BROKEN, CRASH}
    assert not Path(records[CRASH]["output"]).exists()


def test_every_good_video_is_dubbed_whole(catalogue: dict[str, Any]) -> None:
    records = _records(catalogue["out"])
    for name in [*GOOD, LOST]:
        record = records[name]
        assert record["status"] == "done", record
        source, output = catalogue["videos"] / f"{name}.mp4", Path(record["output"])
        assert output.parent == catalogue["out"]
        assert video_packets_digest(output) == video_packets_digest(source)
        audio, rate = decode_audio(output)
        assert len(audio) / rate == pytest.approx(video_duration(source), abs=0.05)
        assert record["sounds"] >= 1 and record["duration"] > 0


def test_a_lost_worker_is_retried_once_on_another(catalogue: dict[str, Any]) -> None:
    record = _records(catalogue["out"])[LOST]
    assert record["status"] == "done"
    assert record["attempt"] == 2
    attempts = (catalogue["out"] / ".lvas-batch" / record["key"] / "attempts.jsonl")
    pids = [json.loads(line)["pid"] for line in attempts.read_text().splitlines()]
    assert len(pids) == 2 and pids[0] != pids[1]  # the first worker died with its video


def test_models_load_once_per_actor_and_index_once_per_worker(catalogue) -> None:
    summary = _summary(catalogue["first"])
    pool = summary["generator_pool"]
    assert pool and all(actor["loads"] == 1 for actor in pool)
    assert sum(actor["requests"] for actor in pool) >= len(GOOD)
    loads: dict[int, int] = {}
    for record in _records(catalogue["out"]).values():
        if record["status"] == "done":
            loads[record["pid"]] = max(loads.get(record["pid"], 0),
                                       record["index_loads_in_worker"])
    assert loads and set(loads.values()) == {1}
    assert sum(1 for r in _records(catalogue["out"]).values() if r["status"] == "done") > len(
        loads)  # workers dubbed several videos each, loading the index once


def test_a_rerun_redoes_nothing(catalogue: dict[str, Any]) -> None:
    again = catalogue["again"]
    assert again.returncode == 1  # the two failures are still failures
    summary = _summary(again)
    assert summary["counts"]["finished_now"] == 0
    assert summary["counts"]["skipped"] == len(GOOD) + 3
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns)
             for p in catalogue["out"].rglob("*") if p.is_file()}
    ledger = catalogue["out"] / "batch.jsonl"
    assert {p: v for p, v in after.items() if p != ledger} == {
        p: v for p, v in catalogue["before"].items() if p != ledger}


def test_results_equal_lvas_dub_of_the_same_video_and_seed(catalogue: dict[str, Any]) -> None:
    record = _records(catalogue["out"])["clip1"]
    alone = catalogue["root"] / "alone.mp4"
    env = {k: v for k, v in catalogue["env"].items() if not k.startswith("LVAS_FAILPOINTS")}
    done = subprocess.run([sys.executable, "-m", "lvas.graph.cli", "dub",
                           str(catalogue["videos"] / "clip1.mp4"), "-o", str(alone),
                           "--seed", "3", "-q", "--json"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    batch_run = Path(record["run_dir"])
    alone_run = Path(json.loads(done.stdout)["run_dir"])
    assert digest(batch_run / "soundtrack.wav") == digest(alone_run / "soundtrack.wav")
    plans = [json.loads((run / "plan.json").read_text()) for run in (batch_run, alone_run)]
    assert plans[0]["designs"] == plans[1]["designs"]
    assert plans[0]["label_choices"] == plans[1]["label_choices"]
