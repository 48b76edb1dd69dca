"""Shared pytest fixtures: small synthetic videos, generated once per session, and a guard
that fails any test leaving process-wide state (environment, working folder, import path,
LangChain's global LLM cache) different from how it found it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# OpenCV's wheel sets LD_LIBRARY_PATH and its Qt paths in os.environ when it is first imported:
# importing it here, before any snapshot, keeps that from being charged to the first test that
# analyses a video.
import cv2  # noqa: F401
import pytest

from tests import videos

# Defaults that code set up once per process writes into os.environ with setdefault: the
# embedding loader's offline flags (tests never download anything anyway), and scikit-learn's and
# joblib's OpenMP workarounds, imported by sentence-transformers. The first label index is often
# built by a session fixture in the middle of a module; setting them here, to the same values,
# keeps that from reading as a leak of the module that happened to need the index first.
# torch's compiler writes its cache folder into the environment the first time a model compiles
# anything (a VITS or diffusers test, or the ONNX export): the same value, set here.
for _name, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                      ("KMP_DUPLICATE_LIB_OK", "True"), ("KMP_INIT_AT_FORK", "FALSE")):
    os.environ.setdefault(_name, _value)


def _torch_compiler_cache_dir() -> None:
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:  # a torch without the compiler sets nothing
        return
    default_cache_dir()  # sets TORCHINDUCTOR_CACHE_DIR to torch's own default, once


_torch_compiler_cache_dir()


_PYTEST_OWN = "PYTEST_CURRENT_TEST"  # pytest rewrites it at every phase of every test


def _environ() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != _PYTEST_OWN}


def _llm_cache() -> Any:
    """LangChain's global LLM cache, without importing LangChain when no test has."""
    module = sys.modules.get("langchain_core.globals")
    return None if module is None else module.get_llm_cache()


class _GlobalState:
    """A snapshot of the process-wide state tests must leave as they found it."""

    def __init__(self) -> None:
        self.environ, self.cwd, self.path = _environ(), os.getcwd(), list(sys.path)

    def restore(self) -> list[str]:
        """Put everything back; say what had changed (empty when nothing had)."""
        now = _environ()
        leaks = [f"os.environ {key}: {self.environ.get(key)!r} -> {now.get(key)!r}"
                 for key in sorted(self.environ.keys() | now.keys())
                 if self.environ.get(key) != now.get(key)]
        for key in now.keys() - self.environ.keys():
            del os.environ[key]
        os.environ.update(self.environ)
        if os.getcwd() != self.cwd:
            leaks.append(f"working folder {self.cwd!r} -> {os.getcwd()!r}")
            os.chdir(self.cwd)
        if sys.path != self.path:
            added = [p for p in sys.path if p not in self.path]
            removed = [p for p in self.path if p not in sys.path]
            leaks.append(f"sys.path added {added}, removed {removed}")
            sys.path[:] = self.path
        if _llm_cache() is not None:
            leaks.append("langchain_core.globals.set_llm_cache(...) left set")
            sys.modules["langchain_core.globals"].set_llm_cache(None)
        return leaks


def _check(state: _GlobalState, who: str) -> None:
    leaks = state.restore()
    if leaks:
        pytest.fail(f"{who} left global state changed (use monkeypatch):\n  " + "\n  ".join(leaks),
                    pytrace=False)


@pytest.fixture(autouse=True)
def _no_leaked_global_state() -> Iterator[None]:
    """Fail a test that changes os.environ, the working folder or sys.path, or sets LangChain's
    global LLM cache, and does not put it back: such a change makes later tests pass or fail by
    the order they run in. The state is restored either way, so a leak is reported once, by
    the test that made it."""
    state = _GlobalState()
    yield
    _check(state, "this test")


@pytest.fixture(scope="module", autouse=True)
def _no_leaked_global_state_per_module() -> Iterator[None]:
    """The same for module-scoped fixtures, which set up before the per-test snapshot."""
    state = _GlobalState()
    yield
    _check(state, "a module-scoped fixture of this module")


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
