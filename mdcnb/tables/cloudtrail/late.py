"""Exact de-duplication of events delivered after their day's eventIDs were forgotten, with bounded memory.

The scan merges tasks in delivery order and keeps the eventID hashes of an event day only while files delivered
up to `margin_days + 1` days after it are merged (`scan.Accumulator`). A copy that arrives later (CloudTrail
redelivers an event days later, in a later day's folder) finds its day forgotten: it is counted, and logged here
(`LateLog`, in a temporary file per day, not in memory) with what it added to the totals. Per day, the scan also
notes which tasks added events of that day while its ids were kept, and how many (`Contributions`).

After the scan, the second pass (`settle`) re-reads only the tasks that added events to a day with late events
(usually the 2-3 days of files around it) and rebuilds that day's set of ids exactly as the scan had it; feeding
the late events into it, in delivery order, flags each one whose id was counted before (among the early events,
or as an earlier late event), and those are taken back out of the totals. So every eventID of a day is counted
once, however late a copy arrives. Memory: the sets of the days whose tasks overlap (as in the scan itself, a few
days of ids at 16 bytes each) and one day's late events at a time. A task that no longer gives the same number
of events of the day, or not the same sum of hashes (a file changed or became unreadable since), makes that day's
check incomplete: its late events not found repeated are then counted and reported as
`late_events_not_deduplicated`.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from mdcnb.normalize.cloudtrail._jsonscan import IdSet
from mdcnb.normalize.cloudtrail.counts import FileResult

# One late event: its eventID hash, its rows in the day and hour totals, its size and whether it is read-only.
LATE = np.dtype([("hash", "<i8"), ("day_row", "<i8"), ("hour_row", "<i8"), ("nbytes", "<i8"), ("read_only", "?")])
Drop = Callable[[np.ndarray], None]  # takes LATE rows back out of the totals
DayHashes = Callable[[list[tuple[int, list[str]]]], Iterator[dict[str, np.ndarray]]]


class LateLog:
    """Late events by event day, appended to one temporary file per day (created on the first late event)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self._dir: tempfile.TemporaryDirectory | None = None

    def add(self, day: str, events: np.ndarray) -> None:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="mdcnb-late-events-")
        with open(Path(self._dir.name) / day, "ab") as fh:
            events.astype(LATE, copy=False).tofile(fh)
        self.counts[day] += len(events)

    def load(self, day: str) -> np.ndarray:
        return np.fromfile(Path(self._dir.name) / day, dtype=LATE) if self._dir else np.zeros(0, LATE)

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


class Contributions:
    """For each event day, the tasks (by index) that added events to its set of ids while it was kept, each with
    the fingerprint of what it added (`fingerprint`): a few integers per task, not per event."""

    def __init__(self) -> None:
        self.by_day: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)

    def add(self, day: str, task: int, hashes: np.ndarray) -> None:
        count, total = self.by_day[day].get(task, (0, 0))
        more, more_total = fingerprint(hashes)
        self.by_day[day][task] = (count + more, (total + more_total) % (1 << 64))


def fingerprint(hashes: np.ndarray) -> tuple[int, int]:
    """(how many, their sum modulo 2**64): what a re-read must give again."""
    return len(hashes), int(hashes.view(np.uint64).sum(dtype=np.uint64))


class Outcome:
    """What the second pass found: late copies dropped, late events it could not check, tasks re-read."""

    def __init__(self) -> None:
        self.dropped = self.unchecked = self.tasks_reread = 0
        self.incomplete_days: list[str] = []


def settle(late: LateLog, contributions: Contributions, day_hashes: DayHashes, drop: Drop) -> Outcome:
    """Check every late event against its day's ids (see the module's docstring); `day_hashes` re-reads tasks,
    given as (task index, days wanted), in order, giving each one's eventID hashes of those days; `drop` takes the
    repeated late events out of the totals."""
    out = Outcome()
    days = sorted(late.counts)
    wanted: dict[int, list[str]] = defaultdict(list)
    for day in days:
        for task in contributions.by_day.get(day, {}):
            wanted[task].append(day)
    last = {day: max(contributions.by_day.get(day, {}), default=-1) for day in days}
    order = sorted(wanted)
    ids: dict[str, IdSet] = {}
    complete = dict.fromkeys(days, True)
    for day in [d for d in days if last[d] < 0]:  # no early events: the late ones only repeat each other
        _check(day, IdSet(), True, late, drop, out)
    for task, found in zip(order, day_hashes([(t, wanted[t]) for t in order]), strict=True):
        out.tasks_reread += 1
        for day in wanted[task]:
            hashes = found.get(day, np.zeros(0, np.int64))
            complete[day] &= fingerprint(hashes) == contributions.by_day[day][task]
            ids.setdefault(day, IdSet()).add(hashes)
            if last[day] == task:
                _check(day, ids.pop(day), complete[day], late, drop, out)
    return out


def _check(day: str, ids: IdSet, complete: bool, late: LateLog, drop: Drop, out: Outcome) -> None:
    """Drop the day's late events whose id is in `ids` or came earlier among them."""
    events = late.load(day)
    repeated = ids.add(np.ascontiguousarray(events["hash"]))
    repeated = np.zeros(len(events), bool) if repeated is None else np.frombuffer(repeated, dtype=bool)
    drop(events[repeated])
    out.dropped += int(repeated.sum())
    if not complete:
        out.unchecked += int((~repeated).sum())
        out.incomplete_days.append(day)


def task_day_hashes(results: Iterable[FileResult], days: list[str]) -> dict[str, np.ndarray]:
    """The eventID hashes of `days` in a task's FileResults (the one that is not a skip holds them)."""
    found: dict[str, np.ndarray] = {}
    for res in results:
        for day in days:
            events = res.days.get(day)
            if events is not None:
                found[day] = events.hashes
    return found
