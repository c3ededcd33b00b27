"""Scan many CloudTrail log files in parallel and merge them into one de-duplicated volume result.

Files are parsed in worker processes (`mdcnb.normalize.cloudtrail.parse`), in delivery-date order, FILES_PER_TASK
consecutive files to a task counted together (duplicates among them dropped there); the parent merges the tasks'
per-key counts and drops events whose `eventID` was already seen. To keep memory flat however many days are
scanned, the ids of an event day are forgotten once a task's first file was delivered `margin_days + 1` days
later; an event that still arrives for a forgotten day is counted and logged, and a second pass over the few
tasks that held that day's events takes it back out if it repeats one (`mdcnb.tables.cloudtrail.late`): the counts are
exact however late a copy arrives.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import TypeVar

import numpy as np

from mdcnb.core import progress
from mdcnb.core.gc import gc_paused
from mdcnb.normalize.cloudtrail._jsonscan import IdSet
from mdcnb.normalize.cloudtrail.counts import DAY_COUNTERS, HOUR_COUNTERS, FileResult, ScanOptions
from mdcnb.normalize.cloudtrail.parse import aggregate_dicts, scan_blobs
from mdcnb.sources.cloudtrail.layout import DEFAULT_MARGIN_DAYS, GZIP_MAGIC, LogFile, ReadError, in_window
from mdcnb.tables.cloudtrail import late
from mdcnb.tables.cloudtrail.result import Counted, VolumeResult

Reader = Callable[[LogFile], bytes]
T = TypeVar("T")
R = TypeVar("R")
FILES_PER_TASK = 8          # files a worker reads and counts together
IN_FLIGHT_PER_PROCESS = 2   # tasks handed out but not yet merged, per worker process


class WorkerDied(RuntimeError):
    """A worker process ended without an answer (killed by the system, most often for memory): no count is given."""


class Totals:
    """Counters by key: one row of `counts` per key, rows numbered in order of first sight."""

    def __init__(self, width: int) -> None:
        self.rows: dict[tuple, int] = {}
        self.counts = np.zeros((1024, width), dtype=np.int64)

    def add(self, keys: list[tuple], counts: np.ndarray) -> np.ndarray:
        """Add a task's counts (one row per key, each key once); the row of each key."""
        rows = self.rows
        where = np.array([rows.setdefault(key, len(rows)) for key in keys], dtype=np.intp)
        if len(rows) > len(self.counts):  # at least double, and enough for a file of many new keys
            grown = np.zeros((max(2 * len(self.counts), len(rows)), self.counts.shape[1]), dtype=np.int64)
            grown[:len(self.counts)] = self.counts
            self.counts = grown
        self.counts[where] += counts
        return where

    def counted(self) -> Counted:
        return Counted(list(self.rows), self.counts[:len(self.rows)])


@dataclass
class Accumulator:
    """Merges FileResults in delivery order; drops cross-file duplicates by eventID hash (`late` for the copies
    that arrive after their day's ids were forgotten)."""

    margin_days: int = DEFAULT_MARGIN_DAYS
    seen: dict[str, IdSet] = field(default_factory=dict)  # eventID hashes by event day
    horizon: str | None = None
    task: int = 0  # the task being merged
    late_log: late.LateLog = field(default_factory=late.LateLog)
    contributions: late.Contributions = field(default_factory=late.Contributions)
    files_read: int = 0
    skips: list[dict[str, str]] = field(default_factory=list)
    duplicates: int = 0
    late_checked: int = 0
    late: int = 0  # late events that could not be checked (a file changed between the passes)
    tasks_reread: int = 0
    records_lost: int = 0
    without_id: int = 0
    out_of_range: int = 0
    issues: Counter = field(default_factory=Counter)
    day_rows: Totals = field(init=False)
    hour_rows: Totals = field(init=False)

    def __post_init__(self) -> None:
        self.day_rows, self.hour_rows = Totals(DAY_COUNTERS), Totals(HOUR_COUNTERS)

    def skip(self, source: str, reason: str) -> None:
        self.skips.append({"path": source, "reason": reason})

    def start_task(self, task: int, delivered: date | None) -> None:
        """Merge task number `task` next: forget event days that files delivered from `delivered` on can no
        longer contain (the task's earliest date: no day a file of it may still repeat is forgotten)."""
        self.task = task
        if delivered is None:
            return
        horizon = (delivered - timedelta(days=self.margin_days + 1)).isoformat()
        if self.horizon is None or horizon > self.horizon:
            self.horizon = horizon
            for day in [d for d in self.seen if d < horizon]:
                del self.seen[day]

    def add(self, res: FileResult) -> None:
        if res.skip_reason:
            self.skip(res.source, res.skip_reason)
            self.records_lost += res.lost
            return
        self.files_read += res.files
        self.duplicates += res.duplicates
        self.without_id += res.without_id
        self.out_of_range += res.out_of_range
        self.issues.update(res.issues)
        day_rows = self.day_rows.add(res.keys, res.counts)
        hour_rows = self.hour_rows.add(res.hour_keys, res.hour_counts)
        for day, ev in res.days.items():
            if self.horizon and day < self.horizon:
                self.late_log.add(day, np.rec.fromarrays(
                    [ev.hashes, day_rows[ev.key_idx], hour_rows[ev.hour_idx], ev.nbytes, ev.read_only],
                    dtype=late.LATE))
                continue
            self.contributions.add(day, self.task, ev.hashes)
            if day not in self.seen:
                self.seen[day] = IdSet()
            repeated = self.seen[day].add(ev.hashes)
            if repeated is None:
                continue
            repeated = np.frombuffer(repeated, dtype=bool)
            self.drop(day_rows[ev.key_idx[repeated]], hour_rows[ev.hour_idx[repeated]], ev.nbytes[repeated],
                      ev.read_only[repeated])

    def drop(self, day_rows: np.ndarray, hour_rows: np.ndarray, nbytes: np.ndarray, read_only: np.ndarray) -> None:
        """Take repeated events (their rows, sizes and read-only flags) back out of the totals."""
        self.duplicates += len(nbytes)
        ro_bytes = np.where(read_only, nbytes, 0)
        np.subtract.at(self.day_rows.counts, day_rows, np.stack([np.ones_like(nbytes), read_only, nbytes, ro_bytes], 1))
        np.subtract.at(self.hour_rows.counts, hour_rows, np.stack([np.ones_like(nbytes), read_only, nbytes], 1))

    def settle_late(self, day_hashes: late.DayHashes) -> None:
        """The second pass: drop the late events that repeat one counted before (`late.settle`)."""
        if not self.late_log.counts:
            return
        try:
            found = late.settle(self.late_log, self.contributions, day_hashes,
                                lambda ev: self.drop(ev["day_row"], ev["hour_row"], ev["nbytes"],
                                                     ev["read_only"].astype(np.int64)))
        finally:
            self.late_log.close()
        self.late_checked = sum(self.late_log.counts.values())
        self.late, self.tasks_reread = found.unchecked, found.tasks_reread
        for day in found.incomplete_days:
            self.skip(f"events of {day} delivered late", "checked only in part for duplicates: a file that held "
                      "events of that day changed or could not be read again since it was counted")


# ---- worker side -------------------------------------------------------------------------------------------
_OPTS: ScanOptions | None = None


def _init_worker(opts: ScanOptions) -> None:
    global _OPTS
    _OPTS = opts


def _scan_paths(files: list[LogFile]) -> list[FileResult]:
    return scan_blobs(((f.location, _read_local(f.location, _OPTS.max_file_bytes), f.account) for f in files), _OPTS)


def _read_local(path: str, max_bytes: int) -> bytes | str:
    """A file's bytes, or why it was not read: it cannot be, or it is plain text over `max_bytes` (its size is
    checked before it is read; a gzip file is inflated with the limit enforced)."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > max_bytes and fh.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
                return f"larger than {max_bytes} bytes"
            fh.seek(0)
            return fh.read()
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"


def _scan_fetched(items: list[tuple[LogFile, bytes | None, str | None]]) -> list[FileResult]:
    return scan_blobs(((f.location, blob if error is None else error, f.account) for f, blob, error in items), _OPTS)


def _day_hashes(count: Callable[[T], list[FileResult]], job: tuple[T, list[str]]) -> dict[str, np.ndarray]:
    """The second pass's work on one task: its eventID hashes of the days asked for."""
    item, days = job
    return late.task_day_hashes(count(item), days)


# ---- driver --------------------------------------------------------------------------------------------------
# `mdcnb report` sets this to 1 in the kernels it runs side by side (one per core): a pool forked from a kernel
# holding a big tenant's tables would only oversubscribe the cores, each fork counting those tables again.
PROCESSES_ENV = "MDCNB_SCAN_PROCESSES"


def default_processes() -> int:
    """`$MDCNB_SCAN_PROCESSES`, else the cores this process may use."""
    configured = os.environ.get(PROCESSES_ENV, "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def scan_files(files: Iterable[LogFile], opts: ScanOptions, *, reader: Reader | None = None,
               processes: int | None = None, margin_days: int = DEFAULT_MARGIN_DAYS,
               fetch_threads: int = 16, source: str = "") -> VolumeResult:
    """Count the events of `files` (sorted by delivery date). `reader` fetches remote bytes (S3); None = local.

    Digest and non-log files are counted and skipped, paths that could not be listed are skips; files whose path
    date is outside the window are pruned without being read.
    """
    files = list(files)
    acc = Accumulator(margin_days)
    for f in files:
        if f.problem:
            acc.skip(f.location, f.problem)
    since = date.fromisoformat(opts.since) if opts.since else None
    until = date.fromisoformat(opts.until) if opts.until else None
    digests = sum(1 for f in files if f.kind == "CloudTrail-Digest")
    others = [f for f in files if not f.is_log and f.kind != "CloudTrail-Digest" and not f.problem]
    logs = [f for f in files if f.is_log]
    wanted = [f for f in logs if in_window(f, since, until, margin_days)]
    processes = processes or default_processes()
    tasks = [wanted[i:i + FILES_PER_TASK] for i in range(0, len(wanted), FILES_PER_TASK)]
    count = _scan_paths if reader is None else _scan_fetched
    items = partial(_task_items, reader, fetch_threads)
    if processes > 1 and len(tasks) >= 2 * processes:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        try:
            with ProcessPoolExecutor(processes, mp_context=ctx, initializer=_init_worker, initargs=(opts,)) as pool:
                _both_passes(acc, tasks, count, items, partial(_pooled, pool, IN_FLIGHT_PER_PROCESS * processes))
        except BrokenProcessPool as exc:
            raise WorkerDied(f"a scan worker process died ({exc}); nothing was counted. Was it killed for memory? "
                             f"Try fewer processes (--processes, ${PROCESSES_ENV}).") from exc
    else:
        _init_worker(opts)
        _both_passes(acc, tasks, count, items, map)
    return VolumeResult.from_accumulator(
        acc, source=source, files_listed=sum(1 for f in files if not f.problem), files_pruned=len(logs) - len(wanted),
        digest_files=digests, other_files=[f.location for f in others], since=opts.since, until=opts.until,
        role_arns=sorted(opts.matcher.cspm_arns))


def _both_passes(acc: Accumulator, tasks: list[list[LogFile]], count: Callable, items: Callable,
                 run: Callable[[Callable, Iterable], Iterator]) -> None:
    """The scan, then the check of its late events, each task's work done by `run` (map, or the pool's ordered
    map) on `items(tasks)` (the tasks, or their files fetched)."""
    _consume(acc, tasks, run(count, items(tasks)))
    acc.settle_late(lambda jobs: run(partial(_day_hashes, count),
                                     zip(items([tasks[t] for t, _ in jobs]), (days for _, days in jobs), strict=True)))


def _task_items(reader: Reader | None, threads: int, tasks: list[list[LogFile]]) -> Iterable:
    """What a task's worker is given: its files (local), or its files fetched (`reader`)."""
    return tasks if reader is None else _fetched_tasks(tasks, reader, threads)


def _pooled(pool: ProcessPoolExecutor, in_flight: int, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    return _in_order(pool, fn, items, in_flight)


def _consume(acc: Accumulator, tasks: list[list[LogFile]], results: Iterator[list[FileResult]]) -> None:
    """Merge each task's results in order, counting the files read on a progress bar."""
    total = sum(len(task) for task in tasks)
    with gc_paused(), progress.bar("CloudTrail logs", total=total, unit=" file") as bar:
        for index, (files, task_results) in enumerate(zip(tasks, results, strict=True)):
            acc.start_task(index, files[0].delivered)
            for res in task_results:
                acc.add(res)
            bar.update(len(files))


def _in_order(pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Iterable[T], in_flight: int) -> Iterator[R]:
    """fn(item) for each item, run in `pool`, in order, with at most `in_flight` handed out and not yet taken:
    results the parent has not merged yet (or fetched S3 objects) would otherwise pile up in memory.
    (multiprocessing.Pool is not used: its worker-handler thread spins while results are in transit, taking about
    0.2 s of CPU per million events from the workers.)"""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _fetched_tasks(tasks: list[list[LogFile]], reader: Reader,
                   threads: int) -> Iterator[list[tuple[LogFile, bytes | None, str | None]]]:
    """Each task with its files fetched (in order, `threads` reads at a time across tasks)."""
    fetched = _prefetch([f for task in tasks for f in task], reader, threads)
    for task in tasks:
        yield [next(fetched) for _ in task]


def _prefetch(files: list[LogFile], reader: Reader, threads: int) -> Iterator[tuple[LogFile, bytes | None, str | None]]:
    """Fetch files with a bounded window of parallel reads, yielding them in order."""
    window = max(1, threads * 2)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: list[tuple[LogFile, Future]] = []
        it = iter(files)
        for f in it:
            pending.append((f, pool.submit(reader, f)))
            if len(pending) >= window:
                break
        while pending:
            f, fut = pending.pop(0)
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(reader, nxt)))
            try:
                yield f, fut.result(), None
            except ReadError as exc:
                yield f, None, str(exc)


def scan_records(records: list, opts: ScanOptions, source: str = "records") -> VolumeResult:
    """Count records already in memory (LookupEvents pages, tests) with the same rules as files."""
    acc = Accumulator()
    acc.add(aggregate_dicts(source, records, opts))
    return VolumeResult.from_accumulator(acc, source=source, files_listed=0, files_pruned=0, digest_files=0,
                                         other_files=[], since=opts.since, until=opts.until,
                                         role_arns=sorted(opts.matcher.cspm_arns))
