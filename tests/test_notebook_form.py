"""The notebooks open in JupyterLab unmodified: each file is byte for byte what JupyterLab would save back.

JupyterLab saves through jupyter_server's contents manager; a notebook whose JSON is not what that manager writes
(nbformat version, cell ids, key order, indent, trailing newline, metadata) shows as changed the first time it is
saved, and its copy then differs from the shipped one (`mdcnb notebooks` refuses to overwrite it). The expected
bytes come from the real contents manager (a load and a save), not from mdcnb's own writing code.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager

from mdcnb.cli import main
from mdcnb.report.golden import GOLDEN_DIR, strip_volatile

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def saved_by_jupyter(path: Path, tmp_path: Path) -> bytes:
    """The bytes JupyterLab's server writes when it loads `path` and saves it unchanged."""
    folder = tmp_path / "lab"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(path, folder / path.name)
    manager = FileContentsManager(root_dir=str(folder))
    model = manager.get(path.name, content=True, type="notebook")
    manager.save({"type": "notebook", "format": "json", "content": model["content"]}, path.name)
    return (folder / path.name).read_bytes()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_shipped_notebook_is_what_jupyterlab_saves(notebook: Path, tmp_path):
    assert notebook.read_bytes() == saved_by_jupyter(notebook, tmp_path)
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_golden_copies_are_what_jupyterlab_saves(tmp_path):
    golden = sorted(GOLDEN_DIR.glob("*.ipynb"))
    assert [p.name for p in golden] == [p.name for p in NOTEBOOKS]
    for path in golden:
        assert path.read_bytes() == saved_by_jupyter(path, tmp_path), path.name


def test_the_check_catches_a_notebook_written_another_way(tmp_path):
    """A notebook dumped with indent 2 and sorted keys but no trailing newline is not what JupyterLab saves."""
    other = tmp_path / "other.ipynb"
    other.write_text(json.dumps(json.loads(NOTEBOOKS[0].read_text(encoding="utf-8")), indent=2), encoding="utf-8")
    assert other.read_bytes() != saved_by_jupyter(other, tmp_path)


def test_writers_keep_the_form(tmp_path):
    """`make golden`'s clean-up and `mdcnb notebooks DIR` leave files JupyterLab would not rewrite."""
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.metadata["papermill"] = {"duration": 1.5}
    nb.cells[1].metadata["execution"] = {"iopub.status.busy": "2026-11-28T10:00:00Z"}
    executed = tmp_path / "executed.ipynb"
    executed.write_text(json.dumps(nb, indent=4), encoding="utf-8")  # an executed copy in some other form
    strip_volatile(executed)
    assert executed.read_bytes() == saved_by_jupyter(executed, tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["notebooks", str(tmp_path / "copies")]) == 0
    for path in sorted((tmp_path / "copies").glob("*.ipynb")):
        assert path.read_bytes() == saved_by_jupyter(path, tmp_path), path.name
