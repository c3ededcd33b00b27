"""`mdcnb notebooks DIR`: copies of the shipped notebooks for JupyterLab, never over a copy the user edited."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from mdcnb.cli import main

REPO_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def copy(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["notebooks", *args])
    return code, out.getvalue(), err.getvalue()


def test_copies_every_notebook_byte_for_byte(tmp_path):
    code, out, _ = copy(str(tmp_path / "nb"))
    shipped = sorted(REPO_NOTEBOOKS.glob("*.ipynb"))
    assert code == 0 and len(shipped) == 6
    assert sorted(p.name for p in (tmp_path / "nb").iterdir()) == [p.name for p in shipped]
    assert all((tmp_path / "nb" / p.name).read_bytes() == p.read_bytes() for p in shipped)
    assert out.strip().endswith(f"jupyter lab {tmp_path / 'nb'}")
    assert copy(str(tmp_path / "nb"))[0] == 0  # unchanged copies are simply refreshed


def test_an_edited_copy_is_kept_unless_forced(tmp_path):
    target = tmp_path / "nb"
    target.mkdir()
    edited = target / "10_secure_score.ipynb"
    edited.write_text('{"edited": true}')
    code, _, err = copy(str(target))
    assert code == 1
    assert err == (f"mdcnb notebooks: 10_secure_score.ipynb in {target} differ from the shipped notebooks; "
                   "nothing copied (--force overwrites them)\n")
    assert edited.read_text() == '{"edited": true}' and [p.name for p in target.iterdir()] == [edited.name]
    code, out, _ = copy(str(target), "--force")
    assert code == 0 and "1 edited copy replaced" in out
    assert edited.read_bytes() == (REPO_NOTEBOOKS / edited.name).read_bytes()


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    assert copy(str(tmp_path / "file"))[0] == 2
