"""What exporting CloudTrail events to a SIEM costs, and what dropping MDC CSPM's reads would save.

Pure arithmetic on a volume summary: bytes (GB = 10^9 bytes) x price per GB plus events x price per million,
projected to a 30-day month from the daily average over the window. Prices come from the dated price table
(`mdcnb.sources.prices.siem_price`) or the user; every figure carries the price's source.
Note: the bytes are the records' JSON as delivered, compact; a SIEM bills its own stored size (Sentinel's
`_BilledSize`), which differs, so treat the figures as an estimate of that order.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import TYPE_CHECKING, Any

from mdcnb.sources.prices import SiemPrice

if TYPE_CHECKING:
    import pandas as pd

GB = 1_000_000_000
MONTH_DAYS = 30


def window_days(volume: pd.DataFrame, since: str | None = None, until: str | None = None) -> int:
    """Days the counts cover: the requested window, else first to last event day present (at least 1)."""
    if (since and until) or volume.empty:
        return span_days(since, until)
    import pandas as pd  # here, not at the top: `cost` of no events (an empty log folder) needs no pandas

    days = pd.to_datetime(volume["date"])
    return span_days(since, until, days.min().date(), days.max().date())


def span_days(since: str | None, until: str | None, first: date | None = None, last: date | None = None) -> int:
    """Days from `since` (else the first event day) to `until` (else the last): the requested window when both
    ends are given, else at least 1 (1 without events)."""
    if since and until:
        return (date.fromisoformat(until) - date.fromisoformat(since)).days + 1
    if first is None or last is None:
        return 1
    start = date.fromisoformat(since) if since else first
    end = date.fromisoformat(until) if until else last
    return max(1, (end - start).days + 1)


def _cost(events: int, nbytes: int, price: SiemPrice) -> float:
    return nbytes / GB * price.per_gb + events / 1e6 * price.per_million_events


def siem_cost(volume: pd.DataFrame, price: SiemPrice, since: str | None = None,
              until: str | None = None) -> dict[str, Any]:
    """Window and monthly cost of all events and of the events a CSPM filter drops (its reads + assume-role)."""
    from mdcnb.normalize.cloudtrail.identity import CSPM, CSPM_ASSUME_ROLE

    cspm = volume[volume["actor"] == CSPM]
    assume = volume[volume["actor"] == CSPM_ASSUME_ROLE]
    drop_events = int(cspm["read_only_events"].sum() + assume["events"].sum())
    drop_bytes = int(cspm["read_only_bytes"].sum() + assume["bytes"].sum())
    return cost(int(volume["events"].sum()), int(volume["bytes"].sum()), drop_events, drop_bytes, price,
                window_days(volume, since, until))


def cost(all_events: int, all_bytes: int, drop_events: int, drop_bytes: int, price: SiemPrice,
         days: int) -> dict[str, Any]:
    """`siem_cost` from the counts: all events and bytes, those the filter drops, over `days` days."""
    scale = MONTH_DAYS / days
    total = _cost(all_events, all_bytes, price)
    saving = _cost(drop_events, drop_bytes, price)
    return {
        "price": asdict(price),
        "window_days": days,
        "events": all_events,
        "bytes": all_bytes,
        "filtered_events": drop_events,
        "filtered_bytes": drop_bytes,
        "filtered_share_of_bytes": round(drop_bytes / all_bytes, 4) if all_bytes else None,
        "window_cost": round(total, 2),
        "monthly_cost": round(total * scale, 2),
        "monthly_cost_after_filter": round((total - saving) * scale, 2),
        "monthly_saving": round(saving * scale, 2),
        "note": f"{MONTH_DAYS}-day month projected from the {days}-day window; GB = 10^9 bytes of compact JSON; "
                f"price: {price.per_gb} {price.currency}/GB + {price.per_million_events} {price.currency}/million "
                f"events, source: {price.source}" + (f" ({price.as_of})" if price.as_of else ""),
    }
