"""Keyframes measured while the video is still being decoded, by a low-priority process.

The offline planner reads each scene's keyframes (people, faces, colour, sky, texture): most of
the Scriptwriter's time, spent after the Storyboarder, whose decode leaves part of a core idle
(the decoder's threads cannot fill two) while every later step keeps both busy. A helper
process at the lowest CPU priority measures each shot's first keyframes as the decode writes
them, with the same code (``evidence.image_parts``), and hands the results to this process's
keyframe cache (``evidence.keyframe_parts``), where the Scriptwriter finds them.

Being niced, the helper only takes CPU time that nothing else wants: the decode does not slow
down (a thread here would, sharing the GIL and OpenCV's threads). When the decode ends the
helper stops; what it had not reached is measured by the Scriptwriter as before. Nothing it
does changes a result: a keyframe is measured by the same function on the same file, and a
helper that cannot start or dies only leaves more for the Scriptwriter.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

ENABLED = True  # off: the Scriptwriter measures every keyframe itself (tests compare the two)
POLL_SECONDS = 0.25  # how often the helper looks for keyframes the decode has written
# A scene is measured from its first two keyframes, its first shot's (``MAX_STATIC_IMAGES``):
# each shot's first two are the ones any scene can start with.
_WANTED = re.compile(r"keyframe_\d+_[01]\.jpg")
_log = logging.getLogger(__name__)


class EarlyStills:
    """A helper measuring the keyframes written to ``folder`` for as long as the ``with``
    block runs; on leaving it, every measurement it finished is in the keyframe cache."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.received = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> EarlyStills:
        if not ENABLED:
            return self
        boot = ("import sys; sys.path[:] = sys.argv[2:]; "
                "from lvas.tools.video.early_stills import serve; serve(sys.argv[1])")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-c", boot, str(self.folder), *sys.path],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        except OSError as exc:  # no interpreter to start: the Scriptwriter measures them all
            _log.debug("the early keyframe helper did not start: %s", exc)
            return self
        self._reader = threading.Thread(target=self._receive, name="lvas-early-stills",
                                        daemon=True)
        self._reader.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        proc = self._proc
        if proc is None:
            return
        # Stopped at once: what it sent is in the pipe, and the keyframe in hand (or a slow
        # start at its low priority) is not worth waiting for. A line cut short is dropped.
        proc.kill()
        proc.wait()
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        if self._reader is not None:
            self._reader.join()
        _log.debug("%d keyframe(s) of %s measured early", self.received, self.folder)

    def _receive(self) -> None:
        from lvas.tools.video.evidence import remember_keyframe_parts

        assert self._proc is not None and self._proc.stdout is not None
        with self._proc.stdout:
            for line in self._proc.stdout:
                try:
                    record = json.loads(line)
                    features, people, faces = record["parts"] or (None, None, None)
                    parts = None if features is None else (features, people, faces)
                    remember_keyframe_parts(record["path"], int(record["size"]),
                                            int(record["mtime_ns"]), parts)
                except (ValueError, KeyError, TypeError):  # a torn line from a killed helper
                    continue
                self.received += 1


def serve(folder: str) -> None:
    """The helper's side: at the lowest priority, measure each wanted keyframe that appears in
    ``folder`` and write one JSON line per keyframe, until it is killed or stdin closes (its
    parent gone)."""
    try:
        os.nice(19)
    except (AttributeError, OSError):  # no nice here: it still only runs until the decode ends
        pass
    stop = threading.Event()

    def wait_for_stop() -> None:
        sys.stdin.buffer.read()
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    from lvas.tools.video.evidence import image_parts, read_image

    done: set[str] = set()
    while not stop.is_set():
        try:
            names = sorted(entry.name for entry in os.scandir(folder)
                           if _WANTED.fullmatch(entry.name) and entry.name not in done)
        except OSError:  # the folder is not made yet
            names = []
        if not names:
            stop.wait(POLL_SECONDS)
            continue
        for name in names:
            if stop.is_set():
                break
            done.add(name)
            path = os.path.join(folder, name)
            try:
                before = os.stat(path)
                image = read_image(path)
                after = os.stat(path)
            except OSError:
                continue
            if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                continue  # replaced while read: the Scriptwriter measures the one that stays
            parts = None if image is None else image_parts(image)
            record = {"path": str(Path(path).resolve()), "size": after.st_size,
                      "mtime_ns": after.st_mtime_ns, "parts": parts}
            try:
                sys.stdout.write(json.dumps(record) + "\n")
                sys.stdout.flush()
            except (BrokenPipeError, OSError):
                return
