"""Shared pytest fixtures: small synthetic videos, generated once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import videos

CUT_TIMES = (2.0, 4.0, 6.0)
"""Hard cuts of the ``cut_video`` fixture (8 s, 25 fps, 320x240, H.264 in MP4)."""


class VideoFactory:
    """Make a test video once per session: ``factory("name.ext", maker, *args, **kwargs)``.

    ``maker`` is a function of :mod:`tests.videos` (or its name) taking the output path first.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[str, Path] = {}

    def __call__(self, name: str, maker: Callable[..., Any] | str, *args: Any, **kwargs: Any
                 ) -> Path:
        if name not in self._made:
            fn = getattr(videos, maker) if isinstance(maker, str) else maker
            result = fn(self.root / name, *args, **kwargs)
            self._made[name] = Path(result[0] if isinstance(result, tuple) else result)
        return self._made[name]


@pytest.fixture(scope="session")
def video_factory(tmp_path_factory: pytest.TempPathFactory) -> VideoFactory:
    return VideoFactory(tmp_path_factory.mktemp("videos"))


@pytest.fixture(scope="session")
def cut_video(video_factory: VideoFactory) -> Path:
    """MP4/H.264, 8 s at 25 fps, hard cuts at 2, 4 and 6 s, no audio."""
    return video_factory("cuts.mp4", videos.make_cut_video, [2.0, 2.0, 2.0, 2.0])


@pytest.fixture(scope="session")
def label_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A label index built once per session in its own cache folder (never the user's)."""
    from lvas.retrieval_index import build_index

    cache = tmp_path_factory.mktemp("lvas-cache")
    build_index(cache)
    return cache
