"""``lvas batch`` on Ray: one CPU task per video, one generator pool shared by all of them.

Ray places the work; LVAS only says what each piece needs. A video's whole graph run
(probe, analysis, planning, mixing, muxing) is a task of one CPU running the very code of
``lvas dub``, with the run's generator set to ``ray-pool``: its sounds go to the generator
actors, each of which loaded its model once and batches windows from every video. At most
``max_in_flight`` videos are in progress (``ray.wait`` on the submitted ones); a task whose
worker dies is retried once by Ray on another worker (``max_retries=1``), while an error
raised by the run is recorded and never retried (``retry_exceptions=False``): bad input fails
the same way twice. Each finished video is appended to the ledger at once, so a rerun of the
same command skips it.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import socket
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lvas.graph.batch_manifest import BatchItem
from lvas.tools.batch.ledger import Ledger
from lvas.tools.batch.progress import BatchProgress
from lvas.tools.common.errors import LVASInputError

LEDGER_FILE = "batch.jsonl"
STATE_FOLDER = ".lvas-batch"
"""Under the output folder: each video's checkpoints and attempt log, by its key."""
SHARED_OPTIONS = (
    "seed", "prompt", "chat_backend", "llm_model", "llm_base_url", "generator_model",
    "generation_steps", "device", "loudness", "mono", "no_ducking", "tts", "set",
    "overwrite", "keep_original_audio",
)
"""``lvas dub`` options a batch passes to every video (a manifest's row may override some)."""
PROGRESS_EVERY = 5.0  # seconds between progress lines while nothing finishes
_FORWARDED_ENV = ("LVAS_", "OPENAI_", "HF_", "TRANSFORMERS_")
"""Environment variables every worker gets (on a cluster, workers start elsewhere)."""


@dataclass
class BatchSettings:
    """How the batch runs; ``dub_options`` are the shared ``lvas dub`` options by name."""

    outdir: Path
    address: str | None = None
    gpus_per_model: float | None = None
    max_in_flight: int | None = None
    retry_failed: bool = False
    generator_backend: str = "auto"
    dub_options: dict[str, Any] = field(default_factory=dict)
    use_pool: bool = True


Echo = Callable[[str], None]


def dub_one(item: dict[str, Any], dub_options: dict[str, Any], state_root: str,
            use_pool: bool) -> dict[str, Any]:
    """One video's whole ``lvas dub`` run, in a Ray worker; a record of how it ended.

    Errors the run raises become a ``failed`` record here (bad input, a bug in a node): they
    are part of the result, not a lost worker, and must not be retried."""
    from lvas.graph.cli import _inputs, build_parser, run_command
    from lvas.retrieval_index import index_loads
    from lvas.tools.video.probe import probe_video

    key = item["key"]
    state = Path(state_root) / key
    state.mkdir(parents=True, exist_ok=True)
    attempt = _log_attempt(state / "attempts.jsonl")
    started = time.perf_counter()
    base = {"attempt": attempt, "pid": os.getpid(), "host": socket.gethostname()}
    try:
        args = build_parser().parse_args(["dub", item["video"], "-o", item["output"]])
        for name, value in dub_options.items():
            setattr(args, name, value)
        args.seed = int(item["seed"])
        args.prompt = item.get("prompt") or dub_options.get("prompt")
        args.narration = item.get("narration")
        args.quiet, args.json, args.resume = True, False, True
        settings = list(dub_options.get("set") or [])
        settings += [f"{name}={value}" for name, value in (item.get("options") or {}).items()]
        if use_pool:
            settings.append("generator_backend=ray-pool")
        args.set = settings
        summary, usage = run_command(args, _inputs(args, video=item["video"],
                                                   output=item["output"]),
                                     f"dubbing {item['video']}", checkpoint_dir=state)
    except LVASInputError as exc:
        return {**base, "status": "failed", "error_kind": "input", "error": str(exc),
                "seconds": round(time.perf_counter() - started, 3), **_peak_rss()}
    except Exception as exc:  # noqa: BLE001 - a crash in one video is that video's result
        return {**base, "status": "failed", "error_kind": "crash",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": "".join(traceback.format_exception(exc)[-6:]),
                "seconds": round(time.perf_counter() - started, 3), **_peak_rss()}
    return {
        **base, "status": "done", "output": summary["output"], "run_dir": summary["run_dir"],
        "report": summary["report"], "duration": probe_video(item["video"]).duration,
        "scenes": summary["scenes"], "sounds": summary["sounds"],
        "loudness_lufs": summary["loudness_lufs"], "warnings": summary["warnings"],
        "timings": summary["timings"], "seconds": round(time.perf_counter() - started, 3),
        "model_usage": {"llm": usage["total"], "gpu_seconds": summary["gpu_seconds"],
                        "generated_sounds": summary["sounds"]},
        "index_loads_in_worker": index_loads(), **_peak_rss(),
    }


def _log_attempt(path: Path) -> int:
    """Count this attempt (a retried task starts again on another worker) and say which."""
    previous = path.read_text(encoding="utf-8").count("\n") if path.exists() else 0
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                              "time": time.time()}) + "\n")
        log.flush()
        os.fsync(log.fileno())
    return previous + 1


def _peak_rss() -> dict[str, float]:
    return {"worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                        / 1024.0, 1)}


def _lost_worker(exc: BaseException) -> dict[str, Any]:
    return {"status": "failed", "error_kind": "worker_lost",
            "error": f"the worker running this video was lost twice ({type(exc).__name__}: "
                     f"{str(exc).splitlines()[0] if str(exc) else 'no message'}); it was "
                     "retried once on another worker. Check the machine's memory and Ray's "
                     "logs, then rerun the same command to try it again with --retry-failed."}


def _ray_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_ENV)}


def start_ray(address: str | None) -> tuple[Any, bool]:
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), else start a local instance
    sized to this machine; the second value says whether this process started it."""
    try:
        import ray
    except ImportError:
        raise LVASInputError(
            "lvas batch runs on Ray, which is not installed. Install the extra: "
            "pip install 'lvas-agent[ray]'."
        ) from None
    address = address or os.environ.get("RAY_ADDRESS") or None
    common: dict[str, Any] = {
        "include_dashboard": False, "log_to_driver": False, "configure_logging": False,
        "namespace": f"lvas-batch-{os.getpid()}-{int(time.time())}",
    }
    if address:  # a local instance's workers inherit this environment; a cluster's do not
        common["runtime_env"] = {"env_vars": _ray_env()}
    try:
        if address:
            ray.init(address=address, **common)
        else:
            # Ray turns token authentication on for a new local instance (good) and says so
            # on the terminal at every start (noise for a batch's user): keep that line quiet.
            quiet = logging.getLogger("ray._private.authentication.authentication_token_setup")
            level = quiet.level
            quiet.setLevel(logging.ERROR)
            try:
                ray.init(num_cpus=len(os.sched_getaffinity(0)), **common)
            finally:
                quiet.setLevel(level)
    except ConnectionError as exc:
        raise LVASInputError(f"Could not reach the Ray cluster at {address}: {exc}. Check the "
                             "address (ray://HOST:10001 or HOST:6379) or leave --address out "
                             "to run on this machine.") from None
    return ray, not address


def run_batch(items: Sequence[BatchItem], settings: BatchSettings, *, echo: Echo,
              as_json: bool = False) -> tuple[int, dict[str, Any]]:
    """Dub every item not finished before; (exit code, summary). Exit 1 when any failed."""
    outdir = settings.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(outdir / LEDGER_FILE)
    todo, skipped = ledger.pending(items, retry_failed=settings.retry_failed)
    progress = BatchProgress(total=len(items), skipped=len(skipped))
    echo(f"lvas batch: {len(items)} video(s), {len(todo)} to run, {len(skipped)} finished "
         "before")
    pool_stats: list[dict[str, Any]] = []
    started = time.perf_counter()
    if todo:
        pool_stats = _run_on_ray(todo, settings, ledger, progress, echo)
    latest = ledger.latest()
    records = [latest[item.key()] for item in items if item.key() in latest]
    summary = progress.summary(records)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    summary["generator_pool"] = pool_stats
    summary["ledger"] = str(outdir / LEDGER_FILE)
    failed = [r for r in records if r.get("status") != "done"]
    if not as_json:
        echo(progress.summary_table(records))
        if pool_stats:
            echo(_pool_line(pool_stats))
    return (1 if failed else 0), summary


def _pool_line(stats: Sequence[Mapping[str, Any]]) -> str:
    loads = sum(int(s.get("loads", 0)) for s in stats)
    requests = sum(int(s.get("requests", 0)) for s in stats)
    fills = [float(s.get("mean_batch_fill", 0.0)) for s in stats if s.get("batches")]
    fill = f"{sum(fills) / len(fills):.0%}" if fills else "n/a"
    return (f"lvas batch: generator pool: {len(stats)} actor(s), {loads} model load(s), "
            f"{requests} request(s), mean batch fill {fill}")


def _run_on_ray(todo: Sequence[BatchItem], settings: BatchSettings, ledger: Ledger,
                progress: BatchProgress, echo: Echo) -> list[dict[str, Any]]:
    ray, local = start_ray(settings.address)
    pool = None
    try:
        if settings.use_pool:
            pool = _start_pool(settings)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        limit = max(1, settings.max_in_flight or cpus)
        task = ray.remote(dub_one).options(num_cpus=1, max_retries=1, retry_exceptions=False)
        state_root = str(settings.outdir / STATE_FOLDER)
        queue = deque(todo)
        in_flight: dict[Any, BatchItem] = {}
        last_line = time.monotonic()
        while queue or in_flight:
            while queue and len(in_flight) < limit:
                item = queue.popleft()
                ledger.record(item, "started")
                progress.started(item.key())
                payload = {**item.to_dict(), "key": item.key()}
                in_flight[task.remote(payload, settings.dub_options, state_root,
                                      settings.use_pool)] = item
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=PROGRESS_EVERY)
            for ref in ready:
                item = in_flight.pop(ref)
                try:
                    result = ray.get(ref)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                        ray.exceptions.OutOfMemoryError, ray.exceptions.ActorDiedError,
                        ray.exceptions.RaySystemError) as exc:
                    result = _lost_worker(exc)
                status = result.pop("status")
                record = ledger.record(item, status, **result)
                progress.finished(record)
                echo(_finished_line(record))
            if ready or time.monotonic() - last_line >= PROGRESS_EVERY:
                echo(progress.line())
                last_line = time.monotonic()
        return pool.stats() if pool is not None else []
    finally:
        if pool is not None:
            pool.shutdown()
        if local:
            ray.shutdown()


def _start_pool(settings: BatchSettings) -> Any:
    from lvas.graph.cli import _context, build_parser
    from lvas.tools.batch.generator_pool import start_pool
    from lvas.tools.generation.options import generator_backend, generator_options

    args = build_parser().parse_args(["dub", "pool-settings"])
    for name, value in settings.dub_options.items():
        setattr(args, name, value)
    args.generator_backend = settings.generator_backend
    ctx = _context(args)
    backend = generator_backend(ctx)
    if settings.generator_backend == "auto" and ray_gpus() > 0:
        # ``auto`` resolved here sees this machine (the head node of a cluster often has no
        # GPU); where the cluster has GPUs, the pool serves what auto takes on one: MMAudio.
        backend = "mmaudio"
    return start_pool(backend=backend, options=generator_options(ctx, backend),
                      sample_rate=ctx.sample_rate, gpus_per_model=settings.gpus_per_model)


def ray_gpus() -> float:
    """GPUs in the Ray cluster this process is connected to."""
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0))


def _finished_line(record: Mapping[str, Any]) -> str:
    name = Path(str(record.get("video", "?"))).name
    if record.get("status") == "done":
        return (f"  done    {name} ({record.get('seconds', 0):.1f} s, "
                f"{record.get('sounds', 0)} sound(s))")
    error = str(record.get("error", "")).splitlines()[0] if record.get("error") else "?"
    return f"  FAILED  {name}: {error}"
