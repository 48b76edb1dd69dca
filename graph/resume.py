"""Resumable runs: every step of a CLI run is checkpointed, so a killed run can go on.

Checkpoints live in one SQLite file in the cache directory. A run's thread is named by the hash
of its inputs and settings, so running the same command again with ``--resume`` finds it;
LangGraph replays nothing that finished (per-sound renders already written in an interrupted
fan-out are kept too), and clips on disk are reused by content hash besides. A finished run
keeps only its final checkpoint; the same command without ``--resume`` starts afresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lvas.tools.common.paths import content_hash

CHECKPOINTS_FILE = "runs.sqlite"
_INPUT_PATHS = ("video", "output", "plan", "plan_output", "narration")


def thread_id_for(inputs: dict[str, Any], context: Any) -> str:
    """A stable id for this run: the same inputs (paths made absolute) and settings give the
    same id, so ``--resume`` finds the run that was cut short."""
    resolved = {k: (str(Path(v).expanduser().resolve()) if k in _INPUT_PATHS and v else v)
                for k, v in sorted(inputs.items())}
    settings = {k: v for k, v in asdict(context).items() if k != "overwrite"}
    return "lvas-" + content_hash(json.dumps(resolved, sort_keys=True, default=str),
                                  json.dumps(settings, sort_keys=True, default=str), length=20)


@contextmanager
def open_checkpointer(cache_dir: str | Path) -> Iterator[Any]:
    """A SQLite checkpointer in ``cache_dir`` (created if needed), closed afterwards."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    folder = Path(cache_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    with SqliteSaver.from_conn_string(str(folder / CHECKPOINTS_FILE)) as saver:
        yield saver


def resumable(graph: Any, config: dict[str, Any]) -> bool:
    """Whether ``--resume`` can take up the thread in ``config``.

    A run cut short left its checkpoints: before a step, in the moment after a step's results
    were saved but before the next checkpoint was (LangGraph then lists no step as next), or
    after its last step, before the command had ended. A finished run keeps its final checkpoint
    (:func:`keep_final_checkpoint`), so a command killed while it exited is taken up too, as
    long as what it made is still there (else the command starts afresh). Streaming the thread
    again goes on from there, redoing nothing that finished."""
    snapshot = graph.get_state(config)
    if snapshot.created_at is None:
        return False
    if snapshot.next or snapshot.tasks:
        return True
    made = (snapshot.values.get(key) for key in ("output_path", "run_dir"))
    return all(Path(path).exists() for path in made if path)


def keep_final_checkpoint(saver: Any, thread_id: str) -> None:
    """Drop every checkpoint of a finished thread but its last (its final state), in one
    transaction: the file stays small, and ``--resume`` of the same command finds the run done
    instead of refusing the output it made as someone else's."""
    latest = saver.get_tuple({"configurable": {"thread_id": thread_id}})
    if latest is None:
        return
    keep = latest.config["configurable"]["checkpoint_id"]
    with saver.lock, saver.conn:  # the connection's context commits, or rolls back on error
        for table in ("writes", "checkpoints"):
            saver.conn.execute(f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id != ?",
                               (thread_id, keep))
