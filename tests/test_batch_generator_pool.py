"""The generator pool of ``lvas batch`` on a real local Ray instance: actors load their backend
once, batch the calls of many callers, return what a local render writes, and keep a bad
request's error to its own caller."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation import (
    GenerationRequest,
    GeneratorCapabilities,
    get_generator,
    registry,
)

ray = pytest.importorskip("ray")

from lvas.tools.batch import generator_pool  # noqa: E402 - after the skip without Ray

COUNTING = "counting-test"
HOOK = "tests.test_batch_generator_pool.register_counting_backend"


class CountingGenerator:
    """A test backend that records, in files its test reads, each load (one line per
    construction, with the process id) and the size of each batch it renders. Its batches
    wait while ``gate`` names a file that does not exist yet, so a test can queue requests
    behind a batch. Renders a tone set by the seed; refuses requests whose text is "fail"."""

    name = COUNTING
    version = "1"

    def __init__(self, sample_rate: int = 48000, record_dir: str = "", gate: str = "",
                 max_batch: int = 4, fail_load: bool = False) -> None:
        if fail_load:
            raise LVASInputError("counting-test cannot load: asked to fail")
        self.capabilities = GeneratorCapabilities(
            video_to_audio=False, text_to_audio=True, sample_rate=sample_rate,
            max_batch=max_batch)
        self._record = Path(record_dir)
        self._gate = Path(gate) if gate else None
        with open(self._record / "loads.txt", "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        return self.render_batch([request], [out_path])[0]

    def render_batch(self, requests: Sequence[GenerationRequest], out_paths: Sequence[Path]
                     ) -> list[Path]:
        deadline = time.monotonic() + 60.0
        while self._gate is not None and not self._gate.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(self._record / "batches.txt", "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {len(requests)}\n")
        for request in requests:
            if request.text == "fail":
                raise ValueError("counting-test cannot render the text 'fail'")
        rate = self.capabilities.sample_rate
        return [tone(r, p, rate) for r, p in zip(requests, out_paths, strict=True)]


def tone(request: GenerationRequest, path: Path, sample_rate: int) -> Path:
    n = round(request.duration * sample_rate)
    t = np.arange(n) / sample_rate
    samples = (0.3 * np.sin(2 * np.pi * (200 + request.seed) * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.tobytes())
    return Path(path)


def register_counting_backend() -> None:
    """Ray's worker setup hook: the test backend exists in every worker process too."""
    registry.register(registry.BackendEntry(
        COUNTING, "tests.test_batch_generator_pool:CountingGenerator",
        "lvas.tools.generation.registry:_always"))


@pytest.fixture(scope="module")
def ray_job() -> Iterator[None]:
    """A local Ray instance for the module (two CPUs, no dashboard); Ray's environment
    variables are put back when it stops."""
    saved = dict(os.environ)
    # Workers find the test backend's module from the repository's root, as pytest does.
    root = str(Path(__file__).resolve().parents[1])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"worker_process_setup_hook": HOOK, "env_vars": {"PYTHONPATH": root}})
    try:
        yield
    finally:
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)


def _requests() -> list[GenerationRequest]:
    return [
        GenerationRequest(text="light rain", family="rain", duration=1.5, seed=11,
                          layer="background"),
        GenerationRequest(text="footsteps on gravel", family="footsteps", duration=1.2,
                          seed=12, layer="foreground", onsets=(0.2, 0.7)),
        GenerationRequest(text="birds", family="birds", duration=2.0, seed=13,
                          layer="background", video_path="/nowhere.mp4",
                          video_span=(1.0, 3.0)),
    ]


def test_unavailable_without_ray_or_pool(ray_job: None) -> None:
    """Never picked by ``auto``; refused with a reason in a job without a pool and in a
    process without Ray, where checking it does not even import Ray."""
    assert "ray-pool" not in registry.AUTO_ORDER
    ok, reason = registry.backend_status()["ray-pool"]
    assert not ok and "no generator pool" in reason
    with pytest.raises(LVASInputError, match="ray-pool"):
        get_generator("ray-pool", sample_rate=48000)
    code = ("import sys; from lvas.tools.generation import registry; "
            "print(registry.backend_status()['ray-pool']); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].startswith("(False, 'Ray is not running") and out[1] == "False"


def test_pool_renders_the_bytes_of_a_local_run(ray_job: None, tmp_path: Path) -> None:
    pool = generator_pool.start_pool(backend="procedural", options={}, sample_rate=48000)
    try:
        assert pool.names == ["lvas-generator-0"] and pool.placement == "cpu"
        assert registry.backend_status()["ray-pool"][0]
        remote = get_generator("ray-pool", sample_rate=48000)
        local = get_generator("procedural", sample_rate=48000)
        # What names a clip is the served backend's: a rerun reuses local clips and back.
        assert (remote.name, remote.version) == (local.name, local.version)
        assert remote.capabilities == local.capabilities
        requests = _requests()
        got = remote.render_batch(requests, [tmp_path / f"pool-{i}.wav" for i in range(3)])
        for i, (request, path) in enumerate(zip(requests, got, strict=True)):
            want = local.render(request, tmp_path / f"local-{i}.wav")
            assert path.read_bytes() == want.read_bytes()
        one = remote.render(requests[0], tmp_path / "one.wav")
        assert one.read_bytes() == (tmp_path / "local-0.wav").read_bytes()
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
        with pytest.raises(LVASInputError, match="already running"):
            generator_pool.start_pool(backend="procedural", options={}, sample_rate=48000)
        with pytest.raises(LVASInputError, match="44100 Hz"):
            get_generator("ray-pool", sample_rate=44100)
        (stats,) = pool.stats()
        assert stats["loads"] == 1 and stats["requests"] == 4 and stats["errors"] == 0
    finally:
        pool.shutdown()
    assert not registry.backend_status()["ray-pool"][0]


def _wait_for(pool: generator_pool.PoolHandle, ready: Any) -> None:
    deadline = time.monotonic() + 60.0
    while not all(ready(s) for s in pool.stats()):
        assert time.monotonic() < deadline, pool.stats()
        time.sleep(0.02)


def _wait_rendering(pool: generator_pool.PoolHandle) -> None:
    """Wait until every actor has taken its first request into a batch (held at the gate)."""
    _wait_for(pool, lambda s: s["requests"] == 1 and s["queued"] == 0)


def _wait_queued(pool: generator_pool.PoolHandle, each: int) -> None:
    """Wait until every actor holds ``each`` requests queued behind its gated batch."""
    _wait_for(pool, lambda s: s["queued"] == each)


def _render_in_threads(requests: Sequence[GenerationRequest], folder: Path,
                       threads: ThreadPoolExecutor, first: int = 0) -> list[Future[Path]]:
    """Each request from its own thread, through its own ray-pool generator (as the
    generator node makes one per sound)."""
    def one(i: int, request: GenerationRequest) -> Path:
        return get_generator("ray-pool", sample_rate=48000).render(request, folder / f"{i}.wav")
    return [threads.submit(one, i, r) for i, r in enumerate(requests, start=first)]


def _tone_request(i: int, text: str = "tone") -> GenerationRequest:
    return GenerationRequest(text=text, family="hum", duration=0.25, seed=i)


def test_concurrent_calls_are_batched_and_each_actor_loads_once(
    ray_job: None, tmp_path: Path
) -> None:
    record, gate = tmp_path / "record", tmp_path / "gate"
    record.mkdir()
    pool = generator_pool.start_pool(
        backend=COUNTING, options={"record_dir": str(record), "gate": str(gate)},
        sample_rate=48000, actors=2)
    try:
        assert pool.names == ["lvas-generator-0", "lvas-generator-1"]
        with ThreadPoolExecutor(max_workers=10) as threads:
            # One request per actor starts a batch that waits at the gate; eight more, from
            # eight threads, queue behind them (four per actor: the least busy takes each).
            futures = _render_in_threads([_tone_request(i) for i in range(2)], tmp_path, threads)
            _wait_rendering(pool)
            futures += _render_in_threads([_tone_request(i) for i in range(2, 10)], tmp_path,
                                          threads, first=2)
            _wait_queued(pool, 4)
            gate.touch()
            paths = [f.result(timeout=60) for f in futures]
        for i, path in enumerate(paths):
            want = tone(_tone_request(i), tmp_path / f"want-{i}.wav", 48000)
            assert path.read_bytes() == want.read_bytes()
        stats = pool.stats()
        pids = {s["pid"] for s in stats}
        loads = (record / "loads.txt").read_text().split()
        assert sorted(loads) == sorted(str(p) for p in pids) and len(pids) == 2
        batches = [line.split() for line in (record / "batches.txt").read_text().splitlines()]
        for pid in pids:
            assert [int(n) for p, n in batches if p == str(pid)] == [1, 4]
        for s in stats:
            assert (s["loads"], s["requests"], s["batches"], s["max_batch"]) == (1, 5, 2, 4)
            assert s["mean_batch_fill"] == pytest.approx(5 / 2 / 4)
    finally:
        gate.touch()
        pool.shutdown()


def test_a_bad_request_fails_only_its_caller(ray_job: None, tmp_path: Path) -> None:
    record, gate = tmp_path / "record", tmp_path / "gate"
    record.mkdir()
    pool = generator_pool.start_pool(
        backend=COUNTING, options={"record_dir": str(record), "gate": str(gate)},
        sample_rate=48000, actors=1)
    try:
        with ThreadPoolExecutor(max_workers=5) as threads:
            futures = _render_in_threads([_tone_request(0)], tmp_path, threads)
            _wait_rendering(pool)
            texts = ["tone", "fail", "tone", "tone"]
            futures += _render_in_threads(
                [_tone_request(i, t) for i, t in enumerate(texts, start=1)], tmp_path, threads,
                first=1)
            _wait_queued(pool, 4)
            gate.touch()
            outcomes = [f.exception(timeout=60) or f.result() for f in futures]
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failed) == 1 and outcomes[2] is failed[0]
        assert isinstance(failed[0], ValueError)
        assert "cannot render the text 'fail'" in str(failed[0])
        assert all(isinstance(o, Path) and o.stat().st_size > 44 for o in outcomes
                   if o is not failed[0])
        # The batch of four failed as a whole and was rendered again one request at a time.
        lines = (record / "batches.txt").read_text().splitlines()
        batches = [int(line.split()[1]) for line in lines]
        assert batches == [1, 4, 1, 1, 1, 1]
        (stats,) = pool.stats()  # the actor lives on and serves the next call
        assert stats["errors"] == 1 and stats["loads"] == 1
        after = get_generator("ray-pool", sample_rate=48000).render(
            _tone_request(9), tmp_path / "after.wav")
        assert after.read_bytes() == tone(_tone_request(9), tmp_path / "w.wav", 48000).read_bytes()
    finally:
        gate.touch()
        pool.shutdown()


def test_a_backend_that_cannot_load_stops_the_start(ray_job: None, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="asked to fail"):
        generator_pool.start_pool(backend=COUNTING, sample_rate=48000, actors=2,
                                  options={"record_dir": str(tmp_path), "fail_load": True})
    deadline = time.monotonic() + 30.0
    while registry.backend_status()["ray-pool"][0]:  # no actor is left behind
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_placement_one_model_per_gpu_else_one_cpu_actor_per_four_cpus() -> None:
    plan = generator_pool.plan_placement
    assert plan({"CPU": 2.0}) == generator_pool.Placement("cpu", 1, 0.0)
    assert plan({"CPU": 16.0}) == generator_pool.Placement("cpu", 4, 0.0)
    assert plan({"CPU": 16.0}, actors=3).actors == 3
    assert plan({"CPU": 64.0, "GPU": 4.0}) == generator_pool.Placement("gpu", 4, 1.0)
    assert plan({"CPU": 64.0, "GPU": 4.0}, gpus_per_model=0.5) == generator_pool.Placement(
        "gpu", 8, 0.5)
    assert plan({"CPU": 64.0, "GPU": 3.0}, gpus_per_model=2) == generator_pool.Placement(
        "gpu", 1, 2.0)
    with pytest.raises(LVASInputError, match="more GPUs than the cluster has"):
        plan({"CPU": 8.0, "GPU": 1.0}, gpus_per_model=2)
    with pytest.raises(LVASInputError, match="above 0"):
        plan({"CPU": 8.0}, gpus_per_model=0)
