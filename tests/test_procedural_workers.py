"""Procedural renders in worker processes: the same bytes as here, a fallback when workers
cannot start, a clear error (not a hang) when one dies, and no worker left after exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest

from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation import GenerationRequest
from lvas.tools.generation import procedural_workers as workers
from lvas.tools.generation.procedural import parts_of, render_to_wav
from lvas.tools.generation.procedural_backend import ProceduralGenerator
from lvas.tools.generation.procedural_workers import RenderPool, WorkerDied, render_clip

REQUESTS = (  # a compound stereo bed, footsteps on a surface at given onsets, a quiet bed
    GenerationRequest("heavy rain pouring and rolling thunder", 3.5, seed=11, family="rain"),
    GenerationRequest(
        "footsteps on gravel",
        2.0,
        seed=12,
        family="footsteps",
        layer="foreground",
        onsets=(0.2, 0.9, 1.5),
    ),
    GenerationRequest("birds in a quiet forest", 2.5, seed=13, family="birds", intensity=0.4),
)


@pytest.fixture
def pool() -> Iterator[RenderPool]:
    """A pool that sends every job to its one worker (this process keeps no slot)."""
    made = RenderPool(1, grow_after=0.0, local=False)
    yield made
    made.close()


def _run(fn, timeout: float = 120.0):
    """Call ``fn`` in a thread; fail, rather than hang the suite, if it never returns."""
    out: dict[str, object] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"no answer in {timeout:.0f} s: the pool hangs"
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]


def test_jobs_run_in_a_worker_process(pool):
    pid = _run(lambda: pool.run(os.getpid))
    assert pid != os.getpid() and pool.worker_pids() == [pid]
    assert _run(lambda: pool.run(os.getpid)) == pid  # the worker is kept for later jobs


def test_a_worker_renders_the_same_bytes_as_this_process(pool, tmp_path, monkeypatch):
    """Through the backend (as the generator node calls it), in a worker, against the
    synthesizer called here with the parts the text names."""
    monkeypatch.setattr(workers, "_POOL", pool)
    gen = ProceduralGenerator()
    for i, request in enumerate(REQUESTS):
        there = tmp_path / f"worker-{i}.wav"
        _run(partial(gen.render, request, there))
        here = render_to_wav(
            tmp_path / f"here-{i}.wav",
            request.family,
            request.duration,
            48000,
            request.seed,
            layer=request.layer,
            onsets=request.onsets,
            intensity=request.intensity,
            channels=2 if request.layer == "background" else 1,
            parts=parts_of(request.text, request.family, request.layer),
        )
        assert there.read_bytes() == here.read_bytes(), request.text
    assert pool.worker_pids()  # it did run there
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_busy_process_starts_a_worker_and_renders_beside_it(tmp_path):
    """The shared pool's way: while this process renders one clip, a request that finds its
    slot busy starts a worker and renders there; both give the same bytes."""
    made = RenderPool(1, grow_after=0.0)
    started, go = threading.Event(), threading.Event()
    found: dict[str, int] = {}

    def here() -> int:
        started.set()
        go.wait(60)
        return _render_and_say_where(str(tmp_path / "here.wav"))

    def first() -> None:
        found["here"] = made.run(here, 8.0)

    try:
        holder = threading.Thread(target=first)
        holder.start()
        assert started.wait(60)
        found["there"] = _run(
            lambda: made.run(partial(_render_and_say_where, str(tmp_path / "there.wav")), 8.0)
        )
        go.set()
        holder.join(60)
        assert found["here"] == os.getpid()
        assert found["there"] != os.getpid() and made.worker_pids() == [found["there"]]
        assert (tmp_path / "here.wav").read_bytes() == (tmp_path / "there.wav").read_bytes()
    finally:
        go.set()
        made.close()


def test_a_long_bed_renders_its_windows_at_once_with_the_same_bytes(tmp_path, monkeypatch):
    """The windows of one long bed go to the pool together (one per CPU), so a one-shot
    video's single bed is not left to one core; the joined bed is the one rendered a window
    at a time."""
    from dataclasses import replace

    from lvas.tools.generation.windowing import render_windowed

    made = RenderPool(1, grow_after=0.0)
    monkeypatch.setattr(workers, "_POOL", made)
    monkeypatch.setattr(workers, "usable_cpus", lambda: 2)
    request = GenerationRequest("birds in a quiet forest", 30.0, seed=21, family="birds")
    together = ProceduralGenerator()
    assert together.capabilities.max_batch == 2
    one_by_one = ProceduralGenerator()
    one_by_one.capabilities = replace(one_by_one.capabilities, max_batch=1)
    calls: list[int] = []
    batch, render = together.render_batch, together.render
    meeting: dict[str, threading.Barrier | None] = {"windows": None}

    def counted(requests, out_paths):
        calls.append(len(requests))
        meeting["windows"] = threading.Barrier(len(requests)) if len(requests) > 1 else None
        return batch(requests, out_paths)

    def met(request, out_path):  # a batch's renders wait for each other: they run at once
        barrier = meeting["windows"]
        if barrier is not None:
            barrier.wait(timeout=60)
        return render(request, out_path)

    monkeypatch.setattr(together, "render_batch", counted)
    monkeypatch.setattr(together, "render", met)
    try:
        _run(partial(render_windowed, together, request, tmp_path / "together.wav", window=8.0))
        _run(partial(render_windowed, one_by_one, request, tmp_path / "alone.wav", window=8.0))
    finally:
        made.close()
    assert calls and max(calls) == 2
    assert (tmp_path / "together.wav").read_bytes() == (tmp_path / "alone.wav").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone.wav", "together.wav"]


def _render_and_say_where(path: str) -> int:
    render_clip(path, "wind", "wind", "background", duration=8.0, seed=5, channels=2)
    return os.getpid()


def test_small_runs_never_start_a_worker(tmp_path):
    made = RenderPool(1, grow_after=60.0)
    try:
        threads = [
            threading.Thread(target=made.run, args=(partial(time.sleep, 0.05), 5.0))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert made.worker_pids() == []  # 20 s of audio asked for: all rendered here
    finally:
        made.close()


def _wait_for_worker(made: RenderPool, timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while not made.worker_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    return made.worker_pids()


def test_a_long_run_said_to_come_starts_its_worker_before_any_render(tmp_path):
    made = RenderPool(1, grow_after=60.0)
    try:
        made.expect(20.0)  # a short video: its renders stay here
        time.sleep(0.5)
        assert made.worker_pids() == []
        made.expect(600.0)  # a ten-minute video: the worker starts now, with nothing asked yet
        pids = _wait_for_worker(made)
        assert len(pids) == 1
        made.expect(600.0)  # said again: still the one worker
        # The first render goes to the worker that is ready and writes the same bytes.
        request = REQUESTS[2]
        job = partial(render_clip, str(tmp_path / "early.wav"), request.text, request.family,
                      request.layer, duration=request.duration, seed=request.seed, channels=2)
        for _ in range(3):
            _run(lambda: made.run(job, request.duration))
        assert made.worker_pids() == pids
        here = tmp_path / "here.wav"
        render_clip(str(here), request.text, request.family, request.layer,
                    duration=request.duration, seed=request.seed, channels=2)
        assert (tmp_path / "early.wav").read_bytes() == here.read_bytes()
    finally:
        made.close()


def test_a_dub_starts_the_procedural_worker_while_its_video_is_decoded(monkeypatch):
    from lvas.graph.context import Context
    from lvas.tools.generation.early_start import start_backend_early

    said: list[float] = []

    class Pool:
        def expect(self, seconds: float) -> None:
            said.append(seconds)

    monkeypatch.setattr(workers, "shared_pool", Pool)
    start_backend_early(Context(generator_backend="procedural"), 600.0)
    assert said == [600.0]
    start_backend_early(Context(generator_backend="mmaudio"), 600.0)  # loads at its render
    assert said == [600.0]


def test_workers_that_cannot_start_leave_the_renders_here(tmp_path, caplog):
    broken = RenderPool(1, grow_after=0.0, local=False, python=str(tmp_path / "no-python"))
    request = REQUESTS[0]
    job = partial(
        render_clip,
        str(tmp_path / "a.wav"),
        request.text,
        request.family,
        request.layer,
        duration=request.duration,
        seed=request.seed,
        channels=2,
    )
    with caplog.at_level("WARNING", logger=workers.__name__):
        assert _run(lambda: broken.run(os.getpid)) == os.getpid()
        _run(lambda: broken.run(job, request.duration))
    assert broken.failed and broken.worker_pids() == []
    assert [r for r in caplog.records if "cannot start" in r.getMessage()]
    render_clip(
        str(tmp_path / "b.wav"),
        request.text,
        request.family,
        request.layer,
        duration=request.duration,
        seed=request.seed,
        channels=2,
    )
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


@pytest.mark.parametrize(
    "job, how",
    [
        (partial(signal.raise_signal, signal.SIGKILL), "killed by SIGKILL"),
        (partial(os._exit, 3), "exited with status 3"),
    ],
    ids=["killed", "exited"],
)
def test_a_worker_that_dies_is_a_clear_error_not_a_hang(pool, job, how):
    first = _run(lambda: pool.run(os.getpid))
    with pytest.raises(WorkerDied, match=f"while rendering rain \\(3 s\\).*{how}"):
        _run(lambda: pool.run(job, 3.0, "rain (3 s)"))
    assert first not in pool.worker_pids()
    second = _run(lambda: pool.run(os.getpid))  # a new worker takes over
    assert second not in (first, os.getpid())


def test_an_error_in_a_job_comes_back_as_itself(pool, tmp_path):
    job = partial(
        render_clip, str(tmp_path / "x.wav"), "laser", "laser", "background", duration=1.0
    )
    with pytest.raises(LVASInputError, match="Unknown sound family 'laser'") as caught:
        _run(lambda: pool.run(job))
    assert "render worker" in str(caught.value.__cause__)  # its traceback, from the worker
    assert _run(lambda: pool.run(os.getpid)) in pool.worker_pids()  # the worker goes on


def test_no_worker_outlives_its_process(tmp_path):
    """The shared pool of a script (no main guard) that renders through a worker: the script
    is not run again in the worker, and the worker is gone once the script has exited."""
    script = tmp_path / "script.py"
    script.write_text(
        "import os\n"
        "from lvas.tools.generation import procedural_workers as w\n"
        "pool = w.shared_pool()\n"
        "pool.local, pool.grow_after, pool.max_workers = False, 0.0, 1\n"
        "print('ran', flush=True)\n"
        "print(pool.run(os.getpid), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "ran" and lines.count("ran") == 1
    worker = int(lines[1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"worker {worker} is still running after its parent exited")
