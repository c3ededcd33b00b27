"""CloudTrail figure builders draw exactly the numbers of the aggregated tables they receive."""

from __future__ import annotations

import pandas as pd

from mdcnb.figures import cloudtrail as fig


def test_daily_reads_stacks_actors_in_order() -> None:
    daily = pd.DataFrame({"date": ["d1", "d1", "d2"], "actor": ["cspm", "other", "cspm"],
                          "label": ["", "", ""], "read_only_events": [5, 7, 6], "events": [5, 9, 6]})
    f = fig.daily_reads(daily)
    assert [t.name for t in f.data] == ["CspmMonitorAws", "everyone else"]
    assert list(f.data[0].y) == [5, 6] and list(f.data[1].x) == ["d1"] and f.layout.barmode == "stack"


def test_series_and_bars_carry_the_values() -> None:
    daily = pd.DataFrame({"date": ["d1", "d2", "d1"], "account_id": ["a", "a", "b"], "region": ["r", "r", "r"],
                          "read_only_events": [1, 2, 3], "read_only_bytes": [10, 20, 30]})
    lines = fig.cspm_by_account_region(daily)
    assert [(t.name, list(t.y)) for t in lines.data] == [("a / r", [1, 2]), ("b / r", [3])]
    calls = pd.DataFrame({"event_source": ["ec2.amazonaws.com", "iam.amazonaws.com"],
                          "event_name": ["DescribeInstances", "ListRoles"], "read_only_events": [20, 4],
                          "read_only_bytes": [1, 1], "share": [20 / 24, 4 / 24]})
    bars = fig.top_calls(calls)
    assert list(bars.data[0].y) == ["iam ListRoles", "ec2 DescribeInstances"] and list(bars.data[0].x) == [4, 20]
    share = pd.DataFrame({"account_id": ["111122223333"], "read_events": [32], "cspm_read_events": [26]})
    s = fig.read_share(share)
    assert list(s.data[0].x) == [26] and list(s.data[1].x) == [6]


def test_cost_chart_shows_before_and_after() -> None:
    cost = {"price": {"currency": "USD"}, "monthly_cost": 12.5, "monthly_cost_after_filter": 4.0,
            "monthly_saving": 8.5}
    f = fig.siem_cost(cost)
    assert list(f.data[0].y) == [12.5, 4.0] and "8.50 USD" in f.layout.title.text
