"""CloudTrail read-call volume of MDC's CSPM role `CspmMonitorAws` (issue 4).

    from mdcnb.tables.cloudtrail import volume
    res = volume("s3://trail-bucket/prefix", since="2026-11-01", until="2026-11-27", dataset="data/sample")
    res.volume      # day x account x region x eventSource x eventName x actor: events, read-only, bytes
    res.summary()   # the numbers `mdcnb cloudtrail volume --json` prints

Sources: a local folder or file, an `s3://` prefix (`mdcnb.sources.cloudtrail.s3`), LookupEvents
(`mdcnb.tables.cloudtrail.lookup`), Athena (`mdcnb.tables.cloudtrail.athena`).
Trail audit: `mdcnb.tables.cloudtrail.trails`.
Paste-able filters: `mdcnb.analysis.cloudtrail_filters`. SIEM cost: `mdcnb.analysis.cloudtrail_cost`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from mdcnb.normalize.cloudtrail.counts import ScanOptions
from mdcnb.normalize.cloudtrail.identity import RoleMatcher, roles_from_offerings
from mdcnb.sources.cloudtrail.layout import DEFAULT_MARGIN_DAYS, list_local
from mdcnb.tables.cloudtrail.result import VolumeResult
from mdcnb.tables.cloudtrail.scan import scan_files

__all__ = ["RoleMatcher", "VolumeResult", "dataset_roles", "dataset_volume", "matcher_for", "volume"]


def dataset_roles(dataset: str | Path | None) -> tuple[set[str], set[str]]:
    """(CSPM role ARNs, other MDC role ARNs) of the AWS connectors of a dataset."""
    from mdcnb.tables import load_tables

    return roles_from_offerings(load_tables(dataset, names=["offerings"]).offerings)


def matcher_for(role_arns: Iterable[str] = (), dataset: str | Path | None = None) -> RoleMatcher:
    """Explicit `role_arns` win; else the connectors' CspmMonitorAws roles; else the default role name anywhere."""
    cspm, other = dataset_roles(dataset) if dataset is not None else (set(), set())
    explicit = [a for a in role_arns if a]
    return RoleMatcher.build(explicit or cspm, other)


def volume(logs: str | Path, *, since: str | None = None, until: str | None = None,
           role_arns: Iterable[str] = (), dataset: str | Path | None = None, profile: str | None = None,
           endpoint_url: str | None = None, processes: int | None = None,
           margin_days: int = DEFAULT_MARGIN_DAYS) -> VolumeResult:
    """Count CloudTrail events in a folder, a file or an `s3://bucket/prefix`."""
    opts = ScanOptions(matcher_for(role_arns, dataset), since=_day(since), until=_day(until))
    d_since = date.fromisoformat(opts.since) if opts.since else None
    d_until = date.fromisoformat(opts.until) if opts.until else None
    logs_s = str(logs)
    if logs_s.startswith("s3://"):
        from mdcnb.sources.cloudtrail import s3

        bucket, prefix = s3.parse_s3_url(logs_s)
        client = s3.s3_client(profile, endpoint_url)
        files = s3.list_logs(client, bucket, prefix, d_since, d_until, margin_days)
        return scan_files(files, opts, reader=s3.s3_reader(client, bucket, opts.max_file_bytes), processes=processes,
                          margin_days=margin_days, source=logs_s)
    path = Path(logs)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return scan_files(list_local(path), opts, processes=processes, margin_days=margin_days, source=str(path))


def _day(value: str | None) -> str | None:
    """Validate an ISO date (or datetime) and keep its day."""
    if not value:
        return None
    return date.fromisoformat(str(value)[:10]).isoformat()


def dataset_volume(dataset: str | Path | None = None, *, since: str | None = None, until: str | None = None,
                   processes: int | None = None) -> VolumeResult:
    """Count the CloudTrail logs a dataset carries (`<dataset>/cloudtrail/`) with its connectors' role ARNs.
    None = the embedded sample. A dataset without logs gives empty tables and a note."""
    from mdcnb.sources.dataset import cloudtrail_root, default_dataset

    path = Path(dataset) if dataset is not None else default_dataset()
    root = cloudtrail_root(path)
    if not root.is_dir():
        opts = ScanOptions(matcher_for((), path), since=_day(since), until=_day(until))
        res = scan_files([], opts, source=str(root))
        res.notes.append(f"no CloudTrail logs in {root}")
        return res
    return volume(root, since=since, until=until, dataset=path, processes=processes)
