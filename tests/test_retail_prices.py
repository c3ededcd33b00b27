"""The Retail Prices API client against a loopback HTTPS server (trustme): paging, unit conversion, region choice."""

import math
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from loopback_https import https_server

from mdcnb.sources import retail_prices
from mdcnb.sources.prices import load_price_table, price_table_paths
from mdcnb.sources.retail_prices import FetchLog, RetailPricesError

BASE = load_price_table(price_table_paths()[0])


def item(product, meter, price, unit, region="Global", **extra):
    return {"productName": product, "meterName": meter, "retailPrice": price, "unitPrice": price,
            "unitOfMeasure": unit, "armRegionName": region, "type": "Consumption", "currencyCode": "EUR",
            "skuName": extra.pop("skuName", "Standard"), "meterId": f"m-{meter}-{region}",
            "effectiveStartDate": "2026-10-01T00:00:00Z", **extra}


PAGES = [
    [item("Microsoft Defender for Servers", "Standard P1 Node", 0.0062, "1 Hour"),
     item("Microsoft Defender for Servers", "Standard P2 Node", 0.0185, "1 Hour"),
     item("Microsoft Defender for Servers", "Standard P2 Node", 0.0, "1 Hour", skuName="Standard P2 Trial")],
    [item("Microsoft Defender for SQL", "Standard Node", 13.9, "1/Month"),
     item("Microsoft Defender for Servers", "Standard P2 Node", 0.0199, "1 Hour", region="westeurope")],
    [item("Sentinel", "Pay-as-you-go Analysis", 4.9, "1 GB", region="westeurope"),
     item("Microsoft Defender for Key Vault - Standard Transactions", "Standard Transactions", 0.019, "10K")],
]


def paged(request):
    query = parse_qs(urlsplit(request.path).query)
    page = int(query.get("page", ["0"])[0])
    assert query["currencyCode"] == ["'EUR'"] and query["api-version"] == [retail_prices.API_VERSION]
    host = request.headers["host"]
    more = page + 1 < len(PAGES)
    first = urlsplit(request.path).query.split("&page=")[0]
    next_link = f"https://{host}/api/retail/prices?{first}&page={page + 1}" if more else None
    return 200, {}, {"BillingCurrency": "EUR", "Items": PAGES[page], "NextPageLink": next_link,
                     "Count": len(PAGES[page])}


def test_fetch_follows_next_page_link_and_refresh_prices_the_table(tmp_path):
    log = FetchLog()
    with https_server(paged, tmp_path) as server:
        items = list(retail_prices.fetch_items(retail_prices.defender_filter("Microsoft Defender for Cloud",
                                                                             "westeurope"), currency="EUR",
                                               endpoint=f"{server.base_url}/api/retail/prices",
                                               connection_verify=server.ca_path, log=log))
    assert log.pages == 3 and len(items) == 7 == log.items
    assert "serviceName eq 'Microsoft Defender for Cloud'" in parse_qs(urlsplit(server.requests[0].path).query)[
        "$filter"][0]
    fetched = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    table = retail_prices.refresh_price_table(BASE, items, currency="EUR", region="westeurope", fetched=fetched)
    assert (table.name, table.date, table.currency) == ("prices-2026-11-28-EUR", "2026-11-28", "EUR")
    p2 = table.recurring("VirtualMachines", "P2")
    # the region's meter wins over Global; the zero-priced trial meter is ignored
    assert p2["hourly_price"] == 0.0199 and p2["monthly_price"] == pytest.approx(0.0199 * 730)
    assert table.monthly_price("VirtualMachines", "P1") == pytest.approx(0.0062 * 730)
    sql = table.recurring("SqlServers", "")
    assert sql["monthly_price"] == 13.9 and sql["hourly_price"] == pytest.approx(13.9 / 730)
    sentinel = table.rows[(table.rows["plan"] == "SIEM") & (table.rows["sub_plan"] == "sentinel-analytics")].iloc[0]
    assert (sentinel["usage_price"], sentinel["usage_unit"], sentinel["usage_block"]) == (4.9, "1 GB", 1.0)
    kv = table.rows[(table.rows["plan"] == "KeyVaults") & (table.rows["sub_plan"] == "PerTransaction")].iloc[0]
    assert (kv["usage_price"], kv["usage_block"]) == (0.019, 10000.0)
    # rows without an API meter: a USD price must not pass as EUR
    storage = table.recurring("StorageAccounts", "DefenderForStorageV2")
    assert math.isnan(storage["monthly_price"]) and "not converted" in storage["note"]
    assert len(retail_prices.matched_rows(table)) == 5


def test_missing_next_page_link_falls_back_to_skip(tmp_path):
    full = [item("Microsoft Defender for Servers", f"meter {n}", 1.0, "1 Hour") for n in range(100)]

    def no_links(request):
        skip = int(parse_qs(urlsplit(request.path).query).get("$skip", ["0"])[0])
        page = full if skip == 0 else full[:30] if skip == 100 else []
        return 200, {}, {"Items": page, "NextPageLink": None, "Count": len(page)}

    log = FetchLog()
    with https_server(no_links, tmp_path) as server:
        items = list(retail_prices.fetch_items("x", endpoint=server.base_url, connection_verify=server.ca_path,
                                               log=log))
    assert len(items) == 130 and log.pages == 2 and log.skip_fallbacks == 1


def test_throttled_page_is_retried_and_a_bad_request_is_a_clear_error(tmp_path):
    calls = []

    def throttled_once(request):
        calls.append(request.path)
        if len(calls) == 1:
            return 429, {"Retry-After": "1"}, {"error": "slow down"}
        if "bad" in request.path:
            return 400, {}, {"Error": {"Code": "BadRequest", "Message": "Invalid OData filter"}}
        return 200, {}, {"Items": [item("P", "M", 1.0, "1 Hour")], "NextPageLink": None, "Count": 1}

    with https_server(throttled_once, tmp_path) as server:
        items = list(retail_prices.fetch_items("ok", endpoint=server.base_url, connection_verify=server.ca_path))
        assert len(items) == 1 and len(calls) == 2
        with pytest.raises(RetailPricesError, match=r"page 1 .*HTTP 400: .*Invalid OData filter"):
            list(retail_prices.fetch_items("bad", endpoint=f"{server.base_url}/bad",
                                           connection_verify=server.ca_path))
