"""The walkthrough notebooks run top to bottom."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_are_found_and_well_formed() -> None:
    # Fast, in the default tier: an empty glob would leave the slow tier nothing to execute.
    assert NOTEBOOKS, "no notebooks/*.ipynb found"
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert any(cell.cell_type == "code" for cell in notebook.cells), path.name


@pytest.mark.slow  # a kernel per notebook and a whole dub in it: about 15 s each
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch, label_cache_dir):
    monkeypatch.setenv("LVAS_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
