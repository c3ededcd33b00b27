"""`mdcnb report` end to end on small notebooks: real papermill kernels, real nbconvert pages, real files."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import re
import sys
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from report_notebooks import (
    ACCOUNT,
    ASSESSMENT_KEY,
    SCRIPT_NAME,
    SUBSCRIPTION,
    TENANT,
    WEEK,
    XSS_NAME,
    write_dataset,
    write_notebook,
)
from terminal import run_on_terminal

from mdcnb.cli import main
from mdcnb.core.weeks import iso_week
from mdcnb.report.runner import select_notebooks
from mdcnb.tables.history import dataset_as_of


class ResourceLinks(HTMLParser):
    """Every URL an HTML page would load by itself (script, style, image, frame), outside script text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "embed", "source", "video", "audio") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def external_loads(page: str) -> list[str]:
    return [u for u in ResourceLinks(page).urls if re.match(r"(?:[a-z]+:)?//", u, re.IGNORECASE)]
ESCAPED_XSS = "&lt;img src=x onerror=alert(1)&gt;"


def write_one_cell(directory: Path) -> Path:
    """A notebook of one cell that needs nothing from mdcnb (the report machinery alone is under test)."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# One cell"),
                                               nbformat.v4.new_code_cell("print('the kernel ran')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    directory.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, directory / "10_one.ipynb")
    return directory


def run_report(*args: str) -> tuple[int, str, str]:
    """`mdcnb report ARGS` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["report", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    write_notebook(root / "notebooks", "10_good", title="Good page")
    write_notebook(root / "notebooks", "20_broken", fail=True, title="Broken page")
    return root, write_dataset(root / "dataset")


@pytest.fixture(scope="module")
def plain(workspace):
    """One unmasked run over the good and the failing notebook."""
    root, dataset = workspace
    code, out, err = run_report("--dataset", str(dataset), "--out", str(root / "plain"),
                                "--notebooks-dir", str(root / "notebooks"))
    return code, out, err, root / "plain" / WEEK


@pytest.fixture(scope="module")
def masked(workspace):
    """One masked run of the good notebook, with a known key."""
    root, dataset = workspace
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MDCNB_MASK_KEY", "report-test-key")
        code, out, err = run_report("--dataset", str(dataset), "--out", str(root / "masked"), "--mask-ids",
                                    "--keep-snapshot", "--notebook", "10", "--notebooks-dir", str(root / "notebooks"))
    return code, out, err, root / "masked" / WEEK


def test_failing_notebook_fails_the_command_naming_notebook_and_cell(plain):
    code, out, err, week = plain
    assert code == 1
    assert "20_broken.ipynb failed in cell 6 (raise RuntimeError('boom')): RuntimeError: boom" in err
    assert out.strip() == str(week / "index.html")


def test_report_layout_in_the_iso_week_of_the_dataset(plain):
    week = plain[3]
    for name in ("index.html", "10_good.html", "20_broken.html", "notebooks/10_good.ipynb",
                 "notebooks/20_broken.ipynb", "csv/10_good/scores.csv", "csv/10_good/score_table.csv",
                 "report.json", "skips.csv"):
        assert (week / name).is_file(), name
    # the snapshot of stage 1 is removed once the pages are written (kept with --keep-snapshot), and no side file
    assert sorted(p.name for p in week.iterdir() if p.is_dir()) == ["assets", "csv", "notebooks"]
    assert sorted(p.name for p in week.iterdir() if p.name.startswith(".")) == []


def test_a_masked_report_keeps_no_snapshot(masked):
    """The snapshot holds the ids unmasked: a masked report removes it once its pages are written, even when asked
    to keep it."""
    code, _, err, week = masked
    assert code == 0, err
    assert (week / "10_good.html").is_file() and "--keep-snapshot ignored: a masked report keeps no snapshot" in err
    assert sorted(p.name for p in week.iterdir() if p.is_dir()) == ["assets", "csv", "notebooks"]


def test_csv_holds_the_full_data_behind_the_chart(plain):
    table = pd.read_csv(plain[3] / "csv" / "10_good" / "scores.csv")
    assert table["name"].tolist() == [XSS_NAME, SCRIPT_NAME, "vm-3"]
    assert table["score"].tolist() == [1.5, 2.25, 4.25]


def test_pages_are_offline_and_escape_cloud_names(plain):
    page = (plain[3] / "10_good.html").read_text()
    assert external_loads(page) == []
    # one chart, and plotly.js loaded from the week folder's assets by relative path, not inlined
    assert page.count("Plotly.newPlot") == 1 and "window.Plotly = Plotly" not in page
    (script,) = re.findall(r'<script src="(assets/plotly-[^"]+\.min\.js)"', page)
    assert (plain[3] / script).is_file()
    assert ESCAPED_XSS in page and XSS_NAME not in page and SCRIPT_NAME not in page
    assert "page = Page(" not in page  # code hidden
    assert 'href="csv/10_good/scores.csv"' in page


def test_index_shows_headlines_failure_pull_log_and_links(plain):
    index = (plain[3] / "index.html").read_text()
    assert external_loads(index) == []
    assert '<a href="10_good.html">Good page</a>' in index
    assert "<span>Subscriptions</span><b>1</b>" in index  # write_dataset lists one subscription
    assert "failed in cell 6" in index
    assert "403" in index and ESCAPED_XSS in index and XSS_NAME not in index
    for href in re.findall(r'href="([^"#]+)"', index):
        assert (plain[3] / href).is_file(), href


def test_masked_report_has_no_id_anywhere(masked):
    code, _, _, week = masked
    assert code == 0
    files = [p for p in week.rglob("*") if p.is_file()]
    assert len(files) >= 7
    everything = "\n".join(p.read_text(errors="replace") for p in files).lower()
    for secret in (SUBSCRIPTION, TENANT, ACCOUNT):
        assert secret not in everything
    pseudonym = "sub-" + hmac.new(b"report-test-key", SUBSCRIPTION.encode(), hashlib.sha256).hexdigest()[:10]
    table = pd.read_csv(week / "csv" / "10_good" / "scores.csv")
    assert table["scope"][0] == f"/subscriptions/{pseudonym}"
    assert pseudonym in (week / "10_good.html").read_text()
    assert table["key"][0] == ASSESSMENT_KEY  # not an id to hide
    assert not (week / "20_broken.html").exists()  # --notebook 10 ran only the good one


def test_unknown_notebook_name_is_a_clear_error(workspace):
    root, dataset = workspace
    code, _, err = run_report("--dataset", str(dataset), "--out", str(root / "x"), "--notebook", "99",
                              "--notebooks-dir", str(root / "notebooks"))
    assert code == 2 and "notebook '99' matches 0 notebooks" in err and "10_good, 20_broken" in err


@pytest.mark.parametrize("missing", ["--dataset", "--notebooks-dir"])
def test_a_missing_dataset_or_notebooks_folder_stops_before_anything_runs(workspace, tmp_path, missing):
    root, dataset = workspace
    given = {"--dataset": str(dataset), "--notebooks-dir": str(root / "notebooks"), missing: "/nonexistent"}
    code, out, err = run_report(*[part for pair in given.items() for part in pair], "--out", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert err == "mdcnb report: " + ("dataset" if missing == "--dataset" else "notebooks folder") \
        + " /nonexistent is not a directory\n"
    assert not (tmp_path / "out").exists()  # no index, no week folder: nothing ran


def test_a_folder_without_notebooks_is_an_error_not_an_empty_report(workspace, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_report("--dataset", str(workspace[1]), "--notebooks-dir", str(tmp_path / "empty"),
                              "--out", str(tmp_path / "out"))
    assert code == 2 and err == f"mdcnb report: no notebook (*.ipynb) in {tmp_path / 'empty'}\n"
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def on_terminal(workspace, tmp_path_factory):
    """A one-cell notebook reported by the command with stderr on a terminal: everything it and its kernel print."""
    out = tmp_path_factory.mktemp("terminal")
    code, text = run_on_terminal([sys.executable, "-m", "mdcnb", "report", "--dataset", str(workspace[1]),
                                  "--notebooks-dir", str(write_one_cell(out / "notebooks")),
                                  "--out", str(out / "reports")], stdout=out / "stdout.txt")
    return code, text, out


def test_kernels_print_no_tcp_warning(on_terminal):
    code, text, out = on_terminal
    assert code == 0 and "the kernel ran" in (out / "reports" / WEEK / "10_one.html").read_text()
    assert "ok     10_one" in text  # the report's own lines reach the terminal: a warning would be there too
    assert "without encryption" not in text and "WARNING" not in text


def test_a_terminal_shows_the_notebooks_bar(on_terminal):
    assert "notebooks:   0%" in on_terminal[1] and "0/1" in on_terminal[1]


def test_select_notebooks_by_stem_or_prefix(tmp_path):
    for name in ("10_a", "20_b", "25_c"):
        write_notebook(tmp_path, name)
    assert [p.stem for p in select_notebooks(tmp_path, [])] == ["10_a", "20_b", "25_c"]
    assert [p.stem for p in select_notebooks(tmp_path, ["25", "10_a.ipynb"])] == ["10_a", "25_c"]
    with pytest.raises(ValueError, match="matches 2 notebooks"):
        select_notebooks(tmp_path, ["2"])


@pytest.mark.parametrize(("manifest", "week"), [
    ({"created": "2026-11-20T06:00:00Z"}, "2026-W47"),
    ({"as_of": "2027-01-01T00:00:00+00:00", "created": "2026-11-20T06:00:00Z"}, "2026-W53"),  # 2026 has 53
    ({"created": "2026-12-28"}, "2026-W53"),
    ({"created": "2027-01-04T00:00:00Z"}, "2027-W01"),
])
def test_iso_week_of_the_as_of_time(manifest, week):
    assert iso_week(dataset_as_of(manifest)) == week


def test_as_of_without_a_usable_time_is_now():
    assert abs((dataset_as_of({"created": "yesterday"}) - datetime.now().astimezone()).total_seconds()) < 60


def test_stage_one_runs_in_a_process_that_ends_and_records_the_week(tmp_path, monkeypatch):
    """Normalising a big dataset fragments a process's memory: the report's own process must not do it."""
    import os

    from mdcnb import snapshot
    from mdcnb.report import runner
    from mdcnb.sources.dataset import SAMPLE_DATASET
    from mdcnb.tables import history, history_weeks

    recorders = tmp_path / "recorded-by"

    def record_run(*args, **kwargs):  # the real one, noting which process called it
        recorders.write_text(str(os.getpid()))
        return history_weeks.record_run(*args, **kwargs)

    monkeypatch.setattr(snapshot, "record_run", record_run)
    said: list[str] = []
    runner.run_report(runner.ReportOptions(dataset=SAMPLE_DATASET, out=tmp_path / "out", history=tmp_path / "h.duckdb",
                                           notebooks_dir=write_one_cell(tmp_path / "notebooks"), keep_snapshot=True),
                      log=lambda text, **_: said.append(text))
    assert int(recorders.read_text()) != os.getpid()
    assert any(text.startswith("history: 2026-W48 of sample/") for text in said), said
    kept = snapshot.read(tmp_path / "out" / "2026-W48" / runner.SNAPSHOT_DIR)  # what stage 1 left, read back
    assert kept.history.week == "2026-W48" and kept.dataset == SAMPLE_DATASET
    with history.HistoryStore(tmp_path / "h.duckdb", read_only=True) as store:
        assert [s.week for s in store.snapshots()][-1] == "2026-W48"
