"""Counting through the LookupEvents API (CloudTrail Event history): small accounts, no trail needed.

Limits (reference/aws-cloudtrail.md §3.1): one region per call, the last 90 days, at most ONE lookup attribute,
2 requests per second per account and region, 50 events per page. So the toolkit asks for one attribute
(default `ReadOnly=true`, or `Username=MicrosoftDefenderForClouds_<tenant>`), paces its calls, retries
throttling, and post-filters every event on its embedded record's `sessionIssuer.arn` like the file path does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mdcnb.normalize.cloudtrail.counts import ScanOptions
from mdcnb.normalize.cloudtrail.identity import RoleMatcher
from mdcnb.normalize.cloudtrail.parse import aggregate_texts
from mdcnb.tables.cloudtrail.result import VolumeResult
from mdcnb.tables.cloudtrail.scan import Accumulator

CALLS_PER_SECOND = 2.0
HISTORY_DAYS = 90
ATTRIBUTE_KEYS = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource",
                  "AccessKeyId")


@dataclass
class Pacer:
    """Keeps calls at most `rate` per second (per region: each region has its own budget)."""

    rate: float = CALLS_PER_SECOND
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _last: float | None = field(default=None, repr=False)

    def wait(self) -> None:
        if self._last is not None:
            delay = self._last + 1.0 / self.rate - self.clock()
            if delay > 0:
                self.sleep(delay)
        self._last = self.clock()


def clients(profile: str | None, regions: list[str | None], endpoint_url: str | None = None) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    cfg = Config(retries={"mode": "standard", "max_attempts": 3})
    out = {}
    for region in regions:
        client = session.client("cloudtrail", region_name=region, endpoint_url=endpoint_url, config=cfg)
        out[client.meta.region_name] = client
    return out


def lookup_pages(client: Any, attribute: tuple[str, str], start: datetime, end: datetime, pacer: Pacer,
                 max_throttle_retries: int = 8) -> Iterator[dict[str, Any]]:
    """LookupEvents pages (NextToken), paced; throttling backs off and retries, then raises."""
    from botocore.exceptions import ClientError

    kwargs: dict[str, Any] = {"LookupAttributes": [{"AttributeKey": attribute[0], "AttributeValue": attribute[1]}],
                              "StartTime": start, "EndTime": end, "MaxResults": 50}
    retries = 0
    while True:
        pacer.wait()
        try:
            page = client.lookup_events(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("ThrottlingException", "Throttling") \
                    or retries >= max_throttle_retries:
                raise
            retries += 1
            pacer.sleep(min(30.0, 0.5 * 2 ** retries))
            continue
        retries = 0
        yield page
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def volume_from_lookup(region_clients: dict[str, Any], matcher: RoleMatcher, *, since: str | None = None,
                       until: str | None = None, attribute: tuple[str, str] = ("ReadOnly", "true"),
                       now: datetime | None = None, pacer_factory: Callable[[], Pacer] = Pacer) -> VolumeResult:
    """Count events of the regions' Event history with the same rules as log files."""
    if attribute[0] not in ATTRIBUTE_KEYS:
        raise ValueError(f"LookupEvents attribute must be one of {', '.join(ATTRIBUTE_KEYS)}, not {attribute[0]!r}")
    now = now or datetime.now(UTC)
    oldest = now - timedelta(days=HISTORY_DAYS)
    start = max(oldest, datetime.fromisoformat(since).replace(tzinfo=UTC)) if since else oldest
    end = min(now, datetime.fromisoformat(until).replace(tzinfo=UTC) + timedelta(days=1)) if until else now
    opts = ScanOptions(matcher, since=since[:10] if since else None, until=until[:10] if until else None)
    acc = Accumulator()
    notes = [f"LookupEvents attribute {attribute[0]}={attribute[1]}: events outside it are not seen"]
    if since and datetime.fromisoformat(since).replace(tzinfo=UTC) < oldest:
        notes.append(f"Event history keeps {HISTORY_DAYS} days: counted from {start:%Y-%m-%d} only")
    pages = 0
    for region, client in sorted(region_clients.items()):
        pacer = pacer_factory()
        texts = []
        for page in lookup_pages(client, attribute, start, end, pacer):
            pages += 1
            texts += [ev.get("CloudTrailEvent") or "" for ev in page.get("Events", [])]
        res = aggregate_texts(f"lookup-events:{region}", texts, opts, what="CloudTrailEvent")
        acc.add(res)
    notes.append(f"{pages} LookupEvents page(s) over {len(region_clients)} region(s)")
    result = VolumeResult.from_accumulator(acc, source="lookup-events:" + ",".join(sorted(region_clients)),
                                           files_listed=0, files_pruned=0, digest_files=0, other_files=[],
                                           since=opts.since, until=opts.until, role_arns=sorted(matcher.cspm_arns))
    result.notes = notes
    return result
