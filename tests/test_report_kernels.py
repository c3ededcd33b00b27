"""A report thread keeps one kernel for its notebooks (`mdcnb.report.kernels`): each notebook still runs as in a new
kernel (nothing of the one before, execution count from 1), in the same process, with the snapshot shared."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from mdcnb.report import runner
from mdcnb.report.kernels import Kernel
from mdcnb.snapshot.stored import SHARED_ENV

FIRST = "import os\nleft_behind = 41\nprint(os.getpid())"
SECOND = ("import os\nprint(os.getpid())\nprint('left_behind' in globals(), len(Out), os.environ.get("
          f"{SHARED_ENV!r}), os.environ.get('MALLOC_MMAP_THRESHOLD_'))")


def _notebook(folder: Path, name: str, code: str) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def _run_in_one_kernel(folder: Path, codes: dict[str, str]) -> list[tuple[int | None, list[str]]]:
    """The notebooks (name: code of its one cell) in one kept kernel, as a stage-2 worker runs them; each one's
    execution count and printed words. Runs in a worker process: the kernel's client never lives in the test
    process, which later tests fork."""
    sources = [_notebook(folder, name, code) for name, code in codes.items()]
    with runner.local_kernel() as kernel_path:
        kernel = Kernel(runner.KERNEL_NAME, runner.kernel_dirs(kernel_path), folder)
        try:
            results = [runner.execute(s, folder / "out" / s.name, {}, kernel_path, kernel) for s in sources]
        finally:
            kernel.close()
    assert all(r.ok for r in results), [r.failure() for r in results]
    cells = [nbformat.read(folder / "out" / s.name, as_version=4).cells[-1] for s in sources]
    return [(c.execution_count, "".join(o.get("text", "") for o in c.outputs).split()) for c in cells]


@pytest.mark.slow
def test_a_kept_kernel_runs_each_notebook_as_a_new_one(tmp_path):
    with ProcessPoolExecutor(max_workers=1) as worker:
        (first_count, first_lines), (second_count, second_lines) = worker.submit(
            _run_in_one_kernel, tmp_path, {"first": FIRST, "second": SECOND}).result()
    assert first_count == second_count == 1  # papermill injects no cell without parameters
    assert second_lines[0] == first_lines[0]  # the same kernel process ran both
    # nothing left from the first; snapshot reads shared; blocks of 1 MB and more mapped on their own (glibc)
    assert second_lines[1:] == ["False", "0", "1", "1048576"]


READ = "from mdcnb import snapshot\nsnap = snapshot.read({folder!r})\n"
COMPUTE = "snapshot.computed_once(snap, 'left.behind', None, lambda: list(range(1000)))\n"
SHOW = "print(id(snap), len(snap.memo))"


@pytest.mark.slow
def test_the_next_notebook_gets_the_kept_snapshot_without_what_the_last_one_computed(tmp_path):
    """The snapshot stays read between two notebooks of a kernel; what the first computed from it (its memo) is
    gone, as in a new kernel, so that it does not stay in memory beside the tables."""
    from mdcnb import snapshot
    from mdcnb.sources.dataset import SAMPLE_DATASET

    snapshot.write(snapshot.build(SAMPLE_DATASET, with_history=False), tmp_path / "snapshot")
    with ProcessPoolExecutor(max_workers=1) as worker:
        read = READ.format(folder=str(tmp_path / "snapshot"))
        (_, first), (_, second) = worker.submit(_run_in_one_kernel, tmp_path, {
            "compute": read + COMPUTE + SHOW, "look": read + SHOW}).result()
    assert first[1] == "1" and second[1] == "0"  # one value computed by the first; none left for the second
    assert first[0] == second[0]  # the same snapshot object: read once


TIMED = "import os, time\nstarted = time.time()\ntime.sleep(3)\nprint(os.getppid(), started, time.time())"


def _stage_two_of(folder: Path, names: list[str]) -> tuple[int, list[list[str]]]:
    """Stage 2 of a report of these one-cell notebooks (two kernels); the running process's pid and each
    executed notebook's printed words. In a worker process, as `_run_in_one_kernel`."""
    import os

    sources = [_notebook(folder, name, TIMED) for name in names]
    options = runner.ReportOptions(out=folder, notebooks_dir=folder, workers=2)
    with runner.local_kernel() as kernel_path:
        drivers = runner._Drivers(kernel_path, folder)
        drivers.start(2)
        try:
            results = runner._stage_two(sources, folder / "week", {}, folder, options, lambda *a, **k: None, drivers)
        finally:
            drivers.close()
    assert [r.name for r in results] == names and all(r.ok for r in results), [r.failure() for r in results]
    cells = [nbformat.read(folder / "week" / "notebooks" / f"{n}.ipynb", as_version=4).cells[-1] for n in names]
    return os.getpid(), ["".join(o.get("text", "") for o in c.outputs).split() for c in cells]


@pytest.mark.slow
def test_stage_two_drives_two_kernels_at_once_from_the_reports_own_process(tmp_path):
    """No worker process between the report and its kernels (each took 150-170 MB at 2,000 subscriptions): both
    kernels are children of the process that runs stage 2, and their notebooks run at the same time."""
    with ProcessPoolExecutor(max_workers=1) as worker:
        pid, printed = worker.submit(_stage_two_of, tmp_path, ["a", "b"]).result()
    (parent_a, start_a, end_a), (parent_b, start_b, end_b) = [(int(p), float(s), float(e)) for p, s, e in printed]
    assert parent_a == parent_b == pid
    assert start_a < end_b and start_b < end_a  # each started before the other ended
    assert (tmp_path / "week" / "a.html").is_file() and (tmp_path / "week" / "b.html").is_file()


def test_two_threads_writing_one_asset_at_once_both_succeed(tmp_path, monkeypatch):
    """Two of the report's threads may export a page at the same moment: each writes its own partial file of the
    shared stylesheet, so neither renames the other's away (with a partial file named by the process alone, the
    second rename failed). Both threads reach the rename before either makes it."""
    import os
    import threading

    from mdcnb.report.export import write_asset

    both_renaming, rename = threading.Barrier(2), os.replace

    def replace_together(source, target) -> None:
        both_renaming.wait(timeout=10)
        rename(source, target)

    monkeypatch.setattr(os, "replace", replace_together)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            write_asset(tmp_path, "assets/style.css", lambda: "body { color: black }")
        except BaseException as exc:  # collected: an exception in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (tmp_path / "assets" / "style.css").read_text() == "body { color: black }"
    assert sorted(p.name for p in (tmp_path / "assets").iterdir()) == ["style.css"]  # no partial file left
