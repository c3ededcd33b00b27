"""The jobs of one Azure pull, and what they share: every page of one Resource Graph query over one batch of
subscriptions (chained by `$skipToken`; a 403 splits the batch to find the forbidden subscriptions; the rows
reconciled with `totalRecords` and the `type` facet) or one ARM list's `nextLink` chain (never off the ARM
endpoint), each written as part files (`azure_parts`). What a job could not read becomes a pull-log entry
(`LogEntry`) saying what is missing, why, and how many rows."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mdcnb.core import progress
from mdcnb.sources.azure_http import ArmClient, ArmError, RetrySettings
from mdcnb.sources.azure_parts import PartWriter
from mdcnb.sources.azure_queries import ArgQuery, ArmList
from mdcnb.sources.dataset import RECORD_TYPES

DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class PullOptions:
    """How the pull talks to the service (defaults follow Resource Graph's guidance)."""

    page_size: int = 1000          # Resource Graph's maximum $top
    batch_size: int = 250          # subscriptions per query (guidance: fewer than 300)
    workers: int = 4               # queries in flight
    retry: RetrySettings = field(default_factory=RetrySettings)
    decode_retries: int = 2        # re-asks for a page whose body was not complete JSON
    classic_connectors: bool = True
    progress: bool | None = None   # None: a progress bar only when stderr is a terminal


@dataclass
class LogEntry:
    """One pull-log line: what could not be read completely, why, and how many rows are missing."""

    kind: str                      # forbidden | failed | truncated | mismatch | not_visible
    what: str
    why: str
    missing_rows: int | None       # None: the service never said how many
    record_types: list[str]
    subscriptions: list[str] = field(default_factory=list)


class PullJobs:
    """The jobs of one pull with their shared state: the client, the part folder, the pull log, the page count and
    the progress bar (jobs run on several threads)."""

    def __init__(self, parts: Path, client: ArmClient, options: PullOptions) -> None:
        self.client = client
        self.options = options
        self.parts = parts
        self.log: list[LogEntry] = []
        self.pages = 0
        self.lock = threading.Lock()
        self.bar = progress.bar("azure pull", total=0, unit=" rows", wanted=options.progress)

    # -- Resource Graph -----------------------------------------------------------------------------------------
    def arg_job(self, query: ArgQuery, subs: list[str] | None, groups: list[str] | None,
                key: tuple[int, ...], keep: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """All pages of one query over one batch; a 403 on a batch splits it to find the forbidden subscriptions.

        Rows `keep` refuses are counted (the reconciliation holds) but not written."""
        body: dict[str, Any] = {"query": query.kql, "options": {"$top": self.options.page_size,
                                                                "resultFormat": "objectArray"},
                                "facets": [{"expression": "type", "options": {"$top": 1000}}]}
        if subs:
            body["subscriptions"] = subs
        if groups:
            body["managementGroups"] = groups
        scope = _scope_text(subs, groups)
        writer = PartWriter(self.parts, key)
        total: int | None = None
        expected: dict[str, int] | None = None
        got: Counter[str] = Counter()
        unknown_types = 0
        truncated = False
        try:
            while True:
                try:
                    page = self._page(body)
                except ArmError as exc:
                    if exc.status == 403 and subs and total is None:
                        writer.discard()
                        self._forbidden(query, subs, groups, key, exc)
                        return
                    missing = None if total is None else max(total - sum(got.values()), 0)
                    types = _short_types(query, expected, got)
                    self.note(LogEntry("failed", f"{query.table} {scope}",
                                       f"query failed after retries: {exc}", missing, types, list(subs or [])))
                    return
                announced: int | None = 0
                if total is None:
                    total = announced = _int(page.get("totalRecords"))
                    expected = _type_facet(page)
                    body.pop("facets", None)
                data = page.get("data") or []
                for row in data:
                    record_type = query.record_type(row) if isinstance(row, dict) else None
                    if record_type is None:
                        unknown_types += 1
                        continue
                    got[record_type] += 1
                    if keep is None or keep(row):
                        writer.write(record_type, row)
                self._progress(len(data), len(data) if announced is None else announced)
                truncated = truncated or str(page.get("resultTruncated", "false")).lower() == "true"
                token = page.get("$skipToken")
                if not token:
                    break
                body["options"] = {"$top": self.options.page_size, "$skipToken": token,
                                   "resultFormat": "objectArray"}
        finally:
            writer.close()
        self._reconcile(query, scope, subs, total, expected, got, truncated, unknown_types)

    def _page(self, body: dict[str, Any]) -> dict[str, Any]:
        """One page; a body cut short (not complete JSON) is asked for again a bounded number of times."""
        for attempt in range(self.options.decode_retries + 1):
            try:
                page = self.client.query(body)
            except ArmError as exc:
                if exc.code == "InvalidJson" and attempt < self.options.decode_retries:
                    continue
                raise
            with self.lock:
                self.pages += 1
            return page
        raise AssertionError("unreachable")

    def _forbidden(self, query: ArgQuery, subs: list[str], groups: list[str] | None, key: tuple[int, ...],
                   exc: ArmError) -> None:
        if len(subs) == 1:
            self.note(LogEntry("forbidden", f"{query.table} for subscription {subs[0]}",
                               f"HTTP 403 {exc.code}: {exc.message}", None, sorted(set(query.types.values())),
                               list(subs)))
            return
        half = len(subs) // 2
        self.arg_job(query, subs[:half], groups, (*key, 0))
        self.arg_job(query, subs[half:], groups, (*key, 1))

    def _reconcile(self, query: ArgQuery, scope: str, subs: list[str] | None, total: int | None,
                   expected: dict[str, int] | None, got: Counter[str], truncated: bool, unknown: int) -> None:
        received = sum(got.values()) + unknown
        types = _short_types(query, expected, got) if expected is not None else []
        if truncated:
            missing = None if total is None else max(total - received, 0)
            self.note(LogEntry("truncated", f"{query.table} {scope}", "Resource Graph answered resultTruncated=true",
                               missing, types or sorted(set(query.types.values())), list(subs or [])))
        elif total is not None and received != total:
            self.note(LogEntry("mismatch", f"{query.table} {scope}",
                               f"received {received} rows, totalRecords said {total}", max(total - received, 0),
                               types or sorted(set(query.types.values())), list(subs or [])))
        elif types:
            short = {t: (expected or {}).get(t, 0) - got[t] for t in types}
            self.note(LogEntry("mismatch", f"{query.table} {scope}",
                               f"rows per type differ from the type facet: {short}", sum(max(v, 0) for v in
                                                                                          short.values()),
                               types, list(subs or [])))
        if unknown:
            self.note(LogEntry("mismatch", f"{query.table} {scope}",
                               f"{unknown} rows of a type that was not asked for were ignored", 0, [],
                               list(subs or [])))

    # -- ARM lists ----------------------------------------------------------------------------------------------
    def list_job(self, arm_list: ArmList, subscription: str | None, key: tuple[int, ...]) -> None:
        """Follow one ARM list's nextLink chain (only to the same endpoint, so the token never leaves it)."""
        path = arm_list.path.format(subscription=subscription)
        url: str | None = f"{path}?api-version={arm_list.api_version}"
        what = f"GET {path}"
        writer = PartWriter(self.parts, key)
        try:
            while url:
                try:
                    page = self.client.get(url)
                except ArmError as exc:
                    kind = "forbidden" if exc.status == 403 else "failed"
                    self.note(LogEntry(kind, what, f"{arm_list.why}; request failed after retries: {exc}", None,
                                       [arm_list.record_type], [subscription] if subscription else []))
                    return
                with self.lock:
                    self.pages += 1
                rows = [r for r in page.get("value") or [] if isinstance(r, dict)]
                for row in rows:
                    writer.write(arm_list.record_type, row)
                self._progress(len(rows), len(rows))  # a list announces no total
                url = page.get("nextLink")
                if url and not _same_origin(url, self.client.endpoint):
                    self.note(LogEntry("failed", what, f"nextLink leaves the ARM endpoint ({urlsplit(url).netloc}); "
                                       "not followed", None, [arm_list.record_type],
                                       [subscription] if subscription else []))
                    return
        finally:
            writer.close()

    # -- bookkeeping --------------------------------------------------------------------------------------------
    def guarded(self, job: Any, *args: Any) -> None:
        """Run a job; a bug in one job becomes a pull-log entry instead of stopping the pull."""
        try:
            job(*args)
        except Exception as exc:  # the pull must finish and say what it lost
            self.note(LogEntry("failed", f"job {job.__name__}{args[:1]}", f"{type(exc).__name__}: {exc}", None,
                               list(RECORD_TYPES)))

    def note(self, entry: LogEntry) -> None:
        with self.lock:
            self.log.append(entry)

    def _progress(self, rows: int, announced: int) -> None:
        """`rows` received; `announced` rows added to the bar's total (a query's totalRecords on its first page)."""
        with self.lock:
            self.bar.total += announced
            self.bar.update(rows)
            self.bar.set_postfix(requests=self.pages, refresh=False)


def _type_facet(page: dict[str, Any]) -> dict[str, int] | None:
    """Rows per (lower-case) type from the `type` facet, or None when the service sent none."""
    for facet in page.get("facets") or []:
        if facet.get("expression") == "type" and facet.get("resultType") == "FacetResult":
            return {str(d.get("type", "")).lower(): _int(d.get("count")) or 0 for d in facet.get("data") or []}
    return None


def _short_types(query: ArgQuery, expected: dict[str, int] | None, got: Counter[str]) -> list[str]:
    """Record types that got fewer rows than the facet announced (all of the query's types when unknown)."""
    if expected is None:
        return sorted(set(query.types.values()))
    wanted: Counter[str] = Counter()
    for arm_type, count in expected.items():
        record_type = query.types.get(arm_type)
        if record_type:
            wanted[record_type] += count
    return sorted(t for t, n in wanted.items() if got[t] < n)


def _scope_text(subs: list[str] | None, groups: list[str] | None) -> str:
    if subs:
        return f"for {len(subs)} subscription{'s' if len(subs) != 1 else ''}"
    return f"for management group {groups[0]}" if groups else "for the tenant"


def _same_origin(url: str, endpoint: str) -> bool:
    """Same scheme, host and port (a scheme's default port equals an omitted one); user info never matches."""
    origin = _origin(url)
    return origin is not None and origin == _origin(endpoint)


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is no number, or out of range
        return None
    if parts.username is not None or not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname, port


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
