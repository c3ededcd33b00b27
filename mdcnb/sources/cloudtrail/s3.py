"""CloudTrail log files in S3: paginated listing (single-account and organisation layouts) and fetching.

Read-only: ListObjectsV2 and GetObject only. With a date window the listing goes day by day
(`.../<acct>/CloudTrail/<region>/YYYY/MM/DD/`) after discovering accounts and regions with delimiter
listings, so a bucket holding years of logs is not listed in full for one week.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from mdcnb.sources.cloudtrail.layout import (
    DEFAULT_MARGIN_DAYS,
    GZIP_MAGIC,
    LogFile,
    ReadError,
    describe,
    sort_files,
)


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix without leading slash, with a trailing slash when not empty)."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url}")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url}")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/") if prefix else ""


def s3_client(profile: str | None = None, endpoint_url: str | None = None, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    cfg = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 5})
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=cfg)


def _prefixes(client: Any, bucket: str, prefix: str) -> list[str]:
    out: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        out += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return out


def _objects(client: Any, bucket: str, prefix: str) -> Iterator[LogFile]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield describe(obj["Key"], obj.get("Size"))


def _trail_roots(client: Any, bucket: str, prefix: str) -> list[str]:
    """`.../AWSLogs/<acct>/` folders, looking one level into organisation folders `AWSLogs/o-xxxx/`."""
    roots: list[str] = []
    for p in _prefixes(client, bucket, f"{prefix}AWSLogs/"):
        name = p.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("o-"):
            roots += [q for q in _prefixes(client, bucket, p) if q.rstrip("/").rsplit("/", 1)[-1].isdigit()]
        elif name.isdigit():
            roots.append(p)
    return roots


def list_logs(client: Any, bucket: str, prefix: str, since: date | None = None, until: date | None = None,
              margin_days: int = DEFAULT_MARGIN_DAYS, threads: int = 8) -> list[LogFile]:
    """Every object that may hold events of [since, until], sorted by delivery date.

    With a window, only the `CloudTrail/<region>/YYYY/MM/DD/` folders of the window are listed (digest folders
    are never entered). Without a full window, or when the prefix shows no `AWSLogs/` tree, everything under the
    prefix is listed (paginated) and digests are counted and skipped by the scanner.
    """
    roots = _trail_roots(client, bucket, prefix) if since and until else []
    if not roots:
        return sort_files(_objects(client, bucket, prefix))
    days = [since + timedelta(days=i) for i in range((until - since).days + margin_days + 1)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        region_dirs = [r for rs in pool.map(lambda root: _prefixes(client, bucket, f"{root}CloudTrail/"), roots)
                       for r in rs]
        day_prefixes = [f"{r}{d:%Y/%m/%d}/" for r in region_dirs for d in days]
        files = [f for fs in pool.map(lambda p: list(_objects(client, bucket, p)), day_prefixes) for f in fs]
    return sort_files(files)


def s3_reader(client: Any, bucket: str, max_bytes: int):
    """A reader for `scan_files`: GetObject bytes; access errors become `ReadError` (a counted skip). An object
    listed over `max_bytes` is fetched only when its first bytes show gzip (inflated with the limit enforced): plain
    text that large is skipped unread."""
    from botocore.exceptions import BotoCoreError, ClientError

    def get(key: str, **kw: Any) -> bytes:
        try:
            return client.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise ReadError(f"S3 {err.get('Code', 'error')}: {err.get('Message', '')}".strip()) from None
        except BotoCoreError as exc:
            raise ReadError(f"S3 read failed: {exc}") from None

    def read(f: LogFile) -> bytes:
        if f.size is not None and f.size > max_bytes and get(f.location, Range="bytes=0-1") != GZIP_MAGIC:
            raise ReadError(f"larger than {max_bytes} bytes")
        return get(f.location)

    return read
