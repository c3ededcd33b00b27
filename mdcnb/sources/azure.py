"""The live Azure source: Resource Graph (and ARM where Resource Graph lacks the data) into a dataset directory.

`pull(out, ...)` reads one tenant, a management group or a list of subscriptions and writes the layout of
`mdcnb.sources.dataset`: one JSON Lines file per record type holding rows exactly as the services returned them (so the
sample and a live pull share every normaliser), and `manifest.json` with the scope, the request figures and the
pull log.

How nothing gets lost:
- subscriptions are listed first (`resourcecontainers`, with their management-group chain); the security and
  inventory tables are then queried in batches of at most `batch_size` subscriptions, every page of 1000 rows
  chained by `$skipToken`, batches running on `workers` threads paced by the Resource Graph quota headers;
- policy exemptions (`policyresources`) are queried once at the management-group or tenant scope, the only scopes
  at which Resource Graph returns exemptions made at a management group; a pull of given subscriptions keeps those
  of the subscriptions and of the management groups above them;
- each query's rows are reconciled with its `totalRecords` and, per record type, with a `type` facet of the
  first page; `resultTruncated`, a page that still fails after the retries, a subscription answering 403
  (isolated by splitting the batch) and an ARM list that fails are all pull-log entries saying what is missing,
  why, and how many rows (null when the service never said);
- a record type touched by any such entry is listed in `manifest["incomplete"]`, and `manifest["complete"]` is
  false: a partial table is never reported as complete. The pull itself never stops half-way.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from azure.core.credentials import TokenCredential

from mdcnb.core import progress
from mdcnb.sources.azure_clouds import AzureCloud, cloud_by_name
from mdcnb.sources.azure_http import ArmClient, ArmError, RetrySettings
from mdcnb.sources.azure_queries import (
    ARM_LISTS,
    BATCHED_QUERIES,
    CLASSIC_CONNECTORS,
    EXEMPTIONS,
    SUBSCRIPTIONS,
    ArgQuery,
    ArmList,
)
from mdcnb.sources.dataset import MANIFEST, RECORD_TYPES, record_path, records_tenant, write_manifest

SOURCE = "azure"
PARTS_DIR = ".pull-parts"
DEFAULT_PORTS = {"https": 443, "http": 80}
KNOWN_AUTHORITIES = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")


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


def make_credential(cloud: AzureCloud) -> TokenCredential:
    """DefaultAzureCredential for `cloud` (AZURE_AUTHORITY_HOST and the other azure-identity variables win)."""
    from azure.identity import DefaultAzureCredential

    authority = os.environ.get("AZURE_AUTHORITY_HOST") or cloud.authority_host
    host = urlsplit(authority if "//" in authority else f"https://{authority}").hostname or ""
    return DefaultAzureCredential(authority=authority,
                                  disable_instance_discovery=host not in KNOWN_AUTHORITIES)


def pull(out: Path | str, *, subscriptions: Sequence[str] = (), management_group: str | None = None,
         cloud: str = "AzureCloud", arm_endpoint: str | None = None, credential: TokenCredential | None = None,
         options: PullOptions | None = None, connection_verify: str | bool | None = None) -> Path:
    """Pull the scope (explicit subscriptions, else a management group, else the whole tenant) into `out`."""
    if subscriptions and management_group:
        raise ValueError("give subscriptions or a management group, not both")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise ValueError(f"{out} is not empty and is not a dataset; refusing to write into it")
    azure_cloud = cloud_by_name(cloud)
    endpoint = (arm_endpoint or azure_cloud.arm_endpoint).rstrip("/")
    if urlsplit(endpoint).scheme != "https" or urlsplit(endpoint).username:
        raise ValueError(f"the ARM endpoint must be an https URL without credentials, got {_redact_url(endpoint)}")
    options = options or PullOptions()
    client = ArmClient(credential or make_credential(azure_cloud), endpoint=endpoint,
                       token_scope=azure_cloud.token_scope, workers=options.workers, retry=options.retry,
                       connection_verify=connection_verify)
    try:
        return _Pull(out, client, options).run(
            [s.lower() for s in subscriptions], management_group, azure_cloud, endpoint)
    finally:
        client.close()


class _Pull:
    """One pull: jobs write part files; parts are joined in job order so the dataset is deterministic."""

    def __init__(self, out: Path, client: ArmClient, options: PullOptions) -> None:
        self.out = out
        self.client = client
        self.options = options
        self.parts = out / PARTS_DIR
        self.log: list[LogEntry] = []
        self.pages = 0
        self.rows: Counter[str] = Counter()
        self.tenant: str | None = None  # the tenant the listed subscriptions belong to (the series' identity)
        self.groups: set[str] = set()  # management groups above the pulled subscriptions (lower case)
        self.pulled: set[str] = set()
        self.lock = threading.Lock()
        self.bar = progress.bar("azure pull", total=0, unit=" rows", wanted=options.progress)

    def run(self, subscriptions: list[str], management_group: str | None, cloud: AzureCloud,
            endpoint: str) -> Path:
        if self.parts.exists():
            shutil.rmtree(self.parts)
        self.parts.mkdir(parents=True)
        try:
            ids = self._subscriptions(subscriptions, management_group)
            jobs = [(q, batch) for q in BATCHED_QUERIES for batch in _batches(ids, self.options.batch_size)]
            lists = [a for a in ARM_LISTS if a is not CLASSIC_CONNECTORS or self.options.classic_connectors]
            with ThreadPoolExecutor(max_workers=self.options.workers) as pool:
                futures = [pool.submit(self._guarded, self._arg_job, q, batch, None, (1 + n,))
                           for n, (q, batch) in enumerate(jobs)]
                if ids:  # like the batched queries: nothing to ask when no subscription is in scope
                    futures.append(pool.submit(self._guarded, self._arg_job, EXEMPTIONS, None,
                                               [management_group] if management_group else None, (1 + len(jobs),),
                                               self._in_scope if subscriptions else None))
                base = 2 + len(jobs)
                for a in lists:
                    for sub in (ids if a.per_subscription else [None]):
                        futures.append(pool.submit(self._guarded, self._list_job, a, sub, (base,)))
                        base += 1
                for f in futures:
                    f.result()
            counts = self._join_parts()
        finally:
            self.bar.close()
            shutil.rmtree(self.parts, ignore_errors=True)
        self._write_manifest(subscriptions, management_group, cloud, endpoint, ids, counts)
        return self.out

    # -- subscriptions ------------------------------------------------------------------------------------------
    def _subscriptions(self, requested: list[str], management_group: str | None) -> list[str]:
        """Subscription ids in scope, listed through `resourcecontainers` (forbidden ones end in the log)."""
        if requested:
            for n, batch in enumerate(_batches(requested, self.options.batch_size)):
                self._arg_job(SUBSCRIPTIONS, batch, None, (0, n))
        else:
            self._arg_job(SUBSCRIPTIONS, None, [management_group] if management_group else None, (0,))
        rows: list[dict[str, Any]] = []
        for part in sorted((self.parts / "subscriptions").glob("*.jsonl")):
            with part.open("rb") as fh:
                rows += [orjson.loads(line) for line in fh if line.strip()]
        self.tenant = records_tenant(rows)
        ids = list(dict.fromkeys(i for i in map(_subscription_of, rows) if i))
        for row in rows:
            self.groups.update(_ancestors(row))
        if self.client.stats.subscription_limit_hit:
            self._note(LogEntry("truncated", "subscriptions of the tenant or management group",
                                "Resource Graph answers tenant and management-group queries for the first 10,000 "
                                "subscriptions only; pull the rest with --subscription or a lower management group",
                                None, list(RECORD_TYPES)))
        logged = {s for e in self.log for s in e.subscriptions}
        unseen = [s for s in requested if s not in set(ids) and s not in logged]
        if unseen:
            self._note(LogEntry("not_visible", "requested subscriptions",
                                "not returned by Resource Graph (no access, wrong tenant or no such subscription)",
                                None, list(RECORD_TYPES), unseen))
        if requested:
            ids = [s for s in requested if s in set(ids)]
        self.pulled = set(ids)
        return ids

    # -- Resource Graph -----------------------------------------------------------------------------------------
    def _arg_job(self, query: ArgQuery, subs: list[str] | None, groups: list[str] | None,
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
        writer = _PartWriter(self.parts, key)
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
                    self._note(LogEntry("failed", f"{query.table} {scope}",
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

    def _in_scope(self, row: dict[str, Any]) -> bool:
        """An exemption of a pulled subscription, or of a management group above one."""
        sub = _subscription_of(row)
        if sub:
            return sub in self.pulled
        parts = str(row.get("id", "")).lower().split("/")
        return len(parts) > 4 and parts[2] == "microsoft.management" and parts[4] in self.groups

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
            self._note(LogEntry("forbidden", f"{query.table} for subscription {subs[0]}",
                                f"HTTP 403 {exc.code}: {exc.message}", None, sorted(set(query.types.values())),
                                list(subs)))
            return
        half = len(subs) // 2
        self._arg_job(query, subs[:half], groups, (*key, 0))
        self._arg_job(query, subs[half:], groups, (*key, 1))

    def _reconcile(self, query: ArgQuery, scope: str, subs: list[str] | None, total: int | None,
                   expected: dict[str, int] | None, got: Counter[str], truncated: bool, unknown: int) -> None:
        received = sum(got.values()) + unknown
        types = _short_types(query, expected, got) if expected is not None else []
        if truncated:
            missing = None if total is None else max(total - received, 0)
            self._note(LogEntry("truncated", f"{query.table} {scope}", "Resource Graph answered resultTruncated=true",
                                missing, types or sorted(set(query.types.values())), list(subs or [])))
        elif total is not None and received != total:
            self._note(LogEntry("mismatch", f"{query.table} {scope}",
                                f"received {received} rows, totalRecords said {total}", max(total - received, 0),
                                types or sorted(set(query.types.values())), list(subs or [])))
        elif types:
            short = {t: (expected or {}).get(t, 0) - got[t] for t in types}
            self._note(LogEntry("mismatch", f"{query.table} {scope}",
                                f"rows per type differ from the type facet: {short}", sum(max(v, 0) for v in
                                                                                           short.values()),
                                types, list(subs or [])))
        if unknown:
            self._note(LogEntry("mismatch", f"{query.table} {scope}",
                                f"{unknown} rows of a type that was not asked for were ignored", 0, [],
                                list(subs or [])))

    # -- ARM lists ----------------------------------------------------------------------------------------------
    def _list_job(self, arm_list: ArmList, subscription: str | None, key: tuple[int, ...]) -> None:
        """Follow one ARM list's nextLink chain (only to the same endpoint, so the token never leaves it)."""
        path = arm_list.path.format(subscription=subscription)
        url: str | None = f"{path}?api-version={arm_list.api_version}"
        what = f"GET {path}"
        writer = _PartWriter(self.parts, key)
        try:
            while url:
                try:
                    page = self.client.get(url)
                except ArmError as exc:
                    kind = "forbidden" if exc.status == 403 else "failed"
                    self._note(LogEntry(kind, what, f"{arm_list.why}; request failed after retries: {exc}", None,
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
                    self._note(LogEntry("failed", what, f"nextLink leaves the ARM endpoint ({urlsplit(url).netloc}); "
                                        "not followed", None, [arm_list.record_type],
                                        [subscription] if subscription else []))
                    return
        finally:
            writer.close()

    # -- bookkeeping --------------------------------------------------------------------------------------------
    def _guarded(self, job: Any, *args: Any) -> None:
        """Run a job; a bug in one job becomes a pull-log entry instead of stopping the pull."""
        try:
            job(*args)
        except Exception as exc:  # the pull must finish and say what it lost
            self._note(LogEntry("failed", f"job {job.__name__}{args[:1]}", f"{type(exc).__name__}: {exc}", None,
                                list(RECORD_TYPES)))

    def _note(self, entry: LogEntry) -> None:
        with self.lock:
            self.log.append(entry)

    def _progress(self, rows: int, announced: int) -> None:
        """`rows` received; `announced` rows added to the bar's total (a query's totalRecords on its first page)."""
        with self.lock:
            self.bar.total += announced
            self.bar.update(rows)
            self.bar.set_postfix(requests=self.pages, refresh=False)

    def _join_parts(self) -> dict[str, int]:
        """Concatenate each record type's parts in job order into its dataset file (atomic rename)."""
        counts: dict[str, int] = {}
        for record_type in RECORD_TYPES:
            folder = self.parts / record_type
            parts = sorted(folder.glob("*.jsonl"), key=_part_order) if folder.exists() else []
            target = record_path(self.out, record_type)
            tmp = target.with_suffix(".jsonl.tmp")
            lines = 0
            with tmp.open("wb") as dst:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    lines += int(part.name.split(".")[1])
            os.replace(tmp, target)
            counts[record_type] = lines
        return counts

    def _write_manifest(self, requested: list[str], management_group: str | None, cloud: AzureCloud,
                        endpoint: str, ids: list[str], counts: dict[str, int]) -> None:
        incomplete = sorted({t for e in self.log for t in e.record_types})
        scope = {"kind": "subscriptions" if requested else "management_group" if management_group else "tenant",
                 "tenant_id": self.tenant, "subscriptions": requested, "management_group": management_group,
                 "subscriptions_pulled": len(ids)}
        write_manifest(self.out, source=SOURCE, scope=scope, counts=counts,
                       pull_log=[asdict(e) for e in _merge_entries(self.log)],
                       extra={"complete": not self.log, "incomplete": incomplete,
                              "cloud": cloud.name, "arm_endpoint": endpoint,
                              "requests": {**self.client.stats.as_dict(), "pages": self.pages},
                              "options": {"page_size": self.options.page_size,
                                          "batch_size": self.options.batch_size, "workers": self.options.workers,
                                          "classic_connectors": self.options.classic_connectors}})


class _PartWriter:
    """Rows of one job, one part file per record type: `<record_type>/<key>.<rows>.jsonl` once closed."""

    def __init__(self, parts: Path, key: tuple[int, ...]) -> None:
        self.parts = parts
        self.stem = "-".join(f"{k:06d}" for k in key)
        self.files: dict[str, Any] = {}
        self.counts: Counter[str] = Counter()

    def write(self, record_type: str, row: dict[str, Any]) -> None:
        fh = self.files.get(record_type)
        if fh is None:
            (self.parts / record_type).mkdir(exist_ok=True)
            fh = self.files[record_type] = (self.parts / record_type / f"{self.stem}.open").open("wb")
        fh.write(orjson.dumps(row))
        fh.write(b"\n")
        self.counts[record_type] += 1

    def close(self) -> None:
        for record_type, fh in self.files.items():
            fh.close()
            Path(fh.name).rename(self.parts / record_type / f"{self.stem}.{self.counts[record_type]}.jsonl")
        self.files.clear()

    def discard(self) -> None:
        for fh in self.files.values():
            fh.close()
            Path(fh.name).unlink()
        self.files.clear()


def _part_order(path: Path) -> tuple[int, ...]:
    return tuple(int(k) for k in path.name.split(".")[0].split("-"))


def _merge_entries(entries: list[LogEntry]) -> list[LogEntry]:
    """One entry per (kind, what, why) with the subscriptions and missing rows added up (null stays null)."""
    merged: dict[tuple[str, str, str], LogEntry] = {}
    for e in sorted(entries, key=lambda e: (e.kind, e.what, e.why)):
        key = (e.kind, e.what, e.why)
        if key not in merged:
            merged[key] = LogEntry(e.kind, e.what, e.why, e.missing_rows, list(e.record_types), list(e.subscriptions))
            continue
        m = merged[key]
        m.missing_rows = None if m.missing_rows is None or e.missing_rows is None else m.missing_rows + e.missing_rows
        m.record_types = sorted(set(m.record_types) | set(e.record_types))
        m.subscriptions += e.subscriptions
    return list(merged.values())


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _subscription_of(row: dict[str, Any]) -> str:
    sub = row.get("subscriptionId")
    if not sub:
        parts = str(row.get("id", "")).split("/")
        sub = parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""
    return str(sub).lower()


def _ancestors(row: dict[str, Any]) -> list[str]:
    """Management-group names (lower case) of a `resourcecontainers` subscription row's ancestor chain."""
    chain = (row.get("properties") or {}).get("managementGroupAncestorsChain") or []
    return [str(g.get("name", "")).lower() for g in chain if isinstance(g, dict) and g.get("name")]


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


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.hostname or "").geturl() if parts.username else url


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
