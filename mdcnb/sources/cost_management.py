"""Actual Defender spend through the Azure Cost Management Query API (a read-only POST query).

`POST {endpoint}/{scope}/providers/Microsoft.CostManagement/query?api-version=2023-03-01` with an `ActualCost` query
grouped by meter sub-category and meter, filtered on the meter categories Defender charges appear under: not only
"Microsoft Defender for Cloud" but also "Advanced Threat Protection" and "Advanced Data Security" (real EA exports)
and the legacy "Security Center" / "Azure Defender". Pages follow `properties.nextLink` (POST the same body); 204 means
no data. Throttling: the API answers 429 with `x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after` (and related
headers) rather than, or besides, `Retry-After`; `CostManagementRetryPolicy` waits the longest of them and retries
the query, which is safe because it changes nothing. 403 means the caller lacks Cost Management Reader on the scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.policies import RetryPolicy
from azure.core.pipeline.policies._utils import parse_retry_after
from azure.core.rest import HttpRequest

from mdcnb.sources._http import pipeline_client

ARM_ENDPOINT = "https://management.azure.com"
API_VERSION = "2023-03-01"
DEFENDER_METER_CATEGORIES = ("Microsoft Defender for Cloud", "Advanced Threat Protection", "Advanced Data Security",
                             "Security Center", "Azure Defender")
RETRY_AFTER_HEADERS = (
    "retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
    "x-ms-ratelimit-microsoft.consumption-retry-after",
)
QPU_REMAINING = "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"
SPEND_COLUMNS = ["scope", "meter_category", "meter_subcategory", "meter", "cost", "currency"]


class CostManagementError(RuntimeError):
    """Actual spend could not be read for a scope; `reason` is `no access`, `throttled` or `error`."""

    def __init__(self, scope: str, reason: str, detail: str) -> None:
        super().__init__(f"{scope}: {reason}: {detail}")
        self.scope = scope
        self.reason = reason


class CostManagementRetryPolicy(RetryPolicy):
    """Retry throttled queries after the longest wait any Cost Management rate-limit header asks for."""

    def get_retry_after(self, response: Any) -> float | None:
        headers = {k.lower(): v for k, v in response.http_response.headers.items()}
        waits = [parse_retry_after(headers[h]) for h in RETRY_AFTER_HEADERS if headers.get(h)]
        return max(waits) if waits else None

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        status = response.http_response.status_code
        if status in (429, 503) and settings["total"]:
            return True  # the query POST is read-only, so retrying it is safe
        return super().is_retry(settings, response)


@dataclass
class SpendResult:
    """Actual Defender spend of one scope and period, with how the calls went."""

    scope: str
    start: date
    end: date
    spend: pd.DataFrame
    pages: int = 0
    qpu_remaining: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(float(self.spend["cost"].sum()), 2)

    @property
    def currency(self) -> str | None:
        values = self.spend["currency"].dropna().unique()
        return str(values[0]) if len(values) == 1 else None


def defender_spend_query(start: date, end: date) -> dict[str, Any]:
    return {
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": f"{start.isoformat()}T00:00:00Z", "to": f"{end.isoformat()}T23:59:59Z"},
        "dataset": {
            "granularity": "None",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "grouping": [{"type": "Dimension", "name": "MeterSubcategory"}, {"type": "Dimension", "name": "Meter"}],
            "filter": {"dimensions": {"name": "MeterCategory", "operator": "In",
                                      "values": list(DEFENDER_METER_CATEGORIES)}},
        },
    }


def _column(names: list[str], *candidates: str) -> int | None:
    lowered = [n.lower() for n in names]
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered.index(candidate.lower())
    return None


def parse_query_rows(scope: str, properties: dict[str, Any]) -> pd.DataFrame:
    """Rows of one query response page as spend rows (columns found by name, in any case)."""
    names = [str(c.get("name", "")) for c in properties.get("columns") or []]
    cost = _column(names, "Cost", "PreTaxCost", "CostUSD", "totalCost")
    if cost is None:
        raise ValueError(f"no cost column in {names}")
    index = {"meter_category": _column(names, "MeterCategory"),
             "meter_subcategory": _column(names, "MeterSubcategory", "MeterSubCategory"),
             "meter": _column(names, "Meter", "MeterName"), "currency": _column(names, "Currency", "BillingCurrency")}
    rows = []
    for values in properties.get("rows") or []:
        row = {key: (values[i] if i is not None else None) for key, i in index.items()}
        rows.append({"scope": scope, **row, "cost": float(values[cost])})
    return pd.DataFrame(rows, columns=SPEND_COLUMNS)


def query_defender_spend(scope: str, start: date, end: date, credential: Any, *, endpoint: str = ARM_ENDPOINT,
                         connection_verify: Any = True, retry_total: int = 4, backoff: float = 2.0) -> SpendResult:
    """Actual Defender spend on `scope` (e.g. `subscriptions/<id>`) between two dates, all pages."""
    scope = scope.strip("/")
    client = pipeline_client(endpoint, credential=credential,
                             retry=CostManagementRetryPolicy(retry_total=retry_total, retry_backoff_factor=backoff))
    body = defender_spend_query(start, end)
    url: str | None = f"{endpoint}/{scope}/providers/Microsoft.CostManagement/query?api-version={API_VERSION}"
    result = SpendResult(scope, start, end, pd.DataFrame(columns=SPEND_COLUMNS))
    frames = []
    while url:
        try:
            response = client.send_request(HttpRequest("POST", url, json=body), connection_verify=connection_verify)
        except ClientAuthenticationError as exc:
            raise CostManagementError(scope, "no access", str(exc)) from exc
        result.pages += 1
        if response.headers.get(QPU_REMAINING):
            result.qpu_remaining.append(response.headers[QPU_REMAINING])
        if response.status_code == 204:
            break
        if response.status_code in (401, 403):
            raise CostManagementError(scope, "no access", f"HTTP {response.status_code}: needs the Cost Management "
                                                          "Reader role on the scope")
        if response.status_code in (429, 503):
            raise CostManagementError(scope, "throttled", f"HTTP {response.status_code} after {retry_total} retries")
        try:
            response.raise_for_status()
            properties = response.json().get("properties") or {}
            frames.append(parse_query_rows(scope, properties))
        except (HttpResponseError, ValueError) as exc:
            raise CostManagementError(scope, "error", str(exc)) from exc
        url = properties.get("nextLink") or None
    if frames:
        result.spend = pd.concat(frames, ignore_index=True)
    return result


def actual_spend(scopes: list[str], start: date, end: date, credential: Any, **options: Any) -> pd.DataFrame:
    """Actual Defender spend per scope: total and currency, or the reason it could not be read (never dropped)."""
    rows = []
    for scope in scopes:
        try:
            result = query_defender_spend(scope, start, end, credential, **options)
        except CostManagementError as exc:
            rows.append({"scope": exc.scope, "actual": None, "currency": None, "status": exc.reason,
                         "detail": str(exc)})
            continue
        rows.append({"scope": result.scope, "actual": result.total, "currency": result.currency, "status": "ok",
                     "detail": f"{len(result.spend)} meter rows, {result.pages} page(s)"})
    return pd.DataFrame(rows, columns=["scope", "actual", "currency", "status", "detail"])


def last_full_month(today: date) -> tuple[date, date]:
    """First and last day of the calendar month before `today`."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end
