"""What the report shows and plays from the run's own files: a thumbnail per scene, the mix and
its stems, and the delivered video when a browser can play it.

Thumbnails are small JPEGs written beside the report (``thumbnails/``), one per scene and never
one per frame, so a two-hour run adds a few megabytes at most; the page links them, the mix,
the stems and the video by relative paths, so the run folder can be moved or archived whole
and opened offline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cv2
import numpy as np

from lvas.tools.common.paths import atomic_path

THUMB_DIR = "thumbnails"
THUMB_WIDTH = 192
"""Pixels across a thumbnail (about 6 KB as JPEG): enough to recognise a shot."""
THUMB_QUALITY = 75
_THUMB_NAME = re.compile(r"^scene-(\d+)\.jpg$")

# What a browser plays, by container (the output's extension) and by the video codec copied
# from the input (PyAV's canonical names). Chromium and Firefox play H.264, VP8/VP9 and AV1;
# HEVC, MPEG-2 and MPEG-4 Part 2 need a desktop player.
_PLAYABLE = {
    ".mp4": {"h264", "av1", "vp9"},
    ".m4v": {"h264", "av1", "vp9"},
    ".mov": {"h264"},
    ".webm": {"vp8", "vp9", "av1"},
}
_CODEC_NAMES = {"hevc": "HEVC (H.265)", "mpeg2video": "MPEG-2", "mpeg4": "MPEG-4 Part 2",
                "h264": "H.264", "vp8": "VP8", "vp9": "VP9", "av1": "AV1"}


def href(target: str | os.PathLike[str], base: Path) -> str:
    """``target`` as a URL-quoted link relative to ``base`` (the report's folder)."""
    path = os.fspath(target)
    if os.path.isabs(path):
        try:
            path = os.path.relpath(path, base)
        except ValueError:  # another drive on Windows
            return Path(path).as_uri()
    return quote(path.replace(os.sep, "/"))


def _thumbnail(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    if width <= THUMB_WIDTH:
        return image
    new_height = max(1, round(height * THUMB_WIDTH / width))
    return cv2.resize(image, (THUMB_WIDTH, new_height), interpolation=cv2.INTER_AREA)


def scene_keyframe(scene: Mapping[str, Any], root: Path) -> Path | None:
    """The scene's main keyframe (its first listed) as a path, when it is on disk."""
    for name in scene.get("keyframes") or []:
        path = Path(name)
        path = path if path.is_absolute() else root / path
        if path.is_file():
            return path
    return None


def write_thumbnails(scenes: Sequence[Mapping[str, Any]], root: Path, out_dir: Path
                     ) -> list[dict[str, Any] | None]:
    """One thumbnail per scene (in the order given) in ``out_dir/thumbnails``, from its main
    keyframe (keyframe paths relative to ``root``): ``{"src", "width", "height"}`` with the
    path relative to ``out_dir`` for each scene, ``None`` where it has none.

    Thumbnails of scenes a previous report had and this one lacks are removed, so the folder
    holds exactly what the page links.
    """
    folder = out_dir / THUMB_DIR
    paths: list[dict[str, Any] | None] = []
    for index, scene in enumerate(scenes):
        source = scene_keyframe(scene, root)
        image = cv2.imread(str(source), cv2.IMREAD_COLOR) if source else None
        if image is None:
            paths.append(None)
            continue
        small = _thumbnail(image)
        ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
        if not ok:
            paths.append(None)
            continue
        name = f"scene-{index:04d}.jpg"
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(data.tobytes())
        paths.append({"src": f"{THUMB_DIR}/{name}", "width": int(small.shape[1]),
                      "height": int(small.shape[0])})
    if folder.is_dir():
        kept = {Path(p["src"]).name for p in paths if p}
        for old in folder.iterdir():
            if _THUMB_NAME.match(old.name) and old.name not in kept:
                old.unlink(missing_ok=True)
    return paths


def audio_players(audio: Mapping[str, str | os.PathLike[str]], base: Path
                  ) -> list[dict[str, str]]:
    """``{"name", "src", "missing"}`` per audio file: the mix, then the stems as given."""
    players = []
    for name, path in audio.items():
        if not path:
            continue
        players.append({"name": name, "src": href(path, base),
                        "missing": "" if Path(path).is_file() else f"{path} is missing"})
    return players


def video_player(output: str | os.PathLike[str] | None, video_codec: str | None, base: Path
                 ) -> dict[str, str]:
    """``{"src", "href", "reason"}``: ``src`` to play the delivered video when a browser can
    play its container and codec, else the ``reason`` it cannot (and an ``href`` to open it
    elsewhere when it exists)."""
    if not output:
        return _video("", "", "No video was delivered (a plan only).")
    path = Path(output)
    if not path.is_file():
        return _video("", "", f"The delivered video {path} is not there (moved or deleted).")
    link = href(path, base)
    ext = path.suffix.lower()
    codec = (video_codec or "").lower()
    if ext not in _PLAYABLE:
        return _video("", link, f"The video is in a {ext or 'extensionless'} container, which "
                      "browsers do not play; open it in a video player.")
    if codec not in _PLAYABLE[ext]:
        name = _CODEC_NAMES.get(codec, codec or "an unknown codec")
        return _video("", link, f"The video stream is {name} (copied from the input), which "
                      f"browsers do not play in {ext}; open it in a video player.")
    return _video(link, link, "")


def _video(src: str, link: str, reason: str) -> dict[str, str]:
    return {"src": src, "href": link, "reason": reason}
