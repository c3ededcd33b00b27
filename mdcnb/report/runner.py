"""`mdcnb report`: execute every notebook with papermill and write the weekly report directory.

    reports/<ISO week of the dataset's as-of time>/
        index.html                      headline numbers, links, dataset, pull log, records that could not be read
        <notebook>.html                 one self-contained page per notebook (code hidden, charts offline)
        notebooks/<notebook>.ipynb      the executed notebooks (their outputs record the headlines and skips)
        csv/<notebook>/<table>.csv      every table shown and the data behind every chart (.csv.zip over 1 MB)
        skips.csv                       every record that could not be read, once
        report.json                     the same summary for scripts
        snapshot/                       with --keep-snapshot: the week's snapshot the pages were computed from,
                                        Parquet tables and manifest.json (`mdcnb.snapshot.stored`; never masked)

The report runs one way. Stage 1 (a process of its own, that then ends: normalising a million assessments leaves a
process's memory fragmented) builds the week's snapshot once (`mdcnb.snapshot`: tables, one CloudTrail scan, the
readiness audit), stores the week in the history store (the only write to it) and reads the stored weeks back, then
writes the snapshot as files in `snapshot/` under the week folder. Stage 2 executes the notebooks in kernels of this
interpreter (two by default: the machine's cores), each driven by a thread of this process and kept for every
notebook that thread runs, the longest notebooks first (`longest_first`); they read the snapshot and nothing else.
index.html is built from the executed notebooks' recorded headlines. `snapshot/` is then removed; `keep_snapshot`
keeps it, so that every number of the week can be traced to the tables it came from, except in a masked report: the
snapshot holds the ids unmasked.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from mdcnb import snapshot
from mdcnb.core import progress
from mdcnb.core.weeks import iso_week
from mdcnb.report import NOTEBOOKS_DIR
from mdcnb.report import page as page_files
from mdcnb.report.export import export_html, notebook_title
from mdcnb.report.kernels import Kernel, one_heap
from mdcnb.sources.dataset import check_dataset, default_dataset
from mdcnb.tables.cloudtrail.scan import PROCESSES_ENV as SCAN_PROCESSES_ENV
from mdcnb.tables.history import dataset_as_of
from mdcnb.tables.mask import Masker

KERNEL_NAME = "python3"
NOTEBOOK_SECONDS = Path(__file__).with_name("notebook_seconds.json")
CELL_TIMEOUT_S = 1800
SNAPSHOT_DIR = "snapshot"


@dataclass
class ReportOptions:
    """What `mdcnb report` was asked for (the notebooks' shared parameters plus where and what to run)."""

    dataset: Path | None = None
    out: Path = Path("reports")
    mask_ids: bool = False
    since: str | None = None
    until: str | None = None
    environments: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)
    notebooks_dir: Path = NOTEBOOKS_DIR
    workers: int = 2
    history: Path | None = None
    keep_snapshot: bool = False


@dataclass
class NotebookResult:
    """How one notebook went: its page, or the cell that failed and why."""

    name: str
    ok: bool
    seconds: float
    page: str | None = None
    error: str | None = None
    cell: int | None = None
    cell_source: str | None = None

    def failure(self) -> str:
        where = f" in cell {self.cell}" if self.cell is not None else ""
        code = f" ({self.cell_source})" if self.cell_source else ""
        return f"notebook {self.name}.ipynb failed{where}{code}: {self.error}"


@dataclass
class ReportResult:
    week_dir: Path
    index: Path
    notebooks: list[NotebookResult]

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.notebooks)


@dataclass(frozen=True)
class _Job:
    source: Path
    week_dir: Path
    parameters: dict[str, Any]
    dataset: Path
    mask_ids: bool


def select_notebooks(notebooks_dir: Path, names: list[str]) -> list[Path]:
    """Notebooks in file-name order; `names` picks some by stem or stem prefix (`10`, `10_secure_score`)."""
    available = sorted(p for p in Path(notebooks_dir).glob("*.ipynb") if not p.name.startswith("."))
    if not names:
        return available
    chosen = []
    for name in names:
        stem = Path(name).stem
        hits = [p for p in available if p.stem == stem] or [p for p in available if p.stem.startswith(stem)]
        if len(hits) != 1:
            known = ", ".join(p.stem for p in available)
            raise ValueError(f"notebook {name!r} matches {len(hits)} notebooks in {notebooks_dir}; known: {known}")
        chosen += [h for h in hits if h not in chosen]
    return sorted(chosen)


@contextmanager
def local_kernel() -> Iterator[str]:
    """A JUPYTER_PATH entry whose `python3` kernel is this interpreter (shadows any other python3 kernelspec)."""
    with tempfile.TemporaryDirectory(prefix="mdcnb-kernel-") as tmp:
        spec = Path(tmp) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (mdcnb)", "language": "python"}))
        yield os.pathsep.join(filter(None, [tmp, os.environ.get("JUPYTER_PATH")]))


def kernel_dirs(kernel_path: str) -> list[str]:
    """The kernelspec folders of a JUPYTER_PATH value (`local_kernel`'s first)."""
    return [os.path.join(entry, "kernels") for entry in kernel_path.split(os.pathsep) if entry]


def execute(source: Path, output: Path, parameters: dict[str, Any], kernel_path: str,
            kernel: Kernel | None = None) -> NotebookResult:
    """Run one notebook with papermill in `kernel` (kept for the next notebook), else in a kernel of its own; a
    failure is returned with the failing cell, not raised."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    own = kernel is None
    kernel = kernel or Kernel(KERNEL_NAME, kernel_dirs(kernel_path), source.parent)
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = NotebookResult(source.stem, ok=True, seconds=0.0)
    try:
        papermill.execute_notebook(str(source), str(output), parameters=parameters, kernel_name=KERNEL_NAME,
                                   language="python", progress_bar=False, log_output=False,
                                   execution_timeout=CELL_TIMEOUT_S, km=kernel.manager(),
                                   store_widget_state=False)
    except PapermillExecutionError as exc:
        first_line = next((line for line in exc.source.splitlines() if line.strip()), "")
        result = NotebookResult(source.stem, ok=False, seconds=0.0, error=f"{exc.ename}: {exc.evalue}",
                                cell=source_cell_number(output, exc.cell_index), cell_source=first_line[:120])
    except Exception as exc:  # a dead kernel, a timeout, an unreadable notebook: reported, not raised
        result = NotebookResult(source.stem, ok=False, seconds=0.0, error=f"{type(exc).__name__}: {exc}")
    finally:
        if own:
            kernel.close()
        else:
            kernel.notebook_done()
    result.seconds = round(time.monotonic() - started, 2)
    return result


def source_cell_number(executed: Path, cell_index: int) -> int:
    """1-based number of a cell as the notebook's author sees it (papermill's injected parameters not counted)."""
    try:
        cells = nbformat.read(executed, as_version=4).cells[:cell_index]
    except (OSError, ValueError):
        return cell_index + 1
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells)
    return cell_index + 1 - injected


def build_snapshot(dataset: Path, folder: Path, options: ReportOptions) -> list[str]:
    """Stage 1: build the week's snapshot, store the week in the history store and leave the snapshot in `folder`;
    what it said is returned. Runs in a process of its own (its CloudTrail scan in that one process: a pool forked
    from it would count its tables once more per fork)."""
    os.environ[SCAN_PROCESSES_ENV] = "1"
    messages: list[str] = []
    snap = snapshot.build(dataset, since=options.since, until=options.until, with_history=False)
    snapshot.record(snap, options.history, since=options.since, until=options.until, log=messages.append)
    snapshot.write(snap, folder)
    return messages


def _stage_one(dataset: Path, folder: Path, options: ReportOptions, log, meanwhile: Callable[[], None]) -> str | None:
    """Run stage 1 in a process of its own, and `meanwhile()` in this one while it runs (after the fork: a process
    forked from one with threads running may inherit a lock one of them held); None when it worked, else why not."""
    with ProcessPoolExecutor(max_workers=1) as once:
        building = once.submit(build_snapshot, dataset, folder, options)
        meanwhile()
        try:
            messages = building.result()
        except Exception as exc:  # unreadable dataset: reported, and no notebook runs
            return f"could not build the snapshot of {dataset}: {type(exc).__name__}: {exc}"
    for text in messages:
        log(text, file=sys.stderr)
    return None


class _Drivers:
    """Stage 2's threads, each driving one kernel of this interpreter, kept for every notebook it runs. Threads, not
    processes: a worker process took 150-170 MB at 2,000 subscriptions (the report's imports, papermill's and
    nbconvert's) for work that is mostly waiting on its kernel. They start while stage 1 builds the snapshot, so
    that the kernels start and import mdcnb meanwhile (about 8 s at 2,000 subscriptions, two kernels at once)."""

    def __init__(self, kernel_path: str, notebooks_dir: Path) -> None:
        self.kernel_path, self.notebooks_dir = kernel_path, notebooks_dir
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.done: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []

    def start(self, count: int) -> None:
        one_heap()
        self.threads = [threading.Thread(target=self._drive, daemon=True, name=f"mdcnb-kernel-{i + 1}")
                        for i in range(count)]
        for thread in self.threads:
            thread.start()

    def run(self, jobs: list[_Job]) -> Iterator[NotebookResult]:
        """Each job's result as its notebook ends."""
        for job in jobs:
            self.jobs.put(job)
        for _ in jobs:
            yield self.done.get()

    def close(self) -> None:
        """Let every thread end (shutting its kernel down) once what is queued ran, and wait for them."""
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()
        self.threads = []

    def _drive(self) -> None:
        """One thread: start its kernel at once, then run the queued notebooks in it until told to stop."""
        kernel = Kernel(KERNEL_NAME, kernel_dirs(self.kernel_path), self.notebooks_dir)
        try:
            try:
                kernel.manager()
            except Exception:  # tried again for the first notebook, whose result then says why it failed
                kernel.close()
            while (job := self.jobs.get()) is not None:
                try:
                    self.done.put(self._run(job, kernel))
                except Exception as exc:  # never a result missing: the report waits for every notebook's
                    self.done.put(NotebookResult(job.source.stem, ok=False, seconds=0.0,
                                                 error=f"{type(exc).__name__}: {exc}"))
        finally:
            kernel.close()

    def _run(self, job: _Job, kernel: Kernel) -> NotebookResult:
        """Execute the job's notebook in `kernel`, mask it when asked and export its page."""
        name = job.source.stem
        executed = job.week_dir / "notebooks" / f"{name}.ipynb"
        result = execute(job.source, executed, job.parameters, self.kernel_path, kernel)
        if not executed.exists():
            return result
        masker = Masker.for_dataset(job.dataset) if job.mask_ids else None
        if masker is not None:
            executed.write_text(masker.text(executed.read_text(encoding="utf-8")), encoding="utf-8")
        try:
            result.page = export_html(executed, job.week_dir / f"{name}.html", title=notebook_title(job.source),
                                      masker=masker).name
        except Exception as exc:  # the notebook ran, its page could not be written: a failure, named
            result.ok, result.error = False, f"HTML export failed: {type(exc).__name__}: {exc}"
        return result


def _clear_outputs(week_dir: Path, name: str) -> None:
    """Remove what an earlier run of this notebook left, so no stale table survives."""
    shutil.rmtree(week_dir / page_files.CSV_DIR / name, ignore_errors=True)
    for path in (week_dir / f"{name}.html", week_dir / "notebooks" / f"{name}.ipynb"):
        path.unlink(missing_ok=True)


def masked_log(log, masker: Masker):
    """`log` with every message masked first."""
    return lambda text, **kwargs: log(masker.text(str(text)), **kwargs)


def _inputs(options: ReportOptions) -> tuple[Path, list[Path]]:
    """The dataset and the notebooks to run; ValueError, before anything runs, when either is missing."""
    dataset = Path(options.dataset or default_dataset()).resolve()
    if not dataset.is_dir():
        raise ValueError(f"dataset {dataset} is not a directory")
    if not Path(options.notebooks_dir).is_dir():
        raise ValueError(f"notebooks folder {options.notebooks_dir} is not a directory")
    sources = select_notebooks(options.notebooks_dir, options.notebooks)
    if not sources:
        raise ValueError(f"no notebook (*.ipynb) in {options.notebooks_dir}")
    return dataset, sources


def run_report(options: ReportOptions, log=print) -> ReportResult:
    """Build the week's snapshot, execute the notebooks on it, export their pages and write index.html. Never
    raises for a failing notebook; raises ValueError for a missing dataset or notebooks folder, before running
    anything. With `mask_ids`, what goes to `log` is masked too (a history series names the tenant)."""
    from mdcnb.report.index import write_index

    dataset, sources = _inputs(options)
    masker = Masker.for_dataset(dataset) if options.mask_ids else None
    if masker is not None:
        log = masked_log(log, masker)
    manifest = check_dataset(dataset)
    week_dir = Path(options.out).resolve() / iso_week(dataset_as_of(manifest))
    week_dir.mkdir(parents=True, exist_ok=True)
    snapshot_dir = week_dir / SNAPSHOT_DIR
    parameters = {"dataset": str(dataset), "since": options.since, "until": options.until,
                  "environments": list(options.environments), "subscriptions": list(options.subscriptions),
                  "accounts": list(options.accounts), "mask_ids": options.mask_ids, "report_dir": str(week_dir),
                  "snapshot": str(snapshot_dir)}
    for source in sources:
        _clear_outputs(week_dir, source.stem)
    shutil.rmtree(snapshot_dir, ignore_errors=True)  # an earlier run's: never left beside this run's pages
    if options.keep_snapshot and options.mask_ids:
        log("mdcnb report: --keep-snapshot ignored: a masked report keeps no snapshot (it holds the ids unmasked)",
            file=sys.stderr)
    results: list[NotebookResult] = []
    try:
        with local_kernel() as kernel_path:
            drivers = _Drivers(kernel_path, sources[0].parent)
            try:
                failed = _stage_one(dataset, snapshot_dir, options, log,
                                    meanwhile=lambda: drivers.start(max(1, min(options.workers, len(sources)))))
                if failed:
                    log(failed, file=sys.stderr)
                    results = [NotebookResult(s.stem, ok=False, seconds=0.0, error=failed) for s in sources]
                else:
                    results = _stage_two(sources, week_dir, parameters, dataset, options, log, drivers)
            finally:
                drivers.close()
    finally:
        # kept only when asked, and never in a masked report (it holds the ids unmasked): at 2,000 subscriptions it
        # is 13 MB, which would take the week folder past what one can send
        if options.mask_ids or not options.keep_snapshot:
            shutil.rmtree(snapshot_dir, ignore_errors=True)
    index = write_index(week_dir, dataset=dataset, manifest=manifest, results=results, masker=masker)
    return ReportResult(week_dir, index, results)


def longest_first(sources: list[Path]) -> list[Path]:
    """The notebooks in the order stage 2 starts them: the longest first (by `NOTEBOOK_SECONDS`, as measured at
    2,000 subscriptions), so that no worker starts a long notebook when the others are nearly done; a notebook not
    listed there after them, in the given order."""
    seconds = json.loads(NOTEBOOK_SECONDS.read_text(encoding="utf-8"))["seconds"]
    return sorted(sources, key=lambda s: -seconds.get(s.stem, 0.0))


def _stage_two(sources: list[Path], week_dir: Path, parameters: dict[str, Any], dataset: Path,
               options: ReportOptions, log, drivers: _Drivers) -> list[NotebookResult]:
    """Execute the notebooks on the snapshot in the drivers' kernels, the longest first; the results in the order of
    `sources`."""
    jobs = [_Job(s, week_dir, parameters, dataset, options.mask_ids) for s in longest_first(sources)]
    results: list[NotebookResult] = []
    with progress.bar("notebooks", total=len(jobs), unit=" notebook") as bar:
        for result in drivers.run(jobs):
            with bar.external_write_mode(file=sys.stderr):
                log(f"{'ok    ' if result.ok else 'FAILED'} {result.name} ({result.seconds:.1f} s)"
                    + ("" if result.ok else f": {result.failure()}"), file=sys.stderr)
            results.append(result)
            bar.update()
    by_name = {r.name: r for r in results}
    return [by_name[s.stem] for s in sources]
