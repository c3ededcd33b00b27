"""The public Azure Retail Prices API (no authentication): Defender and SIEM meters into a new dated price table.

`GET https://prices.azure.com/api/retail/prices?api-version=2023-01-01-preview&currencyCode='EUR'&$filter=...` returns
pages of `Items` linked by `NextPageLink`. Filter values are case-sensitive. Defender meters are mostly published under
the region `Global`, Sentinel and Log Analytics per region, so both are asked for. Each row of the base price table
names the `product_name` / `meter_name` it corresponds to (alternatives separated by `|`); `refresh_price_table` looks
those meters up and converts their unit of measure (`1 Hour`, `1/Month`, `1 GB`, `10K`, `1M`) to the table's columns.
Rows with no meter in the API keep their price only when the currency is the base table's; otherwise the price is
left empty with the reason, never a USD figure labelled EUR.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import RetryPolicy
from azure.core.rest import HttpRequest

from mdcnb.sources._http import pipeline_client
from mdcnb.sources.prices import PriceTable, price_table_from_dict

RETAIL_ENDPOINT = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
SERVICES = ("Microsoft Defender for Cloud", "Advanced Threat Protection", "Sentinel", "Log Analytics")
_BLOCKS = {"10k": 10_000.0, "1k": 1_000.0, "1m": 1_000_000.0, "1 million": 1_000_000.0, "100": 100.0}


class RetailPricesError(RuntimeError):
    """The Retail Prices API could not be read; the message says which page and why."""


@dataclass(frozen=True)
class Limits:
    """What one refresh may spend, so that a broken or hostile endpoint can neither run it forever nor fill memory
    (an endless body, a `$skip` fallback that never ends). A real refresh reads a few hundred KB in a few pages."""

    seconds: float = 300.0  # the whole refresh: every filter, page and retry
    page_bytes: int = 16 << 20  # one response body
    total_bytes: int = 128 << 20  # every body together
    pages: int = 200  # pages per filter, `$skip` fallback included


@dataclass
class FetchLog:
    """What a fetch did: pages, bytes and items read per filter (and items dropped for a price that is no finite,
    non-negative number), for the table's source line and the command output."""

    pages: int = 0
    items: int = 0
    bytes: int = 0
    rejected: int = 0
    skip_fallbacks: int = 0
    filters: list[str] = field(default_factory=list)


class _Budget:
    """The limits of one refresh and what has been spent against them."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.spent = 0

    def left(self, where: str) -> float:
        """Seconds left, or a RetailPricesError once the refresh is out of time."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RetailPricesError(f"{where}: the refresh took longer than {self.limits.seconds:g} s; stopped")
        return left

    def spend(self, size: int, page_size: int, where: str) -> None:
        """Count `size` more bytes of a body now `page_size` long; a RetailPricesError past a limit or the time."""
        self.spent += size
        if page_size > self.limits.page_bytes:
            raise RetailPricesError(f"{where}: response larger than {self.limits.page_bytes:,} bytes; stopped reading")
        if self.spent > self.limits.total_bytes:
            raise RetailPricesError(f"{where}: responses larger than {self.limits.total_bytes:,} bytes in all; "
                                    "stopped reading")
        self.left(where)


class _BoundedRetry(RetryPolicy):
    """azure-core's retries, never sleeping past the refresh's deadline (a `Retry-After` of a day included)."""

    def __init__(self, budget: _Budget) -> None:
        super().__init__(retry_total=3, timeout=budget.limits.seconds)
        self._budget = budget

    def get_retry_after(self, response: Any) -> float | None:
        after = super().get_retry_after(response)
        return None if after is None else min(after, max(self._budget.deadline - time.monotonic(), 0.0))


def _with_skip(url: str, skip: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "$skip"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("$skip", str(skip))], safe="$'(),")))


def _origin(url: str) -> tuple[str, int]:
    """(host, port) of a URL, the port spelled or not (`https://host` and `https://host:443` are one origin)."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme.lower() == "https" else 80)


def _next_url(link: Any, endpoint: str, where: str) -> str:
    """`NextPageLink` when it is an HTTPS URL on the endpoint's host and port; a RetailPricesError otherwise (a link
    elsewhere, `http:` or `file:` would send the client wherever a response says)."""
    if not isinstance(link, str):
        raise RetailPricesError(f"{where}: NextPageLink is {type(link).__name__}, not a URL")
    try:
        same = urlsplit(link).scheme.lower() == "https" and _origin(link) == _origin(endpoint)
    except ValueError:  # a port that is no number
        same = False
    if not same:
        raise RetailPricesError(f"{where}: NextPageLink {link[:200]!r} is not HTTPS on {urlsplit(endpoint).netloc}; "
                                "not followed")
    return link


def _price(item: dict[str, Any]) -> float | None:
    """The item's `retailPrice` when it is a finite, non-negative JSON number; None otherwise."""
    price = item.get("retailPrice")
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return None
    return float(price) if math.isfinite(price) and price >= 0 else None


def _not_finite(token: str) -> Any:
    raise ValueError(f"{token} is not a number JSON allows")


def _get_page(client: Any, url: str, where: str, connection_verify: Any, budget: _Budget) -> dict[str, Any]:
    """One page as a JSON object, its body read in chunks against the budget's size and time limits."""
    left = budget.left(where)
    try:
        response = client.send_request(HttpRequest("GET", url), stream=True, connection_verify=connection_verify,
                                       connection_timeout=min(30.0, left), read_timeout=min(30.0, left))
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                budget.spend(len(chunk), len(body), where)
        finally:
            response.close()
    except AzureError as exc:
        raise RetailPricesError(f"{where}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    if response.status_code >= 400:
        raise RetailPricesError(f"{where}: HTTP {response.status_code}: {bytes(body[:300]).decode(errors='replace')}")
    try:
        page = json.loads(body, parse_constant=_not_finite)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RetailPricesError(f"{where}: not JSON ({str(exc)[:200]})") from exc
    if not isinstance(page, dict):
        raise RetailPricesError(f"{where}: expected a JSON object with Items, got {type(page).__name__}")
    return page


def _page_items(page: dict[str, Any], where: str) -> list[dict[str, Any]]:
    items = page.get("Items") or []
    if not isinstance(items, list):
        raise RetailPricesError(f"{where}: Items is {type(items).__name__}, not a list")
    bad = next((n for n, item in enumerate(items) if not isinstance(item, dict)), None)
    if bad is not None:
        raise RetailPricesError(f"{where}: item {bad} is {type(items[bad]).__name__}, not an object")
    return items


def fetch_items(odata_filter: str, *, currency: str = "USD", endpoint: str = RETAIL_ENDPOINT,
                connection_verify: Any = True, log: FetchLog | None = None, limits: Limits | None = None,
                budget: _Budget | None = None) -> Iterator[dict[str, Any]]:
    """Yield every item matching `odata_filter` whose price is a finite, non-negative number, following
    `NextPageLink` (same host, HTTPS only) to the end, within `limits` (or a `budget` several fetches share).

    When a full page comes back without `NextPageLink` (the 2023-03 incident), the next page is asked for with
    `$skip`, until a page comes back short or empty. Items with another price are counted in `log.rejected`.
    """
    log = log if log is not None else FetchLog()
    budget = budget or _Budget(limits or Limits())
    log.filters.append(odata_filter)
    client = pipeline_client(endpoint, retry=_BoundedRetry(budget))
    query = urlencode({"api-version": API_VERSION, "currencyCode": f"'{currency}'", "$filter": odata_filter},
                      safe="$'(),")
    url: str | None = f"{endpoint}?{query}"
    seen = 0
    page_size = 0
    for _ in range(budget.limits.pages):
        if url is None:
            return
        where = f"Retail Prices API page {log.pages + 1} ({url[:300]})"
        spent = budget.spent
        page = _get_page(client, url, where, connection_verify, budget)
        items = _page_items(page, where)
        log.pages += 1
        log.items += len(items)
        log.bytes += budget.spent - spent
        seen += len(items)
        page_size = max(page_size, len(items))
        for item in items:
            if _price(item) is None:
                log.rejected += 1
            else:
                yield item
        link = page.get("NextPageLink")
        url = _next_url(link, endpoint, where) if link else None
        if url is None and items and len(items) == page_size and page_size >= 100:
            log.skip_fallbacks += 1
            url = _with_skip(f"{endpoint}?{query}", seen)
    raise RetailPricesError(f"Retail Prices API: more than {budget.limits.pages} pages for {odata_filter!r}; "
                            "narrow the filter")


def defender_filter(service: str, region: str) -> str:
    return (f"serviceName eq '{service}' and priceType eq 'Consumption' and "
            f"(armRegionName eq 'Global' or armRegionName eq '{region}')")


def _usable(item: dict[str, Any]) -> bool:
    text = f"{item.get('skuName', '')} {item.get('meterName', '')}".lower()
    return item.get("type", "Consumption") == "Consumption" and "trial" not in text and (_price(item) or 0) > 0


def _pick(items: list[dict[str, Any]], product: str, meters: list[str], region: str) -> dict[str, Any] | None:
    """The item for a product and meter: the requested region first, then Global, then any primary region."""
    matches = [i for i in items if i.get("productName") == product and i.get("meterName") in meters and _usable(i)]
    for wanted in (region.lower(), "global"):
        here = [i for i in matches if str(i.get("armRegionName", "")).lower() == wanted]
        if here:
            return max(here, key=lambda i: str(i.get("effectiveStartDate", "")))
    return matches[0] if matches else None


def _hours(unit: str) -> float | None:
    """Hours in an hourly unit of measure (`1 Hour`, `100 Hours`, `1/Hour`), None for other units."""
    found = re.fullmatch(r"\s*(\d+)\s*(?:/\s*)?hours?\s*", unit, re.IGNORECASE)
    return float(found.group(1)) if found else None


def _apply_item(row: dict[str, Any], item: dict[str, Any], hours_per_month: float) -> str | None:
    """Set the row's prices from an API item; return why not when its unit does not fit the row."""
    price = float(item["retailPrice"])  # a finite number: fetch_items keeps no other
    unit = str(item.get("unitOfMeasure", ""))
    if row["kind"] == "recurring":
        hours = _hours(unit)
        if hours:
            row["hourly_price"] = price / hours
            row["monthly_price"] = row["hourly_price"] * hours_per_month
            return None
        if re.fullmatch(r"\s*1\s*/\s*month\s*", unit, re.IGNORECASE):
            row["monthly_price"] = price
            row["hourly_price"] = price / hours_per_month
            return None
        return f"unit {unit!r} is not hourly or monthly"
    block = unit.strip().lower().removesuffix(" gb").strip()
    row["usage_price"] = price
    row["usage_unit"] = unit
    row["usage_block"] = _BLOCKS.get(block, 1.0)
    return None


def refresh_price_table(base: PriceTable, items: list[dict[str, Any]], *, currency: str, region: str,
                        endpoint: str = RETAIL_ENDPOINT, fetched: datetime | None = None) -> PriceTable:
    """A new dated table: the base table's rows re-priced from the API items that match their meters."""
    fetched = fetched or datetime.now(UTC)
    date = fetched.date().isoformat()
    same_currency = currency.upper() == base.currency
    rows = []
    from_api = 0
    for row in base.rows.to_dict("records"):
        row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        meters = [m.strip() for m in str(row.get("meter_name") or "").split("|") if m.strip()]
        item = _pick(items, str(row.get("product_name") or ""), meters, region) if meters else None
        problem = _apply_item(row, item, base.hours_per_month) if item else "no meter in the Retail Prices API"
        if item and problem is None:
            from_api += 1
            row.update(source=f"Azure Retail Prices API ({item.get('armRegionName')}, meterId {item.get('meterId')}, "
                              f"effective {str(item.get('effectiveStartDate', ''))[:10]})",
                       source_date=date, confidence="P", meter_name=item.get("meterName"))
        elif same_currency:
            row["note"] = f"{problem}: carried over from {base.name}" + (f"; {row['note']}" if row.get("note") else "")
        else:
            row.update(hourly_price=None, monthly_price=None, usage_price=None,
                       note=f"{problem}; the {base.currency} price of {base.name} is not converted")
        rows.append(row)
    return price_table_from_dict({
        "name": f"prices-{date}-{currency.upper()}", "date": date, "currency": currency.upper(), "region": region,
        "hours_per_month": base.hours_per_month,
        "source": (f"Azure Retail Prices API {endpoint} (api-version {API_VERSION}, regions Global and {region}, "
                   f"fetched {fetched.isoformat(timespec='seconds')}); {from_api} of {len(rows)} rows from the API, "
                   f"the rest from {base.name}"),
        "siem_bytes_per_event": {"value": base.siem_bytes_per_event},
        "rows": rows,
    })


def fetch_price_items(*, currency: str, region: str, endpoint: str = RETAIL_ENDPOINT, connection_verify: Any = True,
                      services: tuple[str, ...] = SERVICES, log: FetchLog | None = None,
                      limits: Limits | None = None) -> list[dict[str, Any]]:
    """The items of every service's filter, all fetched within one set of `limits`."""
    budget = _Budget(limits or Limits())
    items: list[dict[str, Any]] = []
    for service in services:
        items.extend(fetch_items(defender_filter(service, region), currency=currency, endpoint=endpoint,
                                 connection_verify=connection_verify, log=log, budget=budget))
    return items


def matched_rows(table: PriceTable) -> pd.DataFrame:
    """Rows of a refreshed table whose price came from the API."""
    return table.rows[table.rows["source"].str.startswith("Azure Retail Prices API")]
