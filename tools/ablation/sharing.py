"""Work the variants of a study share: each video's scene analysis and rendered clips.

Every pair runs in its own run directory, and a run reuses what its directory already holds:
the decode pass (``analysis/<key>/analysis.json``, keyed by the video and the shot settings)
and every clip (``clips/<family>-<hash>.wav``, named by the hash of everything that shapes the
render). Before a pair runs, the files earlier pairs of the same video made are hard-linked
into its run directory; after it, its new files are linked into the study's pool. A variant
whose settings change only the mix (ducking, loudness) thus renders nothing again, and no
variant decodes a video twice. Nothing is shared that its name does not pin down: a file is
reused only where a run would look for exactly that name. Runs write files whole and rename
them into place, so a linked file is never changed under another run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SHARED = ("analysis", "clips")


def _link_tree(source: Path, target: Path) -> int:
    """Hard-link every file under ``source`` into ``target`` where absent (a copy across
    file systems); the number of files added."""
    added = 0
    if not source.is_dir():
        return 0
    for path in source.rglob("*"):
        if not path.is_file() or path.name.startswith("."):  # no half-written temp files
            continue
        destination = target / path.relative_to(source)
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except FileExistsError:  # another pair linked it meanwhile
            continue
        except OSError:
            shutil.copy2(path, destination)
        added += 1
    return added


def seed_run(pool: Path, run_dir: Path) -> int:
    """Give a pair's run directory what earlier pairs of its video made."""
    return sum(_link_tree(pool / name, run_dir / name) for name in SHARED)


def collect_run(pool: Path, run_dir: Path) -> int:
    """Add what a finished pair made to its video's pool."""
    return sum(_link_tree(run_dir / name, pool / name) for name in SHARED)
