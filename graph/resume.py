"""Resumable runs: every step of a CLI run is checkpointed, so a killed run can go on.

Checkpoints live in one SQLite file in the cache directory. A run's thread is named by the hash
of its inputs and settings, so running the same command again with ``--resume`` finds it;
LangGraph replays nothing that finished (per-sound renders already written in an interrupted
fan-out are kept too), and clips on disk are reused by content hash besides.
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


def unfinished(graph: Any, config: dict[str, Any]) -> bool:
    """Whether the thread in ``config`` stopped before the end (there are nodes still to run)."""
    snapshot = graph.get_state(config)
    return bool(snapshot.next) and snapshot.created_at is not None
