"""The cost page's what-if panel (callbacks, no browser) and actual spend, on the hand-built estate."""

from collections import Counter

import pytest
from cost_estate import estate, hand_prices

from mdcnb.analysis import cost, cost_units
from mdcnb.snapshot.cost import cost_view
from mdcnb.sources.prices import PriceTable
from mdcnb.widgets.cost import AS_SCENARIO, CostExplorer


@pytest.fixture
def explorer():
    tables = estate()
    return CostExplorer(cost_units.billable_units(tables), cost_units.plan_settings(tables), hand_prices())


def test_panel_starts_with_the_configured_total(explorer):
    assert explorer.result.monthly_total == 121.0  # worked out in test_cost_model
    # every plan's dropdown shows a choice (a Dropdown holding None shows blank)
    assert {box.label for box in explorer.plan_choices.values()} == {"as in the scenario"}
    assert "121.00 USD" in explorer.output.value and "prices-2026-01-01-USD" in explorer.output.value


def test_changing_a_price_moves_the_total(explorer):
    explorer.price_fields[("VirtualMachines", "P2")].value = 20.0
    # 2 Azure servers on P2 go from 15 to 20
    assert explorer.result.monthly_total == 121.0 + 2 * 5.0
    assert "what-if panel" in explorer.output.value


def test_switching_plans_and_scenarios(explorer):
    explorer.plan_choices["Containers"].value = False
    # Containers off: its 56 go, and the AKS node pool (2 instances) is billed under Servers P2 again
    assert explorer.result.monthly_total == 121.0 - 56.0 + 2 * 15.0
    explorer.plan_choices["Containers"].value = AS_SCENARIO
    explorer.scenario.value = "enable all"
    assert explorer.result.monthly_total == 431.25
    explorer.scenario.value = "Servers P2 to P1"
    assert explorer.result.monthly_total == 121.0 - 20.0
    # Key Vault on everywhere: one vault at 0.25 on top of the P1 scenario
    explorer.plan_choices["KeyVaults"].value = True
    assert explorer.result.monthly_total == 121.0 - 20.0 + 0.25


def test_a_what_if_change_computes_only_what_it_changes(explorer, monkeypatch):
    """The units are prepared once, a scenario's settings are made the first time it is picked, and the table's
    prices are read once: the panel's changes call none of them again (counted on the real functions)."""
    calls: Counter = Counter()

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(cost, "enable_all", counting("enable_all", cost.enable_all))
    monkeypatch.setattr(PriceTable, "monthly_price", counting("monthly_price", PriceTable.monthly_price))
    totals = []
    for scenario in ["enable all", "as configured", "enable all", "Servers P2 to P1", "enable all"]:
        explorer.scenario.value = scenario
        totals.append(explorer.result.monthly_total)
    assert totals == [431.25, 121.0, 431.25, 101.0, 431.25]  # as worked out in test_switching_plans_and_scenarios
    assert calls == Counter({"enable_all": 1})


def test_actual_spend_beside_the_estimate(tmp_path):
    from datetime import date

    from cost_estate import SUB_A, SUB_B
    from loopback_https import https_server
    from test_cost_management import COLUMNS, FakeCredential

    from mdcnb.snapshot import cost as cost_page

    def spend(request):
        if SUB_B in request.path:
            return 403, {}, {"error": {"code": "AuthorizationFailed"}}
        assert request.body["timePeriod"]["from"] == "2026-10-01T00:00:00Z"
        return 200, {}, {"properties": {"columns": COLUMNS, "rows": [[99.5, "x", "Standard P2 Node", "USD"]]}}

    frame, note = cost_page.actual_spend(estate(), False)
    assert frame.empty and "not read" in note
    with https_server(spend, tmp_path) as server:
        frame, note = cost_page.actual_spend(estate(), True, credential=FakeCredential(), today=date(2026, 11, 28),
                                             endpoint=server.base_url, connection_verify=server.ca_path)
    assert frame.set_index("scope")["status"].to_dict() == {f"subscriptions/{SUB_A}": "ok",
                                                           f"subscriptions/{SUB_B}": "no access"}
    assert frame["actual"].iloc[0] == 99.5 and "1 of 2 subscriptions readable" in note


@pytest.mark.parametrize("tag", [{"exclude_tag": "env", "exclude_value": "dev"}, {"exclude_tag": "env=dev"}])
def test_cost_view_takes_the_excluded_tag_apart_or_as_tag_value(tag):
    result = cost_view(estate(), hand_prices(), siem="per-gb", **tag).scenarios
    # the estate's env=dev resources cost 25.00 a month (hand-computed in test_cost_model)
    assert result.tag_excluded.scenario == "excluding tag env=dev" and result.tag_saving == 25.0
