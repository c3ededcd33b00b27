"""The Cost Management Query client against a loopback HTTPS server (trustme): paging, 204, 403, 429 throttling."""

import time
from datetime import date

import pandas as pd
import pytest
from azure.core.credentials import AccessToken
from loopback_https import https_server

from mdcnb.sources.cost_management import (
    DEFENDER_METER_CATEGORIES,
    QPU_REMAINING,
    CostManagementError,
    actual_spend,
    last_full_month,
    query_defender_spend,
)

SCOPE = "subscriptions/aaaaaaaa-0000-0000-0000-000000000001"
QPU_RETRY = "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"


class FakeCredential:
    """No AAD here: a token the test server checks for."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("test-token", int(time.time()) + 3600)


COLUMNS = [{"name": "Cost", "type": "Number"}, {"name": "MeterSubCategory", "type": "String"},
           {"name": "Meter", "type": "String"}, {"name": "Currency", "type": "String"}]
PAGE_1 = [[14.6, "Microsoft Defender for Servers", "Standard P2 Node", "USD"],
          [15.0, "SQL Database", "Standard Node", "USD"]]
PAGE_2 = [[0.42, "Key Vault", "Standard Transactions", "USD"]]


def spend_pages(request):
    assert request.method == "POST" and request.headers["authorization"] == "Bearer test-token"
    assert request.path.startswith(f"/{SCOPE}/providers/Microsoft.CostManagement/query?api-version=2023-03-01")
    assert request.body["dataset"]["filter"]["dimensions"]["values"] == list(DEFENDER_METER_CATEGORIES)
    host = request.headers["host"]
    if "skiptoken" not in request.path:
        return 200, {QPU_REMAINING: "QueryPerTenant10Sec:11"}, {"properties": {
            "columns": COLUMNS, "rows": PAGE_1,
            "nextLink": f"https://{host}{request.path}&$skiptoken=p2"}}
    return 200, {}, {"properties": {"columns": COLUMNS, "rows": PAGE_2, "nextLink": None}}


def query(server, **kwargs):
    return query_defender_spend(SCOPE, date(2026, 10, 1), date(2026, 10, 31), FakeCredential(),
                                endpoint=server.base_url, connection_verify=server.ca_path, **kwargs)


def test_pages_are_followed_and_summed(tmp_path):
    with https_server(spend_pages, tmp_path) as server:
        result = query(server)
    assert result.pages == 2 and len(result.spend) == 3
    assert result.total == round(14.6 + 15.0 + 0.42, 2) and result.currency == "USD"
    assert result.spend["meter_subcategory"].tolist() == ["Microsoft Defender for Servers", "SQL Database", "Key Vault"]
    assert result.qpu_remaining == ["QueryPerTenant10Sec:11"]
    body = server.requests[0].body
    assert body["timePeriod"] == {"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T23:59:59Z"}
    assert server.requests[1].body == body


def test_throttling_waits_the_longest_rate_limit_header(tmp_path):
    calls = []

    def throttled(request):
        calls.append(time.monotonic())
        if len(calls) == 1:  # no Retry-After at all: only the QPU header says when to come back
            return 429, {QPU_RETRY: "1"}, {"error": {"code": "429", "message": "Too many requests"}}
        if len(calls) == 2:
            return 429, {"Retry-After": "1", QPU_RETRY: "2"}, {"error": {"code": "429"}}
        return 200, {}, {"properties": {"columns": COLUMNS, "rows": PAGE_2, "nextLink": None}}

    with https_server(throttled, tmp_path) as server:
        result = query(server, backoff=0.01)
    assert len(calls) == 3 and result.total == 0.42
    assert calls[1] - calls[0] >= 1.0
    assert calls[2] - calls[1] >= 2.0  # the larger of Retry-After (1) and the QPU header (2)


def test_still_throttled_after_retries_is_reported(tmp_path):
    throttled = https_server(lambda r: (429, {QPU_RETRY: "0"}, {"error": {"code": "429"}}), tmp_path)
    with throttled as server, pytest.raises(CostManagementError) as err:
        query(server, retry_total=1, backoff=0.01)
    assert err.value.reason == "throttled" and len(server.requests) == 2


def test_no_access_and_no_data(tmp_path):
    denied = https_server(lambda r: (403, {}, {"error": {"code": "RBACAccessDenied"}}), tmp_path)
    with denied as server, pytest.raises(CostManagementError) as err:
        query(server)
    assert err.value.reason == "no access" and "Cost Management Reader" in str(err.value)
    with https_server(lambda r: (204, {}, None), tmp_path) as server:
        result = query(server)
    assert result.total == 0.0 and result.spend.empty


def test_actual_spend_lists_every_scope_with_its_outcome(tmp_path):
    other = "subscriptions/bbbbbbbb-0000-0000-0000-000000000002"

    def by_scope(request):
        if request.path.startswith(f"/{other}/"):
            return 403, {}, {"error": {"code": "AuthorizationFailed"}}
        return spend_pages(request)

    with https_server(by_scope, tmp_path) as server:
        table = actual_spend([SCOPE, other], date(2026, 10, 1), date(2026, 10, 31), FakeCredential(),
                             endpoint=server.base_url, connection_verify=server.ca_path)
    assert table[["scope", "status"]].values.tolist() == [[SCOPE, "ok"], [other, "no access"]]
    assert table["actual"].iloc[0] == 30.02 and pd.isna(table["actual"].iloc[1])


def test_last_full_month():
    assert last_full_month(date(2026, 11, 28)) == (date(2026, 10, 1), date(2026, 10, 31))
    assert last_full_month(date(2026, 1, 5)) == (date(2025, 12, 1), date(2025, 12, 31))
