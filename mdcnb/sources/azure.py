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

This module holds the pull's orchestration (scope, subscriptions, jobs, manifest); the jobs and the pull log are in
`azure_paging`, the part files in `azure_parts`, the HTTP client in `azure_http`, the queries in `azure_queries`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from azure.core.credentials import TokenCredential

from mdcnb.sources.azure_clouds import AzureCloud, cloud_by_name
from mdcnb.sources.azure_http import ArmClient
from mdcnb.sources.azure_paging import LogEntry, PullJobs, PullOptions
from mdcnb.sources.azure_parts import join_parts
from mdcnb.sources.azure_queries import ARM_LISTS, BATCHED_QUERIES, CLASSIC_CONNECTORS, EXEMPTIONS, SUBSCRIPTIONS
from mdcnb.sources.dataset import MANIFEST, RECORD_TYPES, records_tenant
from mdcnb.sources.dataset_write import write_manifest

SOURCE = "azure"
PARTS_DIR = ".pull-parts"
KNOWN_AUTHORITIES = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")


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
        self.options = options
        self.parts = out / PARTS_DIR
        self.jobs = PullJobs(self.parts, client, options)
        self.tenant: str | None = None  # the tenant the listed subscriptions belong to (the series' identity)
        self.groups: set[str] = set()  # management groups above the pulled subscriptions (lower case)
        self.pulled: set[str] = set()

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
                futures = [pool.submit(self.jobs.guarded, self.jobs.arg_job, q, batch, None, (1 + n,))
                           for n, (q, batch) in enumerate(jobs)]
                if ids:  # like the batched queries: nothing to ask when no subscription is in scope
                    futures.append(pool.submit(self.jobs.guarded, self.jobs.arg_job, EXEMPTIONS, None,
                                               [management_group] if management_group else None, (1 + len(jobs),),
                                               self._in_scope if subscriptions else None))
                base = 2 + len(jobs)
                for a in lists:
                    for sub in (ids if a.per_subscription else [None]):
                        futures.append(pool.submit(self.jobs.guarded, self.jobs.list_job, a, sub, (base,)))
                        base += 1
                for f in futures:
                    f.result()
            counts = join_parts(self.parts, self.out)
        finally:
            self.jobs.bar.close()
            shutil.rmtree(self.parts, ignore_errors=True)
        self._write_manifest(subscriptions, management_group, cloud, endpoint, ids, counts)
        return self.out

    # -- subscriptions ------------------------------------------------------------------------------------------
    def _subscriptions(self, requested: list[str], management_group: str | None) -> list[str]:
        """Subscription ids in scope, listed through `resourcecontainers` (forbidden ones end in the log)."""
        if requested:
            for n, batch in enumerate(_batches(requested, self.options.batch_size)):
                self.jobs.arg_job(SUBSCRIPTIONS, batch, None, (0, n))
        else:
            self.jobs.arg_job(SUBSCRIPTIONS, None, [management_group] if management_group else None, (0,))
        rows: list[dict[str, Any]] = []
        for part in sorted((self.parts / "subscriptions").glob("*.jsonl")):
            with part.open("rb") as fh:
                rows += [orjson.loads(line) for line in fh if line.strip()]
        self.tenant = records_tenant(rows)
        ids = list(dict.fromkeys(i for i in map(_subscription_of, rows) if i))
        for row in rows:
            self.groups.update(_ancestors(row))
        if self.jobs.client.stats.subscription_limit_hit:
            self.jobs.note(LogEntry("truncated", "subscriptions of the tenant or management group",
                                    "Resource Graph answers tenant and management-group queries for the first 10,000 "
                                    "subscriptions only; pull the rest with --subscription or a lower management group",
                                    None, list(RECORD_TYPES)))
        logged = {s for e in self.jobs.log for s in e.subscriptions}
        unseen = [s for s in requested if s not in set(ids) and s not in logged]
        if unseen:
            self.jobs.note(LogEntry("not_visible", "requested subscriptions",
                                    "not returned by Resource Graph (no access, wrong tenant or no such subscription)",
                                    None, list(RECORD_TYPES), unseen))
        if requested:
            ids = [s for s in requested if s in set(ids)]
        self.pulled = set(ids)
        return ids

    def _in_scope(self, row: dict[str, Any]) -> bool:
        """An exemption of a pulled subscription, or of a management group above one."""
        sub = _subscription_of(row)
        if sub:
            return sub in self.pulled
        parts = str(row.get("id", "")).lower().split("/")
        return len(parts) > 4 and parts[2] == "microsoft.management" and parts[4] in self.groups

    def _write_manifest(self, requested: list[str], management_group: str | None, cloud: AzureCloud,
                        endpoint: str, ids: list[str], counts: dict[str, int]) -> None:
        incomplete = sorted({t for e in self.jobs.log for t in e.record_types})
        scope = {"kind": "subscriptions" if requested else "management_group" if management_group else "tenant",
                 "tenant_id": self.tenant, "subscriptions": requested, "management_group": management_group,
                 "subscriptions_pulled": len(ids)}
        write_manifest(self.out, source=SOURCE, scope=scope, counts=counts,
                       pull_log=[asdict(e) for e in _merge_entries(self.jobs.log)],
                       extra={"complete": not self.jobs.log, "incomplete": incomplete,
                              "cloud": cloud.name, "arm_endpoint": endpoint,
                              "requests": {**self.jobs.client.stats.as_dict(), "pages": self.jobs.pages},
                              "options": {"page_size": self.options.page_size,
                                          "batch_size": self.options.batch_size, "workers": self.options.workers,
                                          "classic_connectors": self.options.classic_connectors}})


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


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.hostname or "").geturl() if parts.username else url
