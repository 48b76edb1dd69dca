"""Fast start: heavy libraries load when a step needs them, never when ``lvas`` starts.

Each check runs in a fresh interpreter and looks at ``sys.modules``, so a module-level import
of torch, sentence-transformers, Chroma, OpenCV or matplotlib anywhere on the path fails it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "sentence_transformers", "transformers", "chromadb", "cv2", "matplotlib")


def _heavy_modules_after(code: str, cache_dir: Path | None = None,
                         heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Run ``code`` in a fresh interpreter; the ``heavy`` modules it left imported."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["LVAS_CACHE_DIR"] = str(cache_dir)
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_imports_no_heavy_library():
    assert _heavy_modules_after("import lvas.graph.cli") == []


def test_help_imports_no_heavy_library():
    code = "from lvas.graph.cli import build_parser\nbuild_parser().format_help()"
    assert _heavy_modules_after(code) == []


def test_an_offline_plan_never_imports_the_chat_client(cut_video, label_cache_dir, tmp_path):
    # openai and langchain-openai take about 0.7 s to import, on the way of every offline dub.
    code = ("import contextlib, io\n"
            "from lvas.graph.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['plan', {str(cut_video)!r}, '-o', {str(tmp_path / 'plan.json')!r}, "
            f"'--work-dir', {str(tmp_path / 'run')!r}, '--chat-backend', 'offline']) == 0")
    assert _heavy_modules_after(code, label_cache_dir,
                                heavy=("openai", "langchain_openai")) == []
    assert json.loads((tmp_path / "plan.json").read_text())["scenes"]


def test_doctor_judges_from_metadata(label_cache_dir):
    from lvas.tools.common.gpu import gpu_driver_present

    code = ("from lvas.graph.doctor import run_checks\n"
            "report = run_checks()\n"
            "index = next(c for c in report['checks'] if c['name'] == 'label index')\n"
            "assert index['ok'], index")
    heavy = _heavy_modules_after(code, label_cache_dir)
    # torch is asked about a GPU only where a GPU driver is installed.
    allowed = {"torch"} if gpu_driver_present() else set()
    assert set(heavy) <= allowed


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None,
                    reason="the onnx package is not installed: queries stay on torch")
def test_a_warm_label_search_loads_no_model_library(label_cache_dir):
    code = ("import contextlib, io\n"
            "from lvas.graph.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    assert main(['labels', 'search', 'dog barking', '--k', '1']) == 0\n"
            "assert 'dog barking' in out.getvalue()")
    assert _heavy_modules_after(code, label_cache_dir) == []
