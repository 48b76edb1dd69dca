"""The generator pool of ``lvas batch``: Ray actors that each load a generator backend once and
serve the sounds of every video in the batch, batched across videos.

Each video's graph runs in its own Ray task and renders its sounds through the ``ray-pool``
backend (:class:`RayPoolGenerator`), which forwards every request to one of the pool's actors
(:class:`GeneratorServer`, named ``lvas-generator-<i>`` in the job's namespace). An actor
collects the requests that arrive together, from any video, into one ``render_batch`` call of
the backend it serves (MMAudio on a GPU fills its batch with windows of many videos), and sends
each caller its WAV file's bytes. The pool reports the served backend's name, version and
capabilities, so clip names and soundtracks are those of a local run with that backend.

Ray is imported only inside the functions that need it: importing this module (the generator
registry's availability check does) costs nothing where Ray is not running.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import atomic_path
from lvas.tools.generation.base import AudioGenerator, GenerationRequest, GeneratorCapabilities

ACTOR_PREFIX = "lvas-generator-"
"""Pool actors are named ``lvas-generator-0``, ``-1``, ... in the Ray job's namespace."""

CPUS_PER_CPU_ACTOR = 4
"""Without GPUs, one actor per this many CPUs (at least one). A video spends about a ninth of
its CPU time rendering procedural sounds (measured: a 3-minute cut of Big Buck Bunny, 30
sounds, 3.6 s of the 31.5 s of CPU its ``lvas dub`` took), so one rendering core per four
video cores keeps up with the videos with twice that to spare for bursts, and leaves the
other cores to the per-video tasks."""

DEFAULT_BATCH_WAIT_MS = 5.0
"""How long an actor waits for more requests to fill a batch once the first one arrived: the
requests of one ``render_batch`` call and of videos waiting at the same moment arrive within
a millisecond or two; a model's batch takes a second."""

MAX_CONCURRENCY = 1000
"""Calls an actor accepts at once: every sound of every video in flight may wait on it."""


def request_to_dict(request: GenerationRequest) -> dict[str, Any]:
    """A request as plain data for the actor (the same fields, tuples as lists)."""
    data = asdict(request)
    data["onsets"] = list(request.onsets)
    data["video_span"] = list(request.video_span) if request.video_span is not None else None
    return data


def request_from_dict(data: Mapping[str, Any]) -> GenerationRequest:
    """The request :func:`request_to_dict` made; unknown fields are refused, not dropped."""
    known = {f.name for f in fields(GenerationRequest)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown generation request fields: {', '.join(unknown)}")
    values = dict(data)
    values["onsets"] = tuple(float(t) for t in values.get("onsets") or ())
    span = values.get("video_span")
    values["video_span"] = (float(span[0]), float(span[1])) if span is not None else None
    return GenerationRequest(**values)


@dataclass
class _Pending:
    request: GenerationRequest
    tag: str
    future: asyncio.Future[bytes]
    arrived: float


class GeneratorServer:
    """One generator backend, loaded once, serving render calls from many videos in batches.

    :func:`start_pool` makes it a Ray actor (an asyncio actor: its methods are coroutines, so
    up to ``MAX_CONCURRENCY`` calls wait on it at once while one batch renders in a worker
    thread). A backend that fails to load leaves the actor alive and every call raises the
    load's error, so the caller sees why (Ray would report only that the actor died).
    """

    def __init__(
        self,
        backend: str,
        sample_rate: int,
        options: Mapping[str, Any] | None = None,
        *,
        max_batch: int | None = None,
        batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
    ) -> None:
        from lvas.tools.generation.registry import get_generator

        self._backend = backend
        self._loads = 0
        self._load_error: BaseException | None = None
        self._generator: AudioGenerator | None = None
        try:
            self._generator = get_generator(backend, sample_rate=sample_rate, **dict(options or {}))
            self._loads += 1
        except Exception as exc:  # noqa: BLE001 - reported to every caller, see the class doc
            self._load_error = exc
        caps_batch = self._generator.capabilities.max_batch if self._generator else 1
        self._max_batch = max(1, int(max_batch if max_batch is not None else caps_batch))
        self._wait = max(0.0, float(batch_wait_ms)) / 1000.0
        self._queue: deque[_Pending] = deque()
        self._wake: asyncio.Event | None = None
        self._collector: asyncio.Task[None] | None = None
        # One render at a time: a model owns its device, and a batch is the unit of work.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvas-generator")
        self._scratch = Path(tempfile.mkdtemp(prefix="lvas-generator-"))
        atexit.register(shutil.rmtree, self._scratch, True)
        self._counter = itertools.count()
        self._requests = 0
        self._batches = 0
        self._batched = 0
        self._errors = 0
        self._busy = 0.0

    # -- what it serves -----------------------------------------------------------------------

    def _served(self) -> AudioGenerator:
        if self._generator is None:
            assert self._load_error is not None
            raise self._load_error
        return self._generator

    async def identity(self) -> dict[str, Any]:
        """The served backend: ``name``, ``version`` and ``capabilities`` (a dict), and the
        registry name and batch size it was started with."""
        generator = self._served()
        return {"name": generator.name, "version": generator.version,
                "capabilities": asdict(generator.capabilities), "backend": self._backend,
                "max_batch": self._max_batch}

    async def capabilities(self) -> dict[str, Any]:
        """The served backend's :class:`GeneratorCapabilities`, as a dict."""
        return asdict(self._served().capabilities)

    async def stats(self) -> dict[str, Any]:
        """Loads, requests, batches, how full batches were (mean size / max_batch), render time."""
        mean_fill = (self._batched / self._batches / self._max_batch) if self._batches else 0.0
        generator = self._generator
        return {"loads": self._loads, "requests": self._requests, "batches": self._batches,
                "mean_batch_fill": round(mean_fill, 4), "max_batch": self._max_batch,
                "busy_seconds": round(self._busy, 4), "errors": self._errors,
                "queued": len(self._queue), "pid": os.getpid(),
                "device": generator.capabilities.device if generator else "",
                "backend": self._backend}

    async def close(self) -> None:
        """Remove the scratch folder (the pool calls it before ending the actor)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- serving ------------------------------------------------------------------------------

    async def render(self, request: dict[str, Any], attempt_tag: str = "") -> bytes:
        """Render one request (:func:`request_to_dict`) with others that arrive with it; the
        WAV file's bytes. ``attempt_tag`` names the caller's attempt in the scratch file."""
        self._served()
        loop = asyncio.get_running_loop()
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._collector is None or self._collector.done():
            self._collector = loop.create_task(self._collect())
        pending = _Pending(request_from_dict(request), attempt_tag, loop.create_future(),
                           loop.time())
        self._requests += 1
        self._queue.append(pending)
        self._wake.set()
        return await pending.future

    async def _collect(self) -> None:
        """Take batches off the queue: up to ``max_batch`` requests, waiting at most
        ``batch_wait_ms`` after the oldest one arrived (those that came in while the previous
        batch rendered go at once)."""
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            deadline = self._queue[0].arrived + self._wait
            while len(self._queue) < self._max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
            batch = [p for p in batch if not p.future.done()]  # callers that gave up
            if not batch:
                continue
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self._render_files, batch)
            except Exception as exc:  # noqa: BLE001 - no caller may wait forever
                results = [exc] * len(batch)
            self._busy += time.perf_counter() - started
            self._batches += 1
            self._batched += len(batch)
            for pending, result in zip(batch, results, strict=True):
                if pending.future.done():
                    continue
                if isinstance(result, BaseException):
                    self._errors += 1
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)

    def _render_files(self, batch: list[_Pending]) -> list[bytes | BaseException]:
        """Render a batch into the scratch folder and read the files back (worker thread).

        A batch that fails is rendered again one request at a time, so a request the backend
        cannot render fails alone and the others in its batch still get their sound."""
        generator = self._served()
        paths = [self._scratch / f"{next(self._counter):08d}-{_safe(p.tag)}.wav" for p in batch]
        try:
            try:
                generator.render_batch([p.request for p in batch], paths)
                return [path.read_bytes() for path in paths]
            except Exception as exc:  # noqa: BLE001 - retried alone below, then reported
                if len(batch) == 1:
                    return [exc]
            results: list[bytes | BaseException] = []
            for pending, path in zip(batch, paths, strict=True):
                try:
                    generator.render_batch([pending.request], [path])
                    results.append(path.read_bytes())
                except Exception as exc:  # noqa: BLE001 - that caller's error
                    results.append(exc)
            return results
        finally:
            for path in paths:
                path.unlink(missing_ok=True)


def _safe(tag: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)[:40] or "request"


# -- the pool, from the driver ----------------------------------------------------------------


@dataclass
class PoolHandle:
    """The actors of a started pool; keep it while the batch runs (Ray ends actors that no
    handle refers to) and call :meth:`shutdown` at the end."""

    names: list[str]
    actors: list[Any]
    backend: str
    placement: str  # "gpu" or "cpu"
    identity: dict[str, Any] = field(default_factory=dict)

    def stats(self) -> list[dict[str, Any]]:
        """Each actor's :meth:`GeneratorServer.stats`, with its ``name``."""
        import ray

        found = ray.get([actor.stats.remote() for actor in self.actors])
        return [{"name": name, **stat} for name, stat in zip(self.names, found, strict=True)]

    def shutdown(self) -> None:
        """End the actors (their scratch folders removed first) and forget them here."""
        import ray

        try:
            ray.get([actor.close.remote() for actor in self.actors], timeout=30)
        except Exception:  # noqa: BLE001 - a dead or stuck actor is killed all the same
            pass
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        forget_pool()
        # ray.kill returns before the names are free; a pool started next must find them free.
        deadline = time.monotonic() + 30.0
        while set(self.names) & set(_pool_names(ray)) and time.monotonic() < deadline:
            time.sleep(0.05)


@dataclass(frozen=True)
class Placement:
    """Where the pool's actors go: ``kind`` "gpu" or "cpu", how many, GPUs each."""

    kind: str
    actors: int
    gpus_per_actor: float


def plan_placement(resources: Mapping[str, float], *, gpus_per_model: float | None = None,
                   actors: int | None = None) -> Placement:
    """The pool for a cluster with ``resources`` (``ray.cluster_resources()``).

    With GPUs: one actor per ``gpus_per_model`` GPUs (default 1: one model per GPU; 0.5 puts
    two models on each GPU), or ``actors`` of them. Without: one CPU actor per
    ``CPUS_PER_CPU_ACTOR`` CPUs, at least one. Actors reserve no CPU: a video waiting on a
    sound holds its own CPU while an actor renders it, so reserving more would leave cores idle.
    """
    if gpus_per_model is not None and gpus_per_model <= 0:
        raise LVASInputError(f"--gpus-per-model must be above 0, got {gpus_per_model:g}.")
    if actors is not None and actors < 1:
        raise LVASInputError(f"The generator pool needs at least one actor, got {actors}.")
    gpus = float(resources.get("GPU", 0.0))
    if gpus <= 0:
        cpus = int(resources.get("CPU", 1))
        return Placement("cpu", actors or max(1, cpus // CPUS_PER_CPU_ACTOR), 0.0)
    per_model = float(gpus_per_model or 1.0)
    if per_model > gpus:
        raise LVASInputError(f"--gpus-per-model {per_model:g} asks for more GPUs than the "
                             f"cluster has ({gpus:g}).")
    return Placement("gpu", actors or max(1, int(gpus // per_model + 1e-9)), per_model)


def start_pool(
    *,
    backend: str,
    options: Mapping[str, Any] | None = None,
    sample_rate: int,
    gpus_per_model: float | None = None,
    actors: int | None = None,
    max_batch: int | None = None,
    batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
) -> PoolHandle:
    """Start the pool in the current Ray job's namespace (placed by :func:`plan_placement`)
    and wait until every actor has loaded its backend: one that cannot load raises its error
    here, and no actor is left behind. ``max_batch`` overrides the backend's own batch size;
    ``batch_wait_ms`` is how long a batch waits to fill."""
    import ray

    if not ray.is_initialized():
        raise RuntimeError("start_pool needs a running Ray instance (ray.init)")
    taken = _pool_names(ray)
    if taken:
        raise LVASInputError(
            f"A generator pool is already running in this Ray namespace ({', '.join(taken)}). "
            "Shut it down first (PoolHandle.shutdown), or run this batch in another namespace "
            "(ray.init(namespace=...))."
        )
    placement = plan_placement(ray.cluster_resources(), gpus_per_model=gpus_per_model,
                               actors=actors)
    server: Any = ray.remote(GeneratorServer)  # Ray's stubs do not follow options().remote()
    names = [f"{ACTOR_PREFIX}{i}" for i in range(placement.actors)]
    handles: list[Any] = []
    try:
        for name in names:
            handles.append(server.options(
                name=name, get_if_exists=False, max_concurrency=MAX_CONCURRENCY,
                max_restarts=3, max_task_retries=0, scheduling_strategy="SPREAD",
                num_cpus=0, num_gpus=placement.gpus_per_actor,
            ).remote(backend, sample_rate, dict(options or {}), max_batch=max_batch,
                     batch_wait_ms=batch_wait_ms))
        identities = _remote_results(ray, [h.identity.remote() for h in handles])
    except BaseException:
        for handle in handles:
            ray.kill(handle, no_restart=True)
        raise
    return PoolHandle(names=names, actors=handles, backend=backend, placement=placement.kind,
                      identity=identities[0])


def _remote_results(ray: Any, refs: list[Any]) -> list[Any]:
    """``ray.get`` that raises the remote exception itself (its type and message), not Ray's
    wrapper with the actor's traceback."""
    try:
        return list(ray.get(refs))
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise


def _pool_names(ray: Any) -> list[str]:
    """The pool's actors alive in this job's namespace, by index."""
    names = [n for n in ray.util.list_named_actors() if isinstance(n, str)
             and n.startswith(ACTOR_PREFIX) and n[len(ACTOR_PREFIX):].isdigit()]
    return sorted(names, key=lambda n: int(n[len(ACTOR_PREFIX):]))


# -- the ray-pool backend, in every video's process -------------------------------------------


def pool_available(actors: Sequence[str] | None = None) -> tuple[bool, str]:
    """Whether a generator pool serves this process: Ray is initialised here and the pool's
    actors (``actors``, or every ``lvas-generator-<i>`` of the job) exist."""
    if "ray" not in sys.modules:  # never imported: certainly not initialised (and stays cheap)
        return False, "Ray is not running in this process (lvas batch starts it with the pool)"
    import ray

    if not ray.is_initialized():
        return False, "Ray is not running in this process (lvas batch starts it with the pool)"
    alive = _pool_names(ray)
    if actors:
        missing = sorted(set(actors) - set(ray.util.list_named_actors()))
        if missing:
            return False, f"generator pool actors not found: {', '.join(missing)}"
        return True, f"{len(actors)} pool actor(s)"
    if not alive:
        return False, "no generator pool in this Ray job (lvas batch starts one)"
    return True, f"{len(alive)} pool actor(s)"


@dataclass
class _Pool:
    names: tuple[str, ...]
    actors: list[Any]
    identity: dict[str, Any]
    in_flight: list[int]
    turn: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> int:
        """The actor with the fewest of this process's requests in flight (ties in turn)."""
        with self.lock:
            n = len(self.actors)
            order = [(self.turn + i) % n for i in range(n)]
            chosen = min(order, key=lambda i: self.in_flight[i])
            self.turn = (chosen + 1) % n
            self.in_flight[chosen] += 1
            return chosen

    def done(self, index: int) -> None:
        with self.lock:
            self.in_flight[index] -= 1


_POOLS: dict[tuple[str, ...], _Pool] = {}
_POOLS_LOCK = threading.Lock()


def forget_pool() -> None:
    """Drop this process's handles to pool actors (after a shutdown, or when they died)."""
    with _POOLS_LOCK:
        _POOLS.clear()


def _connect(actors: Sequence[str] | None) -> _Pool:
    """This process's view of the pool, made once per set of actor names."""
    import ray

    names = tuple(actors) if actors else tuple(_pool_names(ray))
    if not names:
        raise LVASInputError("No generator pool runs in this Ray job: the ray-pool backend "
                             "serves the sounds of 'lvas batch' runs; use another backend.")
    with _POOLS_LOCK:
        pool = _POOLS.get(names)
    if pool is not None:
        return pool
    handles = [ray.get_actor(name) for name in names]
    identity = _remote_results(ray, [handles[0].identity.remote()])[0]
    pool = _Pool(names, handles, identity, [0] * len(handles), turn=os.getpid() % len(names))
    with _POOLS_LOCK:
        return _POOLS.setdefault(names, pool)


class RayPoolGenerator:
    """The ``ray-pool`` backend: renders through the pool's actors, as the backend they serve.

    ``name``, ``version`` and ``capabilities`` are the served backend's, so a clip's name (and
    with it the reuse of clips on a rerun) and its bytes are those of a local run with that
    backend; ``served_by`` says where it came from.
    """

    served_by = "ray-pool"

    def __init__(self, sample_rate: int = 48000, actors: Sequence[str] | None = None) -> None:
        self._actors = tuple(actors) if actors else None
        pool = _connect(self._actors)
        identity = pool.identity
        self.name: str = identity["name"]
        self.version: str = identity["version"]
        self.capabilities = GeneratorCapabilities(**identity["capabilities"])
        if self.capabilities.sample_rate != sample_rate:
            raise LVASInputError(
                f"The generator pool renders at {self.capabilities.sample_rate} Hz but this run "
                f"asks for {sample_rate} Hz; start the batch with one sample rate for all videos."
            )

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        return self.render_batch([request], [out_path])[0]

    def render_batch(
        self, requests: Sequence[GenerationRequest], out_paths: Sequence[Path]
    ) -> list[Path]:
        """Send every request at once (the actors batch them with other videos' requests),
        then write each WAV atomically to its path."""
        if len(requests) != len(out_paths):
            raise ValueError("render_batch needs one output path per request")
        import ray

        try:
            found = self._call(ray, requests, out_paths)
        except ray.exceptions.RayActorError:
            # The actor died for good (or the pool was restarted): look it up again, once.
            forget_pool()
            found = self._call(ray, requests, out_paths)
        written = []
        for data, path in zip(found, out_paths, strict=True):
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
            written.append(Path(path))
        return written

    def _call(self, ray: Any, requests: Sequence[GenerationRequest],
              out_paths: Sequence[Path]) -> list[bytes]:
        pool = _connect(self._actors)
        taken = [pool.take() for _ in requests]
        try:
            refs = [pool.actors[i].render.remote(request_to_dict(r), Path(p).stem)
                    for i, r, p in zip(taken, requests, out_paths, strict=True)]
            return _remote_results(ray, refs)
        finally:
            for i in taken:
                pool.done(i)
