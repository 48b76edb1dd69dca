"""Procedural clips rendered on every core: a pool of worker processes beside this one.

Synthesis is many small numpy operations that hold the GIL, so the threads LangGraph runs one
per sound take turns on one core. Renders go instead to a module-level pool of worker
processes, made on first need, sized to the CPUs this process may use, kept for later clips
and runs, and closed at exit. A worker runs the same code, so it writes the same bytes.

- This process keeps one render slot of its own, so the pool has one worker fewer than there
  are CPUs: a request renders here when the slot is free and no worker is idle, and otherwise
  waits for whichever frees first. One at a time: threads rendering here together spent about
  1.6 CPUs on one CPU's work (GIL contention). A worker costs about a second of CPU to start
  (numpy and scipy), so none starts before the process has asked for ``GROW_AFTER_SECONDS`` of
  audio, or said that it will (``RenderPool.expect``: a long dub says so while its video is
  decoded): a test or a few short clips render here alone. While a worker starts, requests use
  the slot.
- Workers are ``python -I -c`` subprocesses that import only the synthesizer, not
  multiprocessing's spawn or forkserver workers (those run the parent's ``__main__`` script
  again in every worker, so a script without a main guard would re-run there) and never a fork
  of this threaded process. A job is a picklable call; a render job writes its clip in the
  worker (under a temporary name renamed when complete) and sends back only the path.
- A worker that dies in a render raises WorkerDied naming the clip and how the worker ended
  (no hang); the pool drops it, and a later request may start another. When workers cannot
  start at all, everything renders here, after one warning.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

GROW_AFTER_SECONDS = 100.0
"""Audio asked of this process (seconds, all requests so far) before a worker starts. A worker
costs about a second of CPU to start (numpy and scipy), what it takes to render about 100 s
of audio: a one-minute dub (about 80 s of sounds) renders here alone (with a worker at 30 s its
generation took 0.2 s longer and a second more CPU), a ten-minute one (about 800 s) starts its
worker with its first dozen clips (0.3 s later than at 30 s)."""
_STOP_WAIT = 5.0  # seconds a worker may take to finish its render when asked to stop
_log = logging.getLogger(__name__)

Job = Callable[[], Any]
"""A picklable call without arguments (``functools.partial`` of a module-level function)."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class WorkerDied(RuntimeError):
    """A worker process ended in the middle of a job (killed, out of memory, crashed)."""


class _JobFailed(Exception):
    """What a job raised in a worker (the worker itself is fine): the exception, when it
    pickles, and its traceback as text."""

    def __init__(self, error: BaseException | None, text: str) -> None:
        super().__init__(text)
        self.error = error
        self.text = text


class _WorkerTraceback(Exception):
    """The traceback of an exception raised in a worker, chained under it."""

    def __str__(self) -> str:
        return f"\n\nin the render worker:\n{self.args[0]}"


class _Worker:
    """One worker process: jobs go in on its stdin, replies come back on its stdout."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pid = proc.pid

    @classmethod
    def start(cls, python: str, path: Sequence[str]) -> _Worker:
        """Start a worker with this process's module path and wait until it is ready."""
        boot = (
            "import sys; sys.path[:] = sys.argv[1:]; "
            "from lvas.tools.generation.procedural_workers import serve; serve()"
        )
        proc = subprocess.Popen(
            [python, "-I", "-c", boot, *path], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        worker = cls(proc)
        try:
            kind, _ = worker._receive()
            if kind != "ready":
                raise WorkerDied(f"worker {worker.pid} answered {kind!r} when it started")
        except BaseException:
            worker.close()
            raise
        return worker

    def call(self, job: Job) -> Any:
        """``job()`` in the worker: its result, _JobFailed for what it raised, WorkerDied
        when the worker is gone."""
        assert self.proc.stdin is not None
        try:
            pickle.dump(job, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
        except OSError as exc:
            raise WorkerDied(self._ended()) from exc
        kind, payload = self._receive()
        if kind != "ok":
            raise _JobFailed(*payload)
        return payload

    def _receive(self) -> tuple[str, Any]:
        assert self.proc.stdout is not None
        try:
            kind, payload = pickle.load(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError) as exc:
            raise WorkerDied(self._ended()) from exc
        return kind, payload

    def _ended(self) -> str:
        """How the worker ended, for the error."""
        try:
            code = self.proc.wait(timeout=_STOP_WAIT)
        except subprocess.TimeoutExpired:
            return f"worker {self.pid} stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"worker {self.pid} was killed by {name}"
        return f"worker {self.pid} exited with status {code}"

    def close(self) -> None:
        """End of input: the worker finishes its job and exits; killed if it lingers."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=_STOP_WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class RenderPool:
    """Worker processes plus this process's own render slot (see the module's docstring).

    ``workers``: most worker processes (0: everything runs here). ``grow_after``: seconds of
    audio asked for before the first worker starts. ``local``: whether this process runs jobs
    too; without it jobs wait for a worker (unless none can start). ``python``: the
    interpreter for workers (default: this one).
    """

    def __init__(
        self,
        workers: int,
        *,
        grow_after: float = GROW_AFTER_SECONDS,
        local: bool = True,
        python: str | None = None,
    ) -> None:
        self.max_workers = max(0, int(workers))
        self.grow_after = float(grow_after)
        self.local = bool(local)
        self.python = python or sys.executable
        self.pid = os.getpid()
        self.failed: str | None = None  # why workers cannot start, once one has failed to
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._live: list[_Worker] = []
        self._starting = 0
        self._local_busy = False
        self._asked = 0.0
        self._expected = 0.0  # audio a caller said is coming (``expect``)
        self._closed = False

    def run(self, job: Job, seconds: float = 0.0, describe: str = "") -> Any:
        """``job()`` in a worker or here, whichever is free first. ``seconds``: the audio it
        renders (counts towards starting workers); ``describe`` names it in errors."""
        worker = self._acquire(seconds)
        if worker is None:
            try:
                return job()
            finally:
                with self._cond:
                    self._local_busy = False
                    self._cond.notify_all()
        try:
            result = worker.call(job)
        except _JobFailed as failed:
            self._release(worker)
            if failed.error is not None:
                raise failed.error from _WorkerTraceback(failed.text)
            raise RuntimeError(
                f"{describe or 'A job'} failed in worker {worker.pid}:\n{failed.text}"
            ) from None
        except WorkerDied as died:
            self._drop(worker)
            raise WorkerDied(
                f"The procedural render worker stopped while rendering "
                f"{describe or 'a clip'}: {died}."
            ) from None
        except BaseException:
            self._drop(worker)  # interrupted while waiting: its reply would come out of step
            raise
        self._release(worker)
        return result

    def expect(self, seconds: float) -> None:
        """Say that about ``seconds`` of audio will be asked for soon: when that would start a
        worker anyway, it starts now, in the background. A long dub knows this while the
        Storyboarder decodes, which leaves part of a core idle; the worker's start-up (about a
        second of CPU) then passes there rather than while the renders wait for it."""
        with self._cond:
            self._expected = max(self._expected, float(seconds))
            if self._can_grow() and not self._live and not self._starting:
                self._grow()

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers."""
        with self._cond:
            return [w.pid for w in self._live]

    def close(self) -> None:
        """Stop every worker (each finishes its job first); later jobs run here."""
        if os.getpid() != self.pid:  # a forked child's copy: the workers are its parent's
            return
        with self._cond:
            self._closed = True
            workers, self._idle, self._live = list(self._live), [], []
            self._cond.notify_all()
        for worker in workers:
            worker.close()

    def _acquire(self, seconds: float) -> _Worker | None:
        """An idle worker, or None for this process's slot; waits while neither is free."""
        with self._cond:
            self._asked += max(float(seconds), 0.0)
            while True:
                if self._idle:
                    return self._idle.pop()
                alone = not self._live and not self._starting and not self._can_grow()
                if not self._local_busy and (self.local or alone):
                    self._local_busy = True
                    return None
                if self._can_grow():
                    self._grow()
                self._cond.wait()

    def _can_grow(self) -> bool:
        return (
            not self._closed
            and self.failed is None
            and max(self._asked, self._expected) >= self.grow_after
            and len(self._live) + self._starting < self.max_workers
        )

    def _grow(self) -> None:
        """Start one more worker on a thread of its own (called holding ``_cond``)."""
        self._starting += 1
        threading.Thread(target=self._start_one, name="lvas-worker-start", daemon=True).start()

    def _start_one(self) -> None:
        try:
            worker = _Worker.start(self.python, list(sys.path))
        except Exception as exc:  # noqa: BLE001 - any failure to start means: run here
            with self._cond:
                self._starting -= 1
                if self.failed is None:
                    self.failed = str(exc) or type(exc).__name__
                    _log.warning(
                        "procedural render workers cannot start (%s); rendering in this process",
                        self.failed,
                    )
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            keep = not self._closed
            if keep:
                self._live.append(worker)
                self._idle.append(worker)
            self._cond.notify_all()
        if not keep:
            worker.close()

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            keep = worker in self._live
            if keep:
                self._idle.append(worker)
            self._cond.notify_all()
        if not keep:  # the pool was closed meanwhile
            worker.close()

    def _drop(self, worker: _Worker) -> None:
        with self._cond:
            if worker in self._live:
                self._live.remove(worker)
            self._cond.notify_all()
        threading.Thread(target=worker.close, name="lvas-worker-stop", daemon=True).start()


_POOL: RenderPool | None = None
_POOL_LOCK = threading.Lock()


def shared_pool() -> RenderPool:
    """This process's pool: made on first use (again in a forked child, which must not use
    its parent's pipes), one worker fewer than the usable CPUs, closed at exit."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = RenderPool(usable_cpus() - 1)
            atexit.register(_POOL.close)
        return _POOL


def render_clip(path: str, text: str, family: str, layer: str, **options: Any) -> Path:
    """A render job: ``render_to_wav`` with the parts the request's text names. The parts are
    worked out here, in the worker, so the caller need not import the synthesizer."""
    from lvas.tools.generation.procedural import parts_of, render_to_wav

    return render_to_wav(path, family, layer=layer, parts=parts_of(text, family, layer), **options)


# -- the worker's side -----------------------------------------------------------------------


def serve() -> None:
    """A worker's loop: run each job read from stdin until it closes, and answer on the
    original stdout. Prints go to stderr, so nothing else reaches the replies."""
    global _POOL
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops us
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    jobs = sys.stdin.buffer
    _POOL = RenderPool(0)  # a worker runs its jobs itself: workers never start workers
    import lvas.tools.generation.procedural  # noqa: F401 - imported before "ready"

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _send(replies, ("ready", os.getpid()))
    while True:
        try:
            job = pickle.load(jobs)
        except EOFError:
            return
        try:
            reply = pickle.dumps(("ok", job()), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            failed = ("error", (_picklable(exc), traceback.format_exc()))
            reply = pickle.dumps(failed, protocol=pickle.HIGHEST_PROTOCOL)
        replies.write(reply)
        replies.flush()


def _send(stream: IO[bytes], message: tuple[str, Any]) -> None:
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def _picklable(exc: BaseException) -> BaseException | None:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - sent as text only
        return None
    return exc


def _exit_with_parent(parent: int) -> None:
    """End this worker soon after its parent is gone (killed), not after its job."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
